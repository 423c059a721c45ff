// The hall display (docs/deploy-display.md): the latest call large, recent
// calls, each open counter's ticket, waiting counts, running text, date and
// clock; every call chimed and spoken once (announcer.js).
//
// URL: /display?token=…[&zone=Z|&agency=A][&lang=en][&read=digits|number]
//      [&voice=clips|browser|none][&pack=id][&rate=1]
//
// What it shows and which calls it says (never on reload; after a reconnect
// only the missed calls still called) is display-model.js; this module draws
// it and speaks. A resume the server could not recover (`recovered: false`)
// shows a "resynced" note.

import { Announcer } from "./announcer.js";
import { ApiError, deviceToken, get } from "./api.js";
import { DisplayModel } from "./display-model.js";
import { Stream } from "./stream.js";
import { localName, setLang, startLanguage, t } from "./i18n.js";
import { $, banner, connectionIndicator, formatClock, formatDate, h } from "./ui.js";
import { callWords, sentence } from "./speech_id.js";

const params = new URLSearchParams(location.search);
const opt = {
  token: deviceToken("qms.display.token"),
  zone: params.get("zone") || null,
  agency: params.get("agency") || null,
  read: params.get("read") === "number" ? "number" : "digits",
  voice: ["browser", "none"].includes(params.get("voice")) ? params.get("voice") : "clips",
  pack: /^[\w-]+$/.test(params.get("pack") || "") ? params.get("pack") : "id",
  rate: Math.min(4, Math.max(0.5, Number(params.get("rate")) || 1)),
};
const STATIC = new URL("..", import.meta.url).pathname.replace(/\/$/, ""); // /static/<build>
const RECENT_SHOWN = 6;
const MISSED_SHOWN_MS = 5 * 60_000; // the "missed" list stays this long after a reconnect
const PAINTS_KEPT = 1000;

const model = new DisplayModel({ agency: opt.agency, zone: opt.zone });
let timezone;
let stream = null;
let missedTimer = null;
const announcer = new Announcer({
  base: `${STATIC}/voice/${opt.pack}`,
  voice: opt.voice,
  rate: opt.rate,
  onBlocked: (blocked) => ($("#sound").hidden = !blocked),
  onAnnounced: logAnnounced,
});

// The test hook (docs/deploy-display.md): what was said, and how fast calls were painted.
const hook = {
  announced: announcer.log,
  paints: [],
  get count() {
    return announcer.count;
  },
  get version() {
    return model.highest;
  },
  get calls() {
    return model.calls;
  },
  get queued() {
    return announcer.queue.length + (announcer.busy ? 1 : 0);
  },
  announcer,
  opt,
};
window.qmsDisplay = hook;

// --- state (display-model.js) ------------------------------------------------------

function onWelcome(msg, resuming) {
  model.welcome(msg);
  if (resuming) $("#resynced").hidden = msg.recovered !== false;
}

function onSnapshot(next, version) {
  const out = model.snapshot(next, version);
  timezone = model.view.site ? model.view.site.timezone : undefined;
  showMissed(out.missed);
  for (const call of out.announce) announce(call);
  renderAll();
}

function onEvent(msg) {
  const out = model.event(msg);
  if (out.queues) renderQueues();
  if (out.call) {
    const t0 = performance.now();
    renderCalls(true);
    renderCounters();
    measurePaint(msg.version, t0);
  } else if (out.counters) {
    renderCounters();
  }
  if (out.marquee) renderMarquee();
  showMissed(out.missed);
  for (const call of out.announce) announce(call);
  if (out.resync) stream.resync("set-up changed"); // a fresh snapshot; calls above the highest in it are still said
}

function showMissed(calls) {
  if (!calls.length) return;
  const list = $("#missed");
  list.replaceChildren(
    ...calls.map((c) =>
      h("li", { dataset: { version: c.version, state: c.state || "" } }, h("span", { class: "d-num" }, c.number), model.counterName(c.counter)),
    ),
  );
  $("#missed-box").hidden = false;
  clearTimeout(missedTimer);
  missedTimer = setTimeout(() => ($("#missed-box").hidden = true), MISSED_SHOWN_MS);
}

// Event received -> number painted: a rAF runs before the paint, the timeout after it.
function measurePaint(version, t0) {
  const renderMs = performance.now() - t0;
  requestAnimationFrame(() =>
    setTimeout(() => {
      const now = performance.now();
      const receivedAt = performance.timeOrigin + t0;
      hook.paints.push({ version, ms: now - t0, renderMs, receivedAt, paintedAt: performance.timeOrigin + now });
      if (hook.paints.length > PAINTS_KEPT) hook.paints.shift();
    }, 0),
  );
}

function announce(call) {
  const name = model.counterName(call.counter);
  const words = callWords(call.number, name, call.counter, opt.read);
  $("#live-region").textContent = t("d_call_aria", { number: call.number, counter: name });
  announcer.enqueue({ version: call.version, number: call.number, counter: call.counter, words, text: sentence(words) });
}

function logAnnounced(entry) {
  const log = $("#announced-log");
  log.append(h("li", { dataset: { version: entry.version } }, `${entry.version} ${entry.text}`));
  while (log.childElementCount > 100) log.firstElementChild.remove();
  document.body.dataset.announced = Array.from(log.children, (li) => li.dataset.version).join(" ");
}

// --- rendering -------------------------------------------------------------------------

function serviceName(s) {
  return localName(s) || s.name_id;
}

function renderAll() {
  const view = model.view;
  if (!view) return;
  $("#site-name").textContent = view.site ? view.site.name : "";
  const agency = opt.agency && view.agencies.find((a) => a.id === opt.agency);
  const zone = view.zone || opt.zone;
  $("#scope").textContent = agency ? agency.name : zone ? t("d_zone", { zone }) : "";
  renderCalls();
  renderCounters();
  renderQueues();
  renderMarquee();
  tick();
}

function renderCalls(flash = false) {
  const [top, ...rest] = model.board();
  const latest = $("#latest");
  if (!top) {
    latest.replaceChildren(h("span", { class: "d-none" }, t("d_no_calls")));
  } else if (latest.dataset.version !== String(top.version)) {
    latest.replaceChildren(
      h("span", { class: "d-number", id: "latest-number" }, top.number),
      h("span", { class: "d-go" }, t("d_go_to")),
      h("span", { class: "d-counter", id: "latest-counter" }, model.counterName(top.counter)),
      ...(top.recalls ? [h("span", { class: "d-recall" }, t("d_recall"))] : []),
    );
    latest.dataset.version = String(top.version);
    latest.classList.remove("d-flash");
    if (flash) {
      void latest.offsetWidth; // restart the animation for a new call (not on a redraw)
      latest.classList.add("d-flash");
    }
  }
  $("#recent").replaceChildren(
    ...rest.slice(0, RECENT_SHOWN).map((c) =>
      h("li", { dataset: { version: c.version } }, h("span", { class: "d-num" }, c.number), h("span", {}, model.counterName(c.counter))),
    ),
  );
}

function renderCounters() {
  const rows = model.counters().map((c) =>
    h(
      "li",
      { dataset: { counter: c.counter, state: c.state } },
      h("span", {}, c.name),
      h("span", { class: "d-num" }, c.ticket ? c.ticket.number : c.state === "paused" ? t("d_paused") : "—"),
    ),
  );
  $("#counters").replaceChildren(...rows);
}

function renderQueues() {
  const rows = model.queues().map(({ service: s, waiting }) =>
    h(
      "tr",
      { dataset: { service: s.service } },
      h("td", {}, h("span", { class: "d-prefix" }, s.prefix), " ", serviceName(s)),
      h("td", { class: "d-num" }, String(waiting)),
    ),
  );
  $("#queues").replaceChildren(...rows);
}

function renderMarquee() {
  const box = $("#marquee");
  const text = model.marquee();
  box.hidden = !text;
  const span = $("#marquee-text");
  if (span.textContent !== text) {
    span.textContent = text;
    // about 8 characters a second whatever the length, so it stays readable;
    // started a quarter of the way in, so a new text is in view at once
    const seconds = Math.max(12, text.length / 8);
    span.style.animationDuration = `${seconds}s`;
    span.style.animationDelay = `${-seconds / 4}s`;
  }
}

function tick() {
  const now = new Date();
  $("#clock").textContent = formatClock(now, timezone);
  $("#date").textContent = formatDate(now, timezone);
}

// --- start-up -------------------------------------------------------------------------

function fatal(message) {
  document.body.dataset.state = "error";
  banner(message, "error");
}

/** The device's site and zone; waits for a server that is down, and says so. */
async function device() {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await get("/device", { token: opt.token })).device;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        fatal(t("d_bad_token"));
        setIndicator({ state: "unauthorised" });
        await sleep(60_000); // a revoked token stays revoked; check again now and then
        continue;
      }
      const wait = Math.round(Math.min(30, 2 ** attempt) * (0.5 + Math.random() / 2));
      fatal(t("d_server_down", { s: wait }));
      setIndicator({ state: "offline" });
      await sleep(wait * 1000);
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let setIndicator;

function onStatus(status) {
  setIndicator(status);
  if (status.state === "live") {
    delete document.body.dataset.state;
    banner("");
  } else if (status.state === "unauthorised") {
    fatal(t("d_bad_token"));
  } else if (status.state === "refused") {
    fatal(t("d_refused", { reason: status.reason || status.code }));
  } else if (status.state === "offline" || status.state === "reconnecting") {
    banner(t("d_stale"), "info");
  }
}

async function main() {
  if (params.get("lang")) setLang(params.get("lang"));
  setIndicator = connectionIndicator($("#conn"));
  startLanguage(() => {
    renderAll();
    setIndicator({ state: stream ? stream.state || "connecting" : "connecting" });
  });
  setInterval(() => model.view && tick(), 1000);
  tick();
  $("#sound-on").addEventListener("click", () => announcer.unlock());
  if (!opt.token) {
    fatal(t("d_no_token"));
    setIndicator({ state: "unauthorised" });
    return;
  }
  announcer.init().catch((err) => console.warn(`announcer: ${err}`));
  const dev = await device();
  banner("");
  delete document.body.dataset.state;
  stream = new Stream({
    site: dev.site,
    audience: "display",
    zone: opt.zone || dev.zone || undefined,
    token: opt.token,
    retryRefused: true, // a display runs unattended: keep asking, slowly
    onWelcome,
    onSnapshot,
    onEvent,
    onStatus,
  }).start();
  hook.stream = stream;
}

main();
