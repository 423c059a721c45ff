// The satisfaction survey (SKM) on the visitor's page, once the ticket is completed.
//
// GET /api/v1/tickets/{ref}/survey says whether it is open and brings the questions
// (Bahasa Indonesia first: [id, en] pairs, shown in the page's language); the answers
// go once to POST …/survey (docs/api.md "Survey"). Every text is set as text, never
// as HTML. The choices survive a language switch (they live in `answers`).

import { get, post } from "./api.js";
import { errorText, locale, pick, t } from "./i18n.js";
import { h } from "./ui.js";

/** The survey of one ticket: `el` to place in the page, `render()` after a language switch.
 * `path` is another survey of the same shape: a service's walk-up survey (survey-walkup.js),
 * or a counter tablet's (tablet.js), which passes `opts`: `token` (its device token),
 * `initial` (the GET it already made), `extra` (sent with the answer), `intro` (its own
 * text's key), `onSkip` (a Lewati button that sends nothing) and `onEnd(status)` (once the
 * survey is no longer open). */
export function surveyFor(ref, path = `/tickets/${encodeURIComponent(ref)}/survey`, opts = {}) {
  const el = h("section", { class: "survey", "aria-live": "polite", "data-survey": "loading" });
  const s = { status: "loading", instrument: null, closesAt: null, answers: {}, profile: {}, suggestion: "", sending: false, message: "" };
  const auth = opts.token ? { token: opts.token } : {};

  async function load() {
    try {
      const got = await get(path, auth);
      Object.assign(s, { status: got.status, instrument: got.instrument, closesAt: got.closes_at });
    } catch (err) {
      s.status = "error";
      s.message = errorText(err);
    }
    render();
  }

  function question(q, required) {
    const legendId = `q-${q.key}`;
    return h(
      "fieldset",
      { class: "question", "data-key": q.key, "aria-labelledby": legendId },
      h("legend", { id: legendId }, h("span", { class: "qtitle" }, pick(q.title), required ? " *" : ""), h("span", { class: "qtext" }, pick(q.text))),
      h(
        "div",
        { class: "scale" },
        q.labels.map((label, i) =>
          h(
            "label",
            {},
            h("input", {
              type: "radio",
              name: q.key,
              value: i + 1,
              required,
              checked: s.answers[q.key] === i + 1,
              onchange: () => (s.answers[q.key] = i + 1),
            }),
            h("span", { class: "score" }, String(i + 1)),
            h("span", { class: "text" }, pick(label)),
          ),
        ),
      ),
    );
  }

  function profileField(field) {
    const id = `p-${field.key}`;
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, pick(field.title)),
      h(
        "select",
        { id, name: field.key, onchange: (ev) => (s.profile[field.key] = ev.target.value) },
        h("option", { value: "" }, t("s_skip")),
        field.options.map(([code, label]) => h("option", { value: code, selected: s.profile[field.key] === code }, pick(label))),
      ),
    );
  }

  function form() {
    const inst = s.instrument;
    const profile = inst.profile.length
      ? h("fieldset", { class: "profile" }, h("legend", {}, t("s_profile")), inst.profile.map(profileField))
      : null;
    const suggestion = inst.suggestion_limit
      ? h(
          "div",
          { class: "field" },
          h("label", { for: "saran" }, t("s_suggestion")),
          h("textarea", { id: "saran", rows: 3, maxlength: inst.suggestion_limit, oninput: (ev) => (s.suggestion = ev.target.value) }, s.suggestion),
        )
      : null;
    const closes = s.closesAt ? new Date(s.closesAt * 1000).toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" }) : "";
    return h(
      "form",
      { id: "survey-form", novalidate: true, onsubmit: send },
      h("h2", {}, t("s_title")),
      h("p", { class: "intro" }, t(opts.intro || "s_intro")),
      inst.elements.map((q) => question(q, true)),
      inst.extras.map((q) => question(q, false)),
      profile,
      suggestion,
      s.message ? h("p", { class: "survey-error", role: "alert" }, s.message) : null,
      h("button", { type: "submit", class: "primary", disabled: s.sending }, s.sending ? t("s_sending") : t("s_send")),
      opts.onSkip ? h("button", { type: "button", class: "secondary skip", onclick: opts.onSkip }, t("s_pass")) : null,
      closes ? h("p", { class: "closes" }, t("s_closes", { time: closes })) : null,
    );
  }

  async function send(ev) {
    ev.preventDefault();
    const missing = s.instrument.elements.find((q) => !s.answers[q.key]);
    if (missing) {
      s.message = t("s_missing");
      render();
      el.querySelector(`fieldset[data-key="${missing.key}"] input`)?.focus();
      return;
    }
    const answers = {};
    for (const q of [...s.instrument.elements, ...s.instrument.extras]) if (s.answers[q.key]) answers[q.key] = s.answers[q.key];
    const profile = Object.fromEntries(Object.entries(s.profile).filter(([, v]) => v));
    const body = { ...opts.extra, instrument: s.instrument.version, answers, profile };
    if (s.suggestion.trim()) body.suggestion = s.suggestion;
    s.sending = true;
    s.message = "";
    render();
    try {
      await post(path, body, auth);
      s.status = "answered";
    } catch (err) {
      if (err.code === "survey_already_answered") s.status = "answered";
      else if (err.code === "survey_expired" || err.code === "survey_closed") s.status = "expired";
      else if (err.code === "instrument_mismatch") {
        await load();
        s.message = t("s_changed");
      } else s.message = errorText(err);
    }
    s.sending = false;
    render();
    if (s.status !== "open") opts.onEnd?.(s.status);
  }

  function render() {
    el.dataset.survey = s.status;
    if (s.status === "open" && s.instrument) el.replaceChildren(form());
    else if (s.status === "answered")
      el.replaceChildren(h("div", { class: "thanks", role: "status" }, h("h2", {}, t("s_thanks")), h("p", {}, t("s_thanks_more"))));
    else if (s.status === "expired") el.replaceChildren(h("p", { class: "closed" }, t("s_expired")));
    else if (s.status === "error") el.replaceChildren(h("p", { class: "survey-error", role: "alert" }, s.message));
    else el.replaceChildren();
  }

  if (opts.initial) {
    Object.assign(s, { status: opts.initial.status, instrument: opts.initial.instrument, closesAt: opts.initial.closes_at });
    render();
  } else load();
  return { el, render };
}
