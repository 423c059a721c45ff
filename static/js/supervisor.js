// The supervisor's floor view: services and their waits against target,
// counters and who holds them, today's unfinished tickets and figures, all
// live from the `supervisor` stream (see supervisor-model.js); and the
// supervisor's commands: reallocate a counter's services (effective on its next
// call), open / pause / close counters, transfer / hold / cancel tickets,
// running text for the displays. A command shows "pending" on its button until
// the stream has passed the version its answer names; a refusal is shown in
// the banner and changes nothing.

import { ApiError, get } from "./api.js";
import { localName, startLanguage, t } from "./i18n.js";
import { clock, Commands, Gate, LiveFeed } from "./staff.js";
import { SupervisorModel } from "./supervisor-model.js";
import { $, banner, formatDuration, formatWait, h, showError } from "./ui.js";

const model = new SupervisorModel();
let gate;
let site = null;
let snapshotVersion = 0;
let pending = null; // {key, version?}: the button whose command waits for its event
const commands = new Commands("sup");
let drawQueued = false;

// The site's `supervisor` stream, folded into `model`.
const feed = new LiveFeed({
  audience: "supervisor",
  model: () => model,
  onSnapshot: (view, version) => {
    snapshotVersion = version;
    $("#site-title").textContent = view.site ? `— ${view.site.name}` : "";
    loadTickets();
    settle();
  },
  onEvent: (msg, resync) => {
    if (resync) return;
    if (msg.event && msg.event.counter) commands.clear();
    settle();
  },
  onUnauthorised: () => {
    setPending(null);
    gate.expired();
  },
  onRefused: (status) => banner(`${t("conn_refused")}: ${status.reason || status.code}`),
  onChange: draw,
});

const serviceName = (id) => {
  const s = model.services.get(id);
  return s ? localName(s) : id;
};
const sitePath = (rest) => `/sites/${encodeURIComponent(site)}${rest}`;

// --- starting up ------------------------------------------------------------------------------

function boot() {
  startLanguage(draw);
  gate = new Gate({ roles: ["supervisor", "admin"], title: "sup_signin", app: $("#app"), onReady: ready, onSignOut: () => feed.stop(), withSite: true });
  $("#broadcast").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    act(`broadcast`, "POST", sitePath("/broadcast"), { text: form.elements.text.value, zone: form.elements.zone.value }, () => {
      form.elements.text.value = "";
    });
  });
  setInterval(tick, 1000);
  gate.start();
}

async function ready(_me, chosen) {
  site = chosen;
  try {
    clock.learn(await get(sitePath("/queues")));
  } catch (err) {
    if (failed(err)) return;
  }
  feed.start({ site });
}

/** Today's tickets, read once per snapshot; a read older than the snapshot is read again. */
async function loadTickets() {
  const asked = feed.stream;
  try {
    const view = await get(sitePath("/tickets"));
    if (asked !== feed.stream) return;
    if (view.version < snapshotVersion) {
      setTimeout(loadTickets, 200);
      return;
    }
    model.loaded(view);
    draw();
  } catch (err) {
    if (!failed(err)) setTimeout(loadTickets, 2000);
  }
}

function settle() {
  if (pending && pending.version !== undefined && feed.passed(pending.version)) setPending(null);
  draw();
}

/** The command waiting for its event; <body data-pending> says so at once (tests wait on it). */
function setPending(value) {
  pending = value;
  document.body.toggleAttribute("data-pending", Boolean(pending));
}

// --- commands --------------------------------------------------------------------------------------

/** Send a command for the button `key`; `done` runs once the command was accepted. */
async function act(key, method, path, body = {}, done = null) {
  if (pending) return;
  setPending({ key });
  draw();
  try {
    const answer = await commands.send(method, path, body);
    pending.version = answer.version;
    banner("");
    if (done) done(answer);
    settle();
  } catch (err) {
    setPending(null);
    failed(err);
    draw();
  }
}

/** Show an error; true when the session ended (the page went back to sign-in). */
function failed(err) {
  if (err instanceof ApiError && err.status === 401) {
    feed.stop();
    gate.expired();
    return true;
  }
  showError(err);
  return false;
}

/**
 * A small form in the dialog: fields [{name, label, type: "select"|"text"|"checks", options, value}].
 * Resolves with the values, or null when cancelled.
 */
function ask(title, fields) {
  const dialog = $("#ask");
  $("#ask-title").textContent = title;
  $("#ask-fields").replaceChildren(
    ...fields.map((f) => {
      if (f.type === "checks") {
        return h(
          "fieldset",
          { class: "checks", dataset: { name: f.name } },
          h("legend", {}, f.label),
          f.options.map((o) => h("label", {}, h("input", { type: "checkbox", value: o.value, checked: o.checked }), ` ${o.label}`)),
        );
      }
      if (f.type === "select") {
        return h("label", {}, h("span", {}, f.label), h("select", { name: f.name }, f.options.map((o) => h("option", { value: o.value, selected: o.value === f.value }, o.label))));
      }
      return h("label", {}, h("span", {}, f.label), h("input", { name: f.name, value: f.value || "" }));
    }),
  );
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue !== "ok") return resolve(null);
        const values = {};
        for (const f of fields) {
          if (f.type === "checks") values[f.name] = [...dialog.querySelectorAll(`fieldset[data-name="${f.name}"] input:checked`)].map((i) => i.value);
          else values[f.name] = dialog.querySelector(`[name="${f.name}"]`).value;
        }
        resolve(values);
      },
      { once: true },
    );
  });
}

async function reallocate(c) {
  const options = [...model.services.values()].map((s) => ({ value: s.service, label: `${s.prefix} — ${serviceName(s.service)}`, checked: c.services.includes(s.service) }));
  const values = await ask(t("ask_services", { counter: c.name }), [{ name: "services", type: "checks", label: t("col_services"), options }]);
  if (!values) return;
  // Keep the counter's order of preference for what stays; new services go last.
  const chosen = [...c.services.filter((s) => values.services.includes(s)), ...values.services.filter((s) => !c.services.includes(s))];
  act(`services:${c.counter}`, "PUT", sitePath(`/counters/${encodeURIComponent(c.counter)}/services`), { services: chosen });
}

async function openCounter(c) {
  const values = await ask(t("ask_open", { counter: c.name }), [{ name: "officer", type: "text", label: t("ask_officer"), value: c.officer || "" }]);
  if (!values) return;
  const body = values.officer.trim() ? { officer: values.officer.trim() } : {};
  act(`open:${c.counter}`, "POST", sitePath(`/counters/${encodeURIComponent(c.counter)}/open`), body);
}

async function transfer(tk) {
  const services = [...model.services.values()].map((s) => ({ value: s.service, label: `${s.prefix} — ${serviceName(s.service)}` }));
  const counters = [{ value: "", label: t("any_counter") }, ...[...model.counters.values()].map((c) => ({ value: c.counter, label: c.name }))];
  const values = await ask(t("ask_transfer", { number: tk.number }), [
    { name: "to_service", type: "select", label: t("to_service"), options: services, value: tk.service },
    { name: "to_counter", type: "select", label: t("to_counter"), options: counters, value: "" },
  ]);
  if (!values) return;
  const body = { to_service: values.to_service };
  if (values.to_counter) body.to_counter = values.to_counter;
  act(`transfer:${tk.ticket}`, "POST", sitePath(`/tickets/${encodeURIComponent(tk.ticket)}/transfer`), body);
}

const ticketCommand = (tk, what) => act(`${what}:${tk.ticket}`, "POST", sitePath(`/tickets/${encodeURIComponent(tk.ticket)}/${what}`));
const counterCommand = (c, what) => act(`${what}:${c.counter}`, "POST", sitePath(`/counters/${encodeURIComponent(c.counter)}/${what}`));

// --- drawing ----------------------------------------------------------------------------------------

function button(key, text, onclick, allowed = true, cls = "small") {
  return h(
    "button",
    { type: "button", class: cls, dataset: { key }, disabled: !feed.live || Boolean(pending) || !allowed, "data-pending": pending && pending.key === key, onclick },
    text,
  );
}

function draw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    drawFigures();
    drawServices();
    drawCounters();
    drawTickets();
    drawBroadcast();
    if (focused) {
      const again = document.querySelector(`[data-key="${CSS.escape(focused)}"]`);
      if (again && !again.disabled) again.focus();
    }
  });
}

function drawFigures() {
  const f = model.figures();
  $("#fig-served").textContent = f ? String(f.served) : "—";
  $("#fig-waiting").textContent = f ? String(f.waiting) : "—";
  $("#fig-avg").textContent = f && f.averageWait !== null ? formatWait(f.averageWait) : "—";
  $("#fig-within").textContent = f && f.withinTarget !== null ? `${Math.round(f.withinTarget * 100)}%` : "—";
}

function drawServices() {
  const now = clock.now();
  $("#services tbody").replaceChildren(
    ...model.lines(now).map((line) =>
      h(
        "tr",
        { dataset: { service: line.service.service }, "data-breach": line.breach, class: line.breach ? "breach" : "" },
        h("td", {}, h("strong", {}, line.service.prefix), " ", serviceName(line.service.service)),
        h("td", { class: "num" }, String(line.waiting)),
        h("td", {}, line.longest === null ? "—" : formatWait(line.longest), " / ", formatWait(line.target), line.breach ? h("span", { class: "breach-tag" }, ` ${t("breach")}`) : null),
        h("td", {}, line.serving.map((c) => c.name).join(", ") || "—"),
      ),
    ),
  );
}

function drawCounters() {
  $("#counters tbody").replaceChildren(
    ...[...model.counters.values()].map((c) => {
      const tk = c.ticket ? (model.tickets && model.tickets.get(c.ticket.ticket)) || c.ticket : null;
      const since = tk ? (tk.state === "serving" ? tk.started_at : tk.called_at) : null;
      return h(
        "tr",
        { dataset: { counter: c.counter, state: c.state } },
        h("td", {}, h("strong", {}, c.name)),
        h("td", {}, h("span", { class: "state-badge", dataset: { state: c.state } }, t(`st_${c.state}`))),
        h("td", {}, c.officer || "—"),
        h("td", {}, tk ? `${tk.number} (${t(`st_${tk.state}`)})` : "—"),
        h("td", { class: "num", dataset: since ? { since } : {} }, since ? formatDuration(clock.now() - since) : "—"),
        h("td", { dataset: { services: c.services.join(",") } }, c.services.map((s) => model.services.get(s)?.prefix || s).join(" · ")),
        h(
          "td",
          { class: "row-actions" },
          button(`open:${c.counter}`, t("do_open"), () => openCounter(c), c.state !== "open"),
          button(`pause:${c.counter}`, t("do_pause"), () => counterCommand(c, "pause"), c.state === "open" && !c.ticket),
          button(`close:${c.counter}`, t("do_close"), () => counterCommand(c, "close"), c.state !== "closed" && !c.ticket),
          button(`services:${c.counter}`, t("do_services"), () => reallocate(c), true, "small secondary"),
        ),
      );
    }),
  );
}

function drawTickets() {
  const rows = model.unfinished().slice(0, 300);
  const body = $("#tickets tbody");
  if (!rows.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("no_tickets"))));
    return;
  }
  body.replaceChildren(
    ...rows.map((tk) => {
      const active = ["waiting", "called", "serving"].includes(tk.state);
      const at = tk.counter && ["called", "serving"].includes(tk.state) ? tk.counter : tk.target_counter ? `→ ${tk.target_counter}` : "—";
      return h(
        "tr",
        { dataset: { ticket: tk.ticket, number: tk.number, state: tk.state } },
        h("td", {}, h("strong", {}, tk.number), tk.priority !== "regular" ? h("span", { class: "prio" }, ` ${tk.priority}`) : null),
        h("td", {}, serviceName(tk.service)),
        h("td", {}, t(`st_${tk.state}`)),
        h("td", {}, at),
        h("td", { class: "num", dataset: { since: tk.arrival_at } }, formatDuration(clock.now() - tk.arrival_at)),
        h(
          "td",
          { class: "row-actions" },
          button(`transfer:${tk.ticket}`, t("do_transfer"), () => transfer(tk), active),
          tk.state === "held"
            ? button(`unhold:${tk.ticket}`, t("do_unhold"), () => ticketCommand(tk, "unhold"))
            : button(`hold:${tk.ticket}`, t("do_hold"), () => ticketCommand(tk, "hold"), active),
          button(`cancel:${tk.ticket}`, t("do_cancel"), () => ticketCommand(tk, "cancel"), ["waiting", "held"].includes(tk.state), "small danger"),
        ),
      );
    }),
  );
}

function drawBroadcast() {
  const zones = [...new Set([...model.counters.values()].map((c) => c.zone).filter(Boolean))].sort();
  const select = $("#broadcast select[name=zone]");
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, t("bc_all")), ...zones.map((z) => h("option", { value: z, selected: z === chosen }, t("bc_zone_n", { zone: z }))));
  $("#broadcast button[type=submit]").disabled = !feed.live || Boolean(pending);
  $("#broadcast button[type=submit]").toggleAttribute("data-pending", Boolean(pending && pending.key === "broadcast"));
  const messages = Object.entries(model.messages).filter(([, text]) => text);
  $("#messages").replaceChildren(
    ...(messages.length
      ? messages.map(([zone, text]) =>
          h(
            "li",
            { dataset: { zone } },
            h("strong", {}, zone ? t("bc_zone_n", { zone }) : t("bc_all")),
            `: ${text} `,
            button(`clear:${zone}`, t("bc_clear"), () => act(`clear:${zone}`, "POST", sitePath("/broadcast"), { text: "", zone }), true, "small secondary"),
          ),
        )
      : [h("li", { class: "muted" }, t("bc_none"))]),
  );
}

// Timers tick every second; the services table (waits, breaches) every five.
let ticks = 0;
function tick() {
  for (const el of document.querySelectorAll("#app [data-since]")) el.textContent = formatDuration(clock.now() - Number(el.dataset.since));
  if (++ticks % 5 === 0 && !$("#app").hidden) drawServices();
}

boot();
