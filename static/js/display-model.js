// What a hall display knows, and which calls it says: the `display` stream's
// snapshot kept current by its events (docs/protocol.md). Pure: no DOM, no I/O,
// no clock; display.js draws what it answers and speaks the calls it names.
//
// Which calls are said:
// - never on reload: the first snapshot's calls count as said;
// - afterwards a call is said when its version is above the highest version
//   said or skipped so far (events come in version order);
// - after a reconnect (docs/protocol.md, "No call is lost") every missed call
//   is shown, but only those whose ticket is still called are said, oldest
//   first, each ticket once (its latest call); a snapshot's calls carry their
//   ticket's state, and a replay is judged at its end by the same rule.

import { byQueue, foldQueues, waitingIn } from "./queue-model.js";

const CALLS_KEPT = 1000; // the call history (every missed call joins it)
const SETUP = new Set(["site_configured", "agency_configured", "service_configured", "counter_configured", "day_opened", "day_closed"]);
const LEAVES_COUNTER = new Set(["ticket_completed", "ticket_no_show", "ticket_returned", "ticket_transferred", "ticket_held", "ticket_cancelled"]);
const COUNTER_STATE = { counter_opened: "open", counter_paused: "paused", counter_closed: "closed" };

const byVersion = (a, b) => a.version - b.version;

// A display sees a ticket in hand without its id (docs/api.md, "Resources"): the
// ticket's number names it, unique in a site's day.
const holds = (counter, ev) => Boolean(counter.ticket) && counter.ticket.number === ev.number;

/** A counter's ticket in hand after a call or recall of `ev`. */
function inHand(counter, ev) {
  if (holds(counter, ev)) return { ...counter.ticket, state: "called", recalls: ev.recalls || 0 };
  return { number: ev.number, service: ev.service, state: "called", counter: ev.counter, called_at: ev.at, started_at: null, recalls: ev.recalls || 0 };
}

/** Of `calls` (oldest first), the latest of each ticket whose ticket is still called, oldest first. */
export function stillCalled(calls, isCalled = (call) => call.state === "called") {
  const latest = new Map(calls.map((c) => [c.ticket, c]));
  return [...latest.values()].filter(isCalled).sort(byVersion);
}

/** What the page has to do after a message: draw what changed, say `announce`, list `missed`. */
function outcome() {
  return { call: null, announce: [], missed: [], counters: false, queues: false, marquee: false, resync: false };
}

export class DisplayModel {
  /** `agency`: show only its services' calls, counters and queues; `zone`: the zone asked in the URL. */
  constructor({ agency = null, zone = null } = {}) {
    this.agency = agency;
    this.zone = zone;
    this.view = null; // the snapshot view, kept current by events
    this.highest = null; // the highest version whose calls are said or skipped; null before the first snapshot
    this.catchingUp = null; // during a replay: {missed: calls, still: ticket -> its latest call while still called}
    this.replayTarget = 0;
  }

  get calls() {
    return this.view ? this.view.calls : [];
  }

  /** A connection's welcome: a replay after calls were seen is judged at its end. */
  welcome(msg) {
    this.catchingUp = msg.resume === "replay" && this.highest !== null ? { missed: [], still: new Map() } : null;
    this.replayTarget = msg.version;
  }

  /** A snapshot (the first, or after a reconnect or a set-up change): returns outcome(). */
  snapshot(next, version) {
    const out = outcome();
    const before = this.calls;
    const calls = [...(next.calls || [])].sort(byVersion);
    this.view = {
      ...next,
      counters: (next.counters || []).map((c) => ({ ...c })),
      services: next.services || [],
      agencies: next.agencies || [],
      queues: byQueue(next.queues),
      messages: { ...(next.messages || {}) },
      calls,
    };
    if (this.highest !== null) {
      // Keep our history older than the snapshot's calls; every call made while
      // we were away is shown, those still called are said.
      const oldest = calls.length ? calls[0].version : Infinity;
      this.view.calls = [...before.filter((c) => c.version < oldest), ...calls].slice(-CALLS_KEPT);
      out.missed = this.view.calls.filter((c) => c.version > this.highest && this.shows(c));
      out.announce = stillCalled(out.missed);
    }
    this.highest = Math.max(this.highest ?? 0, version);
    return out;
  }

  /** One stream `event` message ({version, event?, queues?}): returns outcome(). */
  event(msg) {
    const out = outcome();
    if (!this.view) return out;
    if (msg.queues) {
      foldQueues(this.view.queues, msg.queues);
      out.queues = true;
    }
    if (msg.event) this.apply(msg.event, msg.version, out);
    if (this.catchingUp && msg.version >= this.replayTarget) {
      const { missed, still } = this.catchingUp;
      this.catchingUp = null;
      out.missed = missed;
      out.announce.push(...[...still.values()].sort(byVersion));
    }
    this.highest = Math.max(this.highest ?? 0, msg.version);
    return out;
  }

  apply(ev, version, out) {
    const view = this.view;
    const counter = ev.counter ? view.counters.find((c) => c.counter === ev.counter) : null;
    const kind = ev.type;
    if (kind === "ticket_called" || kind === "ticket_recalled") {
      if (counter) counter.ticket = inHand(counter, ev);
      const call = { version, ticket: ev.ticket, number: ev.number, service: ev.service, counter: ev.counter, at: ev.at, recalls: ev.recalls || 0 };
      view.calls.push(call);
      if (view.calls.length > CALLS_KEPT) view.calls.splice(0, view.calls.length - CALLS_KEPT);
      if (!this.shows(call)) return;
      out.call = call;
      out.counters = true;
      if (this.catchingUp) {
        this.catchingUp.missed.push(call);
        this.catchingUp.still.set(call.ticket, call); // said at the end if still called then
      } else if (version > (this.highest ?? 0)) {
        out.announce.push(call);
      }
    } else if (kind === "service_started") {
      if (this.catchingUp) this.catchingUp.still.delete(ev.ticket);
      if (counter && holds(counter, ev)) Object.assign(counter.ticket, { state: "serving", started_at: ev.at });
      out.counters = true;
    } else if (LEAVES_COUNTER.has(kind)) {
      if (this.catchingUp) this.catchingUp.still.delete(ev.ticket);
      for (const c of view.counters) {
        if (holds(c, ev)) c.ticket = null;
      }
      out.counters = true;
    } else if (kind in COUNTER_STATE) {
      if (counter) counter.state = COUNTER_STATE[kind];
      out.counters = true;
    } else if (kind === "counter_services_set") {
      if (counter) counter.services = ev.services || [];
      out.counters = true;
    } else if (kind === "message_broadcast") {
      if (ev.text) view.messages[ev.zone || ""] = ev.text;
      else delete view.messages[ev.zone || ""];
      out.marquee = true;
    } else if (SETUP.has(kind)) {
      out.resync = true; // set-up events carry ids only: take a fresh snapshot
    }
  }

  // --- what the board shows ----------------------------------------------------------

  agencyServices() {
    if (!this.agency || !this.view) return null;
    return new Set(this.view.services.filter((s) => s.agency === this.agency).map((s) => s.service));
  }

  shows(call) {
    const only = this.agencyServices();
    return !only || only.has(call.service);
  }

  /** The calls on the board, newest first: the latest call of each ticket (a recall moves it up, not twice). */
  board() {
    const seen = new Set();
    const out = [];
    for (const call of [...this.calls].reverse()) {
      if (!this.shows(call) || seen.has(call.ticket)) continue;
      seen.add(call.ticket);
      out.push(call);
    }
    return out;
  }

  /** The open and paused counters shown, each a counter with its ticket in hand (or null). */
  counters() {
    if (!this.view) return [];
    const only = this.agencyServices();
    return this.view.counters.filter((c) => c.state !== "closed" && (!only || c.services.some((s) => only.has(s))));
  }

  /** The waiting counts shown: active services (of the agency; of a zoned display, those its counters serve). */
  queues() {
    if (!this.view) return [];
    const only = this.agencyServices();
    const zoned = Boolean(this.zone || this.view.zone);
    const servedHere = (id) => this.view.counters.some((c) => c.services.includes(id));
    return this.view.services
      .filter((s) => s.active !== false && (!only || only.has(s.service)) && (!zoned || servedHere(s.service)))
      .map((s) => ({ service: s, waiting: waitingIn(this.view.queues, s.service) }));
  }

  /** The running text: every display's, then this display's zone's. */
  marquee() {
    if (!this.view) return "";
    const zone = this.view.zone || "";
    return [this.view.messages[""], zone ? this.view.messages[zone] : null].filter(Boolean).join("   •   ");
  }

  counterName(id) {
    const c = this.view && this.view.counters.find((x) => x.counter === id);
    return c ? c.name : id;
  }
}
