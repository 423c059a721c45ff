// A queue (docs/api.md, "Resources"): `{queue, waiting, …}`, by its id (a service,
// or "@" + a counter for the tickets sent to that counter). GET …/queues lists the
// queues with their statistics; a stream snapshot lists the same objects with
// `queue` and `waiting` only, and each event's `queues` the ones it changed.

/** A list of queues as a map by id. */
export const byQueue = (list) => Object.fromEntries((list || []).map((q) => [q.queue, { ...q }]));

/** Fold an event's changed queues into `queues` (a map by id). */
export function foldQueues(queues, changed) {
  for (const q of changed || []) queues[q.queue] = { ...queues[q.queue], ...q };
}

/** How many tickets wait in queue `id` (0 when it is not known). */
export const waitingIn = (queues, id) => (queues[id] ? queues[id].waiting : 0);
