// The visitor's page, /t/<ref>: one ticket's public status, on the visitor's phone.
//
// Light on purpose (a cheap phone on a slow network): no stream, no library,
// just a poll of GET /api/v1/tickets/{ref} (docs/api.md), every few seconds
// while the page is visible, slower when hidden, backing off on errors, and
// never again after a miss: misses are throttled per address, and a hall's
// visitors often share one. The ticket's state and the polling rules:
// visitor-model.js.

import { get } from "./api.js";
import { errorText, getLang, startLanguage, t } from "./i18n.js";
import { $, connectionIndicator, formatClock, formatWait, h } from "./ui.js";
import { VisitorModel } from "./visitor-model.js";

const ref = decodeURIComponent(location.pathname.replace(/^\/t\//, ""));
const main = $("#app");
const conn = connectionIndicator($("[data-conn]"));
const model = new VisitorModel(sessionStorage.getItem(`qms.call.${ref}`)); // a call already signalled
let timer = null;
let survey = null; // once the ticket is completed, its satisfaction survey (survey.js)

function render() {
  const view = model.screen();
  if (!view) return;
  if (view.state === "not_found") return notFound();
  const s = view.state;
  const counter = view.counter;
  const service = getLang() === "en" ? model.ticket.service_name_en : model.ticket.service_name_id;
  main.dataset.state = s;
  document.title = s === "called" ? `${view.number} → ${counter}` : `${view.number} — ${t("v_title")}`;
  main.replaceChildren(
    h(
      "section",
      { class: "ticket", "data-live": true },
      h("p", { class: "label" }, t("v_number")),
      h("p", { class: "number" }, view.number),
      h("p", { class: "service" }, service),
      s === "called"
        ? h("div", { class: "alert", role: "alert" }, h("p", {}, t("v_called")), h("p", { class: "go" }, t("v_go_to", { counter })))
        : h("p", { class: "state", role: "status" }, t(`v_state_${s}`, { counter })),
      s === "waiting"
        ? h(
            "dl",
            {},
            h("div", {}, h("dt", {}, t("v_ahead")), h("dd", { class: "ahead" }, t("v_people", { n: view.ahead }))),
            h(
              "div",
              {},
              h("dt", {}, t("v_est_wait")),
              h("dd", { class: "wait" }, view.estimatedWait === null ? t("v_no_estimate") : formatWait(view.estimatedWait)),
            ),
          )
        : null,
      h("p", { class: "explain" }, t(`v_explain_${s}`)),
    ),
  );
  if (s === "done") showSurvey();
  $("#updated").textContent = model.updated ? t("v_updated", { time: formatClock(new Date(model.updated)) }) : "";
}

/** Completed: the page turns into the satisfaction survey (survey.js, loaded only now, so
 * a waiting phone loads none of it); the survey asks the server whether it is open. */
async function showSurvey() {
  if (!survey) {
    const { surveyFor } = await import("./survey.js");
    survey = survey || surveyFor(ref);
  }
  survey.render();
  if (main.dataset.state === "done") main.append(survey.el);
}

function notFound() {
  main.dataset.state = "not_found";
  main.replaceChildren(
    h("section", { class: "ticket missing", role: "alert" }, h("h2", {}, t("v_not_found")), h("p", {}, t("v_not_found_help"))),
  );
}

function problem(err) {
  const message = err.code === "too_many_requests" ? t("v_throttled") : errorText(err);
  $("#problem").replaceChildren(message, " ", h("button", { type: "button", class: "secondary", onclick: pollNow }, t("v_retry")));
  $("#problem").hidden = false;
}

/** A new call (or a recall): vibrate once, where the phone allows. */
function signalCall() {
  sessionStorage.setItem(`qms.call.${ref}`, model.lastCall);
  if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 800]);
}

async function poll() {
  timer = null;
  try {
    const answer = await get(`/tickets/${encodeURIComponent(ref)}`);
    const fresh = model.answered(answer.ticket, Date.now());
    $("#problem").hidden = true;
    conn({ state: "live" });
    if (fresh) signalCall();
    render();
  } catch (err) {
    model.failed(err.code, err.details && err.details.retry_after);
    if (model.missing) {
      conn({ state: "live" });
      return notFound();
    }
    conn({ state: "offline", reason: err.message });
    problem(err);
  }
  schedule();
}

function schedule() {
  clearTimeout(timer);
  const delay = model.nextDelay(document.hidden, Math.random());
  if (delay !== null) timer = setTimeout(poll, delay);
}

function pollNow() {
  if (model.stopped) return;
  clearTimeout(timer);
  poll();
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && !model.failures) pollNow(); // back on screen: fresh at once
});
startLanguage(render);
poll();
