// The reports page's drawings (static/js/reports.js): numbers as the locale writes
// them, the chart of arrivals and served (plain SVG), the weekday x hour heatmap, and
// the satisfaction survey's table. Each draws the API's answer as it is.

import { getLang, locale, t } from "./i18n.js";
import { $, h } from "./ui.js";

export function fmt(value, kind) {
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

export function drawChart(oneDay, series) {
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

export function drawHeatmap(cells) {
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

// The survey's groups: hidden ones say so, never a number; the lowest element in bold.
export function drawSurvey(survey, keyName) {
  const box = $("#t-survey");
  box.replaceChildren();
  const by = survey.by;
  // On paper (the monthly report) the section is there when the period's answers are
  // shown (at least the minimum group), with its cut named; else it is left out.
  $("#survey").toggleAttribute("data-empty", Boolean(survey.total.suppressed));
  const select = $("#survey-by");
  $("#survey-cut").textContent = `${t("sv_by")}: ${select.options[select.selectedIndex]?.textContent || by}`;
  const elements = ["U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8", "U9"];
  const name = (key) => {
    if (by === "wait") return t(key === null ? "sv_unlinked" : `sv_${key}`);
    if (by === "answered_on" && key !== null) return t(`sv_on_${key}`);
    return keyName(by, key);
  };
  const row = (kind, g) => {
    const label = kind === "total" ? t("sv_total") : name(g.key);
    if (g.suppressed) {
      return h("tr", { dataset: { key: g.key ?? "", suppressed: "" } },
        h("td", {}, label), h("td", { colspan: String(elements.length + 5), class: "muted" }, t("sv_hidden", { n: survey.min_group })));
    }
    const idx = g.index || { elements: [], lowest: [] };
    const nrr = Object.fromEntries(idx.elements.map((e) => [e.key, e.nrr]));
    const v = g.visits || {};
    return h("tr", { dataset: { key: kind === "total" ? "" : g.key ?? "", row: kind } },
      h("td", {}, label),
      h("td", { class: "num", dataset: { field: "respondents", value: JSON.stringify(g.respondents) } }, String(g.respondents)),
      ...elements.map((u) => h("td", { class: `num${(idx.lowest || []).includes(u) ? " lowest" : ""}`, dataset: { field: `${u}.nrr` } }, nrr[u] ?? "—")),
      h("td", { class: "num", dataset: { field: "converted" } }, idx.converted ?? "—"),
      h("td", { dataset: { field: "grade" } }, idx.grade ? `${idx.grade.letter} (${getLang() === "en" ? idx.grade.en : idx.grade.id})` : "—"),
      h("td", { class: "num", dataset: { field: "wait.p50", value: JSON.stringify(v.wait?.p50 ?? null) } }, fmt(v.wait?.p50, "time")),
      h("td", { class: "num", dataset: { field: "service.p50", value: JSON.stringify(v.service?.p50 ?? null) } }, fmt(v.service?.p50, "time")));
  };
  const head = [t("col_key"), t("sv_respondents"), ...elements, t("sv_ikm"), t("sv_grade"), t("sv_wait_p50"), t("sv_service_p50")];
  box.append(h("table", { class: "figures", dataset: { cut: `survey-${by}` } },
    h("thead", {}, h("tr", {}, ...head.map((x, i) => h("th", { class: i ? "num" : "" }, x)))),
    h("tbody", {}, row("total", survey.total), ...survey.groups.map((g) => row("group", g)))));
}
