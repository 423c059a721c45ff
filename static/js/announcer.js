// The announcement queue of a hall display: a chime, then the call spoken in
// Bahasa Indonesia. One call at a time, strictly in order (a call never talks
// over another), each queued call played once.
//
// Voices:
// - "clips" (default): the words of a voice pack (static/voice/<pack>/manifest.json)
//   decoded once with Web Audio and scheduled back to back on the audio clock,
//   so the stitched sentence has no gaps from timers; works offline on any TV;
// - "browser": the chime, then the browser's own Indonesian voice
//   (speechSynthesis), falling back to clips where the device has none;
// - "none": silent (a display without speakers); calls are still logged.
//
// Browsers may refuse to start audio without a user gesture (autoplay policy).
// `onBlocked(true)` then asks the page for a button; `unlock()` (from its click)
// resumes the audio and the queue plays on.

const MAX_QUEUE = 20; // after a long outage only the latest calls are worth saying
const LOG_SIZE = 500; // entries kept in the test hook (a display runs for months)

export class Announcer {
  /**
   * @param {object} o
   * @param {string} o.base       URL of the voice pack folder (holds manifest.json)
   * @param {"clips"|"browser"|"none"} [o.voice]
   * @param {number} [o.rate]     playback speed of the clips (1 = as recorded)
   * @param {(blocked: boolean) => void} [o.onBlocked]
   * @param {(entry: object) => void} [o.onAnnounced]  after each call was said
   */
  constructor(o) {
    this.o = { voice: "clips", rate: 1, ...o };
    this.queue = [];
    this.busy = false;
    this.buffers = new Map(); // clip key -> Promise<AudioBuffer|null>
    this.manifest = null;
    this.ctx = null;
    this.log = []; // the last LOG_SIZE announcements (docs/deploy-display.md: test hook)
    this.count = 0;
    this.dropped = 0;
    this.blocked = false;
    this.ready = false;
  }

  async init() {
    try {
      if (this.o.voice !== "none") await this.open();
    } finally {
      this.ready = true; // a broken pack still logs calls (with an error) rather than hang
      this.checkAudio();
    }
    return this;
  }

  async open() {
    const res = await fetch(`${this.o.base}/manifest.json`);
    if (!res.ok) throw new Error(`voice pack: ${res.status} for ${this.o.base}/manifest.json`);
    this.manifest = await res.json();
    this.ctx = new AudioContext();
    this.ctx.onstatechange = () => this.checkAudio();
    // Decode every clip up front: the first call must not wait on the network.
    for (const key of Object.keys(this.manifest.clips)) this.buffer(key);
    if (this.ctx.state !== "running") {
      // Allowed without a gesture (kiosk flag) resumes at once; else it stays suspended.
      await Promise.race([this.ctx.resume().catch(() => {}), new Promise((r) => setTimeout(r, 300))]);
    }
  }

  checkAudio() {
    const blocked = !!this.ctx && this.ctx.state !== "running";
    if (blocked !== this.blocked) {
      this.blocked = blocked;
      if (this.o.onBlocked) this.o.onBlocked(blocked);
    }
    if (!blocked) this.pump();
  }

  /** From a click on the page's "enable sound" button (a user gesture). */
  async unlock() {
    if (!this.ctx) return;
    await this.ctx.resume();
    this.checkAudio();
  }

  buffer(key) {
    if (!this.buffers.has(key)) {
      const file = this.manifest.clips[key];
      const promise = !file
        ? Promise.resolve(null)
        : fetch(`${this.o.base}/${file}`)
            .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`${r.status} ${file}`))))
            .then((data) => this.ctx.decodeAudioData(data))
            .catch((err) => {
              console.warn(`voice pack: clip ${key} unusable: ${err}`);
              this.buffers.delete(key); // try again on the next call
              return null;
            });
      this.buffers.set(key, promise);
    }
    return this.buffers.get(key);
  }

  /** Queue a call: {version, number, counter, words, text}. */
  enqueue(call) {
    this.queue.push(call);
    while (this.queue.length > MAX_QUEUE) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.pump();
  }

  async pump() {
    if (!this.ready || this.busy || !this.queue.length || this.blocked) return;
    this.busy = true;
    const call = this.queue.shift();
    const entry = { version: call.version, number: call.number, counter: call.counter, text: call.text };
    entry.startedAt = performance.now();
    try {
      entry.played = await this.say(call);
    } catch (err) {
      entry.error = String(err); // a broken clip must not stop the queue
    }
    entry.endedAt = performance.now();
    this.count += 1;
    this.log.push(entry);
    if (this.log.length > LOG_SIZE) this.log.shift();
    if (this.o.onAnnounced) this.o.onAnnounced(entry);
    this.busy = false;
    this.pump();
  }

  async say(call) {
    if (this.o.voice === "none") return [];
    if (!this.ctx) throw new Error("no voice pack loaded");
    const played = await this.playClips(["chime"]);
    if (this.o.voice === "browser" && browserVoice()) {
      await speak(call.text, this.o.rate);
      return [...played, "speech"];
    }
    return [...played, ...(await this.playClips(call.words))];
  }

  /** Play clips back to back; resolves with the keys in the order they ended. */
  async playClips(keys) {
    const buffers = await Promise.all(keys.map((k) => this.buffer(k)));
    const ctx = this.ctx;
    const gap = (this.manifest.gap_ms || 0) / 1000;
    const rate = this.o.rate;
    const ended = [];
    let at = ctx.currentTime + 0.02;
    let total = 0;
    const done = [];
    keys.forEach((key, i) => {
      const b = buffers[i];
      if (!b) return; // a missing clip is skipped, not fatal
      const src = ctx.createBufferSource();
      src.buffer = b;
      src.playbackRate.value = rate;
      src.connect(ctx.destination);
      done.push(new Promise((resolve) => (src.onended = () => resolve(ended.push(key)))));
      src.start(at);
      at += b.duration / rate + gap;
      total += b.duration / rate + gap;
    });
    // If the audio clock stalls (a device lost), do not hang the queue forever.
    const watchdog = new Promise((r) => setTimeout(r, (total + 3) * 1000));
    await Promise.race([Promise.all(done), watchdog]);
    return ended;
  }
}

function browserVoice() {
  if (!("speechSynthesis" in window)) return null;
  return speechSynthesis.getVoices().find((v) => v.lang.toLowerCase().startsWith("id")) || null;
}

function speak(text, rate) {
  return new Promise((resolve) => {
    const u = new SpeechSynthesisUtterance(text);
    u.voice = browserVoice();
    u.lang = "id-ID";
    u.rate = rate;
    u.onend = u.onerror = () => resolve();
    speechSynthesis.speak(u);
    setTimeout(resolve, 20_000); // a stuck engine must not stop the queue
  });
}
