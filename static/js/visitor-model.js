// What the visitor's page knows about its ticket: the last public status read
// (GET /api/v1/tickets/{ref}), whether a call is new (the phone vibrates once
// per call and per recall), and when to ask again. Pure: no DOM, no I/O; the
// clock and the jitter are passed in.
//
// Polling: every VISIBLE_MS while the page is visible, HIDDEN_MS while hidden;
// after errors the wait doubles from there (full jitter, at most
// MAX_BACKOFF_MS), a 429 waits its retry_after; a final state and an unknown
// ticket stop it (misses are throttled per address, and a hall's visitors
// often share one).

export const VISIBLE_MS = 5_000;
export const HIDDEN_MS = 30_000;
export const MAX_BACKOFF_MS = 60_000;
export const FINAL = new Set(["done", "no_show", "cancelled", "expired"]);

export class VisitorModel {
  /** `lastCall`: the call this phone already signalled (kept across reloads by the page). */
  constructor(lastCall = null) {
    this.ticket = null; // the last status read
    this.updated = null; // when (epoch ms)
    this.failures = 0; // errors in a row
    this.retryAfterMs = null; // a 429's retry_after
    this.missing = false; // the server does not know the ticket
    this.stopped = false; // a miss or a final state: no more polls
    this.lastCall = lastCall;
  }

  /** A poll answered with the ticket's status at `now`. True when the phone should signal a new call. */
  answered(ticket, now) {
    this.ticket = ticket;
    this.updated = now;
    this.failures = 0;
    this.retryAfterMs = null;
    if (FINAL.has(ticket.state)) this.stopped = true;
    if (ticket.state !== "called") return false;
    const call = `${ticket.called_at}|${ticket.recalls}`; // a recall raises recalls; a new call (after a return) moves called_at
    if (call === this.lastCall) return false;
    this.lastCall = call;
    return true;
  }

  /** A poll failed with the API's error `code` (`network` when unreachable). */
  failed(code, retryAfterS) {
    if (code === "unknown_ticket") {
      this.missing = true;
      this.stopped = true;
      return;
    }
    this.failures += 1;
    this.retryAfterMs = code === "too_many_requests" ? 1000 * (Number(retryAfterS) || 60) : null;
  }

  /** Milliseconds until the next poll, or null for none; `random` in [0, 1) is the jitter. */
  nextDelay(hidden, random) {
    if (this.stopped) return null;
    if (this.retryAfterMs !== null) return this.retryAfterMs;
    const base = hidden ? HIDDEN_MS : VISIBLE_MS;
    if (!this.failures) return base;
    // Exponential backoff with full jitter, so a hall's phones do not come back in step.
    return Math.min(MAX_BACKOFF_MS, base * 2 ** (this.failures - 1)) * (0.5 + random / 2);
  }

  /**
   * What the page shows: null before the first answer; {state: "not_found"}; or
   * {state, number, counter (its name), ahead, estimatedWait (null: no estimate)}.
   */
  screen() {
    if (this.missing) return { state: "not_found" };
    const tk = this.ticket;
    if (!tk) return null;
    const counter = tk.counter ? tk.counter.name || tk.counter.counter : "";
    return { state: tk.state, number: tk.number, counter, ahead: tk.people_ahead ?? 0, estimatedWait: tk.estimated_wait_s ?? null };
  }
}
