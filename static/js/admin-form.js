// Small form and table helpers for the admin app: fields by name, values back
// as JSON-ready data, and the table rows an admin edits from.

import { t } from "./i18n.js";
import { h } from "./ui.js";

/** A labelled field; `input` is an element or the attributes of an <input>. */
export function field(label, input, hint) {
  const el = input instanceof Node ? input : h("input", input);
  return h("label", { class: "field" }, h("span", {}, t(label)), el, hint ? h("small", {}, t(hint)) : null);
}

export function select(name, options, value) {
  return h(
    "select",
    { name },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
  );
}

export function checkbox(name, label, checked = false, value = "on") {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, value, checked }), " ", label);
}

/** The form's values: numbers for type=number, booleans for lone checkboxes, lists for groups. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") {
      const group = form.querySelectorAll(`input[type=checkbox][name="${el.name}"]`).length > 1 || el.value !== "on";
      if (group) {
        out[el.name] ||= [];
        if (el.checked) out[el.name].push(el.value);
      } else out[el.name] = el.checked;
    } else if (el.type === "number") out[el.name] = el.value === "" ? 0 : Number(el.value);
    else out[el.name] = el.value.trim();
  }
  return out;
}

/** Put `data` into the form's fields (an admin's "edit" on a row). */
export function fill(form, data) {
  for (const el of form.elements) {
    if (!el.name || !(el.name in data)) continue;
    const v = data[el.name];
    if (el.type === "checkbox") el.checked = Array.isArray(v) ? v.map(String).includes(el.value) : Boolean(v);
    else el.value = v ?? "";
  }
}

export function table(columns, rows, rowOf) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, t(c))))),
    h(
      "tbody",
      {},
      rows.length ? rows.map(rowOf) : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, t("a_none"))),
    ),
  );
}

/** A form whose submit runs `save(values)` with its button disabled while pending. */
export function form(title, fields, save, { submit = "a_save", name } = {}) {
  const button = h("button", { type: "submit" }, t(submit));
  const el = h("form", { class: "card editor", "data-form": name }, h("h3", {}, t(title)), fields, h("div", { class: "actions" }, button));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    button.dataset.pending = "";
    try {
      await save(values(el));
    } finally {
      button.disabled = false;
      delete button.dataset.pending;
    }
  });
  return el;
}
