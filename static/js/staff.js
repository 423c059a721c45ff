// What the staff pages (counter console, supervisor) share: signing in and out,
// "who am I", the site to work on, the server's clock, and the engine's error
// codes in words. A page never goes blank: bad credentials, a wrong role, an
// expired session and a server that is down each get their own message.

import { ApiError, del, get, post } from "./api.js";
import { errorText, register, t } from "./i18n.js";
import { $, banner } from "./ui.js";

register({
  signed_in_as: ["Masuk sebagai {name} ({role})", "Signed in as {name} ({role})"],
  role_officer: ["petugas", "officer"],
  role_viewer: ["pembaca laporan", "report viewer"],
  role_supervisor: ["supervisor", "supervisor"],
  role_admin: ["admin", "admin"],
  session_expired: ["Sesi Anda berakhir. Silakan masuk lagi.", "Your session has ended. Please sign in again."],
  wrong_role: [
    "Akun {name} ({role}) tidak boleh membuka halaman ini. Masuk dengan akun lain.",
    "Account {name} ({role}) may not open this page. Sign in with another account.",
  ],
  server_down_retry: [
    "Server tidak dapat dihubungi. Mencoba lagi otomatis…",
    "The server cannot be reached. Retrying by itself…",
  ],
  retry: ["Coba lagi", "Retry"],
  site: ["Situs", "Site"],
  no_site: ["Akun ini tidak terdaftar di situs mana pun.", "This account belongs to no site."],
  // The engine's and the API's codes (docs/api.md "Errors"), for people.
  err_counter_not_open: ["Loket belum dibuka (atau sedang istirahat)", "The counter is not open (or paused)"],
  err_counter_busy: ["Masih ada tiket di tangan: selesaikan dulu", "A ticket is still in hand: finish it first"],
  err_counter_idle: ["Tidak ada tiket di tangan", "No ticket in hand"],
  err_no_ticket_waiting: ["Tidak ada antrean untuk loket ini", "No ticket is waiting for this counter"],
  err_service_not_served: ["Loket ini tidak melayani layanan tiket itu", "This counter does not serve that ticket's service"],
  err_invalid_state: ["Tiket atau loket tidak dalam keadaan yang tepat", "The ticket or counter is not in the right state"],
  err_ticket_expired: ["Tiket sudah kedaluwarsa (hari sebelumnya)", "The ticket has expired (an earlier day)"],
  err_same_destination: ["Tiket sudah berada di tujuan itu", "The ticket is already there"],
  err_service_inactive: ["Layanan tidak aktif", "The service is not active"],
  err_unknown_ticket: ["Tiket tidak ditemukan", "No such ticket"],
  err_unknown_counter: ["Loket tidak ditemukan", "No such counter"],
  err_unknown_service: ["Layanan tidak ditemukan", "No such service"],
  err_unknown_site: ["Situs tidak ditemukan", "No such site"],
  err_not_your_counter: ["Loket ini dipegang petugas lain", "Another officer holds this counter"],
  err_not_your_ticket: ["Tiket ini bukan milik loket Anda", "This ticket is not your counter's"],
  err_account_disabled: ["Akun dinonaktifkan", "The account is disabled"],
  err_bad_origin: ["Permintaan dari halaman lain ditolak", "A request from another page was refused"],
  err_busy: ["Server sibuk; tekan lagi", "The server is busy; press again"],
  err_log_unavailable: ["Penyimpanan tidak tersedia; coba lagi", "Storage is unavailable; try again"],
  err_invalid_command: ["Isian tidak sah", "Invalid input"],
  err_officer_required: ["Petugas wajib diisi", "An officer is required"],
});

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

/**
 * The sign-in gate of a staff page. Shows the form (`form` with inputs named
 * username and password) until someone with one of `roles` is signed in, then
 * calls `onReady(me)`. `message` is shown above the form (e.g. session expired).
 */
export class Gate {
  constructor({ roles, form, app, onReady }) {
    this.roles = roles;
    this.form = form;
    this.app = app;
    this.onReady = onReady;
    this.retryTimer = null;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
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
    if (me && this.roles.includes(me.role)) {
      banner("");
      this.form.hidden = true;
      this.app.hidden = false;
      this.onReady(me);
      return;
    }
    this.showForm(me);
    if (me) banner(t("wrong_role", { name: me.name, role: roleName(me.role) }));
    else banner(message || "", "info");
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

  /** The session ended under the page (401, 4401): back to the form, saying why. */
  expired() {
    this.showForm(null);
    banner(t("session_expired"));
  }
}
