// The reports page: any period (named, or a range of dates) and filters; KPI cards
// with the change against the period before; arrivals and served per hour (one
// day) or per day (longer periods), drawn as plain SVG; the weekday x hour
// heatmap; a table per cut; CSV / XLSX exports of the same query; and an A4 print
// (the monthly report). Every number is the API's (GET /api/v1/sites/{site}/reports/…,
// docs/reports.md): the cards carry the raw value in data-value, so the
// page, the API and the exports can be checked against each other.

import { ApiError, get } from "./api.js";
import { applyI18n, getLang, langToggle, onLangChange, register, t } from "./i18n.js";
import { Gate } from "./staff.js";
import { $, banner, h, showError } from "./ui.js";

register({
  rep_title: ["Laporan kinerja", "Performance report"],
  rep_signin: ["Masuk untuk melihat laporan", "Sign in to see the reports"],
  rep_letter: ["Laporan Kinerja Pelayanan", "Service Performance Report"],
  rep_period: ["Periode", "Period"],
  rep_from: ["Dari", "From"],
  rep_to: ["Sampai", "To"],
  rep_show: ["Tampilkan", "Show"],
  rep_csv: ["Unduh CSV", "Download CSV"],
  rep_xlsx: ["Unduh XLSX", "Download XLSX"],
  rep_print: ["Cetak (A4)", "Print (A4)"],
  rep_loading: ["Memuat…", "Loading…"],
  rep_scope: ["{first} s.d. {last} ({days} hari); dibandingkan dengan {pfirst} s.d. {plast}",
    "{first} to {last} ({days} days); compared with {pfirst} to {plast}"],
  rep_printed: ["Dicetak {when} dari qms", "Printed {when} from qms"],
  p_today: ["Hari ini", "Today"],
  p_yesterday: ["Kemarin", "Yesterday"],
  p_this_week: ["Minggu ini", "This week"],
  p_last_week: ["Minggu lalu", "Last week"],
  p_this_month: ["Bulan ini", "This month"],
  p_last_month: ["Bulan lalu", "Last month"],
  p_this_quarter: ["Triwulan ini", "This quarter"],
  p_last_quarter: ["Triwulan lalu", "Last quarter"],
  p_this_year: ["Tahun ini", "This year"],
  p_last_year: ["Tahun lalu", "Last year"],
  p_range: ["Rentang tanggal…", "Date range…"],
  f_agency: ["Instansi", "Agency"],
  f_service: ["Layanan", "Service"],
  f_channel: ["Kanal", "Channel"],
  f_priority: ["Prioritas", "Priority"],
  all: ["Semua", "All"],
  ch_kiosk: ["Kios", "Kiosk"],
  ch_online: ["Daring", "Online"],
  ch_staff: ["Petugas", "Staff"],
  pr_regular: ["Reguler", "Regular"],
  pr_disabilitas: ["Disabilitas", "Disability"],
  pr_lansia: ["Lansia", "Elderly"],
  pr_ibu_hamil: ["Ibu hamil", "Pregnant"],
  k_visits: ["Kunjungan", "Visits"],
  k_served: ["Dilayani", "Served"],
  k_rate_served: ["% dilayani", "% served"],
  k_rate_no_show: ["% tidak hadir", "% no-show"],
  k_rate_left: ["% batal (pergi)", "% left"],
  k_within: ["% sesuai target", "% within target"],
  k_wait_p50: ["Tunggu p50", "Wait p50"],
  k_wait_p90: ["Tunggu p90", "Wait p90"],
  k_service_p50: ["Layanan p50", "Service p50"],
  k_hall_p50: ["Di gedung p50", "In hall p50"],
  vs_before: ["vs periode sebelumnya", "vs the period before"],
  chart_hour: ["Kedatangan dan dilayani per jam", "Arrivals and served per hour"],
  chart_day: ["Kedatangan dan dilayani per hari", "Arrivals and served per day"],
  c_arrivals: ["Kedatangan", "Arrivals"],
  c_served: ["Dilayani", "Served"],
  heat_title: ["Kedatangan per hari × jam", "Arrivals per weekday × hour"],
  t_service: ["Per layanan", "Per service"],
  t_agency: ["Per instansi", "Per agency"],
  t_officer: ["Per petugas", "Per officer"],
  t_counter: ["Per loket", "Per counter"],
  t_channel: ["Per kanal", "Per channel"],
  t_priority: ["Per prioritas", "Per priority"],
  col_key: ["Nama", "Name"],
  col_visits: ["Kunjungan", "Visits"],
  col_served: ["Dilayani", "Served"],
  col_no_show: ["Tidak hadir", "No-show"],
  col_rate_served: ["% dilayani", "% served"],
  col_wait_p50: ["Tunggu p50", "Wait p50"],
  col_wait_p90: ["Tunggu p90", "Wait p90"],
  col_wait_p95: ["Tunggu p95", "Wait p95"],
  col_within: ["% sesuai target", "% within target"],
  col_service_p50: ["Layanan p50", "Service p50"],
  col_open: ["Jam buka", "Open time"],
  col_idle_waiting: ["Menganggur saat ada antrean", "Idle while tickets waited"],
  col_util: ["Utilisasi", "Utilisation"],
  no_rows: ["Tidak ada data pada periode ini", "No data in this period"],
  none_key: ["(tanpa)", "(none)"],
  wd_0: ["Sen", "Mon"], wd_1: ["Sel", "Tue"], wd_2: ["Rab", "Wed"], wd_3: ["Kam", "Thu"],
  wd_4: ["Jum", "Fri"], wd_5: ["Sab", "Sat"], wd_6: ["Min", "Sun"],
});

const FILTERS = ["agency", "service", "channel", "priority"];
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

let site = null;
let setup = null;
let data = null; // the last answers, redrawn on a language switch
let gate;

const locale = () => (getLang() === "en" ? "en-GB" : "id-ID");
const dig = (obj, path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);
const sitePath = (rest) => `/sites/${encodeURIComponent(site)}/reports${rest}`;

function fmt(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "rate") {
    return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(value);
  }
  if (kind === "time") {
    const minutes = value / 60;
    return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(minutes)} ${getLang() === "en" ? "min" : "mnt"}`;
  }
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(value);
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
  const en = getLang() === "en";
  if (by === "service") {
    const s = (setup?.services || []).find((x) => x.service === key);
    return s ? `${en ? s.name_en : s.name_id} (${key})` : key;
  }
  if (by === "agency") {
    const a = (setup?.agencies || []).find((x) => x.id === key);
    return a ? a.name : key;
  }
  if (by === "counter") {
    const c = (setup?.counters || []).find((x) => x.counter === key);
    return c ? c.name : key;
  }
  if (by === "channel") return t(`ch_${key}`);
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
  showRange();
}

function showRange() {
  const range = $("#picker").elements.period.value === "range";
  for (const el of document.querySelectorAll(".picker .range")) el.hidden = !range;
}

// --- loading -------------------------------------------------------------------------------

async function load() {
  const q = query();
  const page = new URLSearchParams(q);
  page.set("site", site);
  history.replaceState(null, "", `${location.pathname}?${page}`);
  const api = (view, extra = {}) => {
    const p = new URLSearchParams(q);
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return get(`${sitePath(`/${view}`)}?${p}`);
  };
  $("#export-csv").href = `/api/v1${sitePath("/export")}?${q}&format=csv`;
  $("#export-xlsx").href = `/api/v1${sitePath("/export")}?${q}&format=xlsx`;
  $("#scope").textContent = t("rep_loading");
  document.body.dataset.loading = "";
  try {
    const summary = await api("summary");
    const oneDay = Object.values(summary.scope.sites)[0].days === 1;
    const cuts = ["service", "agency", "officer", "counter", "channel", "priority"];
    const [series, heat, staffOfficer, staffCounter, ...tables] = await Promise.all([
      oneDay ? api("intervals", { minutes: "60" }) : api("breakdown", { by: "day" }),
      api("heatmap"),
      api("staff", { by: "officer" }),
      api("staff", { by: "counter" }),
      ...cuts.map((by) => api("breakdown", { by })),
    ]);
    data = { summary, oneDay, series, heat, staff: { officer: staffOfficer, counter: staffCounter }, tables };
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
  const period = Object.values(summary.scope.sites)[0];
  const before = Object.values(summary.previous.scope.sites)[0];
  $("#scope").textContent = t("rep_scope", {
    first: period.first, last: period.last, days: period.days, pfirst: before.first, plast: before.last,
  });
  const hall = setup?.site?.name || site;
  $("#site-title").textContent = `— ${hall}`;
  $("#print-hall").textContent = hall;
  $("#print-period").textContent = `${t("rep_period")}: ${period.first} – ${period.last}`;
  $("#printed-at").textContent = t("rep_printed", { when: new Date().toLocaleString(locale()) });
  drawCards(summary);
  drawChart();
  drawHeatmap(data.heat.cells);
  const cuts = ["service", "agency", "officer", "counter", "channel", "priority"];
  cuts.forEach((by, i) => drawTable(by, data.tables[i].rows));
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

function drawChart() {
  const { oneDay, series } = data;
  $("#chart-title").textContent = t(oneDay ? "chart_hour" : "chart_day");
  const points = oneDay
    ? series.rows.map((r) => ({ label: r.start.slice(11, 13), arrivals: r.arrivals, served: r.served }))
    : series.rows.map((r) => ({ label: r.key.slice(5), arrivals: r.visits, served: r.outcomes.served }));
  const box = $("#chart");
  box.replaceChildren();
  if (!points.length) {
    box.append(h("p", { class: "muted" }, t("no_rows")));
    return;
  }
  // Plain SVG: bars of arrivals, a line of served; the y axis from 0 to the largest.
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const W = 900, H = 260, left = 40, bottom = 24, top = 10;
  const max = Math.max(1, ...points.map((p) => Math.max(p.arrivals, p.served)));
  const step = (W - left) / points.length;
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": $("#chart-title").textContent });
  svg.append(el("line", { class: "axis", x1: left, x2: W, y1: y(0), y2: y(0) }));
  for (const tick of [0, Math.round(max / 2), max]) {
    svg.append(el("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, String(tick)));
  }
  const every = Math.ceil(points.length / 24);
  let path = "";
  points.forEach((p, i) => {
    const x = left + i * step;
    const bar = el("rect", {
      class: "arrivals", x: x + step * 0.15, width: step * 0.7, y: y(p.arrivals), height: y(0) - y(p.arrivals),
      "data-label": p.label, "data-arrivals": p.arrivals, "data-served": p.served,
    });
    bar.append(el("title", {}, `${p.label}: ${p.arrivals} / ${p.served}`));
    svg.append(bar);
    const cx = x + step / 2;
    path += `${i ? "L" : "M"}${cx.toFixed(1)},${y(p.served).toFixed(1)}`;
    svg.append(el("circle", { class: "dot", cx, cy: y(p.served), r: 3 }));
    if (i % every === 0) svg.append(el("text", { x: cx, y: H - 6, "text-anchor": "middle" }, p.label));
  });
  svg.append(el("path", { class: "served", d: path }));
  box.append(svg);
}

function drawHeatmap(cells) {
  const box = $("#heatmap");
  box.replaceChildren();
  if (!cells.length) {
    box.append(h("p", { class: "muted" }, t("no_rows")));
    return;
  }
  const hours = [...new Set(cells.map((c) => c.hour))].sort((a, b) => a - b);
  const first = hours[0], last = hours[hours.length - 1];
  const span = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  // Arrivals per day in the cell: a busy Monday is compared with busy Mondays.
  const value = (c) => c.arrivals / Math.max(1, c.days);
  const max = Math.max(...cells.map(value));
  const table = h("table", { class: "heat" },
    h("thead", {}, h("tr", {}, h("th", {}, ""), ...span.map((hr) => h("th", {}, String(hr).padStart(2, "0"))))));
  const body = h("tbody");
  for (let wd = 0; wd < 7; wd++) {
    const row = h("tr", {}, h("th", {}, t(`wd_${wd}`)));
    for (const hr of span) {
      const c = cells.find((x) => x.weekday === wd && x.hour === hr);
      const v = c ? value(c) : 0;
      const alpha = max ? v / max : 0;
      const text = c ? new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(v) : "";
      const cell = h("td", { title: c ? `${c.arrivals} / ${c.days}` : "" }, text);
      // Through the CSSOM: the pages' CSP forbids style attributes.
      cell.style.backgroundColor = `rgba(11, 92, 173, ${alpha.toFixed(2)})`;
      if (alpha > 0.55) cell.style.color = "#fff";
      row.append(cell);
    }
    body.append(row);
  }
  table.append(body);
  box.append(table);
}

function drawTable(by, rows) {
  const box = $(`#t-${by}`);
  box.replaceChildren();
  if (!rows.length) {
    box.append(h("p", { class: "muted" }, t("no_rows")));
    return;
  }
  const staff = by === "officer" || by === "counter" ? data.staff[by].rows : null;
  const cols = [
    ["col_visits", (r) => fmt(r.visits, "count")],
    ["col_served", (r) => fmt(r.outcomes.served, "count")],
    ["col_no_show", (r) => fmt(r.outcomes.no_show, "count")],
    ["col_rate_served", (r) => fmt(r.rates.served, "rate")],
    ["col_wait_p50", (r) => fmt(r.wait.p50, "time")],
    ["col_wait_p90", (r) => fmt(r.wait.p90, "time")],
    ["col_wait_p95", (r) => fmt(r.wait.p95, "time")],
    ["col_within", (r) => fmt(r.rates.within_target, "rate")],
    ["col_service_p50", (r) => fmt(r.service.p50, "time")],
  ];
  if (staff) {
    const of = (r) => staff.find((s) => s.key === r.key);
    cols.push(
      ["col_open", (r) => fmt(of(r)?.open_s ?? null, "time")],
      ["col_idle_waiting", (r) => fmt(of(r)?.idle_waiting_s ?? null, "time")],
      ["col_util", (r) => fmt(of(r)?.utilisation ?? null, "rate")],
    );
  }
  const table = h("table", { class: "figures", dataset: { cut: by } },
    h("thead", {}, h("tr", {}, h("th", {}, t("col_key")), ...cols.map(([k]) => h("th", { class: "num" }, t(k))))),
    h("tbody", {}, ...rows.map((r) => h("tr", { dataset: { key: r.key ?? "" } },
      h("td", {}, keyName(by, r.key)), ...cols.map(([, f]) => h("td", { class: "num" }, f(r)))))));
  box.append(table);
}

// --- starting up ----------------------------------------------------------------------------

function fillFilters() {
  const form = $("#picker");
  const en = getLang() === "en";
  const options = {
    agency: (setup.agencies || []).map((a) => [a.id, a.name]),
    service: (setup.services || []).map((s) => [s.service, en ? s.name_en : s.name_id]),
  };
  for (const [name, items] of Object.entries(options)) {
    const select = form.elements[name];
    const current = select.value;
    select.replaceChildren(h("option", { value: "" }, t("all")), ...items.map(([v, label]) => h("option", { value: v }, label)));
    select.value = current;
  }
}

async function ready(_me, chosen) {
  site = chosen;
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

function boot() {
  applyI18n();
  langToggle();
  onLangChange(() => {
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
  gate = new Gate({ roles: ["supervisor", "admin", "viewer"], title: "rep_signin", app: $("#app"), onReady: ready, withSite: true });
  gate.start();
}

boot();
