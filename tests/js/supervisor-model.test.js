// The supervisor's model (static/js/supervisor-model.js): today's figures
// (served, waiting, average wait, share within target) for a scripted day, the
// services' lines against their targets, who holds which ticket, and the read
// of today's tickets lined up with the stream by version.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { SupervisorModel } from "../../static/js/supervisor-model.js";
import { counter, issued, msg, queues, restartAt, services } from "./fixtures.js";

const MIN = 60;

function snapshotView() {
  return {
    site: { id: "mpp", name: "MPP" },
    services: services("ktp", "kk"),
    counters: [counter("L1", ["ktp", "kk"], { zone: "", officer: "budi" }), counter("L2", ["kk"], { zone: "", officer: "sari" })],
    messages: {},
  };
}

const pick = (obj, ...keys) => keys.map((k) => obj[k]);

restartAt(10);
const calledAt = (ticket, counter, at) => msg({ type: "ticket_called", ticket, counter, officer: "budi", at });
const on = (type, ticket, at, extra = {}) => msg({ type, ticket, at, ...extra });

/** A model after its snapshot (version 10) and an empty read of today's tickets. */
function fresh() {
  restartAt(10);
  const model = new SupervisorModel();
  model.snapshot(snapshotView());
  model.loaded({ version: 10, tickets: [] });
  return model;
}

describe("today's figures", () => {
  test("a scripted day: served, waiting, average wait (latest call - issue) and share within target", () => {
    const model = fresh();
    const day = [
      issued("A001", "ktp", 1000),
      issued("B001", "kk", 1060),
      issued("A002", "ktp", 1100),
      issued("A003", "ktp", 1200),
      calledAt("A001", "L1", 1000 + 9 * MIN), // waited 9 min, target 10: within
      calledAt("B001", "L2", 1060 + 9 * MIN), // waited 9 min, target 5: over
      on("service_started", "A001", 1600),
      on("ticket_no_show", "B001", 1700),
      on("ticket_completed", "A001", 1900),
      calledAt("A002", "L1", 2300),
      on("ticket_returned", "A002", 2350), // back in its queue: not counted while waiting
    ];
    for (const m of day) assert.equal(model.apply(m), null);
    let f = model.figures();
    assert.deepEqual([f.issued, f.served, f.waiting], [4, 1, 2]);
    assert.equal(f.averageWait, 9 * MIN);
    assert.equal(f.withinTarget, 1 / 2);

    model.apply(calledAt("A002", "L1", 1100 + 25 * MIN)); // called again: its latest call counts, 25 min
    model.apply(on("ticket_recalled", "A002", 2600, { counter: "L1", recalls: 1 }));
    model.apply(on("ticket_cancelled", "A003", 2700));
    f = model.figures();
    assert.deepEqual([f.issued, f.served, f.waiting], [4, 1, 0]);
    assert.equal(f.averageWait, (9 * MIN + 9 * MIN + 25 * MIN) / 3);
    assert.equal(Math.round(f.withinTarget * 100), 33); // 1 of 3
  });

  test("no figure before today's tickets are read, a dash-worthy null before any call", () => {
    const model = new SupervisorModel();
    model.snapshot(snapshotView());
    assert.equal(model.figures(), null);
    model.loaded({ version: 10, tickets: [] });
    const f = model.figures();
    assert.deepEqual([f.served, f.waiting, f.averageWait, f.withinTarget], [0, 0, null, null]);
  });

  test("a wait of exactly the target is within it", () => {
    const model = fresh();
    model.apply(issued("B001", "kk", 0));
    model.apply(calledAt("B001", "L2", 5 * MIN));
    assert.equal(model.figures().withinTarget, 1);
  });
});

describe("the read of today's tickets, lined up with the stream", () => {
  test("events that came while reading are replayed; those the read reflects are skipped", () => {
    restartAt(10);
    const model = new SupervisorModel();
    model.snapshot(snapshotView());
    model.apply(issued("A001", "ktp", 1000)); // v11, buffered while reading
    model.apply(issued("A002", "ktp", 1030)); // v12, buffered
    // The read stands at version 11 and already has A001 called (its call, v13, comes later).
    model.loaded({
      version: 11,
      tickets: [{ ticket: "A001", number: "A001", service: "ktp", state: "called", issued_at: 1000, arrival_at: 1000, called_at: 1240 }],
    });
    // v11 was skipped (folding it again would have put A001 back to waiting); v12 was folded.
    assert.deepEqual(model.unfinished().map((t) => [t.ticket, t.state]), [
      ["A001", "called"],
      ["A002", "waiting"],
    ]);
    assert.equal(model.figures().averageWait, 240);
  });

  test("a set-up change of the site or day asks for a fresh snapshot", () => {
    const model = fresh();
    assert.equal(model.apply(msg({ type: "day_opened", day: "2026-01-02" })), "resync");
    assert.equal(model.apply(msg({ type: "site_configured" })), "resync");
  });
});

describe("the floor", () => {
  test("each service's line: waiting, longest wait against its target, open counters serving it", () => {
    const model = fresh();
    model.apply(issued("A001", "ktp", 1000));
    model.apply(issued("B001", "kk", 1000));
    model.apply(issued("B002", "kk", 1200));
    model.apply(msg({ type: "counter_paused", counter: "L2" }));
    const now = 1000 + 6 * MIN;
    const lines = Object.fromEntries(model.lines(now).map((l) => [l.service.service, l]));
    assert.deepEqual([lines.ktp.waiting, lines.ktp.longest, lines.ktp.target, lines.ktp.breach], [1, 6 * MIN, 10 * MIN, false]);
    assert.deepEqual([lines.kk.waiting, lines.kk.longest, lines.kk.target, lines.kk.breach], [2, 6 * MIN, 5 * MIN, true]);
    assert.deepEqual(lines.kk.serving.map((c) => c.counter), ["L1"]); // L2 is paused
  });

  test("a transfer waits from its new arrival in the new service", () => {
    const model = fresh();
    model.apply(issued("A001", "ktp", 1000));
    model.apply(msg({ type: "ticket_transferred", ticket: "A001", to_service: "kk", to_counter: "L2", arrival_at: 1500, at: 1500 }));
    const kk = model.lines(1500 + 2 * MIN).find((l) => l.service.service === "kk");
    assert.deepEqual([kk.waiting, kk.longest], [1, 2 * MIN]);
    assert.equal(model.unfinished()[0].target_counter, "L2");
  });

  test("which ticket each counter holds, and counters opened, paused, closed and reallocated", () => {
    const model = fresh();
    model.apply(issued("A001", "ktp", 1000));
    model.apply(calledAt("A001", "L1", 1100));
    assert.deepEqual(pick(model.counters.get("L1").ticket, "ticket", "number", "state", "counter", "called_at"), ["A001", "A001", "called", "L1", 1100]);
    model.apply(on("ticket_held", "A001", 1200, { counter: "L1" }));
    assert.equal(model.counters.get("L1").ticket, null);
    assert.equal(model.unfinished()[0].state, "held");
    model.apply(msg({ type: "counter_closed", counter: "L1" }));
    model.apply(msg({ type: "counter_services_set", counter: "L2", services: ["ktp", "kk"] }));
    model.apply(msg({ type: "counter_opened", counter: "L1", officer: "andi" }));
    assert.deepEqual(
      [...model.counters.values()].map((c) => [c.counter, c.state, c.officer, c.services.join(",")]),
      [
        ["L1", "open", "andi", "ktp,kk"],
        ["L2", "open", "sari", "ktp,kk"],
      ],
    );
  });

  test("running texts by zone", () => {
    const model = fresh();
    model.apply(msg({ type: "message_broadcast", zone: "A", text: "Zona A tutup" }));
    model.apply(msg({ type: "message_broadcast", zone: "", text: "Selamat datang" }));
    assert.deepEqual(model.messages, { A: "Zona A tutup", "": "Selamat datang" });
  });
});

describe("a counter keeps its one shape (docs/api.md, \"Resources\")", () => {
  test("its ticket in hand is today's ticket, kept current by the stream; its waiting follows the queue counts", () => {
    const model = fresh();
    model.apply(issued("A001", "ktp", 1000));
    model.apply({ ...calledAt("A001", "L1", 1100), queues: queues({ ktp: 0, kk: 2, "@L2": 1 }) });
    const l1 = model.counters.get("L1");
    assert.deepEqual([model.counters.get("L1").waiting, model.counters.get("L2").waiting], [2, 3]);
    assert.deepEqual(pick(l1.ticket, "ticket", "service", "channel", "issued_at", "officer"), ["A001", "ktp", "kiosk", 1000, "budi"]);
    model.apply(on("ticket_recalled", "A001", 1150, { counter: "L1", recalls: 1 }));
    model.apply(on("service_started", "A001", 1200, { counter: "L1" }));
    assert.deepEqual(pick(model.counters.get("L1").ticket, "state", "recalls", "called_at", "started_at"), ["serving", 1, 1100, 1200]);
    model.apply(on("ticket_completed", "A001", 1500, { counter: "L1" }));
    assert.equal(model.counters.get("L1").ticket, null);
  });
});
