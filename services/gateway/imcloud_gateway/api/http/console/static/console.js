// The console's core: the session, calls to the REST API, live views, and the few
// building blocks every screen uses (elements, tables, forms, charts, formats).
// Screens live in screens/<name>.js and export `render(main, params)`.

const ROLES = ["viewer", "operator", "admin", "owner"];

export const session = {};

export function can(role) {
  return ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message || `the request failed (${status})`);
    this.status = status;
    this.code = error.code || "";
    // Each detail names a field and why: {field, reason} (also as `description`).
    this.details = (error.details || []).map((d) => ({ ...d, description: d.reason }));
  }
}

function signIn() {
  const here = location.pathname + location.search;
  location.assign(`/sign-in?next=${encodeURIComponent(here)}`);
}

export function withQuery(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  if (!text) return path;
  return path + (path.includes("?") ? "&" : "?") + text;
}

export async function api(path, { method = "GET", body, query } = {}) {
  const headers = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = session.csrf_token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(withQuery(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 401) {
    signIn();
    throw new ApiError(401, await response.json().catch(() => ({})));
  }
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

export async function every(path, query = {}) {
  const items = [];
  let token = "";
  do {
    const page = await api(path, { query: { page_size: 500, ...query, page_token: token } });
    items.push(...page.items);
    token = page.next_page_token || "";
  } while (token);
  return items;
}

const openViews = new Set();

export function live(path, onData, { onFailure, window_s } = {}) {
  const source = new EventSource(withQuery("/console/live", { path, window_s }));
  source.addEventListener("data", (event) => onData(JSON.parse(event.data)));
  source.addEventListener("failure", (event) => {
    const failure = new ApiError(0, JSON.parse(event.data || "{}"));
    if (onFailure) onFailure(failure);
  });
  const view = {
    close() {
      source.close();
      openViews.delete(view);
    },
  };
  openViews.add(view);
  return view;
}

// -- elements ---------------------------------------------------------------

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "on") for (const [name, handler] of Object.entries(value)) node.addEventListener(name, handler);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let ids = 0;
function uniqueId(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

export function link(href, text) {
  return el("a", { href }, text);
}

export function section(title, ...children) {
  const id = uniqueId("section");
  return el("section", { "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

export function badge(text, kind = "idle") {
  return el("span", { class: `badge ${kind}` }, text);
}

export function notice(text, kind = "info") {
  return el("p", { class: `notice ${kind}`, role: kind === "bad" ? "alert" : "status" }, text);
}

export function table({ columns, rows, empty = "Nothing yet", testid, caption, rowAttrs }) {
  const body = el("tbody");
  const node = el(
    "table",
    { "data-testid": testid },
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.label)))),
    body,
  );
  const fill = (items) => {
    body.replaceChildren();
    if (!items.length) {
      body.append(el("tr", { class: "empty" }, el("td", { colspan: columns.length }, empty)));
      return;
    }
    for (const row of items) {
      body.append(el("tr", rowAttrs ? rowAttrs(row) : {}, columns.map((c) => el("td", {}, c.value(row)))));
    }
  };
  fill(rows);
  node.fill = fill;
  return node;
}

// -- forms ------------------------------------------------------------------

function control(field, id) {
  const common = {
    id,
    name: field.name,
    required: field.required,
    "aria-describedby": field.hint ? `${id}-hint` : undefined,
  };
  if (field.type === "select") {
    const select = el("select", common);
    for (const [value, label] of field.options ?? []) {
      select.append(el("option", { value, selected: String(field.value ?? "") === String(value) }, label));
    }
    return select;
  }
  if (field.type === "textarea") {
    return el("textarea", { ...common, rows: field.rows ?? 3 }, field.value ?? "");
  }
  if (field.type === "checkbox") {
    return el("input", { ...common, type: "checkbox", checked: Boolean(field.value) });
  }
  return el("input", {
    ...common,
    type: field.type ?? "text",
    value: field.value ?? "",
    step: field.step,
    min: field.min,
    max: field.max,
    placeholder: field.placeholder,
    autocomplete: "off",
  });
}

function valuesOf(formNode, fields) {
  const values = {};
  for (const field of fields) {
    const input = formNode.elements[field.name];
    if (field.type === "checkbox") values[field.name] = input.checked;
    else if (field.type === "number") values[field.name] = input.value === "" ? null : Number(input.value);
    else values[field.name] = input.value;
  }
  return values;
}

export function form({ legend, fields, submit = "Save", onSubmit, testid }) {
  const alert = el("div", { class: "error", role: "alert", hidden: true });
  const rows = fields.map((field) => {
    const id = uniqueId(`field-${field.name}`);
    return el(
      "div",
      { class: `field ${field.type === "checkbox" ? "check" : ""}`, dataset: { field: field.name } },
      el("label", { for: id }, field.label),
      control(field, id),
      field.hint ? el("small", { id: `${id}-hint`, class: "hint" }, field.hint) : null,
      el("small", { class: "field-error", hidden: true }),
    );
  });
  const button = el("button", { type: "submit" }, submit);
  const node = el(
    "form",
    { "data-testid": testid, novalidate: true },
    el("fieldset", {}, el("legend", {}, legend), rows, alert, button),
  );
  const clearErrors = () => {
    alert.hidden = true;
    for (const small of node.querySelectorAll(".field-error")) small.hidden = true;
    for (const input of node.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  };
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    if (!node.checkValidity()) {
      node.reportValidity();
      return;
    }
    button.disabled = true;
    try {
      await onSubmit(valuesOf(node, fields));
      node.reset();
    } catch (error) {
      showFormError(node, alert, error);
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

function showFormError(node, alert, error) {
  alert.textContent = error.message;
  alert.hidden = false;
  for (const detail of error.details ?? []) {
    // "body.parameters" or "parameters.speed": the form field is the first name we have.
    const names = String(detail.field ?? "").split(".");
    const row = names.map((name) => node.querySelector(`[data-field="${CSS.escape(name)}"]`)).find(Boolean);
    if (!row) continue;
    const small = row.querySelector(".field-error");
    small.textContent = detail.description;
    small.hidden = false;
    row.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
  }
}

// -- charts -----------------------------------------------------------------

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];
const BAND_COLOURS = { bad: "rgba(214,39,40,0.18)", warn: "rgba(255,127,14,0.18)", info: "rgba(31,119,180,0.12)" };

export function timeChart(container, { title, unit = "", series, bands = [], testid, height = 180 }) {
  const wrapper = el("figure", { class: "chart", "data-testid": testid, "data-points": "0" });
  const caption = el("figcaption", {}, title, unit ? el("span", { class: "unit" }, ` (${unit})`) : null);
  const plotArea = el("div", { class: "plot", role: "img", "aria-label": `${title} over time` });
  wrapper.append(caption, plotArea);
  container.append(wrapper);
  let shaded = bands;
  let columns = toColumns(series);
  const plot = new window.uPlot(
    {
      width: Math.max(320, container.clientWidth || 640),
      height,
      scales: { x: { time: true } },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false }))],
      axes: [{}, { label: unit, size: 60 }],
      legend: { show: series.length > 1 },
      hooks: { drawClear: [(u) => drawBands(u, shaded)] },
    },
    columns,
    plotArea,
  );
  const count = () => columns.slice(1).reduce((n, values) => n + values.filter((v) => v !== null).length, 0);
  wrapper.dataset.points = String(count());
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, container.clientWidth), height }));
  resize.observe(container);
  return {
    setData(next, nextBands = shaded) {
      shaded = nextBands;
      columns = toColumns(next);
      plot.setData(columns);
      wrapper.dataset.points = String(count());
    },
    append(seriesIndex, timeMs, value) {
      const times = columns[0];
      const t = timeMs / 1000;
      if (times.length && t <= times[times.length - 1]) return false;
      columns = columns.map((values, i) => [...values, i === 0 ? t : i === seriesIndex + 1 ? value : null]);
      plot.setData(columns);
      wrapper.dataset.points = String(count());
      return true;
    },
    lastTimeMs() {
      const times = columns[0];
      return times.length ? times[times.length - 1] * 1000 : 0;
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
    },
  };
}

// uPlot wants one shared x column: series' times are merged, gaps are null.
function toColumns(series) {
  const times = [...new Set(series.flatMap((s) => s.times))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = [times.map((t) => t / 1000)];
  for (const s of series) {
    const values = new Array(times.length).fill(null);
    s.times.forEach((t, i) => (values[index.get(t)] = s.values[i]));
    columns.push(values);
  }
  return columns;
}

function drawBands(u, bands) {
  const { ctx, bbox } = u;
  ctx.save();
  for (const band of bands) {
    const from = u.valToPos(band.from / 1000, "x", true);
    const to = u.valToPos((band.to ?? Date.now()) / 1000, "x", true);
    const left = Math.max(bbox.left, Math.min(from, to));
    const right = Math.min(bbox.left + bbox.width, Math.max(from, to));
    if (right <= left) continue;
    ctx.fillStyle = BAND_COLOURS[band.kind] ?? BAND_COLOURS.info;
    ctx.fillRect(left, bbox.top, Math.max(2, right - left), bbox.height);
  }
  ctx.restore();
}

// -- formats ----------------------------------------------------------------

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export const fmt = {
  time: (iso) => (iso ? dateTime.format(new Date(iso)) : "-"),
  date: (iso) => (iso ? dateOnly.format(new Date(iso)) : "-"),
  number: (x, digits = 1) =>
    x === null || x === undefined || Number.isNaN(x) ? "-" : Number(x).toLocaleString(undefined, { maximumFractionDigits: digits }),
  percent: (ratio) => (ratio === null || ratio === undefined ? "-" : `${(ratio * 100).toFixed(1)} %`),
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  },
};

// -- the page ---------------------------------------------------------------

function screenParams(screen) {
  const parts = location.pathname.split("/").filter(Boolean);
  const params = Object.fromEntries(new URLSearchParams(location.search));
  if (screen === "machine") {
    params.granted = parts[0] === "maker";
    params.equipment_id = decodeURIComponent(parts[parts.length - 1]);
  }
  return params;
}

async function start() {
  const main = document.getElementById("screen");
  const screen = main.dataset.screen;
  try {
    Object.assign(session, await api("/console/session"));
  } catch (error) {
    if (error.status !== 401) main.replaceChildren(notice(error.message, "bad"));
    return;
  }
  document.getElementById("who").replaceChildren(
    el("span", { class: "tenant" }, session.tenant_name),
    " ",
    badge(session.role, "idle"),
  );
  // A maker's machine is the machine screen, reached from the maker's list.
  const section = location.pathname.startsWith("/maker/") ? "maker" : screen;
  for (const nav of document.querySelectorAll("[data-nav]")) {
    if (nav.dataset.nav.split(" ").includes(section)) nav.setAttribute("aria-current", "page");
  }
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("/console/sign-out", { method: "POST" });
    location.assign("/sign-in");
  });
  try {
    const module = await import(`./screens/${screen}.js`);
    main.replaceChildren();
    const cleanup = await module.render(main, screenParams(screen));
    addEventListener("pagehide", () => {
      for (const view of [...openViews]) view.close();
      if (typeof cleanup === "function") cleanup();
    });
  } catch (error) {
    main.append(notice(error.message, "bad"));
    throw error;
  } finally {
    main.removeAttribute("aria-busy");
  }
}

start();
