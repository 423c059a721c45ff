// The hall display's model (static/js/display-model.js): what the board shows
// after calls, recalls and completions, and which calls are said, above all
// after a reconnect (docs/protocol.md, "No call is lost").

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DisplayModel, stillCalled } from "../../static/js/display-model.js";
import { counter, queues, SERVICES } from "./fixtures.js";


function view(extra = {}) {
  return {
    site: { name: "MPP", timezone: "Asia/Jakarta" },
    agencies: [
      { id: "disdukcapil", name: "Disdukcapil" },
      { id: "samsat", name: "Samsat" },
    ],
    services: SERVICES,
    zone: null,
    queues: queues({ ktp: 3, kk: 1, pajak: 0 }),
    counters: [counter("L1", ["ktp", "kk"]), counter("L2", ["kk"]), counter("L3", ["pajak"], { state: "closed", zone: "B" })],
    calls: [],
    messages: {},
    ...extra,
  };
}

const SERVICE_OF = { A: "ktp", B: "kk", C: "pajak" };
const called = (version, number, counterId, recalls = 0) => ({
  version,
  event: {
    type: recalls ? "ticket_recalled" : "ticket_called",
    ticket: `t-${number}`,
    number,
    service: SERVICE_OF[number[0]],
    counter: counterId,
    at: 1000 + version,
    recalls,
  },
});
const recalled = (version, number, counterId, recalls = 1) => called(version, number, counterId, recalls);
const ticketEvent = (version, type, number, counterId) => ({
  version,
  event: { type, ticket: `t-${number}`, number, service: SERVICE_OF[number[0]], counter: counterId, at: 1000 + version },
});
const snapCall = (version, number, counterId, state) => ({
  version,
  ticket: `t-${number}`,
  number,
  service: SERVICE_OF[number[0]],
  counter: counterId,
  recalls: 0,
  state,
});

const numbers = (calls) => calls.map((c) => c.number);
const versions = (calls) => calls.map((c) => c.version);
const tiles = (model) => model.counters().map((c) => [c.counter, c.ticket && c.ticket.number, c.ticket && c.ticket.state]);

/** A model that has seen its first snapshot at version 10. */
function started(options) {
  const model = new DisplayModel(options);
  model.welcome({ resume: "snapshot", version: 10 });
  model.snapshot(view(), 10);
  return model;
}

describe("the board", () => {
  test("calls, a recall and completions: current calls per counter and the history, newest first", () => {
    const model = started();
    const said = [];
    for (const msg of [
      called(11, "A001", "L1"),
      called(12, "B001", "L2"),
      ticketEvent(13, "service_started", "A001", "L1"),
      recalled(14, "B001", "L2"),
      ticketEvent(15, "ticket_completed", "A001", "L1"),
      called(16, "A002", "L1"),
    ]) {
      said.push(...versions(model.event(msg).announce));
    }
    assert.deepEqual(said, [11, 12, 14, 16]); // every call and the recall said once, in order
    // The newest call of each ticket: B001's recall does not list it twice.
    assert.deepEqual(numbers(model.board()), ["A002", "B001", "A001"]);
    assert.equal(model.board()[1].recalls, 1);
    assert.deepEqual(tiles(model), [
      ["L1", "A002", "called"],
      ["L2", "B001", "called"],
    ]);
    model.event(ticketEvent(17, "service_started", "B001", "L2"));
    model.event(ticketEvent(18, "ticket_no_show", "A002", "L1"));
    assert.deepEqual(tiles(model), [
      ["L1", null, null],
      ["L2", "B001", "serving"],
    ]);
    assert.deepEqual(numbers(model.board()), ["A002", "B001", "A001"]); // history stays
    assert.equal(model.highest, 18);
  });

  test("counters open, pause and close; a closed counter is not shown", () => {
    const model = started();
    model.event({ version: 11, event: { type: "counter_opened", counter: "L3", officer: "x" } });
    assert.deepEqual(model.counters().map((c) => c.counter), ["L1", "L2", "L3"]);
    model.event({ version: 12, event: { type: "counter_paused", counter: "L2" } });
    model.event({ version: 13, event: { type: "counter_closed", counter: "L1" } });
    assert.deepEqual(model.counters().map((c) => [c.counter, c.state]), [
      ["L2", "paused"],
      ["L3", "open"],
    ]);
  });

  test("an agency's display shows only its services' calls, counters and queues, and says only those", () => {
    const model = started({ agency: "samsat" });
    model.event({ version: 11, event: { type: "counter_opened", counter: "L3" } });
    assert.deepEqual(model.event(called(12, "A001", "L1")).announce, []);
    assert.deepEqual(versions(model.event(called(13, "C001", "L3")).announce), [13]);
    assert.deepEqual(numbers(model.board()), ["C001"]);
    assert.deepEqual(model.counters().map((c) => c.counter), ["L3"]);
    assert.deepEqual(model.queues().map((q) => q.service.service), ["pajak"]); // "old" is inactive
  });

  test("waiting counts follow the events; a zoned display lists what its counters serve", () => {
    const model = new DisplayModel();
    model.snapshot(view({ zone: "B", counters: [counter("L3", ["pajak"], { zone: "B" })] }), 5);
    model.event({ version: 6, queues: queues({ pajak: 4 }) });
    assert.deepEqual(model.queues().map((q) => [q.service.service, q.waiting]), [["pajak", 4]]);
  });

  test("running text: every display's, then the zone's; an empty text clears it", () => {
    const model = new DisplayModel();
    model.snapshot(view({ zone: "A", messages: { "": "Selamat datang", A: "Zona A tutup 15:00" } }), 5);
    assert.equal(model.marquee(), "Selamat datang   •   Zona A tutup 15:00");
    assert.equal(model.event({ version: 6, event: { type: "message_broadcast", zone: "", text: "" } }).marquee, true);
    assert.equal(model.marquee(), "Zona A tutup 15:00");
  });

  test("a set-up change asks for a fresh snapshot", () => {
    const model = started();
    assert.equal(model.event({ version: 11, event: { type: "counter_configured", counter: "L9" } }).resync, true);
    assert.equal(model.event(called(12, "A001", "L1")).resync, false);
  });
});

describe("what is said", () => {
  test("a reload says nothing: the first snapshot's calls count as said", () => {
    const model = new DisplayModel();
    model.welcome({ resume: "snapshot", version: 20 });
    const out = model.snapshot(view({ calls: [snapCall(19, "A001", "L1", "called")] }), 20);
    assert.deepEqual(out.announce, []);
    assert.deepEqual(out.missed, []);
    assert.deepEqual(numbers(model.board()), ["A001"]);
    assert.equal(model.highest, 20);
    assert.deepEqual(model.event(called(20, "A002", "L1")).announce, []); // not above what was seen
  });

  test("after a resync: every missed call is shown, only those still called are said, oldest first, each ticket once", () => {
    const model = started();
    model.event(called(11, "A001", "L1"));
    // Away from 11 to 30. The snapshot carries the calls since, with their tickets' states now.
    model.welcome({ resume: "snapshot", version: 30, recovered: true });
    const out = model.snapshot(
      view({
        calls: [
          snapCall(11, "A001", "L1", "done"),
          snapCall(14, "B001", "L2", "called"), // called, then recalled at 25: said once, as its latest call
          snapCall(17, "A002", "L1", "serving"), // being served: shown, not said
          snapCall(21, "A003", "L1", "called"),
          snapCall(23, "B002", "L2", "no_show"),
          snapCall(25, "B001", "L2", "called"),
        ],
      }),
      30,
    );
    assert.deepEqual(versions(out.missed), [14, 17, 21, 23, 25]);
    assert.deepEqual(versions(out.announce), [21, 25]); // A003, then B001's latest call
    assert.deepEqual(numbers(out.announce), ["A003", "B001"]);
    assert.equal(model.highest, 30);
    // The history keeps what came before the snapshot's calls and joins every missed one.
    assert.deepEqual(versions(model.calls), [11, 14, 17, 21, 23, 25]);
  });

  test("after a replay: the same rule, judged at its end", () => {
    const model = started();
    model.event(called(11, "A001", "L1"));
    model.welcome({ resume: "replay", version: 17 });
    const during = [
      called(12, "B001", "L2"),
      called(13, "A002", "L1"),
      ticketEvent(14, "service_started", "B001", "L2"), // no longer called: not said
      recalled(15, "A002", "L1"),
      called(16, "C001", "L3"),
    ].map((msg) => model.event(msg));
    assert.deepEqual(during.flatMap((o) => o.announce), []); // nothing said mid-replay
    const end = model.event(ticketEvent(17, "ticket_cancelled", "C001", "L3"));
    assert.deepEqual(versions(end.missed), [12, 13, 15, 16]);
    assert.deepEqual(versions(end.announce), [15]); // A002 once, as its recall
    assert.equal(model.highest, 17);
    // Live again: the next call is said at once.
    assert.deepEqual(versions(model.event(called(18, "A003", "L1")).announce), [18]);
  });

  test("a replay right after the first snapshot has nothing owed to judge", () => {
    const model = new DisplayModel();
    model.welcome({ resume: "replay", version: 5 });
    assert.equal(model.catchingUp, null);
  });

  test("stillCalled keeps each ticket's latest call, if its ticket is still called, oldest first", () => {
    const calls = [snapCall(3, "A001", "L1", "called"), snapCall(4, "A002", "L2", "done"), snapCall(5, "A001", "L1", "called")];
    assert.deepEqual(versions(stillCalled(calls)), [5]);
  });
});

describe("a counter keeps its one shape (docs/api.md, \"Resources\")", () => {
  test("its ticket in hand is the public ticket: number, service, state, times and recalls, no id", () => {
    const model = started();
    model.event(called(11, "A001", "L1"));
    const hand = model.counters()[0].ticket;
    assert.deepEqual(Object.keys(hand).sort(), ["called_at", "counter", "number", "recalls", "service", "started_at", "state"]);
    assert.deepEqual([hand.number, hand.service, hand.state, hand.counter, hand.recalls], ["A001", "ktp", "called", "L1", 0]);
    model.event(recalled(12, "A001", "L1"));
    model.event(ticketEvent(13, "service_started", "A001", "L1"));
    const now = model.counters()[0].ticket;
    assert.deepEqual([now.state, now.recalls, now.called_at, now.started_at], ["serving", 1, 1011, 1013]);
  });
});
