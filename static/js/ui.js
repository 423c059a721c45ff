// Small DOM helpers shared by the pages. Text always goes in as text (never
// innerHTML): ticket numbers and running texts come from other people.

import { errorText, getLang, locale, t } from "./i18n.js";

/** h("div", {class: "x", onclick: fn}, "text", child…) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/**
 * The connection indicator: an element with data-conn. Returns the Stream's
 * onStatus callback. While not live, <body data-stale> lets the page's CSS dim
 * what may be out of date, so a page never shows stale state silently.
 */
export function connectionIndicator(el) {
  let last = { state: "connecting" };
  const render = () => {
    el.dataset.conn = last.state;
    el.setAttribute("role", "status");
    el.textContent = t(`conn_${last.state}`);
    el.title = last.reason || "";
    document.body.toggleAttribute("data-stale", last.state !== "live");
  };
  render();
  return (status) => {
    last = status;
    render();
  };
}

/** Show a message in the page's banner (an element with data-banner); empty hides it. */
export function banner(message, kind = "error") {
  const el = document.querySelector("[data-banner]");
  if (!el) return;
  el.textContent = message || "";
  el.dataset.kind = kind;
  el.hidden = !message;
}

export function showError(err) {
  banner(errorText(err), "error");
}

/** A page whose content could not be loaded: `main` shows why, as an alert. */
export function showFailure(main, err) {
  main.dataset.state = "error";
  main.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(err)));
}

export function formatClock(date = new Date(), timeZone) {
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone }).format(date);
}

export function formatDate(date = new Date(), timeZone) {
  return new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone,
  }).format(date);
}

/** Seconds as "m:ss" or "h:mm:ss" (a timer at a counter). */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  return hours ? `${hours}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}` : `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/** A wait in minutes, rounded, for people ("12 mnt"); "—" when unknown. */
export function formatWait(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return `${Math.round(seconds / 60)} ${getLang() === "en" ? "min" : "mnt"}`;
}
