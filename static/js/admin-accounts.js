// The admin's people and devices (docs/security.md): users with their role and
// sites, password resets, disabling; display, kiosk and counter tablet links, whose
// token is shown once, and their revocation.

import { get, post } from "./api.js";
import { t } from "./i18n.js";
import { field, form, select, table } from "./admin-form.js";
import { banner, h } from "./ui.js";

const ROLES = ["officer", "supervisor", "admin", "viewer"];

export async function usersSection(ctx) {
  const { users } = await get("/users");
  const editor = form(
    "a_user_add",
    [
      field("a_username", { name: "username", required: true, pattern: "[a-z0-9][a-z0-9._\\-]*", maxlength: 64, autocomplete: "off" }),
      field("a_role", select("role", ROLES.map((r) => [r, t(`a_role_${r}`)]), "officer")),
      field("a_sites", { name: "sites", value: ctx.site }, "a_sites_hint"),
      field("a_password", { name: "password", type: "password", minlength: 8, required: true, autocomplete: "new-password" }),
    ],
    ({ sites, ...rest }) => ctx.save("/users", { ...rest, sites: rest.role === "admin" ? [] : list(sites) }, "POST"),
    { submit: "a_create", name: "user" },
  );
  return [
    table(["a_username", "a_role", "a_sites", "a_status", ""], users, (u) =>
      h(
        "tr",
        { dataset: { user: u.username } },
        h("td", {}, u.username),
        h("td", {}, t(`a_role_${u.role}`)),
        h("td", {}, u.role === "admin" ? "*" : u.sites.join(", ")),
        h("td", {}, t(u.active ? "a_active" : "a_disabled")),
        h("td", { class: "row-actions" }, resetForm(ctx, u), h("button", { type: "button", class: "secondary small", onclick: () => ctx.save(`/users/${u.username}`, { active: !u.active }) }, t(u.active ? "a_disable" : "a_enable"))),
      ),
    ),
    editor,
  ];
}

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

/** "Reset password" opens a one-field form in the user's row. */
function resetForm(ctx, user) {
  const input = h("input", { type: "password", name: "password", minlength: 8, required: true, autocomplete: "new-password", "aria-label": t("a_new_password"), placeholder: t("a_new_password") });
  const inline = h("form", { class: "inline", hidden: true }, input, h("button", { type: "submit", class: "small" }, t("a_save")));
  inline.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await ctx.save(`/users/${user.username}/password`, { password: input.value }, "POST", false);
    if (done) banner(t("a_password_reset_done", { user: user.username }), "info");
  });
  const open = h("button", { type: "button", class: "secondary small" }, t("a_reset"));
  open.addEventListener("click", () => {
    inline.hidden = !inline.hidden;
    if (!inline.hidden) input.focus();
  });
  return h("span", {}, open, inline);
}

export async function devicesSection(ctx) {
  const { devices } = await get(`/devices?site=${encodeURIComponent(ctx.site)}`);
  // A tablet is bound to one of the site's counters (none yet on a site not set up).
  const counters = await get(`/sites/${encodeURIComponent(ctx.site)}`).then((s) => s.counters, () => []);
  const shown = h("div", { class: "once", hidden: true, role: "status" });
  const editor = form(
    "a_device_add",
    [
      field("a_kind", select("kind", ["display", "kiosk", "tablet"].map((k) => [k, t(`a_kind_${k}`)]), "display")),
      field("a_zone", { name: "zone" }),
      field("a_tablet_counter", select("counter", [["", "—"], ...counters.map((c) => [c.counter, `${c.counter} · ${c.name}`])], ""), "a_tablet_counter_hint"),
      field("a_label", { name: "name" }),
    ],
    async ({ counter, ...v }) => {
      try {
        const added = await post("/devices", { ...v, site: ctx.site, ...(v.kind === "tablet" ? { counter } : {}) });
        await ctx.reload();
        showLink(ctx.view().querySelector(".once"), added);
      } catch (err) {
        ctx.fail(err);
      }
    },
    { submit: "a_create", name: "device" },
  );
  return [
    shown,
    table(["a_device", "a_kind", "a_zone", "a_tablet_counter", "a_label", "a_status", ""], devices, (d) =>
      h(
        "tr",
        { dataset: { device: d.device } },
        h("td", {}, d.device),
        h("td", {}, t(`a_kind_${d.kind}`)),
        h("td", {}, d.zone || "—"),
        h("td", {}, d.counter || "—"),
        h("td", {}, d.name || "—"),
        h("td", {}, t(d.revoked ? "a_revoked" : "a_active")),
        h("td", {}, d.revoked ? null : revokeButton(ctx, d)),
      ),
    ),
    editor,
  ];
}

/** The token, once: the link to open on the device, with a copy button. */
function showLink(box, added) {
  const link = h("input", { type: "text", readonly: true, value: added.link, class: "link", "aria-label": t("a_link_once") });
  const copy = h("button", { type: "button" }, t("a_copy"));
  copy.addEventListener("click", async () => {
    link.select();
    try {
      await navigator.clipboard.writeText(added.link);
    } catch {
      document.execCommand("copy"); // plain http on a LAN has no async clipboard
    }
    copy.textContent = t("a_copied");
  });
  box.replaceChildren(h("p", {}, h("strong", {}, `${added.device.device}: `), t("a_link_once")), h("div", { class: "copy-row" }, link, copy));
  box.hidden = false;
  link.focus();
  link.select();
}

/** Two presses revoke: the first arms the button, so a slip does not end a display's link. */
function revokeButton(ctx, device) {
  const button = h("button", { type: "button", class: "danger small" }, t("a_revoke"));
  button.addEventListener("click", () => {
    if (!button.dataset.armed) {
      button.dataset.armed = "1";
      button.textContent = t("a_revoke_confirm");
      return;
    }
    ctx.save(`/devices/${device.device}`, undefined, "DELETE");
  });
  return button;
}
