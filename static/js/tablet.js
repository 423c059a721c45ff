// The counter tablet, /tablet?token=… (docs/survey.md "The counter tablet"): a tablet
// facing the visitor at one counter. While idle it shows a thank-you screen and asks
// GET /api/v1/tablet/survey every 3 s; when the visit just completed at its counter may
// be rated, it shows the questions (survey.js). After an answer, a press on Lewati, or
// 90 s without a touch, it returns to the thank-you screen and drops every choice: the
// next visitor sees nothing of the last one's answers, and no score is ever shown. A
// survey put away is closed on the server too (POST /api/v1/tablet/survey/skip).

import { deviceToken, get, post } from "./api.js";
import { errorText, getLang, setLang, startLanguage, t } from "./i18n.js";
import { surveyFor } from "./survey.js";
import { $, h } from "./ui.js";

const POLL_MS = 3000; // while idle: how soon a completed visit's survey appears
const UNTOUCHED_MS = 90_000; // a survey nobody touches for this long is put away
const THANKS_MS = 5000; // the thank-you after an answer, before the idle screen
const RETRY_MS = 30_000; // after an error the tablet cannot mend itself (a revoked link)

const STORE = "qms.tablet.token";
const main = $("#app");
let counterName = "";
let dismissed = null; // closes_at of the survey last put away: it does not come back
let shown = null; // { survey, closesAt } while the questions are on screen
let poller = null;
let untouched = null;
let problem = "";

const token = deviceToken(STORE); // out of the address bar the visitor faces

function screen(name, ...children) {
  main.dataset.screen = name;
  main.replaceChildren(...children);
}

function idle() {
  shown = null;
  clearTimeout(untouched);
  if (getLang() !== "id") setLang("id"); // the next visitor starts in Bahasa Indonesia
  renderIdle();
  poll(POLL_MS);
}

function renderIdle() {
  screen(
    "idle",
    h(
      "section",
      { class: "idle", role: "status" },
      h("h2", {}, t("tb_idle")),
      counterName ? h("p", { class: "counter" }, counterName) : null,
      h("p", {}, t("tb_idle_more")),
      problem ? h("p", { class: "tablet-error", role: "alert" }, problem) : null,
    ),
  );
}

function thanks() {
  shown = null;
  clearTimeout(untouched);
  screen("thanks", h("section", { class: "thanks", role: "status" }, h("h2", {}, t("s_thanks")), h("p", {}, t("s_thanks_more"))));
  setTimeout(idle, THANKS_MS);
}

// Lewati, or 90 s untouched: the server is told (a survey_skipped event), so that no
// page of this tablet, after a reload too, asks about that visit again; the page's own
// memory covers the moment the request is on its way (or fails: nothing is lost).
function putAway() {
  if (shown) {
    dismissed = shown.closesAt;
    post("/tablet/survey/skip", { closes_at: shown.closesAt }, { token }).catch(() => {});
  }
  idle();
}

function poll(ms) {
  clearTimeout(poller);
  poller = setTimeout(check, ms);
}

async function check() {
  if (shown) return;
  let got;
  try {
    got = await get("/tablet/survey", { token });
  } catch (err) {
    problem = errorText(err);
    if (!shown && main.dataset.screen !== "thanks") renderIdle();
    poll(err.status === 401 || err.status === 403 || err.status === 404 ? RETRY_MS : POLL_MS);
    return;
  }
  problem = "";
  counterName = got.counter;
  if (got.status === "open" && got.closes_at !== dismissed) return show(got);
  if (main.dataset.screen !== "thanks") renderIdle();
  poll(POLL_MS);
}

function show(got) {
  const closesAt = got.closes_at;
  const survey = surveyFor("", "/tablet/survey", {
    token,
    initial: got,
    extra: { closes_at: closesAt },
    // Not "staff never see who answered": the officer sits across this screen.
    intro: "tb_intro",
    onSkip: putAway,
    onEnd: (status) => {
      dismissed = closesAt;
      if (status === "answered") thanks();
      else idle();
    },
  });
  shown = { survey, closesAt };
  screen("survey", survey.el);
  touched();
}

function touched() {
  clearTimeout(untouched);
  if (shown) untouched = setTimeout(putAway, UNTOUCHED_MS);
}

for (const kind of ["pointerdown", "keydown", "input"]) document.addEventListener(kind, touched, { capture: true, passive: true });
startLanguage(() => {
  if (shown) shown.survey.render();
  else if (main.dataset.screen === "idle") renderIdle();
});
if (!token) screen("error", h("p", { class: "tablet-error", role: "alert" }, t("err_no_device_token")));
else idle();
