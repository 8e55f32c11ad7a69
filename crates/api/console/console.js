// Herald's console: the Webhooks page of one tenant, driven entirely through the public API
// with the credential it was opened with. The credential lives in this script's memory only
// (never a cookie or storage); everything shown from the API or from endpoints is inserted as
// text, never as markup.
"use strict";

const state = { token: null, tenant: null, scope: "read", admin: false, eventTypes: [], timer: null };

// --- DOM helpers -----------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes.filter(Boolean));
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString();
}

// --- the API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.field = error.field || null;
  }
}

async function api(method, path, body) {
  const options = { method, headers: { Authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (_) {
    throw new ApiError(0, { error: { message: "Herald cannot be reached. Check your connection and try again." } });
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401) signOut("Your session has ended. Open the console again from your app.");
    throw new ApiError(response.status, json);
  }
  return json;
}

const tenantPath = (rest) => `/v1/tenants/${encodeURIComponent(state.tenant)}${rest}`;
const canManage = () => state.admin || state.scope === "manage";

// --- signing in ------------------------------------------------------------------------------

function claimsOf(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json);
  } catch (_) {
    return null;
  }
}

function signIn(token, tenant) {
  const claims = claimsOf(token);
  state.token = token;
  if (claims && claims.sub) {
    state.tenant = claims.sub;
    state.scope = claims.scope === "manage" ? "manage" : "read";
    state.admin = false;
  } else {
    state.tenant = tenant || null;
    state.scope = "manage";
    state.admin = true;
  }
  document.getElementById("signin").hidden = true;
  const who = document.getElementById("who");
  who.textContent = state.admin
    ? "Operator"
    : `${state.tenant} · ${state.scope === "manage" ? "can manage" : "read only"}`;
  start();
}

function signOut(message) {
  state.token = null;
  clearInterval(state.timer);
  document.getElementById("who").textContent = "";
  show(h("p", { class: "error card" }, message));
  document.getElementById("signin").hidden = false;
}

async function start() {
  try {
    state.eventTypes = await api("GET", "/v1/event-types");
  } catch (error) {
    show(h("p", { class: "error card" }, error.message));
    return;
  }
  if (state.admin && !state.tenant) return tenantPicker();
  listView();
}

function tenantPicker() {
  const input = h("input", { id: "tenant", type: "text", placeholder: "acme", required: true });
  show(
    h("section", { class: "card" },
      h("h2", {}, "Choose a tenant"),
      h("form", { onsubmit: (event) => { event.preventDefault(); state.tenant = input.value.trim(); listView(); } },
        h("label", { for: "tenant" }, "Tenant"), input,
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Show webhooks")))),
    operatorQueues());
}

// --- the list --------------------------------------------------------------------------------

function badge(attempt, enabled, webhook) {
  if (!enabled) {
    const failing = webhook && webhook.disabledReason === "failing";
    const since = webhook && webhook.disabledAt ? ` since ${when(webhook.disabledAt)}` : "";
    return h("span", { class: "badge disabled", title: (failing ? "Disabled by Herald: the endpoint kept failing" : "Disabled") + since },
      failing ? "Disabled: failing" : "Disabled");
  }
  if (!attempt) return h("span", { class: "badge none" }, "No deliveries yet");
  const label = { delivered: "Delivered", "will-retry": "Retrying", failed: "Failed" }[attempt.result] || attempt.result;
  const detail = [
    attempt.responseStatus ? `HTTP ${attempt.responseStatus}` : null,
    attempt.error,
    when(attempt.attemptedAt),
  ].filter(Boolean).join(" · ");
  return h("span", { class: `badge ${attempt.result}`, title: detail, "data-result": attempt.result }, label);
}

async function listView() {
  clearInterval(state.timer);
  const body = h("tbody", {});
  const table = h("table", { class: "responsive" },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Endpoint"), h("th", {}, "Events"), h("th", {}, "Last delivery"))),
    body);
  const header = h("div", { class: "row spread" },
    h("h2", {}, state.admin ? `Webhooks of ${state.tenant}` : "Webhooks"),
    h("div", { class: "row" },
      state.admin ? h("button", { onclick: tenantPicker }, "Other tenant") : null,
      canManage() ? h("button", { class: "primary", id: "new-webhook", onclick: () => formView(null) }, "New webhook") : null));
  const card = h("section", { class: "card" }, header, h("div", { id: "list" }, table));
  show(card, state.admin ? operatorQueues() : null);
  const render = async () => {
    let page;
    try {
      page = await api("GET", tenantPath("/webhooks?limit=100"));
    } catch (error) {
      card.querySelector("#list").replaceChildren(h("p", { class: "error" }, error.message));
      return;
    }
    if (page.items.length === 0) {
      card.querySelector("#list").replaceChildren(h("p", { class: "empty", id: "empty" },
        canManage() ? "No webhooks yet — create one to receive events." : "No webhooks yet."));
      return;
    }
    card.querySelector("#list").replaceChildren(table);
    body.replaceChildren(...page.items.map((webhook) => h("tr", { "data-webhook": webhook.id },
      h("td", {}, h("a", { href: "#", onclick: (event) => { event.preventDefault(); detailView(webhook.id); } }, webhook.name)),
      h("td", { class: "url" }, webhook.url),
      h("td", {}, webhook.eventTypes.join(", ")),
      h("td", {}, badge(webhook.lastAttempt, webhook.enabled, webhook)))));
  };
  await render();
  state.timer = setInterval(render, 3000);
}

// --- create and edit -------------------------------------------------------------------------

function formView(webhook) {
  clearInterval(state.timer);
  const field = (id, label, input, hint) => h("div", { "data-field": id },
    h("label", { for: id }, label), input, hint ? h("small", { class: "muted" }, hint) : null,
    h("div", { class: "field-error", id: `${id}-error`, role: "alert" }));
  const name = h("input", { id: "name", type: "text", required: true, value: webhook ? webhook.name : "" });
  const url = h("input", { id: "url", type: "url", required: true, placeholder: "https://example.com/webhooks", value: webhook ? webhook.url : "" });
  const headerName = h("input", { id: "authHeader.name", type: "text", placeholder: "Authorization", value: webhook && webhook.authHeader ? webhook.authHeader.name : "" });
  const headerValue = h("input", { id: "authHeader.value", type: "password", autocomplete: "off",
    placeholder: webhook && webhook.authHeader ? "Unchanged (write-only)" : "" });
  const description = h("textarea", { id: "description", rows: 2 }, webhook && webhook.description ? webhook.description : "");
  const boxes = state.eventTypes.map((type) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "eventTypes", value: type.name,
      checked: webhook ? webhook.eventTypes.includes(type.name) : false }),
    h("span", {}, type.name, h("small", {}, type.description))));
  const types = h("fieldset", { id: "eventTypes", "data-field": "eventTypes" }, h("legend", {}, "Event types"), boxes,
    h("div", { class: "field-error", id: "eventTypes-error", role: "alert" }));
  const problem = h("p", { class: "error", role: "alert" });
  const form = h("form", { id: "webhook-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
    problem.textContent = "";
    const body = {
      name: name.value,
      url: url.value,
      eventTypes: boxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => box.value),
      description: description.value.trim() ? description.value : null,
    };
    if (headerName.value.trim() && (headerValue.value || !webhook)) {
      body.authHeader = { name: headerName.value.trim(), value: headerValue.value };
    } else if (!headerName.value.trim()) {
      body.authHeader = null;
    }
    try {
      const saved = webhook
        ? await api("PATCH", tenantPath(`/webhooks/${webhook.id}`), body)
        : await api("POST", tenantPath("/webhooks"), body);
      toast(webhook ? "Webhook saved." : "Webhook created.");
      detailView(saved.id);
    } catch (error) {
      const slot = error.field && form.querySelector(`[id="${CSS.escape(error.field)}-error"]`);
      if (slot) slot.textContent = error.message; else problem.textContent = error.message;
    }
  } },
    field("name", "Name", name),
    field("url", "Endpoint URL", url, "Herald POSTs each event here as JSON."),
    field("authHeader.name", "Auth header name (optional)", headerName),
    field("authHeader.value", "Auth header value", headerValue, "Sent with every delivery; never shown again."),
    types,
    field("description", "Description (optional)", description),
    problem,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, webhook ? "Save" : "Create"),
      h("button", { type: "button", onclick: () => (webhook ? detailView(webhook.id) : listView()) }, "Cancel")));
  show(h("section", { class: "card" }, h("h2", {}, webhook ? `Edit ${webhook.name}` : "New webhook"), form));
  name.focus();
}

// --- one webhook -----------------------------------------------------------------------------

async function detailView(id) {
  clearInterval(state.timer);
  let webhook;
  try {
    webhook = await api("GET", tenantPath(`/webhooks/${id}`));
  } catch (error) {
    show(h("p", { class: "error card" }, error.message), h("button", { onclick: listView }, "Back to webhooks"));
    return;
  }
  const path = tenantPath(`/webhooks/${id}`);
  const manage = canManage();
  const secret = h("code", { class: "mono", id: "secret" }, "••••••••••••••••");
  let revealed = false;
  const secretCard = h("section", { class: "card" },
    h("h3", {}, "Signing secret"),
    h("p", { class: "muted" }, "Verify the webhook-signature header of each delivery with this secret (Standard Webhooks)."),
    h("div", { class: "row" }, secret,
      h("button", { onclick: (event) => { revealed = !revealed; secret.textContent = revealed ? webhook.signingSecret : "••••••••••••••••"; event.target.textContent = revealed ? "Hide" : "Show"; } }, "Show"),
      h("button", { onclick: async () => { await navigator.clipboard.writeText(webhook.signingSecret); toast("Secret copied."); } }, "Copy"),
      manage ? h("button", { id: "rotate", onclick: async () => {
        if (!confirm("Rotate the signing secret? The old one keeps signing alongside the new one for 24 hours, so update your endpoint within a day.")) return;
        try {
          webhook = await api("POST", `${path}/rotate-secret`);
          revealed = true;
          secret.textContent = webhook.signingSecret;
          toast("New secret in use; the old one keeps signing for 24 hours.");
        } catch (error) { toast(error.message); }
      } }, "Rotate") : null));

  const testResult = h("div", { id: "test-result", "aria-live": "polite" });
  const picker = h("select", { id: "test-type", "aria-label": "Event type to send" },
    webhook.eventTypes.map((type) => h("option", { value: type }, type)));
  const testCard = manage ? h("section", { class: "card" },
    h("h3", {}, "Send a test event"),
    h("div", { class: "row" }, picker, h("button", { id: "send-test", onclick: async () => {
      testResult.replaceChildren(h("p", { class: "muted" }, "Sending…"));
      try {
        const attempt = await api("POST", `${path}/test`, { eventType: picker.value });
        testResult.replaceChildren(attemptSummary(attempt));
      } catch (error) { testResult.replaceChildren(h("p", { class: "error" }, error.message)); }
    } }, "Send test")), testResult) : null;

  const header = h("section", { class: "card" },
    h("div", { class: "row spread" },
      h("div", {}, h("h2", {}, webhook.name), h("div", { class: "url mono" }, webhook.url)),
      badge(webhook.lastAttempt, webhook.enabled, webhook)),
    webhook.disabledReason === "failing" ? h("p", { class: "error", id: "disabled-notice" },
      `Herald disabled this webhook on ${when(webhook.disabledAt)} because its endpoint kept failing. ` +
      "Fix the endpoint, enable the webhook, then replay its failed deliveries below.") : null,
    h("p", { class: "muted" }, `Events: ${webhook.eventTypes.join(", ")}`),
    webhook.description ? h("p", {}, webhook.description) : null,
    h("div", { class: "actions" },
      h("button", { onclick: listView }, "Back"),
      manage ? h("button", { onclick: () => formView(webhook) }, "Edit") : null,
      manage ? h("button", { id: "toggle", onclick: async () => {
        try { await api("PATCH", path, { enabled: !webhook.enabled }); detailView(id); } catch (error) { toast(error.message); }
      } }, webhook.enabled ? "Disable" : "Enable") : null,
      manage ? h("button", { class: "danger", id: "delete", onclick: async () => {
        if (!confirm(`Delete “${webhook.name}”? Deliveries still owed to it are dropped.`)) return;
        try { await api("DELETE", path); toast("Webhook deleted."); listView(); } catch (error) { toast(error.message); }
      } }, "Delete") : null));

  show(header, testCard, secretCard, await chartCard(path), attemptsCard(path), await failedCard(id));
}

function attemptSummary(attempt) {
  return h("div", { class: "row" },
    badge(attempt, true),
    h("span", {}, attempt.responseStatus ? `HTTP ${attempt.responseStatus}` : "No response"),
    h("span", { class: "muted" }, `${attempt.durationMs} ms`),
    attempt.error ? h("span", { class: "error" }, attempt.error) : null,
    attempt.responseExcerpt ? h("details", {}, h("summary", {}, "Response"), h("pre", {}, attempt.responseExcerpt)) : null);
}

function attemptsCard(path) {
  const body = h("tbody", {});
  const filter = h("select", { id: "attempt-filter", "aria-label": "Show attempts" },
    h("option", { value: "" }, "All results"), h("option", { value: "delivered" }, "Delivered"),
    h("option", { value: "will-retry" }, "Retrying"), h("option", { value: "failed" }, "Failed"));
  const more = h("button", { hidden: true }, "Older attempts");
  let cursor = null;
  const load = async (reset) => {
    if (reset) { body.replaceChildren(); cursor = null; }
    const query = `?limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    try {
      const page = await api("GET", `${path}/attempts${query}`);
      const rows = page.items.filter((a) => !filter.value || a.result === filter.value);
      body.append(...rows.map((a) => h("tr", {},
        h("td", {}, when(a.attemptedAt)), h("td", {}, a.eventType, a.test ? " (test)" : ""),
        h("td", {}, badge(a, true)), h("td", {}, a.responseStatus ?? "—"), h("td", {}, `${a.durationMs} ms`),
        h("td", {}, a.error || "", a.responseExcerpt ? h("details", {}, h("summary", {}, "Response"), h("pre", {}, a.responseExcerpt)) : null))));
      if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No attempts yet — send a test event.")));
      cursor = page.nextCursor;
      more.hidden = !cursor;
    } catch (error) { body.append(h("tr", {}, h("td", { colspan: 6, class: "error" }, error.message))); }
  };
  filter.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  load(true);
  return h("section", { class: "card" },
    h("div", { class: "row spread" }, h("h3", {}, "Attempt log"), filter),
    h("table", { class: "responsive", id: "attempts" },
      h("thead", {}, h("tr", {}, ["When", "Event", "Result", "Status", "Took", "Details"].map((t) => h("th", {}, t)))), body),
    h("div", { class: "actions" }, more));
}

async function chartCard(path) {
  const holder = h("div", { class: "chart" });
  const draw = async (window) => {
    let stats;
    try { stats = await api("GET", `${path}/stats?window=${window}`); } catch (error) {
      holder.replaceChildren(h("p", { class: "error" }, error.message)); return;
    }
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    const n = stats.buckets.length;
    const max = Math.max(1, ...stats.buckets.map((b) => b.delivered + b.willRetry + b.failed));
    svg.setAttribute("viewBox", `0 0 ${n * 10} 100`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    const total = stats.buckets.reduce((sum, b) => sum + b.delivered + b.willRetry + b.failed, 0);
    svg.setAttribute("aria-label", `${total} attempts in the last ${window}`);
    stats.buckets.forEach((bucket, i) => {
      let y = 100;
      for (const [key, cls] of [["delivered", "delivered"], ["willRetry", "will-retry"], ["failed", "failed"]]) {
        const height = (bucket[key] / max) * 95;
        if (!height) continue;
        y -= height;
        const rect = document.createElementNS(ns, "rect");
        rect.setAttribute("x", i * 10 + 1); rect.setAttribute("width", 8);
        rect.setAttribute("y", y); rect.setAttribute("height", height);
        rect.setAttribute("class", cls);
        const title = document.createElementNS(ns, "title");
        title.textContent = `${when(bucket.start)}: ${bucket.delivered} delivered, ${bucket.willRetry} retrying, ${bucket.failed} failed`;
        rect.append(title);
        svg.append(rect);
      }
    });
    holder.replaceChildren(total ? svg : h("p", { class: "empty" }, `No deliveries in the last ${window}.`));
  };
  const select = h("select", { "aria-label": "Chart window", onchange: (e) => draw(e.target.value) },
    h("option", { value: "24h" }, "Last 24 hours"), h("option", { value: "7d" }, "Last 7 days"));
  await draw("24h");
  return h("section", { class: "card" }, h("div", { class: "row spread" }, h("h3", {}, "Deliveries"), select), holder);
}

async function failedCard(id) {
  const list = h("div", { id: "failed" });
  const load = async () => {
    let page;
    try { page = await api("GET", tenantPath(`/failed?webhookId=${encodeURIComponent(id)}&limit=50`)); } catch (error) {
      list.replaceChildren(h("p", { class: "error" }, error.message)); return;
    }
    if (!page.items.length) { list.replaceChildren(h("p", { class: "empty" }, "No failed deliveries.")); return; }
    list.replaceChildren(h("table", { class: "responsive" },
      h("thead", {}, h("tr", {}, ["Failed", "Event", "Attempts", "Last error", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, page.items.map((f) => h("tr", { "data-event": f.eventId },
        h("td", {}, when(f.failedAt)), h("td", {}, f.eventType, h("div", { class: "mono muted" }, f.eventId)),
        h("td", {}, f.attempts), h("td", {}, f.lastError || ""),
        h("td", {}, canManage() ? h("button", { class: "replay", onclick: async () => {
          try {
            const done = await api("POST", tenantPath("/failed/replay"), { webhookId: id, eventIds: [f.eventId] });
            toast(done.replayed ? "Sent again with a fresh set of retries." : "It was already replayed.");
            load();
          } catch (error) { toast(error.message); }
        } }, "Replay") : null))))));
  };
  await load();
  return h("section", { class: "card" }, h("h3", {}, "Failed deliveries"),
    h("p", { class: "muted" }, "Deliveries that failed every retry. Fix the endpoint, then replay them."), list);
}

// --- operators -------------------------------------------------------------------------------

/// A button that counts what an operation on a queue would touch, asks, then does it.
function countedAction(label, path, body, verb, done) {
  return h("button", { class: label === "Purge" ? "danger" : "", onclick: async () => {
    try {
      const counted = await api("POST", path, { ...body, dryRun: true });
      const count = counted.purged ?? counted.replayed;
      if (!count) { toast("Nothing to do."); return; }
      if (!confirm(`${verb} ${count} message${count === 1 ? "" : "s"}? This cannot be undone.`)) return;
      const result = await api("POST", path, body);
      toast(`${result.purged ?? result.replayed} done.`);
      done();
    } catch (error) { toast(error.message); }
  } }, label);
}

function operatorQueues() {
  const failed = h("div", {});
  const rejected = h("div", {});
  const webhookFilter = h("input", { type: "text", id: "filter-webhook", placeholder: "Webhook id", "aria-label": "Only this webhook" });
  const typeFilter = h("select", { id: "filter-type", "aria-label": "Only this event type" },
    h("option", { value: "" }, "Every event type"),
    state.eventTypes.map((type) => h("option", { value: type.name }, type.name)));
  const filter = {};
  const query = () => {
    for (const key of Object.keys(filter)) delete filter[key];
    if (state.tenant) filter.tenantId = state.tenant;
    if (webhookFilter.value.trim()) filter.webhookId = webhookFilter.value.trim();
    if (typeFilter.value) filter.eventType = typeFilter.value;
    return Object.entries(filter).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join("");
  };
  const load = async () => {
    try {
      const page = await api("GET", `/v1/failed?limit=100${query()}`);
      failed.replaceChildren(page.items.length
        ? h("table", { class: "responsive", id: "failed-queue" },
            h("thead", {}, h("tr", {}, ["Tenant", "Webhook", "Event", "Last error"].map((t) => h("th", {}, t)))),
            h("tbody", {}, page.items.map((f) => h("tr", {}, h("td", {}, f.tenantId), h("td", { class: "mono" }, f.webhookId),
              h("td", {}, f.eventType), h("td", {}, f.lastError || "")))))
        : h("p", { class: "empty" }, "The failed queue is empty."));
    } catch (error) { failed.replaceChildren(h("p", { class: "error" }, error.message)); }
    try {
      const page = await api("GET", "/v1/rejected?limit=100");
      rejected.replaceChildren(page.items.length
        ? h("table", { class: "responsive", id: "rejected-queue" },
            h("thead", {}, h("tr", {}, ["Reason", "Message"].map((t) => h("th", {}, t)))),
            h("tbody", {}, page.items.map((m) => h("tr", {}, h("td", {}, m.reason || ""),
              h("td", {}, h("details", {}, h("summary", {}, m.messageId || "body"), h("pre", {}, m.body)))))))
        : h("p", { class: "empty" }, "Nothing was rejected."));
    } catch (error) { rejected.replaceChildren(h("p", { class: "error" }, error.message)); }
  };
  load();
  const scope = state.tenant ? ` of ${state.tenant}` : "";
  return h("div", {},
    h("section", { class: "card" },
      h("div", { class: "row spread" }, h("h2", {}, `Failed queue${scope}`),
        h("div", { class: "row" },
          h("button", { onclick: async () => {
            if (!confirm(`Replay the failed deliveries${scope}? Each gets a fresh set of retries.`)) return;
            try { const done = await api("POST", "/v1/failed/replay", filter); toast(`${done.replayed} replayed.`); load(); }
            catch (error) { toast(error.message); }
          } }, "Replay"),
          countedAction("Purge", "/v1/failed/purge", filter, "Delete", load))),
      h("form", { class: "row", onsubmit: (event) => { event.preventDefault(); load(); } },
        webhookFilter, typeFilter, h("button", { type: "submit" }, "Filter")),
      failed),
    h("section", { class: "card" },
      h("div", { class: "row spread" }, h("h2", {}, "Rejected events"),
        countedAction("Purge", "/v1/rejected/purge", {}, "Delete", load)),
      h("p", { class: "muted" }, "Events and messages Herald could not accept, with the reason."),
      rejected));
}

// --- start -----------------------------------------------------------------------------------

document.getElementById("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(document.getElementById("signin-token").value.trim(), document.getElementById("signin-tenant").value.trim());
  document.getElementById("signin-token").value = "";
});

function boot() {
  const match = location.hash.match(/session=([^&]+)/);
  if (match) {
    // The token leaves the address bar (and the history) at once.
    history.replaceState(null, "", location.pathname + location.search);
    signIn(decodeURIComponent(match[1]));
  } else if (!state.token) {
    document.getElementById("signin").hidden = false;
  }
}

// A new session link opened in the same tab changes only the fragment.
window.addEventListener("hashchange", boot);
boot();
