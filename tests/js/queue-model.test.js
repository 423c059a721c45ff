// A queue (static/js/queue-model.js): one object by its id, whether a snapshot listed it
// or an event changed it, and the counts the models sum from it.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { byQueue, foldQueues, waitingIn } from "../../static/js/queue-model.js";
import { queues } from "./fixtures.js";

describe("a queue keeps its one shape (docs/api.md, \"Resources\")", () => {
  test("an event's changed queues fold into the snapshot's: the objects a fresh snapshot lists", () => {
    const kept = byQueue(queues({ ktp: 3, kk: 0 }));
    foldQueues(kept, queues({ kk: 1, "@L2": 1 }));
    foldQueues(kept, queues({ ktp: 2 }));
    assert.deepEqual(Object.values(kept), queues({ ktp: 2, kk: 1, "@L2": 1 }));
    assert.deepEqual([waitingIn(kept, "ktp"), waitingIn(kept, "@L2"), waitingIn(kept, "pajak")], [2, 1, 0]);
  });

  test("fields an event does not carry stay as read (an HTTP queue keeps its statistics)", () => {
    const kept = byQueue([{ queue: "ktp", service: "ktp", counter: null, waiting: 3, estimated_wait_s: 600 }]);
    foldQueues(kept, queues({ ktp: 4 }));
    assert.deepEqual(kept.ktp, { queue: "ktp", service: "ktp", counter: null, waiting: 4, estimated_wait_s: 600 });
  });
});
