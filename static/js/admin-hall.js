// The admin's hall set-up: the site, its agencies, services and counters,
// through the set-up routes (PUT replaces: docs/api.md). Each section renders
// a table of what is there and a form that creates or, from a row's "edit",
// changes one.

import { get } from "./api.js";
import { getLang, localName, t } from "./i18n.js";
import { checkbox, field, fill, form, select, table } from "./admin-form.js";
import { qrSvg } from "./qr.js";
import { h } from "./ui.js";

const DAYS = { id: ["Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"], en: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] };
const ID = { required: true, pattern: "[a-z0-9][a-z0-9_\\-]*", maxlength: 64, autocomplete: "off" };

function editButton(target, data) {
  return h(
    "button",
    {
      type: "button",
      class: "secondary small",
      onclick: () => {
        fill(target, data);
        target.scrollIntoView({ block: "nearest" });
        target.querySelector("input, select").focus();
      },
    },
    t("a_edit"),
  );
}

export async function siteSection(ctx) {
  let setup = null;
  try {
    setup = await get(`/sites/${ctx.site}`);
  } catch (err) {
    if (err.code !== "unknown_site") throw err;
  }
  const site = setup ? setup.site : { name: "", timezone: "Asia/Jakarta" };
  const editor = form(
    "a_site_setup",
    [field("a_name", { name: "name", required: true, value: site.name }), field("a_timezone", { name: "timezone", required: true, value: site.timezone })],
    // Every other field of the site as it is: PUT replaces the whole set-up.
    (v) => ctx.save(`/sites/${ctx.site}`, { ...withoutId(site), ...v }),
    { name: "site" },
  );
  return [setup ? null : h("p", { class: "notice" }, t("a_site_new")), editor];
}

// The site's id comes from the path; the body may not name it.
function withoutId({ id: _id, ...rest }) {
  return rest;
}

export async function agenciesSection(ctx) {
  const { agencies } = await get(`/sites/${ctx.site}`);
  const editor = form(
    "a_agency_edit",
    [field("a_id", { name: "id", ...ID }, "a_id_hint"), field("a_name", { name: "name", required: true })],
    ({ id, name }) => ctx.save(`/sites/${ctx.site}/agencies/${id}`, { name }),
    { name: "agency" },
  );
  return [table(["a_id", "a_name", ""], agencies, (a) => h("tr", {}, h("td", {}, a.id), h("td", {}, a.name), h("td", {}, editButton(editor, a)))), editor];
}

export async function servicesSection(ctx) {
  const { agencies, services } = await get(`/sites/${ctx.site}`);
  const days = DAYS[getLang()];
  const editor = form(
    "a_service_edit",
    [
      field("a_id", { name: "service", ...ID }, "a_id_hint"),
      field("a_agency", select("agency", agencies.map((a) => [a.id, a.name]))),
      field("a_prefix", { name: "prefix", required: true, maxlength: 3, pattern: "[A-Z]{1,3}", autocomplete: "off" }),
      field("a_name_id", { name: "name_id", required: true }),
      field("a_name_en", { name: "name_en", required: true }),
      field("a_target", { name: "target_wait_min", type: "number", min: 1, max: 1440, value: 15 }),
      field("a_quota", { name: "daily_quota", type: "number", min: 0, value: 0 }),
      field("a_open", { name: "open", type: "time", value: "08:00", required: true }),
      field("a_close", { name: "close", type: "text", value: "16:00", pattern: "([01][0-9]|2[0-3]):[0-5][0-9]|24:00", required: true }),
      h("fieldset", { class: "days" }, h("legend", {}, t("a_days")), days.map((d, i) => checkbox("weekdays", d, i < 5, String(i)))),
      checkbox("active", t("a_active"), true),
    ],
    ({ service, open, close, weekdays, ...rest }) =>
      ctx.save(`/sites/${ctx.site}/services/${service}`, { ...rest, hours: { open, close, weekdays: weekdays.map(Number) } }),
    { name: "service" },
  );
  if (!agencies.length) return [h("p", { class: "notice" }, t("a_no_agency_first"))];
  const hours = (s) => `${s.hours.open}–${s.hours.close} · ${s.hours.weekdays.map((d) => days[d]).join(" ")}`;
  // A service's walk-up survey (docs/survey.md "Walk-up survey"): its QR code and link,
  // for visitors without a ticket, shown under the table when asked for.
  const qrPanel = h("div", { class: "walk-up-qr" });
  const showQr = (s) => {
    const url = `${location.origin}/skm/${encodeURIComponent(ctx.site)}/walk-up/${encodeURIComponent(s.service)}`;
    const name = localName(s);
    qrPanel.replaceChildren(
      h(
        "figure",
        { dataset: { service: s.service } },
        qrSvg(url, { label: t("a_walk_up") + " " + name }),
        h("figcaption", {}, t("a_walk_up_caption", { name }), " ", h("a", { href: url, target: "_blank", rel: "noopener" }, url)),
      ),
    );
  };
  return [
    table(["a_prefix", "a_id", "a_name", "a_agency", "a_target", "a_quota", "a_hours", "a_active", ""], services, (s) =>
      h(
        "tr",
        { dataset: { service: s.service } },
        h("td", {}, s.prefix),
        h("td", {}, s.service),
        h("td", {}, localName(s)),
        h("td", {}, s.agency),
        h("td", {}, s.target_wait_min),
        h("td", {}, s.daily_quota || "—"),
        h("td", {}, hours(s)),
        h("td", {}, t(s.active ? "a_yes" : "a_no")),
        h(
          "td",
          {},
          editButton(editor, { ...s, ...s.hours }),
          " ",
          h("button", { type: "button", class: "secondary walk-up", onclick: () => showQr(s) }, t("a_walk_up")),
        ),
      ),
    ),
    qrPanel,
    editor,
  ];
}

export async function countersSection(ctx) {
  const { counters, services } = await get(`/sites/${ctx.site}`);
  let ticked = []; // the order the admin ticks services in is their calling preference
  const boxes = services.map((s) => checkbox("services", `${s.prefix} · ${s.name_id}`, false, s.service));
  const editor = form(
    "a_counter_edit",
    [
      field("a_id", { name: "counter", required: true, maxlength: 64, autocomplete: "off" }),
      field("a_name", { name: "name", required: true }),
      field("a_zone", { name: "zone" }),
      h("fieldset", { class: "services" }, h("legend", {}, t("a_services"), " ", h("small", {}, t("a_services_hint"))), boxes),
    ],
    ({ counter, services: chosen, ...rest }) =>
      ctx.save(`/sites/${ctx.site}/counters/${counter}`, { ...rest, services: ticked.filter((s) => chosen.includes(s)).concat(chosen.filter((s) => !ticked.includes(s))) }),
    { name: "counter" },
  );
  editor.addEventListener("change", (event) => {
    const box = event.target;
    if (box.name !== "services") return;
    ticked = ticked.filter((s) => s !== box.value);
    if (box.checked) ticked.push(box.value);
  });
  const edit = (c) => {
    const button = editButton(editor, c);
    button.addEventListener("click", () => (ticked = [...c.services]));
    return button;
  };
  return [
    table(["a_id", "a_name", "a_zone", "a_services", ""], counters, (c) =>
      h("tr", { dataset: { counter: c.counter } }, h("td", {}, c.counter), h("td", {}, c.name), h("td", {}, c.zone || "—"), h("td", {}, c.services.join(", ")), h("td", {}, edit(c))),
    ),
    editor,
  ];
}
