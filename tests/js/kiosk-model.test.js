// The kiosk's model (static/js/kiosk-model.js): which agencies and services it
// offers, each service's tile (waiting and estimated wait, or why it cannot
// issue now: inactive, outside its hours in the site's time zone, refused a
// moment ago) and a new ticket's place.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { KioskModel, REFUSAL_KEPT_MS, backToStartAfter, openAt } from "../../static/js/kiosk-model.js";

const WEEKDAYS = { open: "08:00", close: "15:00", weekdays: [0, 1, 2, 3, 4] }; // Monday to Friday
// Monday 7 December 2026 in Jakarta (UTC+7): 08:30 is 01:30 UTC.
const at = (day, hour, minute = 0) => Date.UTC(2026, 11, day, hour - 7, minute);
const MONDAY_0830 = at(7, 8, 30);

function kiosk() {
  const model = new KioskModel();
  model.loaded(
    {
      site: { name: "MPP Kota Bengkulu", timezone: "Asia/Jakarta" },
      agencies: [
        { id: "disdukcapil", name: "Disdukcapil" },
        { id: "samsat", name: "Samsat" },
        { id: "empty", name: "Tanpa layanan" },
      ],
      services: [
        { service: "ktp", agency: "disdukcapil", prefix: "A", active: true, hours: WEEKDAYS },
        { service: "kk", agency: "disdukcapil", prefix: "B", active: false, hours: null },
        { service: "pajak", agency: "samsat", prefix: "C", active: true, hours: null },
      ],
    },
    {
      queues: [
        { queue: "ktp", service: "ktp", waiting: 7, estimated_wait_s: 840 },
        { queue: "pajak", service: "pajak", waiting: 0, estimated_wait_s: null },
        { queue: "@L1", service: null, counter: "L1", waiting: 2, estimated_wait_s: 300 }, // staff only, not for a kiosk
      ],
    },
  );
  return model;
}

const service = (model, id) => model.site.services.find((s) => s.service === id);

describe("what the kiosk offers", () => {
  test("agencies with services, in order; an agency's services", () => {
    const model = kiosk();
    assert.deepEqual(model.agencies().map((a) => a.id), ["disdukcapil", "samsat"]);
    assert.deepEqual(model.services("disdukcapil").map((s) => s.service), ["ktp", "kk"]);
    assert.equal(model.agencyName("samsat"), "Samsat");
  });

  test("a tile: waiting and estimated wait from the queues; none read yet is 0 and no estimate", () => {
    const model = kiosk();
    assert.deepEqual(model.tile(service(model, "ktp"), MONDAY_0830), { waiting: 7, estimatedWait: 840, unavailable: null });
    assert.deepEqual(model.tile(service(model, "pajak"), MONDAY_0830), { waiting: 0, estimatedWait: null, unavailable: null });
  });

  test("an inactive service is unavailable", () => {
    const model = kiosk();
    assert.deepEqual(model.tile(service(model, "kk"), MONDAY_0830).unavailable, { why: "inactive" });
  });

  test("opening hours are the site's, not the device's: open 08:00 to 15:00, Monday to Friday", () => {
    const model = kiosk();
    const ktp = service(model, "ktp");
    const closed = { why: "closed", open: "08:00", close: "15:00" };
    assert.deepEqual(model.unavailable(ktp, at(7, 7, 59)), closed);
    assert.equal(model.unavailable(ktp, at(7, 8, 0)), null);
    assert.equal(model.unavailable(ktp, at(7, 14, 59)), null);
    assert.deepEqual(model.unavailable(ktp, at(7, 15, 0)), closed); // closes at 15:00
    assert.deepEqual(model.unavailable(ktp, at(12, 9, 0)), closed); // a Saturday
  });

  test("openAt reads the hours in the time zone asked", () => {
    const date = new Date(MONDAY_0830); // 08:30 in Jakarta, 10:30 in Jayapura (UTC+9)
    assert.equal(openAt(WEEKDAYS, date, "Asia/Jakarta"), true);
    assert.equal(openAt({ ...WEEKDAYS, close: "10:00" }, date, "Asia/Jayapura"), false);
    assert.equal(openAt(null, date, "Asia/Jakarta"), true); // no hours: always open
  });

  test("a refusal is shown on the tile for five minutes, then the engine is asked again", () => {
    const model = kiosk();
    const pajak = service(model, "pajak");
    model.refusal("pajak", "quota_reached", MONDAY_0830);
    assert.deepEqual(model.unavailable(pajak, MONDAY_0830 + REFUSAL_KEPT_MS - 1), { why: "refused", code: "quota_reached" });
    assert.equal(model.unavailable(pajak, MONDAY_0830 + REFUSAL_KEPT_MS), null);
    assert.equal(REFUSAL_KEPT_MS, 5 * 60_000);
  });
});

describe("back to the start", () => {
  test("the ticket screen after `reset` s, a half-made choice after `idle` s; the start screen and notices stay", () => {
    const after = (screen) => backToStartAfter(screen, { idle: 60, reset: 20 });
    assert.deepEqual(["ticket", "services", "priority", "agencies", "blocked", "offline"].map(after), [20, 60, 60, null, null, null]);
  });
});

describe("a new ticket's place", () => {
  test("from its public status when read", () => {
    const model = kiosk();
    assert.deepEqual(model.place({ people_ahead: 3, estimated_wait_s: 360 }, "ktp"), { ahead: 3, estimatedWait: 360 });
    assert.deepEqual(model.place({ people_ahead: 0, estimated_wait_s: null }, "ktp"), { ahead: 0, estimatedWait: null });
  });

  test("else from its queue as last read: everyone waiting then is ahead", () => {
    const model = kiosk();
    assert.deepEqual(model.place(null, "ktp"), { ahead: 7, estimatedWait: 840 });
    assert.deepEqual(model.place(null, "unknown"), { ahead: 0, estimatedWait: null });
  });
});
