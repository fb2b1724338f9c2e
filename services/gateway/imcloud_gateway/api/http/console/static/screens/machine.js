// One machine: its twin, live charts of its signals, its commands and anomaly
// episodes. On /maker/machines/{id} (params.granted) the same screen reads the
// machine through the equipment maker's grant, and shows what the grant covers.
// Every read through a grant lands in the customer's audit log, so that view
// reads when it opens and on "Refresh", and follows only the commands it sent.

import {
  ApiError,
  api,
  badge,
  can,
  el,
  fmt,
  form,
  link,
  live,
  notice,
  section,
  table,
  timeChart,
} from "/console/assets/console.js";

const RANGES = [
  { label: "1 h", seconds: 3600 },
  // Aggregates keep a long range to about a thousand buckets or fewer.
  { label: "24 h", seconds: 86400, bucket_s: 60, bucket: "minute" },
  { label: "30 d", seconds: 30 * 86400, bucket_s: 3600, bucket: "hour" },
];
// The live window asks again every second; a minute covers any delay.
const LIVE_WINDOW_S = 60;
const POINTS_PER_PAGE = 10000;
const OPEN_END = "9999-12-31T23:59:59Z";
const EPISODES_PER_PAGE = 500;
const RECENT_EPISODES = 20;
const COMMANDS_SHOWN = 50;
const OPEN_COMMAND_STATES = new Set(["pending", "delivered"]);
const COMMAND_STATE_KIND = {
  pending: "idle",
  delivered: "warn",
  succeeded: "ok",
  failed: "bad",
  rejected: "bad",
  expired: "bad",
  cancelled: "idle",
};
const SEVERITY_KIND = { low: "idle", medium: "warn", high: "bad" };
const UNIT_LABELS = { Cel: "°C" };

export async function render(main, params) {
  const granted = Boolean(params.granted);
  const base = `${granted ? "/v1/granted-equipment" : "/v1/equipment"}/${encodeURIComponent(params.equipment_id)}`;
  let machine;
  try {
    machine = await describe(base, granted);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    main.append(el("h1", { text: "Machine not found" }), notice(error.message, "warn"), backLink(granted));
    return undefined;
  }
  const header = new Header(machine, granted);
  const twin = new TwinView(machine);
  const episodes = new EpisodesView(base);
  main.append(header.node, twin.node);

  let charts = null;
  if (machine.scopes.has("telemetry:read")) {
    charts = new Charts(base, machine.signals, episodes, { live: !granted });
    main.append(charts.node);
  } else {
    main.append(section("Signals", notice("The grant does not include this machine's telemetry.")));
  }
  let commands = null;
  if (machine.scopes.has("commands:send")) {
    commands = new CommandsView(base, granted);
    main.append(commands.node);
  } else {
    main.append(section("Commands", notice("The grant does not include sending commands to this machine.")));
  }
  main.append(episodes.node);

  const show = (state) => {
    header.update(state);
    twin.update(state);
    episodes.follow(state.open_episodes);
  };
  show(machine.twin);
  await Promise.all([charts?.show(RANGES[0]), commands?.load(), episodes.load()]);
  let stream = null;
  if (granted) {
    header.onRefresh(async () => {
      const [state] = await Promise.all([api(`${base}/twin`), charts?.show(charts.range), commands?.load()]);
      show(state);
      await episodes.load();
    });
  } else {
    stream = live(`${base}/twin`, show, { onFailure: (error) => twin.failed(error) });
  }
  return () => {
    stream?.close();
    charts?.close();
    commands?.close();
  };
}

function backLink(granted) {
  return el("p", {}, granted ? link("/maker", "Back to granted machines") : link("/fleet", "Back to the fleet"));
}

// What the screen needs before it draws: the machine, its model's signals and
// station (owners), or the grant (makers), and the twin.
async function describe(base, granted) {
  const twinCall = api(`${base}/twin`);
  if (granted) {
    const [{ grant, equipment }, twin] = await Promise.all([api(base), twinCall]);
    return {
      equipment,
      twin,
      grant,
      model: null,
      station: null,
      scopes: new Set(grant.scopes),
      // The grant shows no equipment model: the signals are those the twin reports.
      signals: twin.reported.map((r) => ({ name: r.signal, unit: "", type: "double", description: "" })),
    };
  }
  const [equipment, twin] = await Promise.all([api(base), twinCall]);
  const [model, station] = await Promise.all([
    api(`/v1/equipment-models/${encodeURIComponent(equipment.equipment_model_id)}`),
    equipment.station_id ? api(`/v1/stations/${encodeURIComponent(equipment.station_id)}`) : null,
  ]);
  return {
    equipment,
    twin,
    grant: null,
    model,
    station,
    scopes: new Set(["twin:read", "telemetry:read", "commands:send"]),
    signals: model.signals,
  };
}

function unitLabel(unit) {
  return UNIT_LABELS[unit] ?? unit;
}

function healthBadge(score) {
  if (score === null || score === undefined) return badge("health: learning", "idle");
  return badge(`health ${fmt.number(score, 0)}`, score >= 80 ? "ok" : score >= 50 ? "warn" : "bad");
}

function formatValue(value, type) {
  if (type === "boolean") return value ? "true" : "false";
  if (type === "integer") return fmt.number(value, 0);
  const size = Math.abs(value);
  return fmt.number(value, size >= 100 ? 1 : size >= 1 ? 2 : 4);
}

function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// -- header -----------------------------------------------------------------

class Header {
  constructor(machine, granted) {
    const { equipment, model, station, grant } = machine;
    this.online = el("span");
    this.health = el("span");
    this.badges = el("p", { class: "machine-badges" }, this.online, " ", this.health);
    const facts = [
      ["Serial number", equipment.serial_number],
      ["Model", model ? `${model.name}${model.manufacturer ? ` (${model.manufacturer})` : ""}` : null],
      ["Station", granted ? null : station ? station.name : "not placed on a station"],
      ["Customer tenant", grant ? grant.owner_tenant_id : null],
      ["Grant", grant ? `${grant.scopes.join(", ")}; ${grant.expire_time ? `until ${fmt.time(grant.expire_time)}` : "no expiry"}` : null],
    ].filter(([, value]) => value);
    this.node = el(
      "header",
      { class: "machine-header" },
      backLink(granted),
      el("h1", { text: equipment.name || equipment.serial_number }),
      this.badges,
      el("dl", { class: "machine-facts" }, ...facts.map(([term, value]) => el("div", {}, el("dt", { text: term }), el("dd", { text: value })))),
    );
  }

  onRefresh(refresh) {
    const status = el("span", { role: "status", class: "hint" });
    const button = el("button", {
      type: "button",
      class: "secondary",
      text: "Refresh",
      on: {
        click: async () => {
          button.disabled = true;
          try {
            await refresh();
            setText(status, `Read at ${fmt.time(new Date().toISOString())}`);
          } catch (error) {
            setText(status, `The machine could not be read: ${error.message}`);
          } finally {
            button.disabled = false;
          }
        },
      },
    });
    this.badges.append(" ", button, " ", status);
  }

  update(twin) {
    const online = twin.connected ? "online" : "offline";
    if (this.online.dataset.state !== online) {
      this.online.dataset.state = online;
      this.online.replaceChildren(badge(online, twin.connected ? "ok" : "idle"));
    }
    const health = twin.health_score === null ? "learning" : String(Math.round(twin.health_score));
    if (this.health.dataset.score !== health) {
      this.health.dataset.score = health;
      this.health.replaceChildren(healthBadge(twin.health_score));
    }
  }
}

// -- twin -------------------------------------------------------------------

class TwinView {
  constructor(machine) {
    this.definitions = new Map(machine.signals.map((s) => [s.name, s]));
    this.reportedRows = new Map();
    this.reportedBody = el("tbody");
    this.seen = el("p", { class: "twin-seen" });
    this.desired = el("div", { class: "twin-desired" });
    this.problem = el("div");
    this.node = section(
      "Twin",
      this.problem,
      this.seen,
      el(
        "table",
        { class: "twin-reported" },
        el("caption", { text: "Reported signals" }),
        el("thead", {}, el("tr", {}, ...["Signal", "Value", "Unit", "Time"].map((label) => el("th", { scope: "col", text: label })))),
        this.reportedBody,
      ),
      this.desired,
    );
    this.node.dataset.testid = "machine-twin";
  }

  update(twin) {
    this.problem.replaceChildren();
    setText(this.seen, twin.last_seen_time ? `Last seen ${fmt.time(twin.last_seen_time)}` : "The machine has not reported yet.");
    for (const reported of twin.reported) this.reportedRow(reported);
    const desiredKey = JSON.stringify([twin.desired, twin.applied_version, twin.applied_detail, twin.delta]);
    if (desiredKey !== this.desiredKey) {
      this.desiredKey = desiredKey;
      this.desired.replaceChildren(...desiredView(twin).filter(Boolean));
    }
  }

  reportedRow(reported) {
    const definition = this.definitions.get(reported.signal);
    let row = this.reportedRows.get(reported.signal);
    if (!row) {
      row = { value: el("td", { class: "number" }), time: el("td") };
      const tr = el(
        "tr",
        { dataset: { signal: reported.signal } },
        el("th", { scope: "row", text: reported.signal, title: definition?.description || null }),
        row.value,
        el("td", { text: unitLabel(definition?.unit ?? "") }),
        row.time,
      );
      this.reportedRows.set(reported.signal, row);
      this.reportedBody.append(tr);
    }
    const value = formatValue(reported.value, definition?.type);
    setText(row.value, reported.out_of_range ? `${value} (out of range)` : value);
    row.value.classList.toggle("out-of-range", reported.out_of_range);
    setText(row.time, fmt.time(reported.time));
  }

  failed(error) {
    this.problem.replaceChildren(notice(`Live updates stopped: ${error.message}`, "warn"));
  }
}

function desiredView(twin) {
  const { desired } = twin;
  const pending = new Map(twin.delta.map((d) => [d.property, d]));
  const properties = Object.entries(desired.properties);
  const versions =
    desired.version === 0
      ? "Nothing desired yet."
      : `Desired version ${desired.version} (by ${desired.update_actor}, ${fmt.time(desired.update_time)}); ` +
        `the machine applied version ${twin.applied_version}` +
        (twin.applied_time ? ` (${fmt.time(twin.applied_time)})` : "") +
        (twin.applied_detail ? `: ${twin.applied_detail}` : ".");
  return [
    el("p", { text: versions }),
    properties.length
      ? table({
          caption: "Desired properties",
          columns: [
            { label: "Property", value: ([name]) => name },
            { label: "Desired", value: ([, value]) => json(value) },
            {
              label: "On the machine",
              value: ([name]) => (pending.has(name) ? badge("not yet", "warn") : badge("applied", "ok")),
            },
            {
              label: "Reported",
              value: ([name]) => (pending.get(name)?.reported == null ? "" : fmt.number(pending.get(name).reported, 4)),
            },
          ],
          rows: properties,
          testid: "twin-desired",
        })
      : null,
  ];
}

// -- charts -----------------------------------------------------------------

class Charts {
  constructor(base, signals, episodes, { live }) {
    this.base = base;
    this.signals = signals;
    this.episodes = episodes;
    this.live = live;
    this.range = RANGES[0];
    this.charts = new Map();
    this.stream = null;
    this.shown = 0;
    this.buttons = RANGES.map((range) =>
      el("button", { type: "button", "aria-pressed": "false", text: range.label, on: { click: () => this.show(range) } }),
    );
    this.status = el("p", { class: "chart-status", role: "status" });
    this.grid = el("div", { class: "charts" });
    this.node = section(
      "Signals",
      el("div", { class: "range-buttons", role: "group", "aria-label": "Time range" }, ...this.buttons),
      this.status,
      this.grid,
    );
  }

  async show(range) {
    const shown = ++this.shown;
    this.range = range;
    this.buttons.forEach((button, i) => button.setAttribute("aria-pressed", String(RANGES[i] === range)));
    this.stopLive();
    this.grid.setAttribute("aria-busy", "true");
    const end = Date.now();
    const start = end - range.seconds * 1000;
    try {
      const [series, bands] = await Promise.all([
        range.bucket_s ? this.aggregates(start, end, range.bucket_s) : this.points(start, end),
        this.episodes.bands(start),
      ]);
      if (shown !== this.shown) return; // another range was chosen meanwhile
      this.draw(series, bands, range, { start, end });
      const following = this.live && !range.bucket_s;
      setText(
        this.status,
        range.bucket_s ? `Mean per ${range.bucket}, last ${range.label}` : `Every point, last ${range.label}${following ? ", live" : ""}`,
      );
      if (following) this.startLive();
    } catch (error) {
      if (shown === this.shown) this.status.replaceChildren(notice(`The signals could not be loaded: ${error.message}`, "warn"));
    } finally {
      if (shown === this.shown) this.grid.removeAttribute("aria-busy");
    }
  }

  // Raw points, one request per signal, all at once.
  points(start, end) {
    return Promise.all(this.signals.map((signal) => this.pointsOf(signal.name, start, end)));
  }

  async pointsOf(signal, start, end) {
    const times = [];
    const values = [];
    let token = "";
    do {
      const page = await api(`${this.base}/telemetry`, {
        query: {
          start: new Date(start).toISOString(),
          end: new Date(end).toISOString(),
          signal,
          page_size: POINTS_PER_PAGE,
          page_token: token,
        },
      });
      for (const s of page.series) {
        for (let i = 0; i < s.timestamps_ms.length; i += 1) {
          times.push(s.timestamps_ms[i]);
          values.push(s.values[i]);
        }
      }
      token = page.next_page_token;
    } while (token);
    return { times, values };
  }

  // Means per bucket, every signal in one request.
  async aggregates(start, end, bucket_s) {
    const answer = await api(`${this.base}/telemetry/aggregates`, {
      query: {
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
        bucket_s,
        signal: this.signals.map((s) => s.name),
      },
    });
    const bySignal = new Map(answer.signals.map((a) => [a.signal, a]));
    return this.signals.map((signal) => {
      const buckets = bySignal.get(signal.name);
      return { times: buckets?.bucket_start_ms ?? [], values: buckets?.mean ?? [] };
    });
  }

  draw(series, bands, range, { start, end }) {
    for (const chart of this.charts.values()) chart.destroy();
    this.charts.clear();
    this.grid.replaceChildren();
    // Empty points at the range's ends make the time axis span the whole range,
    // however few points there are; the live range ends now and grows instead.
    const ends = range.bucket_s ? [start, end] : [start];
    this.signals.forEach((signal, i) => {
      const { times, values } = series[i];
      const cell = el("div");
      this.grid.append(cell);
      const chart = timeChart(cell, {
        title: signal.name,
        unit: unitLabel(signal.unit),
        series: [{ label: range.bucket_s ? "mean" : signal.name, ...spanning(times, values, ends) }],
        bands,
        testid: `chart-${signal.name}`,
      });
      this.charts.set(signal.name, chart);
    });
  }

  startLive() {
    const query = new URLSearchParams(this.signals.map((s) => ["signal", s.name]));
    query.append("page_size", String(POINTS_PER_PAGE));
    // The live view moves the start to the window's; the end stays open.
    query.append("start", new Date(Date.now() - LIVE_WINDOW_S * 1000).toISOString());
    query.append("end", OPEN_END);
    this.stream = live(
      `${this.base}/telemetry?${query}`,
      (page) => {
        for (const s of page.series) {
          const chart = this.charts.get(s.signal);
          if (!chart) continue;
          const last = chart.lastTimeMs();
          s.timestamps_ms.forEach((t, i) => {
            if (t > last) chart.append(0, t, s.values[i]);
          });
        }
      },
      {
        window_s: LIVE_WINDOW_S,
        onFailure: (error) => this.status.replaceChildren(notice(`Live updates stopped: ${error.message}`, "warn")),
      },
    );
  }

  stopLive() {
    this.stream?.close();
    this.stream = null;
  }

  close() {
    this.stopLive();
    for (const chart of this.charts.values()) chart.destroy();
  }
}

// timeChart orders the points by time, so the ends can simply follow.
function spanning(times, values, ends) {
  const extra = ends.filter((t) => !times.includes(t));
  return { times: [...times, ...extra], values: [...values, ...extra.map(() => null)] };
}

// -- anomaly episodes -------------------------------------------------------

class EpisodesView {
  constructor(base) {
    this.path = `${base}/anomaly-episodes`;
    this.openKey = null;
    this.list = table({ columns: EPISODE_COLUMNS, rows: [], empty: "No anomaly episodes", testid: "machine-episodes" });
    this.node = section("Anomaly episodes", this.list);
  }

  async load() {
    const page = await api(this.path, { query: { page_size: RECENT_EPISODES } });
    this.list.fill(page.items);
  }

  // The table follows the twin: it is read again when an episode opens or closes.
  follow(openEpisodes) {
    const key = openEpisodes.map((e) => `${e.id}:${e.severity}`).join(",");
    if (this.openKey !== null && key !== this.openKey) this.load().catch(() => {});
    this.openKey = key;
  }

  // Every episode overlapping the range, as chart bands (newest first, so the
  // pages stop once they reach episodes that began before the range).
  async bands(start) {
    const episodes = [];
    let token = "";
    do {
      const page = await api(this.path, { query: { page_size: EPISODES_PER_PAGE, page_token: token } });
      episodes.push(...page.items);
      token = page.next_page_token;
      const oldest = page.items[page.items.length - 1];
      if (oldest && Date.parse(oldest.start_time) < start) break;
    } while (token);
    return episodes
      .filter((e) => !e.closed || Date.parse(e.end_time) >= start)
      .map((e) => ({
        from: Date.parse(e.start_time),
        to: e.closed ? Date.parse(e.end_time) : null,
        label: `${e.kind === "anomaly" ? "anomaly" : "data quality"}, ${e.severity}`,
        kind: e.severity === "high" ? "bad" : e.severity === "medium" ? "warn" : "info",
      }));
  }
}

const EPISODE_COLUMNS = [
  { label: "Kind", value: (e) => (e.kind === "anomaly" ? "anomaly" : "data quality") },
  { label: "Severity", value: (e) => badge(e.severity, SEVERITY_KIND[e.severity] ?? "warn") },
  { label: "Signals", value: (e) => [...e.top_signals, ...e.quality_issues].join(", ") || "-" },
  { label: "Start", value: (e) => fmt.time(e.start_time) },
  { label: "End", value: (e) => (e.closed ? fmt.time(e.end_time) : badge("open", "warn")) },
  { label: "Peak score", value: (e) => fmt.number(e.peak_score, 2) },
];

// -- commands ---------------------------------------------------------------

class CommandsView {
  constructor(base, granted) {
    this.listPath = `${base}/commands`;
    // A maker reads and cancels its commands under the granted machine's path.
    this.commandPath = (id) => `${granted ? this.listPath : "/v1/commands"}/${encodeURIComponent(id)}`;
    this.rows = new Map();
    this.stream = null;
    this.body = el("tbody");
    this.problem = el("div");
    this.empty = el("tr", { class: "empty" }, el("td", { colspan: "8", text: "No commands yet" }));
    this.node = section(
      "Commands",
      can("operator") ? this.sendForm() : null,
      this.problem,
      el(
        "table",
        { "data-testid": "machine-commands" },
        el("caption", { text: "Newest first" }),
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ...["Command", "Parameters", "State", "Detail", "Requested by", "Sent", "Expires", ""].map((label) =>
              el("th", { scope: "col", text: label }),
            ),
          ),
        ),
        this.body,
      ),
    );
  }

  sendForm() {
    return form({
      legend: "Send a command",
      testid: "send-command",
      submit: "Send",
      fields: [
        { name: "name", label: "Command", required: true, hint: "As the machine knows it, e.g. set_spindle_speed" },
        {
          name: "parameters",
          label: "Parameters (JSON object)",
          type: "textarea",
          value: "{}",
          hint: 'e.g. {"rpm": 8000}',
        },
        {
          name: "timeout_s",
          label: "Expires after (seconds)",
          type: "number",
          value: 300,
          min: 1,
          max: 86400,
          step: 1,
          hint: "Unanswered by then, the command expires",
        },
      ],
      onSubmit: async (values) => {
        const body = { name: values.name, parameters: parseParameters(values.parameters) };
        if (values.timeout_s !== null) body.timeout_s = values.timeout_s;
        const command = await api(this.listPath, { method: "POST", body });
        this.show(command, { atTop: true });
        this.followOpen();
      },
    });
  }

  async load() {
    const page = await api(this.listPath, { query: { page_size: COMMANDS_SHOWN } });
    this.merge(page.items);
    if (!this.rows.size) this.body.append(this.empty);
    this.followOpen();
  }

  // A page of commands, newest first: known ones change in place, new ones go on top.
  merge(commands) {
    for (const command of [...commands].reverse()) this.show(command, { atTop: true });
  }

  // One live view of the list while a command shown is still open: it carries
  // every open command's state (and commands sent from elsewhere), with one
  // connection however many are open.
  followOpen() {
    const open = [...this.rows.values()].some((row) => OPEN_COMMAND_STATES.has(row.state));
    if (open && !this.stream) {
      this.stream = live(`${this.listPath}?page_size=${COMMANDS_SHOWN}`, (page) => {
        this.merge(page.items);
        this.followOpen();
      });
    } else if (!open && this.stream) {
      this.stream.close();
      this.stream = null;
    }
  }

  show(command, { atTop = false } = {}) {
    let row = this.rows.get(command.id);
    if (!row) {
      row = {
        state: null,
        stateCell: el("td"),
        detail: el("td"),
        actions: el("td"),
        tr: null,
      };
      row.tr = el(
        "tr",
        { dataset: { commandId: command.id } },
        el("th", { scope: "row", text: command.name }),
        el("td", {}, el("code", { text: JSON.stringify(command.parameters) })),
        row.stateCell,
        row.detail,
        el("td", { text: command.requested_by }),
        el("td", { text: fmt.time(command.create_time) }),
        el("td", { text: fmt.time(command.expire_time) }),
        row.actions,
      );
      this.rows.set(command.id, row);
      this.empty.remove();
      if (atTop) this.body.prepend(row.tr);
      else this.body.append(row.tr);
    }
    setText(row.detail, [command.detail, command.late ? "answered late" : ""].filter(Boolean).join("; "));
    if (row.state === command.state) return;
    row.state = command.state;
    row.tr.dataset.state = command.state;
    row.stateCell.replaceChildren(badge(command.state, COMMAND_STATE_KIND[command.state] ?? "idle"));
    const cancellable = can("operator") && OPEN_COMMAND_STATES.has(command.state);
    if (cancellable && !row.actions.firstChild) {
      row.actions.append(
        el("button", {
          type: "button",
          class: "secondary",
          text: "Cancel",
          "aria-label": `Cancel ${command.name}`,
          on: { click: (event) => this.cancel(command.id, event.currentTarget) },
        }),
      );
    } else if (!cancellable) {
      row.actions.replaceChildren();
    }
  }

  async cancel(id, button) {
    button.disabled = true;
    this.problem.replaceChildren();
    try {
      this.show(await api(`${this.commandPath(id)}:cancel`, { method: "POST" }));
      this.followOpen();
    } catch (error) {
      button.disabled = false;
      this.problem.replaceChildren(notice(`The command was not cancelled: ${error.message}`, "bad"));
    }
  }

  close() {
    this.stream?.close();
  }
}

// Checked here so that a typo is named next to the field before anything is sent.
function parseParameters(text) {
  const refuse = (reason) => {
    throw new ApiError(422, {
      error: { message: `The parameters are not valid: ${reason}`, details: [{ field: "parameters", reason }] },
    });
  };
  let parameters;
  try {
    parameters = JSON.parse(text.trim() || "{}");
  } catch (error) {
    refuse(`not JSON (${error.message})`);
  }
  if (parameters === null || typeof parameters !== "object" || Array.isArray(parameters)) {
    refuse('a JSON object, e.g. {"rpm": 8000}');
  }
  return parameters;
}
