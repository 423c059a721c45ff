// The reports page's model (static/js/reports.js): what its period line says. A named
// period is resolved in each site's own calendar (docs/reports.md "Periods"): at the
// same moment "yesterday" can be 5 December in Jakarta and 6 December in Jayapura, so
// the line is one when every chosen site has the same days (and the same period
// before), and otherwise one per set of sites with the same days, naming them.

// summary: the API's `…/reports/summary` answer (its `scope.sites` and
// `previous.scope.sites`: site -> {first, last, days}); nameOf: site -> its name.
// Returns [{sites, names, first, last, days, pfirst, plast}], `names` null when the
// line is the one of every site.
export function periodLines(summary, nameOf = (site) => site) {
  const now = summary.scope.sites;
  const before = summary.previous?.scope?.sites || {};
  const lines = new Map();
  for (const site of Object.keys(now).sort()) {
    const p = now[site];
    const q = before[site] || {};
    const key = [p.first, p.last, q.first, q.last].join("|");
    if (!lines.has(key)) {
      lines.set(key, { sites: [], first: p.first, last: p.last, days: p.days, pfirst: q.first, plast: q.last });
    }
    lines.get(key).sites.push(site);
  }
  const all = [...lines.values()];
  if (all.length === 1) return [{ ...all[0], names: null }];
  return all.map((line) => ({ ...line, names: line.sites.map(nameOf) }));
}

// "2026-11" when the days first..last are one whole calendar month, else null: the
// monthly report then names its month ("November 2026") beside the dates.
export function wholeMonth(first, last) {
  if (!first || !last || first.slice(8) !== "01" || first.slice(0, 7) !== last.slice(0, 7)) return null;
  const [year, month] = first.split("-").map(Number);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return Number(last.slice(8)) === days ? first.slice(0, 7) : null;
}
