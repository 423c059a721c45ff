// The counter console's model (static/js/console-model.js): the ticket in hand,
// the waiting list in the counter's order of preference, held tickets, and
// which buttons the engine would accept (qms/core/decide.py).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ConsoleModel } from "../../static/js/console-model.js";
import { counter, issued, msg as ev, numbered, queues, restartAt, services } from "./fixtures.js";

function snapshotView(extra = {}) {
  return {
    counter: counter("L1", ["kk", "ktp"], { officer: "budi" }),
    services: services("ktp", "kk", "pajak"),
    waiting: [],
    held: [],
    queues: [],
    messages: {},
    ...extra,
  };
}

function console1() {
  restartAt(10);
  const model = new ConsoleModel("L1");
  model.snapshot(snapshotView());
  return model;
}

const list = (model) => model.groups().map((g) => [g.key, g.tickets.map((t) => t.ticket)]);
const buttons = (model) => ["open", "pause", "close", "next", "call", "recall", "start", "noshow", "complete", "return", "transfer", "hold"].filter((a) => model.can(a));

describe("the waiting list", () => {
  test("our services in order of preference, oldest first, then the tickets sent to us; others' tickets are not ours", () => {
    const model = console1();
    model.apply(issued("A001", "ktp", 100));
    model.apply(issued("B001", "kk", 200));
    model.apply(issued("A002", "ktp", 50));
    model.apply(issued("C001", "pajak", 10));
    model.apply(ev({ type: "ticket_transferred", ticket: "C001", to_service: "pajak", to_counter: "L1", arrival_at: 300 }));
    assert.deepEqual(list(model), [
      ["kk", ["B001"]],
      ["ktp", ["A002", "A001"]],
      ["@L1", ["C001"]],
    ]);
    // Another counter calls A002: gone from our list.
    model.apply(ev({ type: "ticket_called", ticket: "A002", counter: "L2", at: 400 }));
    assert.deepEqual(list(model)[1], ["ktp", ["A001"]]);
  });

  test("the queue counts of the stream win over the tickets listed (the list is capped)", () => {
    const model = console1();
    model.apply(issued("A001", "ktp", 100));
    model.apply(numbered({ queues: queues({ ktp: 250 }) }));
    assert.equal(model.groups().find((g) => g.key === "ktp").count, 250);
  });
});

describe("the ticket in hand and the buttons", () => {
  test("call, start, complete: the hand and what may be pressed at each step", () => {
    const model = console1();
    assert.deepEqual(buttons(model), ["pause", "close", "call"]); // nobody waiting: no "next"
    model.apply(issued("A001", "ktp", 100));
    assert.deepEqual(buttons(model), ["pause", "close", "next", "call"]);
    model.apply(ev({ type: "ticket_called", ticket: "A001", counter: "L1", at: 160 }));
    assert.deepEqual([model.hand.ticket, model.hand.state, model.hand.called_at], ["A001", "called", 160]);
    assert.deepEqual(list(model)[1], ["ktp", []]);
    assert.deepEqual(buttons(model), ["recall", "start", "noshow", "complete", "return", "transfer", "hold"]);
    model.apply(ev({ type: "ticket_recalled", ticket: "A001", counter: "L1", recalls: 1 }));
    model.apply(ev({ type: "service_started", ticket: "A001", counter: "L1", at: 200 }));
    assert.deepEqual([model.hand.state, model.hand.recalls, model.hand.started_at], ["serving", 1, 200]);
    assert.deepEqual(buttons(model), ["complete", "return", "transfer", "hold"]);
    model.apply(ev({ type: "ticket_completed", ticket: "A001", counter: "L1", at: 500 }));
    assert.equal(model.hand, null);
    assert.deepEqual(buttons(model), ["pause", "close", "call"]);
  });

  test("returned to its queue at its place; held and unheld", () => {
    const model = console1();
    model.apply(issued("A001", "ktp", 100));
    model.apply(issued("A002", "ktp", 120));
    model.apply(ev({ type: "ticket_called", ticket: "A001", counter: "L1", at: 160 }));
    model.apply(ev({ type: "ticket_returned", ticket: "A001", counter: "L1" }));
    assert.deepEqual(list(model)[1], ["ktp", ["A001", "A002"]]); // its place: it arrived first
    model.apply(ev({ type: "ticket_called", ticket: "A001", counter: "L1", at: 200 }));
    model.apply(ev({ type: "ticket_held", ticket: "A001", counter: "L1" }));
    assert.equal(model.hand, null);
    assert.deepEqual([...model.held.keys()], ["A001"]);
    assert.equal(model.apply(ev({ type: "ticket_unheld", ticket: "A001" })), null);
    assert.deepEqual([...model.held.keys()], []);
    assert.deepEqual(list(model)[1], ["ktp", ["A001", "A002"]]);
    assert.equal(model.apply(ev({ type: "ticket_unheld", ticket: "X999" })), "resync"); // never seen: read again
  });

  test("paused and closed counters may only open; set-up changes ask for a fresh snapshot", () => {
    const model = console1();
    model.apply(ev({ type: "counter_paused", counter: "L1" }));
    assert.deepEqual(buttons(model), ["open", "close"]);
    model.apply(ev({ type: "counter_closed", counter: "L1" }));
    assert.deepEqual(buttons(model), ["open"]);
    assert.equal(model.counter.officer, null);
    assert.equal(model.apply(ev({ type: "counter_services_set", counter: "L2", services: ["ktp"] })), null);
    assert.equal(model.apply(ev({ type: "counter_services_set", counter: "L1", services: ["ktp"] })), "resync");
    assert.equal(model.apply(ev({ type: "day_opened" })), "resync");
  });
});

describe("the counter keeps its one shape (docs/api.md, \"Resources\")", () => {
  const TICKET_FIELDS = ["ticket", "number", "service", "day", "state", "priority", "channel", "issued_at", "arrival_at", "called_at", "started_at", "finished_at", "counter", "target_counter", "officer", "recalls"];

  test("the ticket in hand is a ticket with every field; the counter's waiting follows the queue counts", () => {
    const model = console1();
    model.apply(issued("A001", "ktp", 100));
    model.apply(numbered({ queues: queues({ ktp: 3, kk: 1, "@L1": 2, pajak: 9 }) }));
    assert.equal(model.counter.waiting, 6); // kk + ktp + those sent to L1, not pajak
    model.apply(ev({ type: "ticket_called", ticket: "A001", counter: "L1", officer: "budi", at: 160 }));
    assert.deepEqual(Object.keys(model.counter.ticket).sort(), [...TICKET_FIELDS].sort());
    assert.deepEqual([model.counter.ticket.counter, model.counter.ticket.officer, model.counter.ticket.state], ["L1", "budi", "called"]);
    const waiting = [...model.waiting.values()];
    model.apply(issued("A002", "ktp", 170));
    assert.deepEqual(Object.keys(model.waiting.get("A002")).sort(), TICKET_FIELDS.filter((f) => f !== "officer").sort());
    assert.equal(waiting.length, 0);
  });
});
