// What the staff pages (counter console, supervisor, reports, admin) share:
// the one sign-in (`Gate`), signing out, "who am I", the site to work on, the
// server's clock, the live stream a page folds into its model (`LiveFeed`) and
// the commands it sends (`Commands`). A page never goes blank: bad credentials, a wrong role,
// an expired session and a server that is down each get their own message.

import { api, ApiError, del, get, newKey, post } from "./api.js";
import { errorText, onLangChange, t } from "./i18n.js";
import { Stream } from "./stream.js";
import { $, banner, connectionIndicator, h } from "./ui.js";

/** The signed-in person, or null (anonymous). Throws ApiError (status 0) when the server is down. */
export async function whoAmI() {
  const me = await get("/session");
  return me && me.role && me.role !== "anonymous" ? me : null;
}

export async function signIn(username, password) {
  return post("/session", { username, password });
}

export async function signOut() {
  try {
    await del("/session");
  } catch {
    // signing out of a server that is down: the cookie goes when it comes back
  }
}

export function roleName(role) {
  return t(`role_${role}`);
}

/** The site to work on: ?site=, else the account's first site, else the last one used. */
export function chooseSite(me) {
  const asked = new URLSearchParams(location.search).get("site");
  if (asked && (me.sites === null || me.sites.includes(asked))) return asked;
  if (me.sites && me.sites.length) return me.sites[0];
  return asked || localStorage.getItem("qms.site") || null;
}

/** Server seconds minus browser seconds, from a view's `now` (timers use the server's clock). */
export const clock = {
  offset: 0,
  learn(view) {
    if (view && typeof view.now === "number") this.offset = view.now - Date.now() / 1000;
  },
  now() {
    return Date.now() / 1000 + this.offset;
  },
};

/** The sign-in form, the one copy every staff page shows (texts switch with the language). */
function signInForm(title) {
  const field = (key, attrs) => h("label", {}, h("span", { "data-i18n": key }, t(key)), h("input", attrs));
  return h(
    "form",
    { id: "signin", class: "signin card no-print", hidden: true },
    h("h2", { "data-i18n": title }, t(title)),
    field("username", { name: "username", autocomplete: "username", autocapitalize: "none", required: true }),
    field("password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", "data-i18n": "sign_in" }, t("sign_in")),
  );
}

/**
 * The sign-in gate of a staff page: renders its own form (titled by the i18n key
 * `title`) before `app`, and shows it until someone with one of `roles` is
 * signed in; then shows `app` and calls `onReady(me)`, or with `withSite`
 * `onReady(me, site)` once the site to work on is chosen (chooseSite; none:
 * the page says so and stays empty). The top bar's #whoami and #sign-out,
 * where the page has them, name whoever is signed in and sign out (after
 * `onSignOut`, which stops what the page runs; then the page reloads).
 */
export class Gate {
  constructor({ roles, title, app, onReady, onSignOut = () => {}, withSite = false }) {
    this.roles = roles;
    this.withSite = withSite;
    this.app = app;
    this.onReady = onReady;
    this.onSignOut = onSignOut;
    this.me = null;
    this.retryTimer = null;
    this.form = signInForm(title);
    app.before(this.form);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    const out = $("#sign-out");
    if (out) out.addEventListener("click", () => this.signOut());
    onLangChange(() => this.showWho());
  }

  /** Who is signed in? Retries by itself while the server is down. */
  async start(message) {
    clearTimeout(this.retryTimer);
    let me;
    try {
      me = await whoAmI();
    } catch (err) {
      this.showForm(null);
      banner(t("server_down_retry"));
      this.retryTimer = setTimeout(() => this.start(message), 3000);
      return;
    }
    this.admit(me, message);
  }

  admit(me, message) {
    this.me = me;
    this.showWho();
    if (me && this.roles.includes(me.role)) {
      banner("");
      this.form.hidden = true;
      this.app.hidden = false;
      if (!this.withSite) return this.onReady(me);
      const site = chooseSite(me);
      if (!site) return banner(t("no_site"));
      localStorage.setItem("qms.site", site);
      return this.onReady(me, site);
    }
    this.showForm(me);
    if (me) banner(t("wrong_role", { name: me.name, role: roleName(me.role) }));
    else banner(message || "", "info");
  }

  /** The top bar: who is signed in (also someone this page is not for), and the sign-out button. */
  showWho() {
    const who = $("#whoami");
    if (who) who.textContent = this.me ? `${this.me.name} (${roleName(this.me.role)})` : "";
    const out = $("#sign-out");
    if (out) out.hidden = !this.me;
  }

  showForm(me) {
    this.app.hidden = true;
    this.form.hidden = false;
    const user = this.form.elements.username;
    if (me) user.value = "";
    this.form.elements.password.value = "";
    user.focus();
  }

  async submit() {
    const button = $("button[type=submit]", this.form);
    button.disabled = true;
    try {
      const me = await signIn(this.form.elements.username.value.trim(), this.form.elements.password.value);
      this.admit(me.role && me.role !== "anonymous" ? me : null);
    } catch (err) {
      this.form.elements.password.value = "";
      banner(err instanceof ApiError && err.status === 0 ? t("err_network") : errorText(err));
    } finally {
      button.disabled = false;
    }
  }

  async signOut() {
    this.onSignOut();
    await signOut();
    location.reload();
  }

  /** The session ended under the page (401, 4401): back to the form, saying why. */
  expired() {
    this.me = null;
    this.showWho();
    this.showForm(null);
    banner(t("session_expired"));
  }
}

/**
 * A staff page's stream (console, supervisor), folded into its model (`model()`:
 * `snapshot(view)`, `apply(msg)`) and started afresh when the model asks for a
 * resync; its state shown on the top bar's [data-conn]. The page hears of it
 * through `onSnapshot(view, version)` and `onEvent(msg, resync)` (after the model
 * took them), `onUnauthorised()` (the session ended; the feed has stopped),
 * `onRefused(status)` (a 44xx refusal) and `onChange()` (any other change: redraw).
 * `live`: what the page shows is current; `stream`: null while stopped.
 */
export class LiveFeed {
  constructor(o) {
    this.o = o;
    this.where = null;
    this.stream = null;
    this.live = false;
    this.indicator = connectionIndicator($("[data-conn]"));
  }

  /** Follow `where` ({site, counter?}; by default the last one followed). */
  start(where = this.where) {
    const o = this.o;
    this.stop();
    this.where = where;
    $("[data-conn]").hidden = false;
    this.stream = new Stream({
      ...where,
      audience: o.audience,
      onSnapshot: (view, version) => {
        o.model().snapshot(view);
        o.onSnapshot(view, version);
      },
      onEvent: (msg) => {
        const resync = o.model().apply(msg) === "resync";
        o.onEvent(msg, resync);
        if (resync) this.start(); // the services, the set-up or the day changed
      },
      onStatus: (status) => {
        this.indicator(status);
        this.live = status.state === "live";
        if (status.state === "unauthorised") {
          this.stop();
          o.onUnauthorised();
          return;
        }
        if (status.state === "refused" && o.onRefused) o.onRefused(status);
        o.onChange();
      },
    }).start();
  }

  stop() {
    if (this.stream) this.stream.stop();
    this.stream = null;
    this.live = false;
  }

  /** The stream has passed `version` (a command's answer): its event is in the model. */
  passed(version) {
    return this.stream !== null && this.stream.version >= version;
  }
}

/**
 * A staff page's commands, each with an Idempotency-Key. A command whose outcome is
 * unknown (no answer, or a 5xx) keeps its key: pressed again, it is the same command,
 * done at most once. `clear()` when the stream shows the counter moved (the
 * outcomes are known then).
 */
export class Commands {
  constructor(tag) {
    this.tag = tag;
    this.unsure = new Map(); // "method path body" -> the key of a command with unknown outcome
  }

  /** Send a command; its answer, or the ApiError thrown. */
  async send(method, path, body, tag = this.tag) {
    const signature = `${method} ${path} ${JSON.stringify(body)}`;
    const key = this.unsure.get(signature) || newKey(tag);
    try {
      const answer = await api(method, path, { body, key });
      this.unsure.delete(signature);
      return answer;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 0 || err.status >= 500)) this.unsure.set(signature, key);
      else this.unsure.delete(signature);
      throw err;
    }
  }

  clear() {
    this.unsure.clear();
  }
}
