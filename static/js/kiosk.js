// The kiosk: agency -> service -> priority -> a ticket with its QR code.
//
// Opened with its device link (/kiosk?token=…). Kiosks may not read the live
// stream (docs/protocol.md), so the waits come from the queries, refreshed
// while the start screen shows. URL options (docs/apps.md): ?paper=58|80,
// ?print=1, ?reset=SECONDS (ticket screen), ?idle=SECONDS (mid-choice).
// What it offers and why a service is unavailable: kiosk-model.js.

import { ApiError, deviceToken, get, newKey, post } from "./api.js";
import { errorText, localName, startLanguage, t } from "./i18n.js";
import { KioskModel, backToStartAfter } from "./kiosk-model.js";
import { qrSvg } from "./qr.js";
import { $, banner, formatClock, formatDate, formatWait, h, showError } from "./ui.js";

const params = new URLSearchParams(location.search);
const seconds = (name, fallback) => {
  const n = Number(params.get(name));
  return Number.isFinite(n) && n > 0 ? n : fallback;
};
const RESET_S = seconds("reset", 20); // the ticket screen, then back to the start
const IDLE_S = seconds("idle", 60); // mid-choice without a touch
const REFRESH_MS = 30_000; // waits on the start screen
const PRIORITIES = ["regular", "disabilitas", "lansia", "ibu_hamil"];
const STORE = "qms.kiosk.token";

const main = $("#app");
let token = null;
let siteId = null; // the device's site
const model = new KioskModel();
let screen = null;
let idleTimer = null;
let refreshTimer = null;
let redraw = () => {};

const name = (service) => localName(service) || service.service;

// --- screens -------------------------------------------------------------------------------
function show(name, ...children) {
  screen = name;
  main.dataset.screen = name;
  main.replaceChildren(...children);
  const first = main.querySelector("button:not([disabled])");
  if (first && name !== "ticket") first.focus({ preventScroll: true });
  armIdle();
}

function armIdle() {
  clearTimeout(idleTimer);
  const seconds = backToStartAfter(screen, { idle: IDLE_S, reset: RESET_S });
  if (seconds !== null) idleTimer = setTimeout(startScreen, seconds * 1000);
}

function blocked(message) {
  clearInterval(refreshTimer);
  redraw = () => blocked(message);
  show("blocked", h("div", { class: "notice card", role: "alert" }, h("p", {}, message)));
}

function offline(err, retry) {
  redraw = () => offline(err, retry);
  show(
    "offline",
    h(
      "div",
      { class: "notice card", role: "alert" },
      h("p", {}, errorText(err)),
      h("button", { type: "button", onclick: retry }, t("k_retry")),
    ),
  );
}

function startScreen() {
  banner("");
  redraw = startScreen;
  const agencies = model.agencies();
  if (!agencies.length) return show("agencies", h("p", { class: "notice card" }, t("k_no_services")));
  show(
    "agencies",
    h("h2", {}, t("k_pick_agency")),
    h(
      "div",
      { class: "tiles" },
      agencies.map((a) =>
        h(
          "button",
          { type: "button", class: "tile", dataset: { agency: a.id }, onclick: () => servicesScreen(a.id) },
          h("span", { class: "tile-name" }, a.name),
          h("span", { class: "tile-meta" }, t("k_services_n", { n: model.services(a.id).length })),
        ),
      ),
    ),
  );
}

function servicesScreen(agency) {
  redraw = () => servicesScreen(agency);
  const services = model.services(agency);
  show(
    "services",
    h("button", { type: "button", class: "secondary back", onclick: startScreen }, t("k_back")),
    h("h2", {}, model.agencyName(agency), h("small", {}, " · ", t("k_pick_service"))),
    h("div", { class: "tiles" }, services.map(serviceTile)),
  );
}

function serviceTile(s) {
  const tile = model.tile(s, Date.now());
  const why = unavailableText(tile.unavailable);
  return h(
    "button",
    {
      type: "button",
      class: "tile service",
      disabled: Boolean(why),
      "aria-disabled": why ? "true" : false,
      dataset: { service: s.service },
      onclick: () => priorityScreen(s),
    },
    h("span", { class: "prefix", "aria-hidden": "true" }, s.prefix),
    h("span", { class: "tile-name" }, name(s)),
    h(
      "span",
      { class: "tile-meta" },
      why || [t("k_waiting", { n: tile.waiting }), tile.estimatedWait !== null ? ` · ${t("k_wait", { wait: formatWait(tile.estimatedWait) })}` : ""],
    ),
  );
}

/** Why a service cannot issue now, in words ("" when it can). */
function unavailableText(why) {
  if (!why) return "";
  if (why.why === "refused") return errorText(new ApiError(409, why.code, why.code));
  if (why.why === "closed") return t("k_closed_hours", { open: why.open, close: why.close });
  return t("k_unavailable");
}

function priorityScreen(service) {
  redraw = () => priorityScreen(service);
  // One key per on-screen choice: a double tap, or a retry after a lost answer,
  // is the same command, so it makes one ticket (docs/api.md, Idempotency).
  const keys = {};
  const press = async (priority, button) => {
    if (main.dataset.pending) return;
    keys[priority] ||= newKey("kiosk");
    main.dataset.pending = "1";
    for (const b of main.querySelectorAll("button")) b.disabled = true;
    button.dataset.pending = "";
    banner(t("k_issuing"), "info");
    try {
      const answer = await post(`/sites/${siteId}/tickets`, { service: service.service, priority, channel: "kiosk" }, { token, key: keys[priority] });
      delete main.dataset.pending;
      banner("");
      ticketScreen(answer.ticket, service);
    } catch (err) {
      delete main.dataset.pending;
      if (err.status === 401) return blocked(t("k_revoked"));
      if (err.status === 409 || err.status === 404) {
        model.refusal(service.service, err.code, Date.now());
        servicesScreen(service.agency);
      } else {
        for (const b of main.querySelectorAll("button")) b.disabled = false;
        delete button.dataset.pending;
      }
      showError(err);
    }
  };
  show(
    "priority",
    h("button", { type: "button", class: "secondary back", onclick: () => servicesScreen(service.agency) }, t("k_back")),
    h("h2", {}, name(service), h("small", {}, " · ", t("k_pick_priority"))),
    h(
      "div",
      { class: "tiles priorities" },
      PRIORITIES.map((p) => {
        const button = h("button", { type: "button", class: `tile priority ${p}`, dataset: { priority: p } }, h("span", { class: "tile-name" }, t(`k_${p}`)));
        button.addEventListener("click", () => press(p, button));
        return button;
      }),
    ),
  );
}

function ticketScreen(ticket, service) {
  const url = new URL(ticket.status_url, location.origin).href;
  const issued = new Date();
  const tz = model.timezone;
  let place = null; // {ahead, estimatedWait}, once known
  const aheadText = () => (place ? t("k_people", { n: place.ahead }) : "…");
  const waitText = () => (!place ? "…" : place.estimatedWait === null ? t("k_no_estimate") : formatWait(place.estimatedWait));
  const render = () => {
    show(
      "ticket",
      h(
        "section",
        { class: "ticket card", "aria-live": "assertive", dataset: { number: ticket.number, statusUrl: url } },
        h("p", { class: "site" }, model.site.site.name),
        h("p", { class: "label" }, t("k_number")),
        h("p", { class: "number" }, ticket.number),
        h("p", { class: "service" }, name(service)),
        ticket.priority !== "regular" ? h("p", { class: "prio" }, t(`k_${ticket.priority}`)) : null,
        h("p", { class: "when" }, `${formatDate(issued, tz)} · ${formatClock(issued, tz)}`),
        h("dl", {}, h("div", {}, h("dt", {}, t("k_ahead")), h("dd", { class: "ahead" }, aheadText())), h("div", {}, h("dt", {}, t("k_est_wait")), h("dd", { class: "wait" }, waitText()))),
        h("div", { class: "qr" }, qrSvg(url, { label: t("k_scan") })),
        h("p", { class: "scan" }, t("k_scan")),
        h("p", { class: "link" }, url),
        h("p", { class: "keep" }, t("k_keep")),
      ),
      h("button", { type: "button", class: "done", onclick: startScreen }, t("k_start_over")),
    );
  };
  redraw = render;
  render();
  // The answer has no position; the ticket's public status does.
  get(`/tickets/${encodeURIComponent(ticket.ref)}`)
    .then((answer) => answer.ticket)
    .catch(() => null)
    .then((status) => {
      place = model.place(status, service.service);
      if (screen !== "ticket" || redraw !== render) return; // already gone back
      for (const el of main.querySelectorAll(".ahead")) el.textContent = aheadText();
      for (const el of main.querySelectorAll(".wait")) el.textContent = waitText();
      main.dataset.ready = "1";
      if (params.get("print") === "1") window.print(); // silent with Chrome's --kiosk-printing
      refresh().catch(() => {}); // the start screen's refresh reports trouble
    });
}

// --- data ----------------------------------------------------------------------------------
async function refresh() {
  const [setup, list] = await Promise.all([get(`/sites/${siteId}`, { token }), get(`/sites/${siteId}/queues`, { token })]);
  model.loaded(setup, list);
  tick(); // the hall's clock, in the site's timezone, not the device's
}

async function boot() {
  banner("");
  token = deviceToken(STORE);
  if (!token) return blocked(t("err_no_device_token"));
  try {
    const { device } = await get("/device", { token });
    siteId = device.site;
    await refresh();
    $("#site-name").textContent = `${model.site.site.name} — ${t("k_title")}`;
    startScreen();
    clearInterval(refreshTimer);
    refreshTimer = setInterval(async () => {
      if (screen !== "agencies") return;
      try {
        await refresh();
        banner("");
      } catch (err) {
        if (err.status === 401) blocked(t("k_revoked"));
        else showError(err);
      }
    }, REFRESH_MS);
  } catch (err) {
    if (err.status === 401) {
      localStorage.removeItem(STORE);
      return blocked(t("k_revoked"));
    }
    offline(err, boot);
  }
}

function tick() {
  $("#clock").textContent = formatClock(new Date(), model.timezone);
}

for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, () => screen !== "ticket" && armIdle());
// ?paper=58 swaps the print sheet (its @page size) for the 58 mm roll.
if (params.get("paper") === "58") {
  const sheet = $("link[data-paper]");
  sheet.href = sheet.href.replace("kiosk-print-80.css", "kiosk-print-58.css");
}
document.body.dataset.paper = params.get("paper") === "58" ? "58" : "80";
startLanguage(() => {
  tick();
  if (model.site && model.site.site.name) $("#site-name").textContent = `${model.site.site.name} — ${t("k_title")}`;
  redraw();
});
tick();
setInterval(tick, 10_000);
boot();
