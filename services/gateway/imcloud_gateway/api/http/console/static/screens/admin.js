// Administration: API keys, device credentials, access grants and the audit log.
// Everything here but the grants received needs the admin role (the routes refuse
// the rest with 403), so a viewer or operator sees notices instead of those tables.
import { api, ApiError, badge, can, el, every, fmt, form, link, notice, section, session, table } from "/console/assets/console.js";

const ROLES = ["viewer", "operator", "admin", "owner"];
const SCOPES = [
  ["twin:read", "Read the twin (reported and desired state)"],
  ["telemetry:read", "Read telemetry"],
  ["commands:send", "Send commands"],
  ["config:write", "Change the desired state"],
];
const AUDIT_PAGE = 25;

const rank = (role) => ROLES.indexOf(role);
const machineName = (machine) => machine.name || machine.serial_number;

const when = (iso, none = "-") => (iso ? el("time", { datetime: iso, text: fmt.time(iso) }) : none);

const expired = (item) => Boolean(item.expire_time) && new Date(item.expire_time) <= new Date();
const usable = (item) => !item.revoke_time && !expired(item);

function lifecycle(item) {
  if (item.revoke_time) return badge(`revoked ${fmt.time(item.revoke_time)}`, "idle");
  if (expired(item)) return badge("expired", "idle");
  return badge("active", "ok");
}

// datetime-local gives the browser's local time without an offset; the API wants RFC 3339.
const instant = (local) => (local ? new Date(local).toISOString() : undefined);

const forbidden = (error) => error instanceof ApiError && error.status === 403;

function failure(error) {
  return notice(error.message, forbidden(error) ? "warn" : "bad");
}

// A list the caller's role may not read shows why instead of failing the screen.
async function readable(load, show) {
  try {
    return show(await load());
  } catch (error) {
    if (forbidden(error)) return failure(error);
    throw error;
  }
}

// A destructive button asks first, in place: a second button confirms, Cancel or
// Escape goes back. The outcome shows in `status`: `done`, or the error.
function confirming({ label, question, done, status }, action) {
  const holder = el("span", { class: "confirm" });
  const back = () => {
    holder.replaceChildren(ask);
    ask.focus();
  };
  const yes = el("button", {
    type: "button",
    class: "danger",
    text: `Yes, ${label.toLowerCase()}`,
    on: {
      click: async () => {
        yes.disabled = true;
        status.replaceChildren();
        try {
          await action();
          status.replaceChildren(notice(done, "ok"));
          holder.replaceChildren(ask);
        } catch (error) {
          status.replaceChildren(failure(error));
          back();
        } finally {
          yes.disabled = false;
        }
      },
      keydown: (event) => event.key === "Escape" && back(),
    },
  });
  const no = el("button", { type: "button", text: "Cancel", on: { click: back } });
  const ask = el("button", {
    type: "button",
    text: label,
    on: {
      click: () => {
        holder.replaceChildren(el("span", { text: question }), " ", yes, " ", no);
        yes.focus();
      },
    },
  });
  holder.append(ask);
  return holder;
}

let secretCount = 0;

// A new secret, shown once: the API never returns it again.
function issuedSecret(title, secret) {
  const id = `issued-secret-${++secretCount}`;
  const field = el("input", { id, type: "text", readonly: "", value: secret, class: "secret", spellcheck: "false" });
  const copy = el("button", {
    type: "button",
    text: "Copy",
    on: {
      click: async () => {
        field.select();
        try {
          await navigator.clipboard.writeText(secret);
        } catch {
          // No clipboard API outside a secure context (https or localhost): the old way.
          document.execCommand("copy");
        }
        copy.textContent = "Copied";
      },
    },
  });
  const box = el(
    "div",
    { class: "issued-secret", role: "status", "data-testid": "issued-secret" },
    el("p", { class: "warning", text: "Copy this secret now: it is shown only once and cannot be read again." }),
    el("label", { for: id, text: title }),
    " ",
    field,
    " ",
    copy,
    " ",
    el("button", { type: "button", text: "Done", on: { click: () => box.remove() } }),
  );
  return box;
}

function adminOnly(what) {
  return notice(`Only admins see ${what}.`);
}

// -- API keys -----------------------------------------------------------------

async function apiKeys(keys, keyNames) {
  const status = el("div", { class: "status" });
  const secret = el("div");
  const list = el("div");
  const own = (key) => session.actor === `key:${key.id}`;

  async function reload() {
    list.replaceChildren(await readable(() => every("/v1/api-keys"), keysTable));
  }

  function showSecret(issued) {
    secret.replaceChildren(issuedSecret(`Secret of key ${issued.name} (${issued.role})`, issued.secret));
    secret.querySelector("input").focus();
  }

  function actions(key) {
    if (!usable(key) || rank(key.role) > rank(session.role)) return "";
    const signsOut = own(key) ? " You signed in with this key: this signs you out." : "";
    const path = `/v1/api-keys/${encodeURIComponent(key.id)}`;
    return el(
      "span",
      { class: "actions" },
      confirming(
        {
          label: "Rotate",
          question: `Give ${key.name} a new secret? The old one stops working at once.${signsOut}`,
          done: own(key) ? "You are signed out: sign in again with the new secret." : `${key.name} has a new secret.`,
          status,
        },
        async () => {
          showSecret(await api(`${path}:rotate`, { method: "POST" }));
          // The session ended with the old secret; reading the list would leave for the sign-in page.
          if (!own(key)) await reload();
        },
      ),
      " ",
      confirming({ label: "Revoke", question: `Revoke ${key.name}? It stops working at once.${signsOut}`, done: `${key.name} is revoked.`, status }, async () => {
        await api(`${path}:revoke`, { method: "POST" });
        secret.replaceChildren();
        await reload();
      }),
    );
  }

  function keysTable(keys) {
    for (const key of keys) keyNames.set(`key:${key.id}`, key.name);
    return table({
      testid: "api-keys",
      empty: "No API keys",
      columns: [
        { label: "Name", value: (k) => (own(k) ? el("span", {}, k.name, " ", badge("this session", "idle")) : k.name) },
        { label: "Role", value: (k) => k.role },
        { label: "Created", value: (k) => when(k.create_time) },
        { label: "Expires", value: (k) => when(k.expire_time, "never") },
        { label: "State", value: lifecycle },
        { label: "Actions", value: actions },
      ],
      rows: keys,
    });
  }

  const body = section("API keys");
  if (!can("admin")) {
    body.append(adminOnly("the API keys"));
    return body;
  }
  body.append(
    status,
    secret,
    form({
      legend: "Create an API key",
      testid: "create-api-key",
      submit: "Create key",
      fields: [
        { name: "name", label: "Name", required: true, hint: "Who or what uses it, e.g. line-3 dashboard" },
        {
          name: "role",
          label: "Role",
          type: "select",
          value: "viewer",
          options: ROLES.filter((r) => rank(r) <= rank(session.role)).map((r) => [r, r]),
        },
        { name: "expire_time", label: "Expires", type: "datetime-local", hint: "Empty: never" },
      ],
      onSubmit: async (values) => {
        const issued = await api("/v1/api-keys", {
          method: "POST",
          body: { name: values.name, role: values.role, expire_time: instant(values.expire_time) },
        });
        showSecret(issued);
        await reload();
      },
    }),
    list,
  );
  list.replaceChildren(keysTable(keys));
  return body;
}

// -- device credentials ---------------------------------------------------------

async function deviceCredentials(machines) {
  const body = section("Device credentials");
  if (!can("admin")) {
    body.append(adminOnly("the device credentials"));
    return body;
  }
  if (machines.length === 0) {
    body.append(notice("No machines yet: create one first, then issue its credential here."));
    return body;
  }
  const status = el("div", { class: "status" });
  const secret = el("div");
  const list = el("div");
  const picker = el(
    "select",
    { id: "credentials-machine", on: { change: () => reload().catch((error) => status.replaceChildren(failure(error))) } },
    ...machines.map((m) => el("option", { value: m.id, text: `${machineName(m)} (${m.serial_number})` })),
  );
  const base = () => `/v1/equipment/${encodeURIComponent(picker.value)}/credentials`;

  function showSecret(issued) {
    secret.replaceChildren(issuedSecret(`Secret of credential ${issued.id}`, issued.secret));
    secret.querySelector("input").focus();
  }

  async function reload() {
    status.replaceChildren();
    secret.replaceChildren();
    list.replaceChildren(await readable(() => every(base()), credentialsTable));
  }

  function actions(credential) {
    if (credential.revoke_time) return "";
    const path = `${base()}/${encodeURIComponent(credential.id)}`;
    return el(
      "span",
      { class: "actions" },
      confirming({ label: "Rotate", question: "Give this credential a new secret? The machine's old secret stops working at once.", done: "The credential has a new secret.", status }, async () => {
        const issued = await api(`${path}:rotate`, { method: "POST" });
        await reload();
        showSecret(issued);
      }),
      " ",
      confirming({ label: "Revoke", question: "Revoke this credential? The machine's open device links using it close.", done: "The credential is revoked.", status }, async () => {
        await api(`${path}:revoke`, { method: "POST" });
        await reload();
      }),
    );
  }

  function credentialsTable(credentials) {
    return table({
      testid: "device-credentials",
      empty: "This machine has no credentials",
      columns: [
        { label: "Credential", value: (c) => el("code", { text: c.id }) },
        { label: "Issued", value: (c) => when(c.create_time) },
        { label: "Last rotated", value: (c) => when(c.rotate_time, "never") },
        { label: "State", value: lifecycle },
        { label: "Actions", value: actions },
      ],
      rows: credentials,
    });
  }

  body.append(
    el("p", { class: "picker" }, el("label", { for: "credentials-machine", text: "Machine" }), " ", picker),
    status,
    secret,
    form({
      legend: "Issue a credential for this machine",
      testid: "issue-device-credential",
      submit: "Issue credential",
      fields: [],
      onSubmit: async () => {
        const issued = await api(base(), { method: "POST" });
        await reload();
        showSecret(issued);
      },
    }),
    list,
  );
  await reload();
  return body;
}

// -- access grants ----------------------------------------------------------------

async function grants(machines) {
  const names = new Map(machines.map((m) => [m.id, machineName(m)]));
  const status = el("div", { class: "status" });
  const given = el("div");
  const received = el("div");

  async function reloadGiven() {
    given.replaceChildren(await readable(() => every("/v1/access-grants"), givenTable));
  }

  function givenTable(items) {
    return table({
      testid: "grants",
      empty: "You have granted no equipment maker access",
      columns: [
        { label: "Equipment maker tenant", value: (g) => el("code", { text: g.grantee_tenant_id }) },
        { label: "Machine", value: (g) => link(`/machines/${encodeURIComponent(g.equipment_id)}`, names.get(g.equipment_id) ?? g.equipment_id) },
        { label: "Scopes", value: (g) => g.scopes.join(", ") },
        { label: "Granted", value: (g) => when(g.create_time) },
        { label: "Expires", value: (g) => when(g.expire_time, "never") },
        { label: "State", value: lifecycle },
        {
          label: "Actions",
          value: (g) =>
            g.revoke_time
              ? ""
              : confirming({ label: "Revoke", question: "Revoke this grant? The maker loses access at once.", done: "The grant is revoked.", status }, async () => {
                  await api(`/v1/access-grants/${encodeURIComponent(g.id)}:revoke`, { method: "POST" });
                  await reloadGiven();
                }),
        },
      ],
      rows: items,
    });
  }

  function receivedTable(items) {
    return table({
      testid: "grants-received",
      empty: "No customer has granted you a machine",
      columns: [
        { label: "Customer tenant", value: (i) => el("code", { text: i.grant.owner_tenant_id }) },
        { label: "Machine", value: (i) => link(`/maker/machines/${encodeURIComponent(i.equipment.id)}`, machineName(i.equipment)) },
        { label: "Scopes", value: (i) => i.grant.scopes.join(", ") },
        { label: "Expires", value: (i) => when(i.grant.expire_time, "never") },
      ],
      rows: items,
    });
  }

  const body = section("Access grants");
  const loads = [every("/v1/granted-equipment").then((items) => received.replaceChildren(receivedTable(items)))];
  if (!can("admin")) {
    body.append(adminOnly("the grants you give"));
  } else {
    body.append(
      el("h3", { text: "Given: equipment makers that may use your machines" }),
      status,
      grantForm(machines, reloadGiven),
      given,
    );
    loads.push(reloadGiven());
  }
  body.append(el("h3", { text: "Received: your customers' machines you may use" }), received);
  await Promise.all(loads);
  return body;
}

function grantForm(machines, reload) {
  if (machines.length === 0) return notice("No machines yet: a grant names one of your machines.");
  return form({
    legend: "Grant an equipment maker access to a machine",
    testid: "create-grant",
    submit: "Grant access",
    fields: [
      { name: "grantee_tenant_id", label: "Equipment maker's tenant id", required: true, hint: "The maker reads it on its Granted machines screen" },
      { name: "equipment_id", label: "Machine", type: "select", options: machines.map((m) => [m.id, machineName(m)]) },
      ...SCOPES.map(([scope, label]) => ({ name: scope, label: `${label} (${scope})`, type: "checkbox", value: scope.endsWith(":read") })),
      { name: "expire_time", label: "Expires", type: "datetime-local", hint: "Empty: until revoked" },
    ],
    onSubmit: async (values) => {
      const scopes = SCOPES.map(([scope]) => scope).filter((scope) => values[scope]);
      if (scopes.length === 0) {
        const reason = "choose at least one scope";
        throw new ApiError(422, { error: { message: `The grant is not valid: ${reason}`, details: [{ field: SCOPES[0][0], reason }] } });
      }
      await api("/v1/access-grants", {
        method: "POST",
        body: {
          grantee_tenant_id: values.grantee_tenant_id.trim(),
          equipment_id: values.equipment_id,
          scopes,
          expire_time: instant(values.expire_time),
        },
      });
      await reload();
    },
  });
}

// -- audit log ----------------------------------------------------------------------

async function auditLog(keyNames) {
  const body = section("Audit log");
  if (!can("admin")) {
    body.append(adminOnly("the audit log"));
    return body;
  }
  const events = auditTable(keyNames);
  const applied = el("p", { role: "status" });
  const more = el("button", { type: "button", text: "More", hidden: true });
  let filter = {};
  let shown = [];
  let token = "";

  async function load(next) {
    const page = await api("/v1/audit-events", { query: { ...filter, page_size: AUDIT_PAGE, page_token: next } });
    shown = next ? [...shown, ...page.items] : page.items;
    token = page.next_page_token;
    events.fill(shown);
    more.hidden = !token;
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      await load(token);
    } finally {
      more.disabled = false;
    }
  });

  // The form empties itself after a submit, so the filter in force is written out.
  const describe = () => {
    const parts = Object.entries(filter).map(([name, value]) => `${name} ${name === "since" || name === "until" ? fmt.time(value) : value}`);
    applied.textContent = parts.length ? `Showing events with ${parts.join(", ")}.` : "Showing every event, newest first.";
  };

  body.append(
    form({
      legend: "Filter the events",
      testid: "audit-filter",
      submit: "Show events",
      fields: [
        { name: "actor", label: "Actor", hint: "Exactly, e.g. key:<id>" },
        { name: "action", label: "Action", hint: "Exactly, e.g. POST /v1/plants" },
        { name: "since", label: "From", type: "datetime-local" },
        { name: "until", label: "Before", type: "datetime-local" },
      ],
      onSubmit: async (values) => {
        const next = Object.fromEntries(
          Object.entries({
            actor: values.actor.trim(),
            action: values.action.trim(),
            since: instant(values.since),
            until: instant(values.until),
          }).filter(([, value]) => value),
        );
        const previous = filter;
        filter = next;
        try {
          await load("");
        } catch (error) {
          filter = previous;
          throw error;
        }
        describe();
      },
    }),
    applied,
    events,
    el("p", {}, more),
  );
  describe();
  await load("");
  return body;
}

// An actor is "key:<id>" (with "@<tenant>" when a maker acted through a grant).
function actorName(event, keyNames) {
  const name = keyNames.get(event.actor);
  const who = name ? `${name} (${event.actor})` : event.actor;
  return event.actor_tenant_id && event.actor_tenant_id !== session.tenant_id ? `${who}, tenant ${event.actor_tenant_id}` : who;
}

function auditTable(keyNames) {
  return table({
    testid: "audit-log",
    empty: "No events",
    columns: [
      { label: "Time", value: (e) => when(e.time) },
      { label: "Actor", value: (e) => actorName(e, keyNames) },
      { label: "Action", value: (e) => el("code", { text: e.action }) },
      { label: "Resource", value: (e) => e.resource },
      { label: "Result", value: (e) => badge(String(e.status), e.succeeded ? "ok" : "bad") },
      { label: "From", value: (e) => e.source_ip },
      { label: "Via grant", value: (e) => e.grant_id },
      { label: "Request", value: (e) => el("code", { text: e.request_id }) },
    ],
    rows: [],
  });
}

export async function render(main) {
  main.append(el("h1", { text: "Administration" }));
  if (!can("admin")) {
    main.append(notice(`Administration needs the admin role; you are signed in as ${session.role}.`, "info"));
  }
  // Only admins may list keys, and only their forms pick a machine.
  const [keys, machines] = can("admin") ? await Promise.all([every("/v1/api-keys"), every("/v1/equipment")]) : [[], []];
  const keyNames = new Map();
  main.append(
    ...(await Promise.all([apiKeys(keys, keyNames), deviceCredentials(machines), grants(machines), auditLog(keyNames)])),
  );
}
