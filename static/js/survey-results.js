// The public result of a site's satisfaction survey, /skm/<site> (docs/survey.md):
// the IKM, its grade, each element, respondents and period, and each quarter's
// result, from GET /api/v1/survey/{site}; the follow-up plan (rencana tindak lanjut)
// of the latest period and those of past periods. Printable on one A4 page (the
// latest plan is printed, the older ones are for the screen).

import { get } from "./api.js";
import { getLang, pick, startLanguage, t } from "./i18n.js";
import { $, h, showFailure } from "./ui.js";

const ELEMENTS = {
  U1: ["Persyaratan", "Requirements"],
  U2: ["Sistem, mekanisme dan prosedur", "System, mechanism and procedure"],
  U3: ["Waktu penyelesaian", "Completion time"],
  U4: ["Biaya/tarif", "Cost/fee"],
  U5: ["Produk spesifikasi jenis pelayanan", "Service product specification"],
  U6: ["Kompetensi pelaksana", "Staff competence"],
  U7: ["Perilaku pelaksana", "Staff conduct"],
  U8: ["Penanganan pengaduan, saran dan masukan", "Handling of complaints and suggestions"],
  U9: ["Sarana dan prasarana", "Facilities and infrastructure"],
};

const site = decodeURIComponent(location.pathname.replace(/^\/skm\//, ""));
const ROMAN = ["I", "II", "III", "IV"];

// The quarter (triwulan) a period is, as a head of hall names it: the page shows the
// last complete quarter by default, or the quarter so far (docs/survey.md); null for
// any other period (one asked for with ?first=&last= on the API).
function quarterName(period) {
  const [y, m, d] = period.first.split("-").map(Number);
  if (d !== 1 || (m - 1) % 3 !== 0) return null;
  const endMonth = m + 2;
  const lastDay = new Date(Date.UTC(y, endMonth, 0)).getUTCDate();
  const end = `${y}-${String(endMonth).padStart(2, "0")}-${String(lastDay).padStart(2, "0")}`;
  if (period.last > end) return null;
  const name = t("r_quarter_of", { q: ROMAN[(m - 1) / 3], y });
  return period.last === end ? name : t("r_so_far", { name });
}
const main = $("#app");
let data = null;

// One plan: its period, the elements it addresses and its text (as text, never HTML;
// the line breaks an admin typed are kept by CSS white-space).
function planItem(plan) {
  const names = plan.elements.map((k) => `${k} ${pick(ELEMENTS[k] || [k, k])}`).join(", ");
  return h(
    "article",
    { class: "plan", "data-period": plan.period },
    h("h4", {}, plan.period),
    h("p", { class: "plan-elements" }, t("r_plan_for", { list: names })),
    h("p", { class: "plan-text" }, plan.text),
  );
}

// An empty string when there is none: replaceChildren() would show a null as "null".
function plansSection() {
  const plans = data.plans || [];
  if (!plans.length) return "";
  const [latest, ...past] = plans;
  return h(
    "section",
    { class: "plans" },
    h("h3", {}, t("r_plans")),
    planItem(latest),
    past.length
      ? h("div", { class: "plans-past no-print" }, h("h3", {}, t("r_plans_past")), past.map(planItem))
      : null,
  );
}

// Answers given on a service's walk-up QR code (no ticket) are flagged, with their
// count when their group is large enough to show (docs/survey.md "Walk-up survey").
function walkUpFlag() {
  const group = (data.sources || []).find((g) => g.key === "walk_up");
  if (!group) return null;
  const text = group.suppressed ? t("r_walk_up_few") : t("r_walk_up", { n: group.respondents });
  return h("p", { class: "walk-up-flag" }, text);
}

function render() {
  if (!data) return;
  const index = data.index;
  main.dataset.state = index ? "shown" : "too_few";
  const head = h(
    "section",
    { class: "head" },
    h("h2", {}, data.name),
    quarterName(data.period) ? h("p", { class: "period-name" }, quarterName(data.period)) : null,
    h("p", {}, t("r_period", data.period), " · ", t("r_respondents", { n: data.respondents })),
    walkUpFlag(),
  );
  if (!index) {
    main.replaceChildren(head, h("p", { class: "too-few" }, t("r_too_few", { n: data.min_group })), plansSection());
    return;
  }
  const grade = index.grade;
  const score = h(
    "section",
    { class: "score", "data-grade": grade.letter },
    h("div", {}, h("p", { class: "label" }, t("r_ikm")), h("p", { class: "ikm" }, index.converted)),
    h("div", {}, h("p", { class: "label" }, t("r_grade")), h("p", { class: "grade" }, grade.letter), h("p", {}, getLang() === "en" ? grade.en : grade.id)),
  );
  const rows = index.elements.map((e) =>
    h(
      "tr",
      { class: e.lowest ? "lowest" : null },
      h("th", { scope: "row" }, `${e.key} `, pick(ELEMENTS[e.key] || [e.key, e.key]), e.lowest ? h("span", { class: "tag" }, t("r_lowest")) : null),
      h("td", {}, e.nrr),
      h("td", {}, e.converted),
      h("td", {}, e.grade),
    ),
  );
  const table = h(
    "table",
    { class: "elements" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("r_element")), h("th", { scope: "col" }, t("r_nrr")), h("th", { scope: "col" }, t("r_converted")), h("th", { scope: "col" }, t("r_grade")))),
    h("tbody", {}, rows),
  );
  const history = data.history.length
    ? h(
        "section",
        { class: "history" },
        h("h3", {}, t("r_history")),
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("r_quarter")), h("th", { scope: "col" }, "IKM"), h("th", { scope: "col" }, t("r_grade")))),
          h(
            "tbody",
            {},
            data.history.map((g) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, g.key),
                h("td", {}, g.suppressed ? t("r_hidden", { n: data.min_group }) : g.index.converted),
                h("td", {}, g.suppressed ? "" : g.index.grade.letter),
              ),
            ),
          ),
        ),
      )
    : null;
  const print = h("button", { type: "button", class: "secondary no-print", onclick: () => window.print() }, t("r_print"));
  main.replaceChildren(head, score, table, history, plansSection(), print);
}

async function load() {
  try {
    data = await get(`/survey/${encodeURIComponent(site)}`);
    render();
  } catch (err) {
    showFailure(main, err);
  }
}

startLanguage(render);
load();
