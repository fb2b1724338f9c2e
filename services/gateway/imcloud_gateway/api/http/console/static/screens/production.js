// Production: how a plant's stations did over a shift (OEE with the six big losses, each
// station's state timeline), its work orders and the plan of their operations on the stations.
import { api, badge, can, el, every, fmt, live, notice, section, table, withQuery } from "/console/assets/console.js";
import { keepingFocus, LiveList, picker, shortId, stateFilter, statesOf } from "/console/assets/screens/lists.js";

const SVG = "http://www.w3.org/2000/svg";
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
// The shifts offered: those begun in the last week (the API lists at most 31 days at once).
const SHIFTS_BACK_MS = 7 * DAY_MS;
// Rolling windows offered besides the shifts; the first is shown when the plant has no shift.
const RECENT = [
  ["recent-1h", "The last hour", HOUR_MS],
  ["recent-8h", "The last 8 hours", 8 * HOUR_MS],
];
// OEE counts whole minutes: a current shift's range grows by one each minute.
const TICK_MS = MINUTE_MS;
// Line figures are asked again at most this often while the plant's OEE moves.
const FOLLOW_EVERY_MS = 10_000;
// State timelines of a shift that runs now are asked again this often.
const TIMELINE_EVERY_MS = 5_000;
// One request per station and refresh: a larger plant shows its timelines a line at a time.
const TIMELINE_STATIONS = 40;
const ALL_LINES = "";
const OPEN_WORK_ORDERS = ["planned", "released", "running"];
const WORK_ORDER_FILTERS = [
  ["open", "Open (planned, released, running)", OPEN_WORK_ORDERS],
  ["completed", "Completed", ["completed"]],
  ["cancelled", "Cancelled", ["cancelled"]],
  ["all", "All", []],
];
const WORK_ORDER_BADGES = { planned: "idle", released: "idle", running: "ok", completed: "ok", cancelled: "bad" };
// The six big losses in the order they eat planned busy time, then what is left of it.
// Each with a short name for the table's columns.
const LOSSES = [
  ["breakdowns_s", "Breakdowns", "Breakdowns"],
  ["setup_and_adjustment_s", "Setup and adjustment", "Setup"],
  ["small_stops_s", "Small stops", "Small stops"],
  ["reduced_speed_s", "Reduced speed", "Speed loss"],
  ["startup_rejects_s", "Start-up rejects", "Start-up rejects"],
  ["production_rejects_s", "Production rejects", "Rejects"],
];
const PRODUCTIVE = "Fully productive time";
const STATES = [
  ["running", "Running"],
  ["idle", "Idle"],
  ["setup", "Setup"],
  ["down", "Down"],
  ["planned_stop", "Planned stop"],
  ["no_data", "No data"],
];
const STATE_LABELS = Object.fromEntries(STATES);

export async function render(main, _params) {
  main.append(el("h1", { text: "Production" }));
  const plants = await every("/v1/plants");
  if (!plants.length) {
    main.append(notice("No plants yet: an administrator creates them with POST /v1/plants."));
    return undefined;
  }
  const query = new URLSearchParams(location.search);
  const plant = plants.find((p) => p.id === query.get("plant")) ?? plants[0];
  const clock = plantClock(plant.time_zone);
  const shifts = await recentShifts(plant);
  const chosen = query.get("shift");
  // Unless asked for another: the shift running now, else the last one, else the last 8 hours.
  const rolling = RECENT.find(([value]) => value === chosen);
  const shift = rolling ? null : shifts.find((s) => s.start_time === chosen) ?? shifts[0] ?? null;
  const recentMs = (rolling ?? RECENT[0])[2];

  const pickers = el(
    "div",
    { class: "toolbar" },
    picker("production-plant", "Plant", plants.map((p) => [p.id, p.name]), plant.id, (id) => go({ plant: id })),
    picker(
      "production-shift",
      "Shift",
      [
        ...RECENT.map(([value, label]) => [value, label]),
        ...shifts.map((s) => [s.start_time, `${clock.day(s.start_time)} ${s.name}, ${clock.hm(s.start_time)}–${clock.hm(s.end_time)}`]),
      ],
      shift ? shift.start_time : (rolling ?? RECENT[0])[0],
      (start) => go({ plant: plant.id, shift: start }),
    ),
    el("p", { class: "hint", text: `Times in the plant's time zone, ${plant.time_zone}.` }),
  );
  main.append(pickers);
  if (!shifts.length) {
    main.append(notice("The plant has no shifts in the last week: it has no shift calendar yet, or a new one."));
  }
  const view = new PlantView(main, plant, clock, shift, recentMs);
  await view.start();
  return () => view.close();
}

// A change of plant or shift is a new address: the back button and a reload keep it.
function go(params) {
  location.search = new URLSearchParams(params).toString();
}

async function recentShifts(plant) {
  const now = Date.now();
  const { items } = await api(`/v1/plants/${encodeURIComponent(plant.id)}/shifts`, {
    query: { start_time: iso(now - SHIFTS_BACK_MS), end_time: iso(now + MINUTE_MS) },
  });
  return items.filter((s) => Date.parse(s.start_time) <= now).reverse();
}

// The plant's figures over the chosen shift (or the recent hours), kept up to date.
class PlantView {
  constructor(main, plant, clock, shift, recentMs) {
    this.plant = plant;
    this.clock = clock;
    this.shift = shift;
    this.recentMs = recentMs;
    this.timers = [];
    this.lineOee = new Map();
    this.plantOee = null;
    this.workOrders = [];
    this.schedule = null;
    const loading = () => el("p", { class: "hint", text: "Loading…" });
    this.oeeBox = el("div", { class: "box" }, loading());
    this.timelineBox = el("div", { class: "box", "data-testid": "state-timeline" }, loading());
    this.ordersBox = el("div", { class: "box" }, loading());
    this.ganttBox = el("div", { class: "box", "data-testid": "schedule-gantt" }, loading());
    this.orders = new LiveList(this.ordersBox, () => this.workOrderTable());
    this.ordersFilter = "open";
    this.timelineLine = ALL_LINES;
    this.timelineFilter = el("div");
    main.append(
      section("OEE", el("p", { class: "hint", text: "Availability × performance × quality; the bar splits planned busy time into what the six big losses took and what was left." }), this.oeeBox, lossLegend()),
      section("State timeline", this.timelineFilter, this.timelineBox, stateLegend()),
      section("Work orders", this.ordersFilterPicker(), this.ordersBox),
      section("Schedule", this.ganttBox),
    );
    this.followLines = throttled(() => this.refreshLines(), FOLLOW_EVERY_MS);
  }

  range() {
    const now = Date.now();
    const minute = now - (now % MINUTE_MS);
    if (!this.shift) return { start: minute - this.recentMs, end: minute, moving: true };
    const start = Date.parse(this.shift.start_time);
    const end = Date.parse(this.shift.end_time);
    return { start, end: Math.min(end, minute), moving: end > minute };
  }

  async start() {
    const [lines, stations] = await Promise.all([
      every("/v1/lines", { plant_id: this.plant.id }),
      every("/v1/stations", { plant_id: this.plant.id }),
    ]);
    this.lines = lines;
    this.stations = stations;
    this.timelineFilter.replaceWith(this.timelineLinePicker());
    // Stations are named within their line: "Machining · Station 01".
    const lineNames = new Map(lines.map((l) => [l.id, l.name]));
    this.stationNames = new Map(stations.map((s) => [s.id, `${lineNames.get(s.line_id) ?? ""} · ${s.name}`]));
    this.followOee();
    this.followWorkOrders();
    this.followSchedule();
    this.refreshTimeline();
    const moving = this.range().moving;
    if (moving) this.timers.push(setInterval(() => this.refreshTimeline(), TIMELINE_EVERY_MS));
    this.timers.push(
      setInterval(() => {
        if (moving) this.followOee();
        if (this.schedule) this.drawSchedule(); // its now line moves
      }, TICK_MS),
    );
  }

  close() {
    this.oeeStream?.close();
    this.orders.close();
    this.timers.forEach((timer) => clearInterval(timer));
    clearTimeout(this.firstMinute);
    this.followLines.cancel();
    this.scheduleStream?.close();
    this.closed = true;
  }

  oeeQuery(scope) {
    const { start, end } = this.range();
    return { ...scope, start_time: iso(start), end_time: iso(end) };
  }

  // The plant's OEE with a part per station, live; a moving range starts a new stream each
  // minute, as its end moves (the stream itself shows late data of the minutes it covers).
  followOee() {
    this.oeeStream?.close();
    this.oeeStream = null;
    const { start, end } = this.range();
    if (end <= start) {
      // A shift in its first minute has no whole minute yet: its OEE shows once it has one.
      this.oeeBox.replaceChildren(notice("The shift began under a minute ago: its OEE shows after its first whole minute."));
      clearTimeout(this.firstMinute);
      this.firstMinute = setTimeout(() => this.followOee(), start + MINUTE_MS - Date.now() + 1000);
      return;
    }
    const path = withQuery("/v1/oee", this.oeeQuery({ plant_id: this.plant.id, breakdown: "station" }));
    this.oeeStream = live(
      path,
      (body) => {
        this.plantOee = body;
        this.drawOee();
        this.followLines();
      },
      { onFailure: (error) => this.oeeBox.replaceChildren(notice(error.message, "bad")) },
    );
  }

  async refreshLines() {
    const { start, end } = this.range();
    if (end <= start || this.closed) return;
    const answers = await Promise.all(
      this.lines.map((line) => api("/v1/oee", { query: this.oeeQuery({ line_id: line.id }) }).catch(() => null)),
    );
    this.lineOee = new Map(this.lines.map((line, i) => [line.id, answers[i]?.total ?? null]));
    this.drawOee();
  }

  drawOee() {
    if (!this.plantOee) return;
    const byStation = new Map(this.plantOee.parts.map((part) => [part.scope_id, part]));
    const rows = [{ label: this.plant.name, level: "plant", oee: this.plantOee.total }];
    for (const line of this.lines) {
      rows.push({ label: line.name, level: "line", oee: this.lineOee.get(line.id) ?? null });
      for (const station of this.stations.filter((s) => s.line_id === line.id)) {
        rows.push({ label: station.name, level: "station", oee: byStation.get(station.id) ?? null });
      }
    }
    const ratio = (name) => (row) => (row.oee ? fmt.percent(row.oee[name]) : "–");
    const loss = (key) => (row) => (row.oee ? fmt.duration(row.oee.losses[key]) : "–");
    this.oeeBox.replaceChildren(
      el(
        "div",
        { class: "scroll oee" },
        table({
          columns: [
            { label: "Plant, line, station", value: (row) => el("span", { class: `scope scope-${row.level}`, text: row.label }) },
            { label: "Availability", value: ratio("availability") },
            { label: "Performance", value: ratio("performance") },
            { label: "Quality", value: ratio("quality") },
            { label: "OEE", value: (row) => el("strong", { text: ratio("oee")(row) }) },
            { label: "Good / scrap", value: (row) => (row.oee ? `${fmt.number(row.oee.quantities.good, 0)} / ${fmt.number(row.oee.quantities.scrap, 0)}` : "–") },
            ...LOSSES.map(([key, , short]) => ({ label: short, value: loss(key) })),
            { label: "Planned busy time", value: (row) => (row.oee ? lossBar(row.label, row.oee) : "–") },
          ],
          rows,
          empty: "No stations in this plant yet",
          testid: "oee-table",
        }),
      ),
    );
  }

  // One refresh at a time; one asked meanwhile (a tick, another line) follows it.
  async refreshTimeline() {
    if (this.timelineBusy) {
      this.timelineAgain = true;
      return;
    }
    this.timelineBusy = true;
    try {
      await this.drawTimeline();
    } finally {
      this.timelineBusy = false;
    }
    if (this.timelineAgain) {
      this.timelineAgain = false;
      this.refreshTimeline();
    }
  }

  async drawTimeline() {
    // Up to now, not the last whole minute as OEE counts: a state shows as it begins.
    const { start, end: minute, moving } = this.range();
    const end = moving ? Date.now() : minute;
    if (end <= start || this.closed) return;
    const query = { start_time: iso(start), end_time: iso(end) };
    const chosen = this.stations.filter((s) => this.timelineLine === ALL_LINES || s.line_id === this.timelineLine);
    const shown = chosen.slice(0, TIMELINE_STATIONS);
    const answers = await Promise.all(
      shown.map((station) =>
        api(`/v1/stations/${encodeURIComponent(station.id)}/states`, { query }).catch((error) => ({ error })),
      ),
    );
    if (this.closed) return;
    const scale = { from: start, to: this.shift ? Date.parse(this.shift.end_time) : end };
    const rows = shown.map((station, i) => {
      const answer = answers[i];
      const name = this.stationNames.get(station.id);
      if (answer.error) return trackRow(name, el("span", { class: "hint", text: answer.error.message }));
      return trackRow(name, stateTrack(name, answer.items, scale, end, this.clock), answer.truncated ? "(more states than shown)" : null);
    });
    this.timelineBox.replaceChildren(
      ...[
        rows.length ? el("div", { class: "tracks" }, trackRow("", timeAxis(scale, this.clock)), ...rows) : notice("No stations here yet."),
        chosen.length > shown.length ? el("p", { class: "hint", text: `The first ${shown.length} of ${chosen.length} stations: choose a line to see its own.` }) : null,
      ].filter(Boolean),
    );
  }

  timelineLinePicker() {
    const options = [[ALL_LINES, "All lines"], ...this.lines.map((line) => [line.id, line.name])];
    return el(
      "div",
      { class: "toolbar" },
      picker("timeline-line", "Line", options, this.timelineLine, (value) => {
        this.timelineLine = value;
        this.refreshTimeline();
      }),
    );
  }

  ordersFilterPicker() {
    return stateFilter("work-order-filter", WORK_ORDER_FILTERS, this.ordersFilter, (value) => {
      this.ordersFilter = value;
      this.followWorkOrders();
    });
  }

  followWorkOrders() {
    const states = statesOf(WORK_ORDER_FILTERS, this.ordersFilter);
    this.orders.follow(withQuery("/v1/work-orders", { plant_id: this.plant.id, state: states, page_size: 200 }), (body) => {
      this.workOrders = body.items;
      if (this.schedule) this.drawSchedule(); // bars are named by the orders' part numbers
    });
  }

  workOrderTable() {
    const etas = new Map((this.schedule?.etas ?? []).map((eta) => [eta.work_order_id, eta]));
    const columns = [
      { label: "Work order", value: (o) => el("code", { text: shortId(o.id), title: o.id }) },
      { label: "Product", value: (o) => o.part_number },
      { label: "Quantity", value: (o) => fmt.number(o.quantity, 0) },
      { label: "State", value: (o) => badge(o.state, WORK_ORDER_BADGES[o.state] ?? "idle") },
      { label: "Progress", value: progress },
      { label: "Due", value: (o) => this.clock.time(o.due_time) },
      { label: "ETA", value: (o) => eta(etas.get(o.id), this.clock) },
    ];
    if (can("operator")) columns.push({ label: "Actions", value: (o) => this.actions(o) });
    return [
      table({ columns, rows: this.workOrders, empty: "No work orders here", testid: "work-orders", rowAttrs: (o) => ({ dataset: { workOrderId: o.id, state: o.state } }) }),
      this.orders.body?.next_page_token ? el("p", { class: "hint", text: "The first 200 are shown." }) : null,
    ];
  }

  // Release (planned) and cancel (planned, released, running), each confirmed in the row.
  actions(order) {
    const path = `/v1/work-orders/${encodeURIComponent(order.id)}`;
    const name = `Work order ${shortId(order.id)}`;
    return el(
      "div",
      { class: "actions" },
      order.state === "planned"
        ? this.orders.action({
            key: `release-${order.id}`,
            label: "Release",
            confirm: "Confirm release",
            keep: "Keep planned",
            act: () => api(`${path}:release`, { method: "POST" }),
            done: `${name} released.`,
          })
        : null,
      OPEN_WORK_ORDERS.includes(order.state)
        ? this.orders.action({
            key: `cancel-${order.id}`,
            label: "Cancel…",
            confirm: "Confirm cancel",
            keep: "Keep it",
            danger: true,
            input: { name: "reason", label: "Why cancel?", required: true, maxlength: 500 },
            act: (reason) => api(`${path}:cancel`, { method: "POST", body: { reason } }),
            done: `${name} cancelled.`,
          })
        : null,
    );
  }

  // The plan changes within seconds of a release, a station going down or an operation
  // falling behind: the Gantt chart and the orders' ETAs follow it.
  followSchedule() {
    this.scheduleStream = live(
      `/v1/plants/${encodeURIComponent(this.plant.id)}/schedule`,
      (body) => {
        this.schedule = body;
        this.drawSchedule();
        this.orders.redraw();
      },
      { onFailure: (error) => this.ganttBox.replaceChildren(notice(error.message, "bad")) },
    );
  }

  drawSchedule() {
    const plan = this.schedule;
    const status = plan.status
      ? el(
          "p",
          { class: "hint" },
          `Revision ${plan.revision} (${plan.method}, `,
          badge(plan.status, plan.status === "optimal" || plan.status === "feasible" ? "ok" : "bad"),
          `) planned ${this.clock.time(plan.compute_time)}.`,
          plan.reason ? ` ${plan.reason}` : null,
        )
      : notice("No plan yet: the plant is planned within seconds of its first released work order or calendar change.");
    const parts = new Map(this.workOrders.map((o) => [o.id, o.part_number]));
    const label = (op) => `${parts.get(op.work_order_id) ?? shortId(op.work_order_id)} · ${op.sequence}. ${op.name}`;
    const extra = [];
    if (plan.down_station_ids.length) {
      extra.push(notice(`Down: ${plan.down_station_ids.map((id) => this.stationNames.get(id) ?? id).join(", ")}.`, "warn"));
    }
    for (const u of plan.unscheduled) extra.push(notice(`Work order ${shortId(u.work_order_id)} is not planned: ${u.reason}`, "warn"));
    if (!plan.operations.length) {
      this.ganttBox.replaceChildren(status, ...extra, notice("No open operations are planned."));
      return;
    }
    const now = Date.now();
    const from = Math.min(now, ...plan.operations.map((op) => Date.parse(op.setup_start_time)));
    const to = Math.max(now + HOUR_MS, ...plan.operations.map((op) => Date.parse(op.end_time)));
    const scale = { from, to };
    const rows = this.stations
      .filter((station) => plan.operations.some((op) => op.station_id === station.id))
      .map((station) => {
        const name = this.stationNames.get(station.id);
        const ops = plan.operations.filter((op) => op.station_id === station.id);
        return trackRow(name, ganttTrack(name, ops, scale, now, label, this.clock));
      });
    const fallback = el(
      "details",
      {},
      el("summary", { text: "The plan as a table" }),
      table({
        columns: [
          { label: "Station", value: (op) => this.stationNames.get(op.station_id) ?? op.station_id },
          { label: "Operation", value: label },
          { label: "Setup from", value: (op) => this.clock.time(op.setup_start_time) },
          { label: "Start", value: (op) => this.clock.time(op.start_time) },
          { label: "End", value: (op) => this.clock.time(op.end_time) },
          { label: "", value: (op) => (op.started ? badge("running", "ok") : op.frozen ? badge("fixed", "idle") : "") },
        ],
        rows: plan.operations,
      }),
    );
    keepingFocus(this.ganttBox, () =>
      this.ganttBox.replaceChildren(status, ...extra, el("div", { class: "tracks" }, trackRow("", timeAxis(scale, this.clock)), ...rows), ganttLegend(), fallback),
    );
  }
}

// -- drawing -------------------------------------------------------------------------

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function tooltip(text) {
  return svg("title", {}, text);
}

// A position on a scale {from, to} (ms) as a percentage of the width, kept inside it.
function at(scale, time) {
  const share = (time - scale.from) / (scale.to - scale.from);
  return `${(Math.min(1, Math.max(0, share)) * 100).toFixed(3)}%`;
}

function span(scale, from, to) {
  return { x: at(scale, from), width: `${Math.max(0, parseFloat(at(scale, to)) - parseFloat(at(scale, from))).toFixed(3)}%` };
}

function trackRow(name, track, note = null) {
  return el("div", { class: "track-row" }, el("span", { class: "track-name", text: name }), el("div", { class: "track" }, track, note ? el("span", { class: "hint", text: note }) : null));
}

function lossBar(name, oee) {
  const total = oee.time.planned_busy_time_s;
  if (!total) return el("span", { class: "hint", text: "no planned time" });
  const lost = LOSSES.reduce((sum, [key]) => sum + oee.losses[key], 0);
  const parts = [["productive", PRODUCTIVE, Math.max(0, total - lost)], ...LOSSES.map(([key, label]) => [key, label, oee.losses[key]])];
  const scale = { from: 0, to: total };
  let offset = 0;
  const rects = [];
  for (const [key, label, seconds] of parts) {
    if (seconds > 0) {
      rects.push(svg("rect", { ...span(scale, offset, offset + seconds), y: 0, height: "100%", class: `loss-${key}` }, tooltip(`${label}: ${fmt.duration(seconds)} (${fmt.percent(seconds / total)})`)));
    }
    offset += seconds;
  }
  const summary = parts.filter(([, , s]) => s > 0).map(([, label, s]) => `${label} ${fmt.percent(s / total)}`).join(", ");
  return svg("svg", { class: "bar", width: "100%", height: 14, role: "img", "aria-label": `${name}: ${fmt.duration(total)} planned; ${summary}` }, ...rects);
}

function stateTrack(name, intervals, scale, until, clock) {
  const rects = intervals.map((interval) => {
    const from = Date.parse(interval.start_time);
    const to = interval.end_time ? Date.parse(interval.end_time) : until;
    const label = `${STATE_LABELS[interval.state] ?? interval.state} ${clock.hm(interval.start_time)}–${interval.end_time ? clock.hm(interval.end_time) : "now"}`;
    return svg("rect", { ...span(scale, from, to), y: 0, height: "100%", class: `state-${interval.state}` }, tooltip(label));
  });
  const nowLine = until < scale.to ? svg("line", { class: "now", x1: at(scale, until), x2: at(scale, until), y1: 0, y2: "100%" }) : null;
  return svg("svg", { class: "timeline", width: "100%", height: 20, role: "group", "aria-label": `${name}: ${intervals.length} states` }, ...rects, nowLine);
}

function ganttTrack(name, operations, scale, now, label, clock) {
  const bars = operations.map((op) => {
    const setup = Date.parse(op.setup_start_time);
    const start = Date.parse(op.start_time);
    const end = Date.parse(op.end_time);
    const text = `${label(op)}: ${start > setup ? `setup from ${clock.time(op.setup_start_time)}, ` : ""}runs ${clock.time(op.start_time)}–${clock.time(op.end_time)}${op.started ? ", running" : ""}`;
    const setupShare = (start - setup) / Math.max(1, end - setup);
    // A nested svg clips its label to the bar.
    return svg(
      "svg",
      { ...span(scale, setup, end), y: 2, height: 24, class: `op${op.started ? " started" : ""}`, "data-key": `op-${op.work_order_id}-${op.sequence}`, tabindex: 0, role: "img", "aria-label": text },
      tooltip(text),
      svg("rect", { x: 0, y: 0, width: "100%", height: "100%", class: "op-run" }),
      setupShare > 0 ? svg("rect", { x: 0, y: 0, width: `${(setupShare * 100).toFixed(3)}%`, height: "100%", class: "op-setup" }) : null,
      svg("text", { x: 4, y: 16 }, label(op)),
    );
  });
  return svg("svg", { class: "gantt", width: "100%", height: 28, role: "group", "aria-label": `${name}: ${operations.length} operations planned` }, ...bars, svg("line", { class: "now", x1: at(scale, now), x2: at(scale, now), y1: 0, y2: "100%" }));
}

// Hour marks (or coarser) along a scale, labelled in the plant's time zone.
function timeAxis(scale, clock) {
  const steps = [15 * MINUTE_MS, 30 * MINUTE_MS, HOUR_MS, 2 * HOUR_MS, 3 * HOUR_MS, 6 * HOUR_MS, 12 * HOUR_MS, DAY_MS];
  const step = steps.find((s) => (scale.to - scale.from) / s <= 8) ?? Math.ceil((scale.to - scale.from) / 8 / DAY_MS) * DAY_MS;
  const marks = [];
  for (let t = Math.ceil(scale.from / step) * step; t <= scale.to; t += step) {
    marks.push(svg("line", { class: "tick", x1: at(scale, t), x2: at(scale, t), y1: 12, y2: 18 }));
    marks.push(svg("text", { x: at(scale, t), y: 10, "text-anchor": "middle" }, step >= DAY_MS ? clock.day(t) : clock.hm(t)));
  }
  return svg("svg", { class: "axis", width: "100%", height: 18, "aria-hidden": "true" }, ...marks);
}

function legend(label, items) {
  return el(
    "ul",
    { class: "legend", "aria-label": label },
    ...items.map(([cls, text]) => el("li", {}, el("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), text)),
  );
}

function lossLegend() {
  return legend("Planned busy time", [["loss-productive", PRODUCTIVE], ...LOSSES.map(([key, label]) => [`loss-${key}`, label])]);
}

function stateLegend() {
  return legend("States", STATES.map(([state, label]) => [`state-${state}`, label]));
}

function ganttLegend() {
  return legend("Plan", [["op-setup", "Setup"], ["op-run", "Operation"], ["op-started", "Running now"], ["now", "Now"]]);
}

function progress(order) {
  const text = `${fmt.number(order.good_quantity, 0)} / ${fmt.number(order.quantity, 0)}`;
  return el(
    "span",
    { class: "progress" },
    el("progress", { max: order.quantity, value: Math.min(order.good_quantity, order.quantity), "aria-label": `${text} good` }),
    ` ${text}`,
  );
}

function eta(estimate, clock) {
  if (!estimate) return "–";
  const late = estimate.lateness_s > 0;
  return el(
    "span",
    { title: estimate.explanation },
    clock.time(estimate.end_time),
    " ",
    late ? badge(`${fmt.duration(estimate.lateness_s)} late`, "warn") : badge("on time", "ok"),
  );
}

// -- small helpers -------------------------------------------------------------------

function plantClock(timeZone) {
  const make = (options) => {
    try {
      return new Intl.DateTimeFormat(undefined, { ...options, timeZone });
    } catch {
      return new Intl.DateTimeFormat(undefined, options); // a zone this browser does not know
    }
  };
  const hm = make({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const day = make({ weekday: "short", day: "numeric", month: "short" });
  const time = make({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const date = (value) => (typeof value === "number" ? new Date(value) : new Date(Date.parse(value)));
  return {
    hm: (value) => hm.format(date(value)),
    day: (value) => day.format(date(value)),
    time: (value) => (value ? time.format(date(value)) : "–"),
  };
}

function iso(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// Calls fn at once, then at most once per `ms`, the last call of a burst always made.
function throttled(fn, ms) {
  let last = 0;
  let timer = null;
  const call = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const wrapped = () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) call();
    else timer = setTimeout(call, wait);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
