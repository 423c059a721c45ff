// The reports page's model (static/js/reports-model.js): the period line over sites
// whose calendars differ (Asia/Jakarta, UTC+7, and Asia/Jayapura, UTC+9).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { periodLines, wholeMonth } from "../../static/js/reports-model.js";

const day = (first, last = first) => ({ first, last, kind: "day", days: 1 });
const summary = (now, before) => ({ scope: { sites: now }, previous: { scope: { sites: before } } });
const names = { "mpp-jakarta": "MPP Jakarta", "mpp-jayapura": "MPP Jayapura", "mpp-medan": "MPP Medan" };

describe("the period line", () => {
  test("the same days everywhere: one line, naming no site", () => {
    const lines = periodLines(
      summary({ "mpp-jakarta": day("2026-12-05"), "mpp-jayapura": day("2026-12-05") },
        { "mpp-jakarta": day("2026-12-04"), "mpp-jayapura": day("2026-12-04") }),
      (s) => names[s]);
    assert.deepEqual(lines, [{ sites: ["mpp-jakarta", "mpp-jayapura"], names: null, first: "2026-12-05",
      last: "2026-12-05", days: 1, pfirst: "2026-12-04", plast: "2026-12-04" }]);
  });

  test("at 23:30 in Jayapura, 21:30 in Jakarta: 'today' is a different day, one line each", () => {
    const lines = periodLines(
      summary({ "mpp-jayapura": day("2026-12-06"), "mpp-jakarta": day("2026-12-05"), "mpp-medan": day("2026-12-05") },
        { "mpp-jayapura": day("2026-12-05"), "mpp-jakarta": day("2026-12-04"), "mpp-medan": day("2026-12-04") }),
      (s) => names[s]);
    assert.deepEqual(lines.map((l) => [l.names, l.first, l.pfirst]), [
      [["MPP Jakarta", "MPP Medan"], "2026-12-05", "2026-12-04"],
      [["MPP Jayapura"], "2026-12-06", "2026-12-05"],
    ]);
  });

  test("a month to date differs in its last day only, and the period before too", () => {
    const month = (last) => ({ first: `${last.slice(0, 8)}01`, last, kind: "month", days: +last.slice(8) });
    const lines = periodLines(summary({ a: month("2026-12-05"), b: month("2026-12-06") },
      { a: month("2026-11-05"), b: month("2026-11-06") }));
    assert.deepEqual(lines.map((l) => [l.names, l.last, l.days, l.plast]),
      [[["a"], "2026-12-05", 5, "2026-11-05"], [["b"], "2026-12-06", 6, "2026-11-06"]]);
  });
});

describe("a whole month", () => {
  test("the first to the last day of one month, leap years included", () => {
    assert.equal(wholeMonth("2026-11-01", "2026-11-30"), "2026-11");
    assert.equal(wholeMonth("2028-02-01", "2028-02-29"), "2028-02");
    assert.equal(wholeMonth("2027-02-01", "2027-02-28"), "2027-02");
    assert.equal(wholeMonth("2026-12-01", "2026-12-31"), "2026-12");
  });

  test("a month to date, a range across months, a day: none", () => {
    assert.equal(wholeMonth("2026-12-01", "2026-12-05"), null);
    assert.equal(wholeMonth("2026-11-02", "2026-11-30"), null);
    assert.equal(wholeMonth("2026-11-01", "2026-12-31"), null);
    assert.equal(wholeMonth("2026-11-30", "2026-11-30"), null);
    assert.equal(wholeMonth(undefined, "2026-11-30"), null);
  });
});
