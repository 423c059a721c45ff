// The admin's survey tab, "Survei (SKM)" (docs/survey.md "In the admin app"):
// the site's questionnaire settings (on/off, the window to answer in, the smallest
// group shown, the nine questions' texts, the site's own questions) through
// `PUT /sites/{site}/survey`, and the follow-up plan (rencana tindak lanjut) of a
// period's weakest elements through `PUT /sites/{site}/survey/plan`. The server
// judges every value (the form does not): a refusal is shown at the field it names.

import { api, get } from "./api.js";
import { pick, t } from "./i18n.js";
import { checkbox, field, form, select, table } from "./admin-form.js";
import { actionsOf, PARTS, periodOf, planText } from "./admin-survey-model.js";
import { banner, h } from "./ui.js";

const MAX_EXTRAS = 10;
// The scale of a site's own question (the wording), for one added here.
const SCALE = [
  ["Tidak baik", "Poor"],
  ["Kurang baik", "Fair"],
  ["Baik", "Good"],
  ["Sangat baik", "Very good"],
];

export async function surveySection(ctx) {
  const [{ instrument, default: standard }, results] = await Promise.all([get(`/sites/${ctx.site}/survey`), get(`/survey/${ctx.site}`)]);
  return [settingsForm(ctx, instrument, standard), await planEditor(ctx, instrument, results.plans)];
}

// --- field errors -----------------------------------------------------------------------

let errorIds = 0;

function clearErrors(root) {
  for (const el of root.querySelectorAll(".field-error")) el.remove();
  for (const el of root.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
}

/** Where the field the server names goes: "U3.text" is in U3's box, "extras[1].title" in extras[1]'s. */
function target(root, name) {
  for (let part = name || ""; part; ) {
    const el = root.querySelector(`[data-field="${CSS.escape(part)}"]`);
    if (el) return el;
    const shorter = part.replace(/(\.[^.[\]]*|\[[0-9]+\])$/, "");
    if (shorter === part) break;
    part = shorter;
  }
  return root.querySelector("[data-field-default]");
}

/** The server's refusal at the field it names (`details.field`: "min_group", "U3.text", "extras[1].title"…). */
function showFieldError(root, name, text) {
  const where = target(root, name);
  const id = `field-error-${++errorIds}`;
  where.append(h("p", { class: "field-error", id }, text));
  for (const input of where.querySelectorAll("input, textarea, select")) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
  }
}

function errorKey(name) {
  if (name === "valid_hours" || name === "min_group") return `sv_bad_${name}`;
  if (/\.(text|title|labels)/.test(name || "")) return "sv_bad_text";
  if ((name || "").startsWith("extras")) return "sv_bad_extras";
  return "sv_bad_field";
}

/** One change through the API: on a refusal, the banner says the server's words and the field its rule. */
async function send(ctx, root, method, path, body, keyOf) {
  clearErrors(root);
  banner(""); // the last save's word goes: what shows next is this one's
  try {
    await api(method, path, { body });
  } catch (err) {
    if (err.status === 422) showFieldError(root, err.details.field, t(keyOf(err.details.field, err.code)));
    ctx.fail(err);
    return false;
  }
  await ctx.reload();
  banner(t("a_saved"), "info");
  return true;
}

// --- the questionnaire ------------------------------------------------------------------

function settingsForm(ctx, instrument, standard) {
  const inDays = instrument.valid_hours % 24 === 0;
  const windowField = h(
    "div",
    { class: "window", dataset: { field: "valid_hours" } },
    field("sv_window", { name: "window", type: "number", step: "any", value: inDays ? instrument.valid_hours / 24 : instrument.valid_hours }, "sv_window_hint"),
    field("sv_unit", select("unit", [["days", t("sv_days")], ["hours", t("sv_hours")]], inDays ? "days" : "hours")),
  );
  const minGroup = field("sv_min_group", { name: "min_group", type: "number", step: "any", value: instrument.min_group }, "sv_min_group_hint");
  minGroup.dataset.field = "min_group";
  const enabled = checkbox("enabled", t("sv_enabled"), instrument.enabled);
  enabled.dataset.field = "enabled";
  const restored = new Set();
  const questions = instrument.elements.map((q, i) => {
    const base = standard.elements[i];
    const inputs = ["id", "en"].map((lang, j) => h("input", { name: `${q.key}_${lang}`, value: q.text[j], maxlength: 300 }));
    const restore = () => {
      inputs.forEach((input, j) => (input.value = base.text[j]));
      restored.add(q.key);
    };
    return h(
      "fieldset",
      { class: "question", dataset: { field: q.key, element: q.key } },
      h("legend", {}, `${q.key} ${pick(q.title)}`),
      field("sv_text_id", inputs[0]),
      field("sv_text_en", inputs[1]),
      h("button", { type: "button", class: "secondary small restore", onclick: restore, "aria-label": `${t("sv_restore")} ${q.key}` }, t("sv_restore")),
    );
  });
  const extras = h("div", { class: "extras" });
  const add = h("button", { type: "button", class: "secondary add-extra" }, t("sv_extra_add"));
  const labelsOf = new Map(instrument.extras.map((q) => [q.key, q.labels]));
  const addExtra = (q) => {
    const key = q ? q.key : nextKey(extras);
    const box = h(
      "fieldset",
      { class: "extra", dataset: { key } },
      h("legend", {}, key),
      ["title", "text"].flatMap((part) =>
        ["id", "en"].map((lang, j) => field(`sv_${part}_${lang}`, { name: `${key}_${part}_${lang}`, value: q ? q[part][j] : "", maxlength: 300 })),
      ),
      h("button", { type: "button", class: "secondary small", onclick: () => (box.remove(), (add.disabled = false)) }, t("sv_extra_remove", { key })),
    );
    extras.append(box);
    add.disabled = extras.children.length >= MAX_EXTRAS;
  };
  add.addEventListener("click", () => addExtra(null));
  instrument.extras.forEach(addExtra);

  const editor = form(
    "sv_settings",
    [
      h("div", { class: "version", dataset: { fieldDefault: "" } }, t("sv_version", { n: instrument.version })),
      enabled,
      windowField,
      minGroup,
      h("fieldset", { class: "questions" }, h("legend", {}, t("sv_questions")), questions),
      h("fieldset", { class: "extras-box", dataset: { field: "extras" } }, h("legend", {}, t("sv_extras")), h("p", { class: "hint" }, t("sv_extras_hint")), extras, add),
    ],
    (v) => {
      const body = {
        enabled: v.enabled,
        valid_hours: v.unit === "days" ? v.window * 24 : v.window,
        min_group: v.min_group,
        questions: Object.fromEntries(
          instrument.elements.map((q, i) => {
            const change = { text: [v[`${q.key}_id`], v[`${q.key}_en`]] };
            if (restored.has(q.key)) change.labels = standard.elements[i].labels;
            return [q.key, change];
          }),
        ),
        extras: [...extras.children].map((box, i) => {
          const key = box.dataset.key;
          box.dataset.field = `extras[${i}]`; // the index the server names in a refusal
          const pair = (part) => [v[`${key}_${part}_id`], v[`${key}_${part}_en`]];
          return { key, title: pair("title"), text: pair("text"), labels: labelsOf.get(key) || SCALE };
        }),
      };
      return send(ctx, editor, "PUT", `/sites/${ctx.site}/survey`, body, errorKey);
    },
    { name: "survey" },
  );
  editor.noValidate = true; // the server's rules, said at the field (not the browser's own bubbles)
  return editor;
}

function nextKey(extras) {
  const used = new Set([...extras.children].map((box) => box.dataset.key));
  for (let n = 1; ; n++) if (!used.has(`X${n}`)) return `X${n}`;
}

// --- the follow-up plan -----------------------------------------------------------------

async function planEditor(ctx, instrument, plans) {
  const titles = Object.fromEntries(instrument.elements.map((q) => [q.key, q.title]));
  const now = new Date();
  const state = ctx.planPeriod || { kind: "quarter", year: now.getFullYear(), part: `Q${Math.floor(now.getMonth() / 3) + 1}` };
  const partSelect = () => select("part", PARTS[state.kind].map(([code, name]) => [code, name]), state.part);
  let part = partSelect();
  const kind = select("kind", ["quarter", "semester", "year", "month"].map((k) => [k, t(`sv_${k}`)]), state.kind);
  const partField = field("sv_part", part);
  partField.hidden = state.kind === "year";
  kind.addEventListener("change", () => {
    state.kind = kind.value;
    state.part = PARTS[state.kind][0][0];
    part = partSelect();
    partField.replaceChildren(partField.firstChild, part);
    partField.hidden = state.kind === "year";
  });
  const year = h("input", { name: "year", type: "number", value: state.year, min: 2000, max: 2999 });
  const picker = h(
    "form",
    { class: "inline period-picker", "data-form": "period" },
    field("sv_period_kind", kind),
    field("sv_year", year),
    partField,
    h("button", { type: "submit", class: "secondary" }, t("sv_show")),
  );
  picker.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { kind: kind.value, year: year.value, part: part.value });
    ctx.planPeriod = state;
    ctx.reload();
  });

  const period = periodOf(state.kind, state.year, state.part);
  let figures = null;
  try {
    figures = await get(`/sites/${ctx.site}/survey/results?first=${period.first}&last=${period.last}`);
  } catch (err) {
    if (err.code !== "invalid_period") throw err;
  }
  const index = figures && figures.index;
  const scores = Object.fromEntries((index ? index.elements : []).map((e) => [e.key, e]));
  // the weakest first (the lowest score), then the others; without an index, in their order
  const order = instrument.elements.map((q) => q.key);
  if (index) order.sort((a, b) => Number(scores[a].nrr) - Number(scores[b].nrr));
  const existing = plans.find((p) => p.period === period.label);
  const actions = actionsOf(existing);

  const summary = !figures
    ? h("p", { class: "notice" }, t("sv_bad_period"))
    : index
      ? h("p", { class: "summary" }, t("sv_result", { period: period.label, ikm: index.converted, grade: index.grade.letter, n: figures.respondents }))
      : h("p", { class: "summary" }, t("sv_too_few", { period: period.label, n: figures.respondents, min: figures.min_group }));
  const rows = table(["sv_element", "sv_score", "sv_action"], order, (key) => {
    const e = scores[key];
    const name = pick(titles[key]);
    return h(
      "tr",
      { dataset: { element: key }, class: e && e.lowest ? "lowest" : null },
      h("th", { scope: "row" }, `${key} ${name}`, e && e.lowest ? h("strong", { class: "tag" }, ` (${t("sv_lowest")})`) : null),
      h("td", { class: "num" }, e ? e.converted : "—"),
      h("td", {}, h("textarea", { name: `action_${key}`, rows: 2, maxlength: 2000, "aria-label": t("sv_action_for", { key, name }) }, actions[key] || "")),
    );
  });
  const editor = form(
    "sv_plan",
    [h("div", { class: "hint", dataset: { fieldDefault: "" } }, t("sv_plan_intro")), summary, h("div", { class: "actions-table", dataset: { field: "text" } }, rows)],
    (v) => {
      const chosen = instrument.elements.map((q) => q.key).filter((key) => v[`action_${key}`]);
      clearErrors(editor);
      if (!chosen.length) {
        showFieldError(editor, "text", t("sv_plan_empty"));
        return false;
      }
      const text = planText(chosen.map((key) => [key, titles[key][0], v[`action_${key}`]]));
      const body = { period: period.label, elements: chosen, text };
      return send(ctx, editor, "PUT", `/sites/${ctx.site}/survey/plan`, body, (name) => (name === "period" ? "sv_bad_period" : name === "text" ? "sv_bad_plan_text" : "sv_bad_field"));
    },
    { name: "plan", submit: "sv_plan_save" },
  );
  editor.noValidate = true;
  editor.classList.add("plan-editor");
  const url = `/skm/${encodeURIComponent(ctx.site)}`;
  const published = h(
    "section",
    { class: "card published-plans" },
    h("h3", {}, t("sv_published")),
    plans.length
      ? h(
          "ul",
          {},
          plans.map((p) => h("li", { dataset: { period: p.period } }, h("strong", {}, p.period), " · ", p.elements.join(", "), h("p", { class: "plan-text" }, p.text))),
        )
      : h("p", { class: "empty" }, t("a_none")),
    h("p", {}, h("a", { href: url, target: "_blank", rel: "noopener" }, t("sv_public_page", { site: ctx.site }))),
  );
  return h("div", { class: "survey-plan" }, picker, editor, published);
}
