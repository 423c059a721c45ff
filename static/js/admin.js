// The admin app: sign in as an admin, pick a site, set up its agencies,
// services and counters, its people and its device links. Every change goes
// through the API (docs/api.md, docs/security.md); nothing is cached here, so
// each section shows the server's state after each change.

import { api, get } from "./api.js";
import { errorText, startLanguage, t } from "./i18n.js";
import { agenciesSection, countersSection, servicesSection, siteSection } from "./admin-hall.js";
import { devicesSection, usersSection } from "./admin-accounts.js";
import { surveySection } from "./admin-survey.js";
import { Gate } from "./staff.js";
import { $, banner, h } from "./ui.js";

const TABS = {
  site: siteSection,
  agencies: agenciesSection,
  services: servicesSection,
  counters: countersSection,
  users: usersSection,
  devices: devicesSection,
  survey: surveySection,
};
const SITES = "qms.admin.sites";
const main = $("#app");
let tab = "site";
let redraw = () => {};
// Signing in, a wrong role, an ended session, a server that is down: the staff pages' one gate.
const gate = new Gate({ roles: ["admin"], title: "a_signin_title", app: main, onReady: start });

function screen(name, ...children) {
  main.dataset.screen = name;
  main.replaceChildren(...children);
}

function message(err) {
  // The engine's invalid_command names the field at fault: say which.
  return err.code === "invalid_command" || err.code.startsWith("http_") ? `${errorText(err)} (${err.message})` : errorText(err);
}

function fail(err) {
  if (err.status === 401) return gate.expired();
  banner(message(err), "error");
}

function start() {
  app().catch((err) => (err.status === 0 ? offline(err) : fail(err)));
}

/** Signed in, but the server went away before the app was read: say so, and try again on a press. */
function offline(err) {
  redraw = () => offline(err);
  screen("offline", h("div", { class: "card notice", role: "alert" }, h("p", {}, errorText(err)), h("button", { type: "button", onclick: start }, t("a_retry"))));
}

// --- the app ---------------------------------------------------------------------------------
function knownSites(extra = []) {
  const stored = JSON.parse(localStorage.getItem(SITES) || "[]");
  return [...new Set([...stored, ...extra])].filter(Boolean).sort();
}

function remember(site) {
  localStorage.setItem(SITES, JSON.stringify(knownSites([site])));
  localStorage.setItem(`${SITES}.last`, site);
}

async function app() {
  // No route lists sites: the ones users and devices name, and those opened here before.
  const [{ users }, { devices }] = await Promise.all([get("/users"), get("/devices")]);
  const sites = knownSites([...users.flatMap((u) => u.sites), ...devices.map((d) => d.site)]);
  const last = localStorage.getItem(`${SITES}.last`);
  const ctx = { site: sites.includes(last) ? last : sites[0] || "" };

  const picker = h("select", { name: "site", "aria-label": t("a_site") }, sites.map((s) => h("option", { value: s, selected: s === ctx.site }, s)));
  const other = h("input", { name: "other", placeholder: t("a_other_site"), "aria-label": t("a_other_site"), pattern: "[a-z0-9][a-z0-9_\\-]*" });
  const openOther = h("form", { class: "inline" }, other, h("button", { type: "submit", class: "secondary" }, t("a_open_site")));
  const tabs = h("nav", { class: "tabs", "aria-label": t("a_title") });
  const view = h("section", { id: "section", "aria-live": "polite" });

  const load = async () => {
    if (!ctx.site) return view.replaceChildren();
    remember(ctx.site);
    tabs.replaceChildren(
      ...Object.keys(TABS).map((name) =>
        h("button", { type: "button", class: "tab", "aria-pressed": String(name === tab), dataset: { tab: name }, onclick: () => ((tab = name), banner(""), load()) }, t(`a_tab_${name}`)),
      ),
    );
    view.dataset.tab = tab;
    delete view.dataset.ready;
    try {
      view.replaceChildren(...(await TABS[tab](ctx)).filter(Boolean));
    } catch (err) {
      fail(err);
      view.replaceChildren(h("button", { type: "button", onclick: load }, t("a_retry")));
    }
    view.dataset.ready = "1";
  };
  Object.assign(ctx, {
    reload: load,
    fail,
    view: () => view,
    /** One change through the API; true when it was made (the section then shows the new state). */
    async save(path, body, method = "PUT", reload = true) {
      try {
        await api(method, path, { body });
        if (reload) await load();
        banner(t("a_saved"), "info");
        return true;
      } catch (err) {
        fail(err);
        return false;
      }
    },
  });
  picker.addEventListener("change", () => ((ctx.site = picker.value), load()));
  openOther.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!other.value) return;
    ctx.site = other.value.trim();
    if (![...picker.options].some((o) => o.value === ctx.site)) picker.append(h("option", { value: ctx.site }, ctx.site));
    picker.value = ctx.site;
    other.value = "";
    tab = "site";
    load();
  });
  redraw = () => app().catch(fail);
  screen("app", h("div", { class: "site-bar" }, h("label", {}, t("a_site"), " ", picker), openOther), tabs, view);
  await load();
}

startLanguage(() => !main.hidden && redraw()); // the gate redraws its own form
gate.start();
