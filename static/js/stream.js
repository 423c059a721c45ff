// The live stream of one site (docs/protocol.md), shared by every page.
//
// Keeps the last (epoch, version) seen and resumes from it on every reconnect,
// so the page gets exactly the events it missed, or a fresh snapshot. Checks
// that versions arrive one by one (a gap closes and resumes), watches the
// server's heartbeats (silence for three intervals is a dead connection), and
// reconnects with full-jitter backoff forever: a hall display runs for months.
// `onStatus` gets every change of connection state, so a page can always say
// whether what it shows is live.

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
const REFUSED_RETRY_MS = 60_000; // 44xx: the server said no; ask again slowly
const SILENT_BEATS = 3;

export class Stream {
  /**
   * @param {object} o
   * @param {string} o.site
   * @param {"display"|"console"|"supervisor"} o.audience
   * @param {string} [o.counter]   console: the counter followed
   * @param {string} [o.zone]      display: its zone
   * @param {string} [o.token]     a device's token (people use their session cookie)
   * @param {(view: object, version: number) => void} o.onSnapshot
   * @param {(msg: {version: number, event?: object, queues?: object[]}) => void} o.onEvent
   * @param {(status: {state: string, code?: number, reason?: string, retryInMs?: number}) => void} [o.onStatus]
   * @param {(welcome: object, resuming: boolean) => void} [o.onWelcome]  the welcome (resume, recovered),
   *   and whether this hello resumed from a version seen before
   * @param {boolean} [o.retryRefused]  keep asking (slowly) after a 44xx refusal
   */
  constructor(o) {
    this.o = o;
    this.epoch = null;
    this.version = null;
    this.ws = null;
    this.failures = 0;
    this.stopped = false;
    this.timer = null;
    this.watchdog = null;
    this.heartbeatMs = 15_000;
    this.wantSnapshot = false; // the next hello asks for a snapshot (resync)
    this.resuming = false; // the last hello named a version seen before
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    if (this.ws) this.ws.close(1000, "page closed");
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = this.o.token ? `?token=${encodeURIComponent(this.o.token)}` : "";
    return `${scheme}://${location.host}/api/v1/sites/${encodeURIComponent(this.o.site)}/stream${query}`;
  }

  status(state, extra = {}) {
    this.state = state;
    if (this.o.onStatus) this.o.onStatus({ state, ...extra });
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.status(this.failures ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.retry(null, String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: "hello", audience: this.o.audience, epoch: this.epoch, version: this.version };
      if (this.wantSnapshot) hello.snapshot = true; // keeps our place: the calls since are still owed
      this.resuming = this.version !== null;
      if (this.o.counter) hello.counter = this.o.counter;
      if (this.o.zone) hello.zone = this.o.zone;
      ws.send(JSON.stringify(hello));
      this.arm();
    };
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      this.arm();
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        this.restart("bad frame");
        return;
      }
      this.handle(msg);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      clearTimeout(this.watchdog);
      this.retry(e.code, e.reason);
    };
  }

  handle(msg) {
    switch (msg.type) {
      case "welcome":
        this.heartbeatMs = (msg.heartbeat || 15) * 1000;
        this.target = msg.version;
        if (this.o.onWelcome) this.o.onWelcome(msg, this.resuming);
        if (msg.resume === "current") this.live();
        else this.status("syncing");
        break;
      case "snapshot":
        this.wantSnapshot = false;
        this.epoch = msg.epoch;
        this.version = msg.version;
        this.o.onSnapshot(msg.view, msg.version);
        this.live();
        break;
      case "event":
        if (this.version !== null && msg.version !== this.version + 1) {
          this.restart(`gap: after ${this.version} came ${msg.version}`);
          return;
        }
        this.version = msg.version;
        this.o.onEvent(msg);
        if (this.state !== "live" && msg.version >= this.target) this.live();
        break;
      case "ping":
        if (this.send({ type: "pong" }) && msg.version !== this.version) this.restart("behind");
        break;
      case "pong":
        break;
      default:
        break; // newer servers may add messages: ignore what we do not know
    }
  }

  live() {
    this.failures = 0;
    this.status("live", { version: this.version });
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  // Any frame proves the connection lives; silence for three heartbeats does not.
  arm() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.restart("silent"), this.heartbeatMs * SILENT_BEATS);
  }

  /** Reconnect at once for a fresh snapshot; our place is kept, so the snapshot still
   *  carries every call since it (docs/protocol.md, "No call is lost"). */
  resync(reason = "resync") {
    this.wantSnapshot = true;
    const ws = this.ws;
    this.ws = null;
    clearTimeout(this.watchdog);
    if (ws) ws.close(4000, reason.slice(0, 100));
    this.timer = setTimeout(() => this.connect(), 0);
  }

  restart(reason) {
    const ws = this.ws;
    this.ws = null;
    clearTimeout(this.watchdog);
    if (ws) ws.close(4000, reason.slice(0, 100));
    this.retry(null, reason);
  }

  retry(code, reason) {
    if (this.stopped) return;
    let delay;
    if (code === 4008) {
      delay = 0; // slow consumer: resume at once, the server kept our place
    } else if (code === 4401 || code === 4403 || code === 4404 || code === 4400 || code === 1009) {
      this.status(code === 4401 ? "unauthorised" : "refused", { code, reason });
      if (!this.o.retryRefused) return;
      delay = REFUSED_RETRY_MS;
    } else {
      this.failures += 1;
      const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(this.failures, 16));
      delay = Math.random() * cap; // full jitter: a restarted server is not stormed
    }
    if (code !== 4401 && code !== 4403 && code !== 4404) {
      this.status("offline", { code, reason, retryInMs: Math.round(delay) });
    }
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
