// A service's walk-up survey, /skm/<site>/walk-up/<service> (docs/survey.md "Walk-up
// survey"): the QR code a hall posts per service, for visitors without a ticket. The
// questions and the sending are survey.js's, on GET/POST /api/v1/survey/{site}/walk-up/{service};
// the answers are counted apart from those of served visits.

import { get } from "./api.js";
import { pick, startLanguage, t } from "./i18n.js";
import { surveyFor } from "./survey.js";
import { $, h, showFailure } from "./ui.js";

const [, siteName, service] = location.pathname.match(/^\/skm\/([^/]+)\/walk-up\/([^/]+)/) || [];
const main = $("#app");
const path = `/survey/${siteName}/walk-up/${service}`;
let info = null;
let survey = null;

function render() {
  if (!info) return;
  main.dataset.state = info.status;
  const head = h(
    "section",
    { class: "head" },
    h("h2", {}, info.name),
    h("p", { class: "service" }, t("w_service", { name: pick(info.service.name) })),
    h("p", { class: "walk-up-note" }, t("w_walk_up")),
  );
  if (info.status !== "open") {
    main.replaceChildren(head, h("p", { class: "closed" }, t("w_off")));
    return;
  }
  survey = survey || surveyFor("", path);
  survey.render();
  main.replaceChildren(head, survey.el);
}

async function load() {
  try {
    info = await get(path);
    render();
  } catch (err) {
    showFailure(main, err);
  }
}

startLanguage(render);
load();
