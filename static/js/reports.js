// The reports page: any period (named, or a range of dates) and filters; KPI cards
// with the change against the period before; arrivals and served per hour (one
// day) or per day (longer periods), drawn as plain SVG; the weekday x hour
// heatmap; a table per cut; the satisfaction survey (IKM) by the wait of the visits
// rated; one site or several (GET /api/v1/reports/…?site=a&site=b: figures over the
// union); a CSV of each table and an XLSX of the same query; and an A4 print (the
// monthly report). Every number is the API's (docs/reports.md): the cards and the
// tables' cells carry the raw value in data-value (cells also their CSV column in
// data-field), so the page, the API and the exports can be checked against each other.

import { ApiError, get } from "./api.js";
import { getLang, locale, localName, setLang, startLanguage, t } from "./i18n.js";
import { Gate, chooseSite } from "./staff.js";
import { periodLines, wholeMonth } from "./reports-model.js";
import { drawChart, drawHeatmap, drawSurvey, fmt } from "./reports-view.js";
import { $, banner, h, showError } from "./ui.js";

const FILTERS = ["agency", "service", "channel", "priority"];
const CUTS = ["site", "service", "agency", "officer", "counter", "channel", "priority"];
// The cards: [key, label, path into `measures`, kind, better when higher?]
const CARDS = [
  ["visits", "k_visits", "visits", "count", true],
  ["served", "k_served", "outcomes.served", "count", true],
  ["rate_served", "k_rate_served", "rates.served", "rate", true],
  ["rate_no_show", "k_rate_no_show", "rates.no_show", "rate", false],
  ["rate_left", "k_rate_left", "rates.left", "rate", false],
  ["within", "k_within", "rates.within_target", "rate", true],
  ["wait_p50", "k_wait_p50", "wait.p50", "time", false],
  ["wait_p90", "k_wait_p90", "wait.p90", "time", false],
  ["service_p50", "k_service_p50", "service.p50", "time", null],
  ["hall_p50", "k_hall_p50", "hall.p50", "time", false],
];

let site = null; // the first of the chosen sites: its set-up names services and agencies
let sites = []; // the chosen sites
let readable = []; // [{site, name, timezone}] the principal may read
let setup = null;
let data = null; // the last answers, redrawn on a language switch
let gate;

const dig = (obj, path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);
// One site: its own routes; several: the routes across sites, named in the query.
function reportUrl(view, q) {
  const p = new URLSearchParams(q);
  if (sites.length === 1) return `/sites/${encodeURIComponent(sites[0])}/reports/${view}?${p}`;
  for (const s of sites) p.append("site", s);
  return `/reports/${view}?${p}`;
}

function fmtChange(value, kind) {
  if (value === null || value === undefined) return "—";
  const sign = value > 0 ? "+" : value < 0 ? "−" : "±";
  const size = Math.abs(value);
  if (kind === "rate") {
    return `${sign}${new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(size * 100)} pp`;
  }
  return `${sign}${fmt(size, kind)}`;
}

// --- names ---------------------------------------------------------------------------

function keyName(by, key) {
  if (key === null || key === undefined) return t("none_key");
  if (by === "service") {
    const s = (setup?.services || []).find((x) => x.service === key);
    return s ? `${localName(s)} (${key})` : key;
  }
  if (by === "agency") {
    const a = (setup?.agencies || []).find((x) => x.id === key);
    return a ? a.name : key;
  }
  if (by === "counter") {
    const c = (setup?.counters || []).find((x) => x.counter === key);
    return c ? c.name : key;
  }
  if (by === "site") return (readable.find((x) => x.site === key) || {}).name || key;
  if (by === "channel") return key === "walk_up" ? t("sv_unlinked") : t(`ch_${key}`);
  if (by === "priority") return t(`pr_${key}`);
  return String(key);
}

// --- the query -----------------------------------------------------------------------------

function query() {
  const form = $("#picker");
  const q = new URLSearchParams();
  const period = form.elements.period.value;
  if (period === "range") {
    q.set("from", form.elements.from.value);
    q.set("to", form.elements.to.value);
  } else {
    q.set("period", period);
  }
  for (const name of FILTERS) {
    const value = form.elements[name].value;
    if (value) q.set(name, value);
  }
  return q;
}

function fromLocation() {
  const q = new URLSearchParams(location.search);
  const form = $("#picker");
  if (q.get("from") && q.get("to")) {
    form.elements.period.value = "range";
    form.elements.from.value = q.get("from");
    form.elements.to.value = q.get("to");
  } else if (q.get("period")) {
    form.elements.period.value = q.get("period");
  }
  for (const name of FILTERS) if (q.get(name)) form.elements[name].value = q.get(name);
  const by = q.get("survey");
  if (by) $("#survey-by").value = by;
  showRange();
}

function showRange() {
  const range = $("#picker").elements.period.value === "range";
  for (const el of document.querySelectorAll(".picker .range")) el.hidden = !range;
}

// --- loading -------------------------------------------------------------------------------

async function load() {
  const q = query();
  sites = chosenSites();
  const page = new URLSearchParams(q);
  page.set("site", sites.join(","));
  const surveyBy = $("#survey-by").value;
  if (surveyBy !== "wait") page.set("survey", surveyBy);
  history.replaceState(null, "", `${location.pathname}?${page}`);
  const api = (view, extra = {}) => {
    const p = new URLSearchParams(q);
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return get(reportUrl(view, p));
  };
  const file = (extra) => {
    const p = new URLSearchParams(q);
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return `/api/v1${reportUrl("export", p)}`;
  };
  // The workbook: every table, then the survey section's sheet as it is cut on the page.
  $("#export-xlsx").href = file(surveyBy === "wait" ? { format: "xlsx" } : { format: "xlsx", survey: surveyBy });
  $("#scope").textContent = t("rep_loading");
  document.body.dataset.loading = "";
  try {
    const summary = await api("summary");
    const oneDay = Object.values(summary.scope.sites)[0].days === 1;
    // Each table's CSV is the export of that very table (the chart's: its series).
    $("#chart-csv").dataset.table = $("#chart-xlsx").dataset.table = oneDay ? "intervals" : "day";
    for (const a of document.querySelectorAll("a.csv[data-table], a.xlsx[data-table]")) {
      a.href = file({ format: a.classList.contains("xlsx") ? "xlsx" : "csv", table: a.dataset.table });
    }
    const surveyQ = new URLSearchParams(q);
    surveyQ.set("by", surveyBy);
    surveyQ.set("format", "csv");
    $("#survey-csv").href = `/api/v1${reportUrl("survey", surveyQ)}`;
    surveyQ.set("format", "xlsx");
    $("#survey-xlsx").href = `/api/v1${reportUrl("survey", surveyQ)}`;
    const [series, heat, staffOfficer, staffCounter, survey, ...tables] = await Promise.all([
      oneDay ? api("intervals", { minutes: "60" }) : api("breakdown", { by: "day" }),
      api("heatmap"),
      api("staff", { by: "officer" }),
      api("staff", { by: "counter" }),
      api("survey", { by: surveyBy }),
      ...CUTS.map((by) => api("breakdown", { by })),
    ]);
    data = { summary, oneDay, series, heat, staff: { officer: staffOfficer, counter: staffCounter }, survey, tables };
    draw();
    banner("");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      gate.expired();
      return;
    }
    showError(err);
    $("#scope").textContent = "";
  } finally {
    delete document.body.dataset.loading;
  }
}

// --- drawing ----------------------------------------------------------------------------

function draw() {
  if (!data) return;
  const { summary } = data;
  drawPeriod(summary);
  const hall = sites.map(siteName).join(", ") || setup?.site?.name || site;
  $("#site-title").textContent = `— ${hall}`;
  $("#print-hall").textContent = hall;
  $("#printed-at").textContent = t("rep_printed", { when: new Date().toLocaleString(locale()) });
  drawCards(summary);
  drawChart(data.oneDay, data.series);
  drawHeatmap(data.heat.cells);
  $("#s-site").hidden = sites.length < 2;
  CUTS.forEach((by, i) => drawTable(by, data.tables[i].rows));
  drawSurvey(data.survey, keyName);
}

const siteName = (s) => (readable.find((x) => x.site === s) || {}).name || s;

// Each site's period is resolved in its own calendar: one line when every site has the
// same days, else one per site (reports-model.js), on the page and on paper.
function drawPeriod(summary) {
  const lines = periodLines(summary, siteName);
  const text = (line) => {
    const days = t("rep_scope", { first: line.first, last: line.last, days: line.days, pfirst: line.pfirst, plast: line.plast });
    return line.names ? `${line.names.join(", ")}: ${days}` : days;
  };
  const items = lines.map((line) => h("span", { class: "line", dataset: { sites: line.sites.join(",") } }, text(line)));
  $("#scope").replaceChildren(...(lines.length > 1 ? [h("span", { class: "line" }, t("rep_scope_zones")), ...items] : items));
  const month = (line) => {
    const m = wholeMonth(line.first, line.last);
    if (!m) return "";
    const date = new Date(`${m}-01T00:00:00Z`);
    return `${new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" }).format(date)} (`;
  };
  const paper = (line) => {
    const named = month(line);
    return `${line.names ? `${line.names.join(", ")}: ` : ""}${named}${line.first} – ${line.last}${named ? ")" : ""}`;
  };
  $("#print-period").replaceChildren(...lines.map((line, i) => h("span", { class: "line", dataset: { sites: line.sites.join(",") } },
    `${i ? "" : `${t("rep_period")}: `}${paper(line)}`)));
}

function drawCards(summary) {
  const box = $("#cards");
  box.replaceChildren();
  for (const [key, label, path, kind, higherBetter] of CARDS) {
    const value = dig(summary.measures, path);
    const change = dig(summary.change, path);
    let trend = "same";
    if (change && higherBetter !== null) trend = (change > 0) === higherBetter ? "better" : "worse";
    box.append(
      h("div", { class: "kpi", dataset: { measure: path, value: JSON.stringify(value ?? null) }, id: `kpi-${key}` },
        h("span", {}, t(label)),
        h("strong", {}, fmt(value, kind)),
        h("small", { dataset: { trend }, title: t("vs_before") }, `${fmtChange(change, kind)} ${t("vs_before")}`)),
    );
  }
}

function drawTable(by, rows) {
  const box = $(`#t-${by}`);
  box.replaceChildren();
  if (!rows.length) {
    box.append(h("p", { class: "muted" }, t("no_rows")));
    return;
  }
  const staff = by === "officer" || by === "counter" ? data.staff[by].rows : null;
  // [label, CSV column (the API's field, flattened), kind]
  const cols = [
    ["col_visits", "visits", "count"],
    ["col_served", "outcomes.served", "count"],
    ["col_no_show", "outcomes.no_show", "count"],
    ["col_rate_served", "rates.served", "rate"],
    ["col_wait_p50", "wait.p50", "time"],
    ["col_wait_p90", "wait.p90", "time"],
    ["col_wait_p95", "wait.p95", "time"],
    ["col_within", "rates.within_target", "rate"],
    ["col_service_p50", "service.p50", "time"],
  ];
  const value = (r, field) => {
    if (!field.startsWith("staff.")) return dig(r, field);
    const own = staff.find((s) => s.key === r.key);
    return own ? own[field.slice(6)] : null;
  };
  if (staff) {
    cols.push(
      ["col_open", "staff.open_s", "time"],
      ["col_idle_waiting", "staff.idle_waiting_s", "time"],
      ["col_util", "staff.utilisation", "rate"],
    );
  }
  const cell = (r, field, kind) => {
    const v = value(r, field) ?? null;
    return h("td", { class: "num", dataset: { field, value: JSON.stringify(v) } }, fmt(v, kind));
  };
  const table = h("table", { class: "figures", dataset: { cut: by } },
    h("thead", {}, h("tr", {}, h("th", {}, t("col_key")), ...cols.map(([k]) => h("th", { class: "num" }, t(k))))),
    h("tbody", {}, ...rows.map((r) => h("tr", { dataset: { key: r.key ?? "" } },
      h("td", {}, keyName(by, r.key)), ...cols.map(([, field, kind]) => cell(r, field, kind))))));
  box.append(table);
}

// --- the sites ----------------------------------------------------------------------------

function chosenSites() {
  const boxes = [...document.querySelectorAll("#site-list input:checked")].map((x) => x.value);
  return boxes.length ? boxes : [site];
}

function fillSites(wanted) {
  const list = $("#site-list");
  list.replaceChildren(...readable.map((s) => h("label", {},
    h("input", { type: "checkbox", name: "site", value: s.site, checked: wanted.includes(s.site) }), ` ${s.name}`)));
  for (const input of list.querySelectorAll("input")) input.checked = wanted.includes(input.value);
  $("#site-picker").hidden = readable.length < 2;
}

// --- starting up ----------------------------------------------------------------------------

function fillFilters() {
  const form = $("#picker");
  const options = {
    agency: (setup.agencies || []).map((a) => [a.id, a.name]),
    service: (setup.services || []).map((s) => [s.service, localName(s)]),
  };
  for (const [name, items] of Object.entries(options)) {
    const select = form.elements[name];
    const current = select.value;
    select.replaceChildren(h("option", { value: "" }, t("all")), ...items.map(([v, label]) => h("option", { value: v }, label)));
    select.value = current;
  }
}

async function ready(me) {
  try {
    readable = (await get("/reports/sites")).sites;
  } catch (err) {
    showError(err);
    return;
  }
  const ids = readable.map((s) => s.site);
  const asked = (new URLSearchParams(location.search).get("site") || "").split(",").filter((s) => ids.includes(s));
  site = asked[0] || chooseSite(me) || readable[0]?.site;
  if (!site) {
    banner(t("no_site"));
    return;
  }
  fillSites(asked.length ? asked : [site]);
  try {
    setup = await get(`/sites/${encodeURIComponent(site)}`);
  } catch (err) {
    showError(err);
    return;
  }
  fillFilters();
  fromLocation();
  await load();
}

/** A breakdown's card, `#t-<by>`, with its CSV and XLSX; the per-site one shows only
 * when the report covers more than one site. */
function breakdownCard(by) {
  const file = (format, text) => h("a", { class: `button secondary ${format}`, dataset: { table: by }, download: true, "data-i18n": text && "rep_csv" }, text || "XLSX");
  return h("section", { class: "card", id: by === "site" && "s-site", hidden: by === "site" },
    h("div", { class: "head" },
      h("h2", { "data-i18n": `t_${by}` }, t(`t_${by}`)),
      h("span", { class: "files no-print" }, file("csv", t("rep_csv")), " ", file("xlsx"))),
    h("div", { id: `t-${by}` }));
}

function boot() {
  $("#survey").before(...CUTS.map(breakdownCard));
  startLanguage(() => {
    if (setup) fillFilters();
    draw();
  });
  const form = $("#picker");
  form.elements.period.addEventListener("change", showRange);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  $("#print").addEventListener("click", () => window.print());
  // The monthly report goes to the mayor in Indonesian, whatever the screen's language.
  let screenLang = null;
  window.addEventListener("beforeprint", () => {
    if (getLang() === "id") return;
    screenLang = getLang();
    setLang("id");
  });
  window.addEventListener("afterprint", () => {
    if (screenLang) setLang(screenLang);
    screenLang = null;
  });
  $("#survey-by").addEventListener("change", () => load());
  gate = new Gate({ roles: ["supervisor", "admin", "viewer"], title: "rep_signin", app: $("#app"), onReady: ready });
  gate.start();
}

boot();
