// What a kiosk knows: its site's set-up (GET /sites/{site}), the queues
// (GET …/queues) and the services the engine refused a moment ago; from them,
// which agencies and services to offer, each service's tile (waiting, estimated
// wait, or why it cannot issue now), a new ticket's place and when a screen
// goes back to the start. Pure: no DOM, no I/O; the clock is passed in
// (epoch ms), so the page and the tests agree.
//
// Kiosks may not read the stream (docs/protocol.md): the page reads the two
// queries again now and then and after each ticket; the engine has the last
// word, so a refusal is remembered for REFUSAL_KEPT_MS and shown on the tile.

import { byQueue } from "./queue-model.js";

export const REFUSAL_KEPT_MS = 5 * 60_000;
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]; // the engine's 0 = Monday

/** Is `date` within `hours` ({open: "HH:MM", close: "HH:MM", weekdays: [0 = Monday …]}) in `timeZone`? */
export function openAt(hours, date, timeZone) {
  if (!hours) return true;
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-GB", { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(date);
  } catch {
    return true; // a time zone this browser does not know: let the engine decide
  }
  const part = (type) => parts.find((p) => p.type === type).value;
  const now = `${part("hour")}:${part("minute")}`;
  return hours.weekdays.includes(WEEKDAYS.indexOf(part("weekday"))) && now >= hours.open && now < hours.close;
}

/**
 * Seconds until `screen` goes back to the start by itself, or null: the ticket
 * screen after `reset`, a half-made choice after `idle` without a touch (each
 * touch starts it again); the start screen and the notices stay.
 */
export function backToStartAfter(screen, { idle, reset }) {
  if (screen === "ticket") return reset;
  if (screen === "services" || screen === "priority") return idle;
  return null;
}

export class KioskModel {
  constructor() {
    this.site = null; // the set-up: {site, agencies, services}
    this.queues = {}; // queue id (a service's) -> its queue ({queue, waiting, estimated_wait_s, …})
    this.refused = {}; // service id -> {code, at}: the engine's last refusal to issue
  }

  /** The two reads came back. */
  loaded(setup, queues) {
    this.site = setup;
    this.queues = byQueue(queues.queues);
  }

  /** The engine refused a ticket of `service` (quota_reached, service_closed, …) at `now`. */
  refusal(service, code, now) {
    this.refused[service] = { code, at: now };
  }

  get timezone() {
    return (this.site && this.site.site && this.site.site.timezone) || undefined;
  }

  /** The agencies that have services, in the set-up's order. */
  agencies() {
    if (!this.site) return [];
    return this.site.agencies.filter((a) => this.site.services.some((s) => s.agency === a.id));
  }

  services(agency) {
    return this.site ? this.site.services.filter((s) => s.agency === agency) : [];
  }

  agencyName(id) {
    return ((this.site && this.site.agencies.find((a) => a.id === id)) || { name: id }).name;
  }

  /**
   * Why `service` cannot issue at `now`, or null when it can: {why: "inactive"},
   * {why: "refused", code} (for REFUSAL_KEPT_MS after a refusal) or {why: "closed", open, close}.
   */
  unavailable(service, now) {
    if (!service.active) return { why: "inactive" };
    const refusal = this.refused[service.service];
    if (refusal && now - refusal.at < REFUSAL_KEPT_MS) return { why: "refused", code: refusal.code };
    if (!openAt(service.hours, new Date(now), this.timezone)) return { why: "closed", open: service.hours.open, close: service.hours.close };
    return null;
  }

  /** A service's tile: how many wait and the estimated wait (null: no estimate), or why it is unavailable. */
  tile(service, now) {
    const q = this.queues[service.service] || {};
    return { waiting: q.waiting ?? 0, estimatedWait: q.estimated_wait_s ?? null, unavailable: this.unavailable(service, now) };
  }

  /**
   * A new ticket's place: from its public status when that was read, else from
   * its service's queue as last read (the ticket is the last of it).
   */
  place(status, service) {
    if (status) return { ahead: status.people_ahead ?? 0, estimatedWait: status.estimated_wait_s ?? null };
    const q = this.queues[service] || {};
    return { ahead: q.waiting ?? 0, estimatedWait: q.estimated_wait_s ?? null };
  }
}
