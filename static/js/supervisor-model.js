// What the supervisor's screen knows about a site: services, counters and
// today's tickets, from the `supervisor` stream (snapshot, then events) plus
// one read of today's tickets (GET /sites/{site}/tickets), lined up by version:
// an event already reflected in that read (version <= its version) is skipped.
// Pure: no DOM, no I/O.
//
// Today's figures, from today's tickets:
// - served: tickets completed (state done);
// - average wait: over the tickets called today (called, serving, done,
//   no-show), the mean of (latest call - issue);
// - within target: the share of those whose wait is at most their service's
//   target wait.

import { byQueue, foldQueues, waitingIn } from "./queue-model.js";

const CALLED_ONCE = new Set(["called", "serving", "done", "no_show"]);
const UNFINISHED = new Set(["waiting", "held", "called", "serving"]);

export class SupervisorModel {
  constructor() {
    this.services = new Map();
    this.counters = new Map();
    this.tickets = null; // Map id -> ticket, once read; null while reading
    this.base = 0; // the version the tickets read reflects
    this.buffer = []; // ticket events that came while reading
    this.messages = {};
    this.queues = {}; // queue id (a service, "@" + a counter) -> a queue ({queue, waiting})
    this.site = null;
  }

  snapshot(view) {
    this.site = view.site;
    this.services = new Map((view.services || []).map((s) => [s.service, s]));
    this.counters = new Map((view.counters || []).map((c) => [c.counter, { ...c, ticket: c.ticket && { ...c.ticket } }]));
    this.queues = byQueue(view.queues);
    this.messages = { ...(view.messages || {}) };
    this.tickets = null;
    this.buffer = [];
  }

  /** The read of today's tickets (GET …/tickets) arrived; replay what came meanwhile. */
  loaded(view) {
    this.tickets = new Map(view.tickets.map((t) => [t.ticket, { ...t }]));
    this.base = view.version;
    const buffered = this.buffer;
    this.buffer = [];
    for (const msg of buffered) this.fold(msg);
  }

  /** One stream `event` message; answers "resync" when a fresh snapshot is needed. */
  apply(msg) {
    if (msg.queues) {
      foldQueues(this.queues, msg.queues);
      for (const c of this.counters.values()) c.waiting = this.callable(c);
    }
    const ev = msg.event;
    if (!ev) return null;
    switch (ev.type) {
      case "site_configured":
      case "day_opened":
      case "day_closed":
        return "resync";
      case "agency_configured":
        return null;
      case "service_configured": {
        const { id, ...fields } = ev.service; // the event's set-up names the service `id`
        this.services.set(id, { ...this.services.get(id), service: id, ...fields });
        return null;
      }
      case "counter_configured":
        this.counters.set(ev.counter, {
          state: "closed",
          ticket: null,
          waiting: 0,
          officer: null,
          ...this.counters.get(ev.counter),
          counter: ev.counter,
          name: ev.name,
          zone: ev.zone,
          services: ev.services,
        });
        this.counter(ev.counter).waiting = this.callable(this.counter(ev.counter));
        return null;
      case "counter_services_set": {
        const c = this.counter(ev.counter);
        Object.assign(c, { services: ev.services, waiting: this.callable({ ...c, services: ev.services }) });
        return null;
      }
      case "counter_opened":
        Object.assign(this.counter(ev.counter), { state: "open", officer: ev.officer });
        return null;
      case "counter_paused":
        this.counter(ev.counter).state = "paused";
        return null;
      case "counter_closed":
        Object.assign(this.counter(ev.counter), { state: "closed", officer: null });
        return null;
      case "message_broadcast":
        this.messages[ev.zone || ""] = ev.text;
        return null;
      default:
        this.step(ev);
        if (this.tickets === null) this.buffer.push(msg);
        else this.fold(msg);
        return null;
    }
  }

  counter(id) {
    if (!this.counters.has(id)) this.counters.set(id, { counter: id, name: id, zone: "", services: [], state: "closed", ticket: null, waiting: 0, officer: null });
    return this.counters.get(id);
  }

  /** How many tickets counter `c` may call (its `waiting`), from the queue counts. */
  callable(c) {
    return [...c.services, `@${c.counter}`].reduce((sum, key) => sum + waitingIn(this.queues, key), 0);
  }

  /** The ticket each counter holds (from the stream, always current), in the ticket's shape. */
  step(ev) {
    const at = ev.counter ? this.counters.get(ev.counter) : null;
    const held = at && at.ticket && at.ticket.ticket === ev.ticket ? at.ticket : null;
    if (ev.type === "ticket_called" && at) {
      const known = this.tickets && this.tickets.get(ev.ticket);
      at.ticket = {
        ...(known || { ticket: ev.ticket, number: ev.number, service: ev.service, priority: ev.priority || "regular", recalls: 0 }),
        state: "called", counter: ev.counter, officer: ev.officer ?? null, called_at: ev.at, started_at: null, target_counter: null,
      };
    } else if (ev.type === "ticket_recalled" && held) {
      held.recalls = ev.recalls;
    } else if (ev.type === "service_started" && held) {
      Object.assign(held, { state: "serving", started_at: ev.at });
    }
    const releases = ["ticket_completed", "ticket_no_show", "ticket_returned", "ticket_transferred", "ticket_held", "ticket_cancelled"];
    if (releases.includes(ev.type)) {
      for (const c of this.counters.values()) if (c.ticket && c.ticket.ticket === ev.ticket) c.ticket = null;
    }
  }

  /** A ticket event into today's tickets (skipped when the read already has it). */
  fold(msg) {
    const ev = msg.event;
    if (msg.version <= this.base) return;
    const t = this.tickets.get(ev.ticket);
    if (ev.type === "ticket_issued") {
      this.tickets.set(ev.ticket, {
        ticket: ev.ticket, number: ev.number, service: ev.service, priority: ev.priority || "regular",
        channel: ev.channel, state: "waiting", issued_at: ev.at, arrival_at: ev.at, called_at: null,
        started_at: null, finished_at: null, counter: null, officer: null, target_counter: null, recalls: 0,
      });
      return;
    }
    if (!t) return; // a ticket of another day
    switch (ev.type) {
      case "ticket_called":
        Object.assign(t, { state: "called", called_at: ev.at, counter: ev.counter, officer: ev.officer, target_counter: null });
        break;
      case "ticket_recalled":
        t.recalls = ev.recalls;
        break;
      case "service_started":
        Object.assign(t, { state: "serving", started_at: ev.at });
        break;
      case "ticket_completed":
        Object.assign(t, { state: "done", finished_at: ev.at });
        break;
      case "ticket_no_show":
        Object.assign(t, { state: "no_show", finished_at: ev.at });
        break;
      case "ticket_cancelled":
        Object.assign(t, { state: "cancelled", finished_at: ev.at });
        break;
      case "ticket_returned":
      case "ticket_unheld":
        t.state = "waiting";
        break;
      case "ticket_transferred":
        Object.assign(t, { state: "waiting", service: ev.to_service, target_counter: ev.to_counter || null, arrival_at: ev.arrival_at });
        break;
      case "ticket_held":
        t.state = "held";
        break;
      default:
        break;
    }
  }

  /** Each service's line: waiting, longest wait against target, open counters serving it. */
  lines(now) {
    const out = [];
    for (const s of this.services.values()) {
      const waiting = this.tickets ? [...this.tickets.values()].filter((t) => t.state === "waiting" && t.service === s.service) : [];
      const longest = waiting.length ? Math.max(...waiting.map((t) => now - t.arrival_at)) : null;
      const target = s.target_wait_min * 60;
      const serving = [...this.counters.values()].filter((c) => c.state === "open" && c.services.includes(s.service));
      out.push({ service: s, waiting: waiting.length, longest, target, breach: longest !== null && longest > target, serving });
    }
    return out;
  }

  unfinished() {
    if (!this.tickets) return [];
    return [...this.tickets.values()].filter((t) => UNFINISHED.has(t.state)).sort((a, b) => a.arrival_at - b.arrival_at);
  }

  figures() {
    if (!this.tickets) return null;
    const all = [...this.tickets.values()];
    const called = all.filter((t) => CALLED_ONCE.has(t.state) && t.called_at);
    const waits = called.map((t) => ({ wait: t.called_at - t.issued_at, target: (this.services.get(t.service)?.target_wait_min ?? 15) * 60 }));
    return {
      issued: all.length,
      served: all.filter((t) => t.state === "done").length,
      waiting: all.filter((t) => t.state === "waiting").length,
      averageWait: waits.length ? waits.reduce((sum, w) => sum + w.wait, 0) / waits.length : null,
      withinTarget: waits.length ? waits.filter((w) => w.wait <= w.target).length / waits.length : null,
    };
  }
}
