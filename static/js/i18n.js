// Bahasa Indonesia first, English by a switch. A page's texts are data, not code:
// catalogs in static/texts/ ({key: [indonesian, english]}; common.json for every
// page, <module>.json beside each module that has texts of its own), which the
// server writes into the page (its shell names them, `{{texts common staff console}}`)
// as <script type="application/json" id="qms-texts">: read here, synchronously,
// before any page module runs, and without a request of their own. Elements name
// their text with data-i18n="key" (text) or data-i18n-aria="key" /
// data-i18n-placeholder="key" (attributes); tests/test_texts.py checks that every
// key a page names is in its catalogs, in both languages.

const STORE = "qms.lang";
const strings = readTexts();
let lang = localStorage.getItem(STORE) === "en" ? "en" : "id";
const listeners = [];

function readTexts() {
  const block = globalThis.document?.getElementById("qms-texts");
  return block ? JSON.parse(block.textContent) : {};
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
