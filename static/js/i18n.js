// Bahasa Indonesia first, English by a switch. Each page registers its strings
// as {key: [indonesian, english]}; elements name theirs with data-i18n="key"
// (text) or data-i18n-aria="key" / data-i18n-placeholder="key" (attributes).

const STORE = "qms.lang";
const strings = {};
let lang = localStorage.getItem(STORE) === "en" ? "en" : "id";
const listeners = [];

register({
  lang_switch: ["English", "Bahasa Indonesia"],
  conn_connecting: ["Menyambung…", "Connecting…"],
  conn_syncing: ["Menyamakan data…", "Catching up…"],
  conn_live: ["Langsung", "Live"],
  conn_offline: ["Terputus — menyambung ulang", "Offline — reconnecting"],
  conn_reconnecting: ["Menyambung ulang…", "Reconnecting…"],
  conn_unauthorised: ["Tidak diizinkan: masuk lagi atau minta tautan baru", "Not authorised: sign in again or ask for a new link"],
  conn_refused: ["Ditolak oleh server", "Refused by the server"],
  stale: ["Data mungkin tidak terbaru", "What you see may be out of date"],
  err_network: ["Server tidak dapat dihubungi", "The server cannot be reached"],
  err_not_authenticated: ["Belum masuk atau tautan perangkat tidak berlaku", "Not signed in, or the device link is not valid"],
  err_forbidden: ["Tidak diizinkan", "Not allowed"],
  err_bad_credentials: ["Nama pengguna atau kata sandi salah", "Wrong username or password"],
  err_too_many_requests: ["Terlalu banyak percobaan; coba lagi nanti", "Too many attempts; try again later"],
  err_no_device_token: ["Tautan ini tidak memuat token perangkat", "This link carries no device token"],
  sign_in: ["Masuk", "Sign in"],
  sign_out: ["Keluar", "Sign out"],
  username: ["Nama pengguna", "Username"],
  password: ["Kata sandi", "Password"],
});

export function register(more) {
  Object.assign(strings, more);
}

export function getLang() {
  return lang;
}

export function t(key, vars = {}) {
  const pair = strings[key];
  let text = pair ? pair[lang === "en" ? 1 : 0] : key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function setLang(next) {
  lang = next === "en" ? "en" : "id";
  localStorage.setItem(STORE, lang);
  applyI18n();
  for (const fn of listeners) fn(lang);
}

/** Called after every language switch (pages re-render their dynamic text). */
export function onLangChange(fn) {
  listeners.push(fn);
}

/** Wire every [data-lang-toggle] button. */
export function langToggle(root = document) {
  for (const button of root.querySelectorAll("[data-lang-toggle]")) {
    button.addEventListener("click", () => setLang(lang === "id" ? "en" : "id"));
  }
}

/** The message for an ApiError, in the page's language. */
export function errorText(err) {
  const key = `err_${err.code}`;
  return key in strings ? t(key) : err.message || String(err);
}
