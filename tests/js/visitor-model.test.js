// The visitor page's model (static/js/visitor-model.js): what the phone shows
// of its ticket, when it vibrates (once per call and per recall), and when it
// asks again (backoff with jitter, a 429's retry_after, never after a miss or
// a final state).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { HIDDEN_MS, MAX_BACKOFF_MS, VISIBLE_MS, VisitorModel } from "../../static/js/visitor-model.js";

const waiting = { number: "A007", state: "waiting", people_ahead: 3, estimated_wait_s: 420, counter: null, called_at: null, recalls: 0 };
const calledAt = (at, recalls = 0) => ({ ...waiting, state: "called", people_ahead: 0, estimated_wait_s: null, counter: { counter: "L3", name: "Loket 3" }, called_at: at, recalls });

describe("what the phone shows and signals", () => {
  test("waiting, then called: the counter's name; a new call signals once, a recall again", () => {
    const model = new VisitorModel();
    assert.equal(model.screen(), null);
    assert.equal(model.answered(waiting, 1000), false);
    assert.deepEqual(model.screen(), { state: "waiting", number: "A007", counter: "", ahead: 3, estimatedWait: 420 });
    assert.equal(model.answered(calledAt(1500), 2000), true); // vibrate
    assert.equal(model.answered(calledAt(1500), 7000), false); // the same call: once
    assert.deepEqual(model.screen(), { state: "called", number: "A007", counter: "Loket 3", ahead: 0, estimatedWait: null });
    assert.equal(model.answered(calledAt(1500, 1), 12000), true); // recalled (same call time): again
    assert.equal(model.answered(calledAt(1500, 1), 17000), false);
    assert.equal(model.answered(waiting, 22000), false); // returned to the queue
    assert.equal(model.answered(calledAt(1900), 27000), true); // called anew
    assert.equal(model.updated, 27000);
  });

  test("a call signalled before a reload is not signalled again", () => {
    const first = new VisitorModel();
    first.answered(calledAt(1500), 2000);
    const reloaded = new VisitorModel(first.lastCall);
    assert.equal(reloaded.answered(calledAt(1500), 3000), false);
  });

  test("a counter without a name shows its id", () => {
    const model = new VisitorModel();
    model.answered({ ...calledAt(1500), counter: { counter: "L3" } }, 2000);
    assert.equal(model.screen().counter, "L3");
  });

  test("a final state stops the polling; so does an unknown ticket, asked once", () => {
    for (const state of ["done", "no_show", "cancelled", "expired"]) {
      const model = new VisitorModel();
      model.answered({ ...waiting, state }, 1000);
      assert.equal(model.nextDelay(false, 0), null, state);
    }
    const model = new VisitorModel();
    assert.equal(model.answered({ ...waiting, state: "serving" }, 1000), false);
    assert.equal(model.nextDelay(false, 0), VISIBLE_MS);
    model.failed("unknown_ticket");
    assert.deepEqual(model.screen(), { state: "not_found" });
    assert.equal(model.nextDelay(false, 0), null);
  });
});

describe("when it asks again", () => {
  test("every 5 s while visible, 30 s while hidden", () => {
    const model = new VisitorModel();
    model.answered(waiting, 0);
    assert.equal(model.nextDelay(false, 0.3), VISIBLE_MS);
    assert.equal(model.nextDelay(true, 0.3), HIDDEN_MS);
    assert.deepEqual([VISIBLE_MS, HIDDEN_MS, MAX_BACKOFF_MS], [5_000, 30_000, 60_000]);
  });

  test("errors double the wait, with full jitter, up to 60 s; an answer resets it", () => {
    const model = new VisitorModel();
    const bounds = [];
    for (let i = 0; i < 6; i++) {
      model.failed("network");
      bounds.push([model.nextDelay(false, 0), model.nextDelay(false, 0.999999)].map(Math.round));
    }
    assert.deepEqual(bounds, [
      [2500, 5000],
      [5000, 10000],
      [10000, 20000],
      [20000, 40000],
      [30000, 60000],
      [30000, 60000],
    ]);
    model.answered(waiting, 0);
    assert.equal(model.nextDelay(false, 0), VISIBLE_MS);
  });

  test("a 429 waits its retry_after (60 s when it names none)", () => {
    const model = new VisitorModel();
    model.failed("too_many_requests", 17);
    assert.equal(model.nextDelay(false, 0), 17_000);
    model.failed("too_many_requests");
    assert.equal(model.nextDelay(true, 0), 60_000);
    model.failed("network");
    assert.ok(model.nextDelay(false, 0) < 60_000); // back to backoff
  });
});
