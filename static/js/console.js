// The counter console (konsol loket): an officer signs in, picks a counter,
// opens it and calls, serves and finishes tickets with big buttons or one key.
//
// The screen shows only what the log says: the counter and its lists come from
// the `console` stream (snapshot, then events, see console-model.js). A press
// posts the command with an Idempotency-Key and shows "pending" until the
// stream has passed the version the HTTP answer names; a refusal shows the
// engine's code in words and changes nothing. A press whose outcome is unknown
// (network down, 5xx) keeps its key, so pressing again cannot act twice.

import { ApiError, get } from "./api.js";
import { ConsoleModel } from "./console-model.js";
import { localName, startLanguage, t } from "./i18n.js";
import { clock, Commands, Gate, LiveFeed } from "./staff.js";
import { $, banner, formatDuration, h, showError } from "./ui.js";

// Every button: its key (shown on screen), its label, and what it does.
const ACTIONS = [
  { id: "next", key: "N", path: "call-next" },
  { id: "recall", key: "R", path: "recall" },
  { id: "start", key: "S", path: "start" },
  { id: "complete", key: "C", path: "complete" },
  { id: "noshow", key: "X", path: "no-show" },
  { id: "return", key: "K", path: "return" },
  { id: "transfer", key: "T" },
  { id: "hold", key: "H" },
];
const COUNTER_ACTIONS = [
  { id: "open", key: "O", path: "open" },
  { id: "pause", key: "P", path: "pause" },
  { id: "close", key: null, path: "close" },
];

let gate;
let me = null;
let site = null;
let counterId = null;
let model = null;
let taken = null; // another officer's name when the counter was taken from us
let pending = null; // {id, version?}: a press waiting for its event
const commands = new Commands("c");

// The `console` stream of the counter followed, folded into `model`.
const feed = new LiveFeed({
  audience: "console",
  model: () => model,
  onSnapshot: settle,
  onEvent: (msg, resync) => {
    if (msg.event && msg.event.counter === counterId) commands.clear(); // our counter moved: old presses are known now
    if (!resync) settle();
  },
  onUnauthorised: () => {
    pending = null;
    gate.expired();
  },
  onRefused: refused,
  onChange: render,
});
const rememberKey = () => `qms.console.counter.${site}`;

const label = (id) => (id === "open" && model?.counter?.state === "paused" ? t("act_resume") : t(`act_${id}`));
const serviceName = (id) => {
  const s = model && model.services.get(id);
  return s ? localName(s) : id;
};

// --- starting up ----------------------------------------------------------------------------

function boot() {
  startLanguage(render);
  gate = new Gate({ roles: ["officer", "supervisor", "admin"], title: "console_signin", app: $("#app"), onReady: ready, onSignOut: () => feed.stop(), withSite: true });
  document.addEventListener("keydown", onKey);
  setInterval(tick, 1000);
  gate.start();
}

async function ready(who, chosen) {
  me = who;
  site = chosen;
  const remembered = localStorage.getItem(rememberKey());
  const counters = await loadCounters();
  if (!counters) return;
  const entry = counters.find((c) => c.counter === remembered);
  if (entry && (!entry.officer || entry.officer === me.name || me.role !== "officer")) enter(entry);
  else showChooser(counters);
}

async function loadCounters() {
  try {
    const view = await get(`/sites/${encodeURIComponent(site)}/counters`);
    clock.learn(view);
    return view.counters;
  } catch (err) {
    failed(err);
    return null;
  }
}

function showChooser(counters) {
  feed.stop();
  counterId = null;
  model = null;
  $("#console").hidden = true;
  $("#chooser").hidden = false;
  $("[data-conn]").hidden = true;
  $("#counter-title").textContent = "";
  const list = $("#counter-list");
  list.replaceChildren(
    ...counters.map((c) => {
      const busy = c.officer && c.officer !== me.name && me.role === "officer";
      const state = c.officer && c.state !== "closed" ? t("counter_taken", { officer: c.officer }) : t(`counter_${c.state}`);
      return h(
        "button",
        { type: "button", class: "counter-choice secondary", disabled: busy, dataset: { counter: c.counter }, onclick: () => enter(c) },
        h("strong", {}, c.name),
        h("span", {}, state),
        h("small", {}, c.services.join(", ")),
      );
    }),
  );
}

/** Work at the counter of this `entry` (a row of GET /counters). */
function enter(entry) {
  counterId = entry.counter;
  localStorage.setItem(rememberKey(), counterId);
  taken = null;
  pending = null;
  commands.clear();
  model = new ConsoleModel(counterId);
  // Until the stream's snapshot arrives the page knows only the query's answer;
  // buttons stay disabled (except opening) because it is not live.
  model.counter = { ...entry, ticket: null };
  $("#chooser").hidden = true;
  $("#console").hidden = false;
  $("#counter-title").textContent = `— ${entry.name}`;
  banner("");
  if (entry.officer === me.name || me.role !== "officer") follow();
  else {
    feed.stop(); // not ours yet: the stream would refuse us until we open it
    $("[data-conn]").hidden = true;
  }
  render();
}

// --- the stream ---------------------------------------------------------------------------------

function follow() {
  feed.start({ site, counter: counterId });
}

/** 4403/4404: the counter is not ours to follow (closed under us, or taken by someone else). */
async function refused(status) {
  feed.stop();
  pending = null;
  if (status.code === 4404) {
    banner(t("counter_gone", { counter: counterId }));
    const counters = await loadCounters();
    if (counters) showChooser(counters);
    return;
  }
  const counters = await loadCounters();
  const entry = counters && counters.find((c) => c.counter === counterId);
  if (!entry || !model) return;
  Object.assign(model.counter, { state: entry.state, officer: entry.officer, services: entry.services, ticket: null });
  if (entry.officer && entry.officer !== me.name) {
    taken = entry.officer;
    banner(t("taken_by", { counter: entry.name, officer: entry.officer }));
  }
  render();
}

/** After a snapshot or an event: a press whose version the stream has passed is done. */
function settle() {
  if (pending && pending.version !== undefined && feed.passed(pending.version)) pending = null;
  render();
}

// --- pressing buttons -------------------------------------------------------------------------------

const counterPath = (path) => `/sites/${encodeURIComponent(site)}/counters/${encodeURIComponent(counterId)}/${path}`;
const ticketPath = (ticket, path) => `/sites/${encodeURIComponent(site)}/tickets/${encodeURIComponent(ticket)}/${path}`;

function enabled(id) {
  if (!model || pending || taken) return false;
  if (id === "open") return model.can("open") && (feed.live || !feed.stream);
  return feed.live && model.can(id);
}

function press(id) {
  if (!enabled(id)) return;
  const hand = model.hand;
  if (id === "transfer") return openTransfer();
  if (id === "hold") return act(id, ticketPath(hand.ticket, "hold"));
  const spec = [...ACTIONS, ...COUNTER_ACTIONS].find((a) => a.id === id);
  return act(id, counterPath(spec.path));
}

async function act(id, path, body = {}) {
  if (pending) return;
  pending = { id };
  render();
  try {
    const answer = await commands.send("POST", path, body, `c-${id}`);
    pending.version = answer.version;
    if (id === "open" && (!feed.stream || !feed.live)) {
      taken = null;
      follow(); // an officer may follow the counter once it is theirs
    }
    banner("");
    settle();
  } catch (err) {
    pending = null;
    failed(err);
    render();
  }
}

function failed(err) {
  if (err instanceof ApiError && err.status === 401) {
    feed.stop();
    gate.expired();
    return;
  }
  showError(err);
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  if (e.target.closest("input, select, textarea, dialog")) return;
  if (!model || $("#console").hidden) return;
  const k = e.key.toUpperCase();
  if (k === "L") {
    const first = $("#waiting button:not([disabled])");
    if (first) first.focus();
    e.preventDefault();
    return;
  }
  const action = [...ACTIONS, ...COUNTER_ACTIONS].find((a) => a.key === k);
  if (!action) return;
  e.preventDefault();
  press(action.id);
}

// --- transfer ----------------------------------------------------------------------------------------

function openTransfer() {
  const hand = model.hand;
  const dialog = $("#transfer");
  const form = $("#transfer-form");
  $("#transfer-title").textContent = t("transfer_title", { number: hand.number });
  form.elements.service.replaceChildren(
    ...[...model.services.values()].filter((s) => s.active !== false).map((s) => h("option", { value: s.service, selected: s.service === hand.service }, `${s.prefix} — ${serviceName(s.service)}`)),
  );
  form.elements.counter.replaceChildren(h("option", { value: "" }, t("any_counter")));
  loadCounters().then((counters) => {
    for (const c of counters || []) if (c.counter !== counterId) form.elements.counter.append(h("option", { value: c.counter }, c.name));
  });
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue !== "ok") return;
      const body = { to_service: form.elements.service.value };
      if (form.elements.counter.value) body.to_counter = form.elements.counter.value;
      act("transfer", ticketPath(hand.ticket, "transfer"), body);
    },
    { once: true },
  );
}

// --- drawing -----------------------------------------------------------------------------------------

function keyCap(key) {
  return key ? h("kbd", { "aria-hidden": "true" }, key) : null;
}

function actionButton(a, extraClass = "") {
  const isPending = pending && pending.id === a.id;
  return h(
    "button",
    {
      type: "button",
      class: `action ${extraClass}`,
      dataset: { action: a.id },
      disabled: !enabled(a.id),
      "data-pending": isPending,
      "aria-keyshortcuts": a.key || false,
      onclick: () => press(a.id),
    },
    keyCap(a.key),
    h("span", {}, label(a.id)),
  );
}

function render() {
  if (!model || !model.counter) return;
  const c = model.counter;
  const badge = $("#counter-state");
  badge.dataset.state = taken ? "taken" : c.state;
  badge.textContent = taken ? t("counter_taken", { officer: taken }) : `${t(`counter_${c.state}`)}${c.officer ? ` · ${c.officer}` : ""}`;
  renderHand();
  const p = $("#pending");
  p.hidden = !pending;
  p.textContent = pending ? t("pending", { action: label(pending.id) }) : "";
  $("#actions").replaceChildren(...ACTIONS.map((a) => actionButton(a, a.id === "next" ? "primary-action" : "")));
  $("#counter-actions").replaceChildren(
    ...COUNTER_ACTIONS.map((a) => actionButton(a, "secondary")),
    h("button", { type: "button", class: "secondary", dataset: { action: "change" }, onclick: async () => showChooser((await loadCounters()) || []) }, t("change_counter")),
  );
  renderWaiting();
  renderHeld();
}

function renderHand() {
  const hand = model.hand;
  const el = $("#hand");
  if (!hand) {
    el.replaceChildren(
      h("p", { class: "ticket-number none", id: "hand-number" }, "—"),
      h("p", { class: "muted" }, model.counter.state === "open" ? t("hint_next") : t("hint_open")),
    );
    return;
  }
  const prio = hand.priority && hand.priority !== "regular" ? h("span", { class: "prio" }, t(`prio_${hand.priority}`)) : null;
  el.replaceChildren(
    h("p", { class: "ticket-number", id: "hand-number" }, hand.number),
    h("p", { class: "hand-service" }, serviceName(hand.service), " ", prio),
    h(
      "p",
      { class: "hand-state" },
      h("span", { class: "state-badge", dataset: { state: hand.state }, id: "hand-state" }, t(`state_${hand.state}`)),
      " ",
      h("span", { class: "timer", id: "timer" }, elapsed(hand)),
      hand.recalls ? h("span", { class: "muted" }, ` · ${t("recalls", { n: hand.recalls })}`) : null,
    ),
  );
}

function elapsed(hand) {
  const since = hand.state === "serving" ? hand.started_at : hand.called_at;
  return since ? formatDuration(clock.now() - since) : "";
}

function tick() {
  const timer = $("#timer");
  if (timer && model && model.hand) timer.textContent = elapsed(model.hand);
  for (const el of document.querySelectorAll("[data-since]")) el.textContent = t("waited", { time: formatDuration(clock.now() - Number(el.dataset.since)) });
}

function ticketRow(tk, buttons) {
  const prio = tk.priority && tk.priority !== "regular" ? h("span", { class: "prio" }, t(`prio_${tk.priority}`)) : null;
  return h(
    "li",
    { class: "ticket-row", dataset: { ticket: tk.ticket, number: tk.number } },
    h("strong", { class: "number" }, tk.number),
    prio,
    h("span", { class: "muted waited", dataset: { since: tk.arrival_at } }, t("waited", { time: formatDuration(clock.now() - tk.arrival_at) })),
    ...buttons,
  );
}

function renderWaiting() {
  const canCall = feed.live && !pending && !taken && model.can("call");
  $("#waiting").replaceChildren(
    ...model.groups().map((g) =>
      h(
        "section",
        { class: "queue", dataset: { queue: g.key } },
        h("h3", {}, g.key.startsWith("@") ? t("sent_here") : serviceName(g.key), " ", h("span", { class: "count" }, String(g.count))),
        g.tickets.length
          ? h(
              "ol",
              {},
              g.tickets.map((tk) =>
                ticketRow(tk, [
                  h("button", { type: "button", class: "small", disabled: !canCall, onclick: () => act("call", counterPath("call"), { ticket: tk.ticket }) }, t("act_call")),
                ]),
              ),
            )
          : h("p", { class: "muted" }, t("no_waiting")),
      ),
    ),
  );
}

function renderHeld() {
  const held = [...model.held.values()];
  const canCall = feed.live && !pending && !taken && model.can("call");
  const canUnhold = feed.live && !pending && !taken;
  $("#held").replaceChildren(
    held.length
      ? h(
          "ol",
          {},
          held.map((tk) =>
            ticketRow(tk, [
              h("button", { type: "button", class: "small", disabled: !canCall, onclick: () => act("call", counterPath("call"), { ticket: tk.ticket }) }, t("act_call")),
              h("button", { type: "button", class: "small secondary", disabled: !canUnhold, onclick: () => act("unhold", ticketPath(tk.ticket, "unhold")) }, t("act_unhold")),
            ]),
          ),
        )
      : h("p", { class: "muted" }, t("no_held")),
  );
}

boot();
