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
  // Every API error code's text, once (docs/api.md lists the codes).
  err_instrument_mismatch: ["Kuesioner sudah berubah; muat ulang halaman", "The questionnaire has changed; reload the page"],
  err_invalid_answer: ["Jawaban harus 1 sampai 4", "Answers are 1 to 4"],
  err_invalid_cut: ["Pengelompokan tidak dikenal", "Unknown grouping"],
  err_invalid_group_size: ["Ukuran kelompok minimum tidak sah", "Invalid minimum group size"],
  err_invalid_instrument: ["Kuesioner tidak sah", "Invalid questionnaire"],
  err_invalid_period: ["Periode tidak sah", "Invalid period"],
  err_invalid_plan: ["Rencana tindak lanjut tidak sah", "Invalid follow-up plan"],
  err_invalid_profile: ["Data responden tidak sah", "Invalid respondent details"],
  err_invalid_response: ["Jawaban survei tidak sah", "Invalid survey response"],
  err_missing_answer: ["Mohon jawab semua pertanyaan bertanda *", "Please answer every question marked *"],
  err_survey_already_answered: ["Kunjungan ini sudah dinilai; terima kasih", "This visit has been rated already; thank you"],
  err_survey_expired: ["Waktu survei untuk kunjungan ini sudah lewat", "The survey for this visit has closed"],
  err_survey_not_open: ["Survei dibuka setelah layanan selesai", "The survey opens when the service is completed"],
  err_survey_off: ["Survei tidak diadakan saat ini", "The survey is not running now"],
  err_survey_unknown_service: ["Layanan tidak ditemukan", "No such service"],
  err_survey_unknown_ticket: ["Tiket tidak ditemukan", "No such ticket"],
  err_text_too_long: ["Teks terlalu panjang", "The text is too long"],
  err_unknown_question: ["Pertanyaan tidak dikenal", "Unknown question"],
  err_account_disabled: ["Akun ini dinonaktifkan", "This account is disabled"],
  err_bad_origin: ["Permintaan dari halaman lain ditolak", "A request from another page was refused"],
  err_busy: ["Server sedang sibuk; tekan lagi", "The server is busy; press again"],
  err_counter_busy: ["Masih ada tiket di tangan: selesaikan dulu", "A ticket is still in hand: finish it first"],
  err_counter_idle: ["Tidak ada tiket di tangan", "No ticket in hand"],
  err_counter_not_open: ["Loket belum dibuka (atau sedang istirahat)", "The counter is not open (or paused)"],
  err_idempotency_key_reused: ["Permintaan ini sudah dipakai untuk perintah lain; muat ulang halaman", "This request was used for another command; reload the page"],
  err_invalid_command: ["Isian tidak sah", "Invalid input"],
  err_invalid_state: ["Tiket atau loket tidak dalam keadaan yang tepat", "The ticket or counter is not in the right state"],
  err_invalid_text: ["Teks memuat karakter yang tidak diizinkan (baris baru, tab, kendali)", "The text has a character that is not allowed (newline, tab, control)"],
  err_invalid_timezone: ["Zona waktu tidak dikenal (contoh: Asia/Jakarta)", "Unknown time zone (e.g. Asia/Jakarta)"],
  err_invalid_username: ["Nama pengguna: huruf kecil, angka, . _ -", "Usernames: lower-case letters, digits, . _ -"],
  err_last_admin: ["Admin aktif terakhir tidak boleh dinonaktifkan", "The last active admin cannot be disabled"],
  err_log_unavailable: ["Penyimpanan tidak tersedia; coba lagi", "Storage is unavailable; try again"],
  err_no_ticket_waiting: ["Tidak ada antrean untuk loket ini", "No ticket is waiting for this counter"],
  err_not_your_counter: ["Loket ini dipegang petugas lain", "Another officer holds this counter"],
  err_not_your_ticket: ["Tiket ini bukan milik loket Anda", "This ticket is not your counter's"],
  err_officer_required: ["Petugas wajib diisi", "An officer is required"],
  err_password_too_short: ["Kata sandi minimal 8 karakter", "Passwords have 8 characters or more"],
  err_prefix_taken: ["Awalan ini milik layanan lain, atau sudah dipakai layanan lain hari ini", "Another service has this prefix, or used it today"],
  err_quota_reached: ["Kuota antrean hari ini sudah habis", "Today's quota for this service is used up"],
  err_same_destination: ["Tiket sudah berada di tujuan itu", "The ticket is already there"],
  err_service_closed: ["Layanan ini sedang tutup", "This service is closed now"],
  err_service_inactive: ["Layanan ini tidak aktif", "This service is not active"],
  err_service_not_served: ["Loket ini tidak melayani layanan tiket itu", "This counter does not serve that ticket's service"],
  err_site_not_set_up: ["Lokasi belum disiapkan", "The site is not set up"],
  err_sites_required: ["Supervisor dan petugas memerlukan lokasi", "Supervisors and officers need a site"],
  err_ticket_expired: ["Tiket sudah kedaluwarsa (hari sebelumnya)", "The ticket has expired (an earlier day)"],
  err_unknown_agency: ["Instansi tidak ditemukan", "No such agency"],
  err_unknown_counter: ["Loket tidak ditemukan", "No such counter"],
  err_counter_required: ["Pilih loket untuk tablet loket ini", "A counter tablet needs its counter"],
  err_counter_for_tablets: ["Hanya tablet loket yang terikat pada loket", "Only a counter tablet is bound to a counter"],
  err_survey_closed: ["Survei untuk kunjungan ini sudah ditutup", "The survey for this visit has closed"],
  err_unknown_policy: ["Aturan antrean tidak dikenal", "Unknown queueing rule"],
  err_unknown_service: ["Layanan tidak ditemukan", "No such service"],
  err_unknown_site: ["Situs tidak ditemukan", "No such site"],
  err_unknown_ticket: ["Tiket tidak ditemukan", "No such ticket"],
  err_user_exists: ["Nama pengguna sudah ada", "That username is taken"],
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

/** The page's language's half of an [indonesian, english] pair (texts sent by the server). */
export function pick(pair) {
  return lang === "en" ? pair[1] : pair[0];
}

/** A set-up object's name (a service's `name_id` / `name_en`) in the page's language. */
export const localName = (o) => (lang === "en" ? o.name_en : o.name_id);

/** The locale numbers and dates are written in. */
export const locale = () => (lang === "en" ? "en-GB" : "id-ID");

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

/** A page's start: its texts in the chosen language, every language button wired, and
 * `onChange` (if given) run after every switch to redraw what the page drew itself. */
export function startLanguage(onChange) {
  if (onChange) onLangChange(onChange);
  applyI18n();
  langToggle();
}

/** The message for an ApiError, in the page's language. */
export function errorText(err) {
  const key = `err_${err.code}`;
  return key in strings ? t(key) : err.message || String(err);
}
