// The admin survey tab's plan model (static/js/admin-survey-model.js): the period
// picked is the plan's label and the results' days; a plan's text reads back.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { actionsOf, periodOf, planText } from "../../static/js/admin-survey-model.js";

describe("the period picked", () => {
  test("a quarter, a semester, a month and a year: the label and the days", () => {
    assert.deepEqual(periodOf("quarter", 2026, "Q4"), { label: "2026-Q4", first: "2026-10-01", last: "2026-12-31" });
    assert.deepEqual(periodOf("quarter", 2026, "Q1"), { label: "2026-Q1", first: "2026-01-01", last: "2026-03-31" });
    assert.deepEqual(periodOf("semester", 2026, "S2"), { label: "2026-S2", first: "2026-07-01", last: "2026-12-31" });
    assert.deepEqual(periodOf("month", 2028, "02"), { label: "2028-02", first: "2028-02-01", last: "2028-02-29" });
    assert.deepEqual(periodOf("month", 2027, "02").last, "2027-02-28");
    assert.deepEqual(periodOf("year", "2026", ""), { label: "2026", first: "2026-01-01", last: "2026-12-31" });
  });

  test("a part not of the kind is its first part", () => {
    assert.equal(periodOf("semester", 2026, "Q3").label, "2026-S1");
  });
});

describe("the plan's text", () => {
  test("one line per element, read back by element", () => {
    const text = planText([["U4", "Biaya/tarif", "Tarif diumumkan."], ["U9", "Sarana dan prasarana", "Kursi tunggu\nLoket 5"]]);
    assert.equal(text, "U4 Biaya/tarif: Tarif diumumkan.\nU9 Sarana dan prasarana: Kursi tunggu\nLoket 5");
    assert.deepEqual(actionsOf({ period: "2026-Q4", elements: ["U4", "U9"], text }), {
      U4: "Tarif diumumkan.",
      U9: "Kursi tunggu\nLoket 5",
    });
  });

  test("a plan written elsewhere (the API) is the first element's action; none is nothing", () => {
    const plan = { period: "2026", elements: ["U3", "U9"], text: "Menambah loket pada jam sibuk." };
    assert.deepEqual(actionsOf(plan), { U3: "Menambah loket pada jam sibuk." });
    assert.deepEqual(actionsOf(undefined), {});
  });
});
