// What one counter's console knows: its counter, the ticket in hand, the
// tickets it may call and those parked from it. Built from the `console`
// stream's snapshot and kept current by its events (docs/protocol.md); never
// from an HTTP answer, so the screen shows only what the log says happened.
// Pure: no DOM, no I/O.

import { byQueue, foldQueues, waitingIn } from "./queue-model.js";

const IN_HAND = ["called", "serving"];

/** A ticket in the ticket's shape (docs/api.md, "Resources"), from its event. */
function detail(ev, extra = {}) {
  return {
    ticket: ev.ticket,
    number: ev.number,
    service: ev.service,
    day: ev.day ?? null,
    state: "waiting",
    priority: ev.priority || "regular",
    channel: ev.channel,
    issued_at: ev.at,
    arrival_at: ev.at,
    called_at: null,
    started_at: null,
    finished_at: null,
    counter: null,
    target_counter: null,
    recalls: 0,
    ...extra,
  };
}

export class ConsoleModel {
  constructor(counterId) {
    this.id = counterId;
    this.counter = null; // a counter: {counter, name, zone, state, services, ticket, waiting, officer}
    this.services = new Map(); // service id -> a service
    this.waiting = new Map(); // ticket id -> a ticket (those this counter may call)
    this.held = new Map(); // ticket id -> a ticket (parked from this counter)
    this.queues = {}; // queue id -> a queue ({queue, waiting}): our services' and ours ("@" + id)
    this.messages = {};
  }

  snapshot(view) {
    this.counter = view.counter ? { ...view.counter } : null;
    this.services = new Map((view.services || []).map((s) => [s.service, s]));
    this.waiting = new Map((view.waiting || []).map((t) => [t.ticket, t]));
    this.held = new Map((view.held || []).map((t) => [t.ticket, t]));
    this.queues = byQueue(view.queues);
    this.messages = { ...(view.messages || {}) };
  }

  get hand() {
    return this.counter ? this.counter.ticket : null;
  }

  served() {
    return new Set(this.counter ? this.counter.services : []);
  }

  /** Does a waiting ticket with this service and target wait in one of our queues? */
  ours(service, target) {
    return target ? target === this.id : this.served().has(service);
  }

  /**
   * Apply one stream `event` message. Answers "resync" when the console must
   * read a fresh snapshot (its own services changed, the set-up or the day did).
   */
  apply(msg) {
    if (msg.queues) {
      foldQueues(this.queues, msg.queues);
      if (this.counter) this.counter.waiting = this.callable();
    }
    const ev = msg.event;
    if (!ev || !this.counter) return null;
    const mine = ev.counter === this.id;
    switch (ev.type) {
      case "counter_opened":
        if (mine) Object.assign(this.counter, { state: "open", officer: ev.officer });
        return null;
      case "counter_paused":
        if (mine) this.counter.state = "paused";
        return null;
      case "counter_closed":
        if (mine) Object.assign(this.counter, { state: "closed", officer: null });
        return null;
      case "counter_services_set":
      case "counter_configured":
        return mine ? "resync" : null;
      case "site_configured":
      case "agency_configured":
      case "service_configured":
      case "day_opened":
      case "day_closed":
        return "resync";
      case "message_broadcast":
        this.messages[ev.zone || ""] = ev.text;
        return null;
      default:
        return this.ticketStep(ev, mine);
    }
  }

  ticketStep(ev, mine) {
    const id = ev.ticket;
    const known = this.waiting.get(id) || this.held.get(id) || (this.hand && this.hand.ticket === id ? this.hand : null);
    const hand = this.hand && this.hand.ticket === id ? this.hand : null;
    switch (ev.type) {
      case "ticket_issued":
        if (this.ours(ev.service, null)) this.waiting.set(id, detail(ev));
        break;
      case "ticket_called":
        this.waiting.delete(id);
        this.held.delete(id);
        if (mine) {
          const base = known || detail(ev);
          this.counter.ticket = { ...base, state: "called", counter: this.id, target_counter: null, called_at: ev.at, started_at: null, officer: ev.officer ?? this.counter.officer ?? null };
        }
        break;
      case "ticket_recalled":
        if (hand) hand.recalls = ev.recalls;
        break;
      case "service_started":
        if (hand) Object.assign(hand, { state: "serving", started_at: ev.at });
        break;
      case "ticket_completed":
      case "ticket_no_show":
      case "ticket_cancelled":
        this.release(id);
        this.waiting.delete(id);
        this.held.delete(id);
        break;
      case "ticket_returned":
        this.release(id);
        if (known && this.ours(known.service, null)) this.waiting.set(id, { ...known, state: "waiting" });
        break;
      case "ticket_transferred": {
        this.release(id);
        this.waiting.delete(id);
        this.held.delete(id);
        const moved = { ...(known || detail(ev)), service: ev.to_service, target_counter: ev.to_counter || null, arrival_at: ev.arrival_at, state: "waiting" };
        if (this.ours(ev.to_service, ev.to_counter)) this.waiting.set(id, moved);
        break;
      }
      case "ticket_held":
        this.release(id);
        this.waiting.delete(id);
        if (mine || (known && known.counter === this.id)) this.held.set(id, { ...(known || detail(ev)), state: "held" });
        break;
      case "ticket_unheld":
        this.held.delete(id);
        if (!known) return "resync"; // back in one of our queues, but we never saw it
        if (this.ours(known.service, known.target_counter)) this.waiting.set(id, { ...known, state: "waiting" });
        break;
      default:
        break;
    }
    return null;
  }

  release(id) {
    if (this.hand && this.hand.ticket === id) this.counter.ticket = null;
  }

  /** How many tickets this counter may call (the counter's `waiting`), from the queue counts. */
  callable() {
    const keys = [...(this.counter ? this.counter.services : []), `@${this.id}`];
    return keys.reduce((sum, key) => sum + waitingIn(this.queues, key), 0);
  }

  /** Waiting tickets grouped by queue: our services in order of preference, then those sent to us. */
  groups() {
    const keys = [...(this.counter ? this.counter.services : []), `@${this.id}`];
    const byKey = new Map(keys.map((k) => [k, []]));
    for (const t of this.waiting.values()) {
      const key = t.target_counter ? `@${t.target_counter}` : t.service;
      if (byKey.has(key)) byKey.get(key).push(t);
    }
    for (const list of byKey.values()) list.sort((a, b) => a.arrival_at - b.arrival_at || a.ticket.localeCompare(b.ticket));
    return [...byKey].map(([key, tickets]) => ({ key, tickets, count: this.queues[key] ? this.queues[key].waiting : tickets.length }));
  }

  /** May `action` be pressed now? Mirrors the engine's rules (qms/core/decide.py). */
  can(action) {
    const c = this.counter;
    if (!c) return false;
    const hand = this.hand;
    const called = hand && hand.state === "called";
    const inHand = hand && IN_HAND.includes(hand.state);
    switch (action) {
      case "open":
        return c.state !== "open";
      case "pause":
        return c.state === "open" && !hand;
      case "close":
        return c.state !== "closed" && !hand;
      case "next":
        return c.state === "open" && !hand && this.groups().some((g) => g.count > 0);
      case "call":
        return c.state === "open" && !hand;
      case "recall":
      case "start":
      case "noshow":
        return Boolean(called);
      case "complete":
      case "return":
      case "transfer":
      case "hold":
        return Boolean(inHand);
      case "unhold":
        return true;
      default:
        return false;
    }
  }
}
