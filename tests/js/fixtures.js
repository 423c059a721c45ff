// What the model tests share: one site's services and counters as the stream's
// snapshot carries them, and the stream's numbered messages. Each test file runs in
// its own process (node --test), so the message counter is per file.

/** Two agencies' services; "old" is switched off. Targets in minutes (the supervisor's). */
export const SERVICES = [
  { service: "ktp", agency: "disdukcapil", prefix: "A", name_id: "KTP-el", name_en: "ID card", active: true, target_wait_min: 10 },
  { service: "kk", agency: "disdukcapil", prefix: "B", name_id: "Kartu Keluarga", name_en: "Family card", active: true, target_wait_min: 5 },
  { service: "pajak", agency: "samsat", prefix: "C", name_id: "Pajak kendaraan", name_en: "Vehicle tax", active: true, target_wait_min: 15 },
  { service: "old", agency: "samsat", prefix: "D", name_id: "Lama", name_en: "Old", active: false, target_wait_min: 15 },
];

/** The services named, in that order. */
export const services = (...ids) => ids.map((id) => SERVICES.find((s) => s.service === id));

/** A counter as a snapshot lists it: "L3" is "Loket 3", open in zone A, idle. */
export function counter(id, serving, extra = {}) {
  return { counter: id, name: `Loket ${id.slice(1)}`, zone: "A", state: "open", services: serving, ticket: null, waiting: 0, ...extra };
}

/** Queues as the stream carries them ({queue, waiting}), from waiting counts by queue id. */
export const queues = (counts) => Object.entries(counts).map(([queue, waiting]) => ({ queue, waiting }));

let version = 0;

/** The next stream message is numbered `next + 1`. */
export function restartAt(next) {
  version = next;
}

/** A stream message under the next version: `fields` such as `{ queues }`. */
export const numbered = (fields) => ({ version: ++version, ...fields });

/** A stream message: the event under the next version. */
export const msg = (event) => numbered({ event });

/** A ticket issued at the kiosk: its number is its id. */
export const issued = (ticket, service, at) => msg({ type: "ticket_issued", ticket, number: ticket, service, channel: "kiosk", at });
