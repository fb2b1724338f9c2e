// The fleet: every machine of the tenant by plant, line and station, with its
// online state, health and open anomaly episodes, kept live from the twins.

import { api, badge, el, every, fmt, link, live, notice, section } from "/console/assets/console.js";

// GET /v1/twins answers at most this many machines per call.
const TWINS_PER_CALL = 100;
const SEVERITY_RANK = { low: 1, medium: 2, high: 3 };
const SEVERITY_KIND = { low: "idle", medium: "warn", high: "bad" };

export async function render(main) {
  const [plants, lines, stations, machines, models] = await Promise.all([
    every("/v1/plants"),
    every("/v1/lines"),
    every("/v1/stations"),
    every("/v1/equipment"),
    every("/v1/equipment-models"),
  ]);
  const fleet = new Fleet({ plants, lines, stations, machines, models });
  const problems = el("div");
  main.append(
    el("h1", { text: "Fleet" }),
    fleet.summary,
    problems,
    fleet.filters,
    section("Machines", fleet.status, fleet.table),
  );

  // The table shows at once; the machines' states follow from their twins.
  const chunks = chunked(machines.map((m) => m.id), TWINS_PER_CALL);
  try {
    const answers = await Promise.all(chunks.map((ids) => api("/v1/twins", { query: { equipment_ids: ids } })));
    for (const answer of answers) answer.items.forEach((twin) => fleet.update(twin));
  } catch (error) {
    problems.append(notice(`The machines' states could not be loaded: ${error.message}`, "warn"));
  }
  const streams = chunks.map((ids) =>
    live(
      `/v1/twins?${new URLSearchParams(ids.map((id) => ["equipment_ids", id]))}`,
      (answer) => answer.items.forEach((twin) => fleet.update(twin)),
      { onFailure: (error) => problems.replaceChildren(notice(`Live updates failed: ${error.message}`, "warn")) },
    ),
  );
  return () => streams.forEach((stream) => stream.close());
}

function chunked(items, size) {
  const chunks = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

// Writes only changes, so that screen readers and the DOM see no churn.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function byName(a, b) {
  return a.name.localeCompare(b.name, undefined, { numeric: true });
}

function healthBadge(score) {
  if (score === null || score === undefined) return badge("learning", "idle");
  const kind = score >= 80 ? "ok" : score >= 50 ? "warn" : "bad";
  return badge(fmt.number(score, 0), kind);
}

function onlineBadge(connected) {
  return connected ? badge("online", "ok") : badge("offline", "idle");
}

function episodesCell(episodes) {
  if (!episodes.length) return "none";
  const worst = episodes.reduce((a, b) => (SEVERITY_RANK[b.severity] > SEVERITY_RANK[a.severity] ? b : a));
  return badge(`${episodes.length} open, worst ${worst.severity}`, SEVERITY_KIND[worst.severity] ?? "warn");
}

// The machines table and its filters. Rows are built once; a twin update
// changes only the cells it concerns, so focus and scroll stay where they are.
class Fleet {
  constructor({ plants, lines, stations, machines, models }) {
    this.rows = new Map();
    const plantById = new Map(plants.map((p) => [p.id, p]));
    const lineById = new Map(lines.map((l) => [l.id, l]));
    const stationById = new Map(stations.map((s) => [s.id, s]));
    const modelById = new Map(models.map((m) => [m.id, m]));

    this.table = el(
      "table",
      { "data-testid": "fleet-machines", class: "fleet-machines" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...["Line", "Station", "Machine", "Serial number", "Model", "Online", "Last seen", "Health", "Anomaly episodes"].map(
            (label) => el("th", { scope: "col", text: label }),
          ),
        ),
      ),
    );

    // Plants in name order, each machine under its station's line; machines
    // whose station is unknown here are listed apart with the unplaced ones.
    const groups = new Map([...plants].sort(byName).map((p) => [p.id, []]));
    const apart = [];
    for (const machine of machines) {
      const station = stationById.get(machine.station_id);
      const line = station && lineById.get(station.line_id);
      const place = { station, line, plant: station && plantById.get(station.plant_id) };
      (place.plant ? groups.get(place.plant.id) : apart).push({ machine, ...place });
    }
    const placeOrder = (a, b) =>
      (a.line?.name ?? "").localeCompare(b.line?.name ?? "", undefined, { numeric: true }) ||
      (a.station?.name ?? "").localeCompare(b.station?.name ?? "", undefined, { numeric: true }) ||
      (a.machine.name || a.machine.serial_number).localeCompare(b.machine.name || b.machine.serial_number, undefined, {
        numeric: true,
      });
    this.groups = [];
    for (const [plantId, placed] of groups) {
      if (placed.length) this.addGroup(plantById.get(plantId).name, placed.sort(placeOrder), modelById);
    }
    if (apart.length) this.addGroup("Not placed on a station", apart.sort(placeOrder), modelById);
    if (!machines.length) {
      this.table.append(el("tbody", {}, el("tr", {}, el("td", { colspan: "9", text: "No machines yet" }))));
    }

    this.counts = { machines: el("strong"), online: el("strong"), episodes: el("strong") };
    const figure = (count, label) => el("div", { class: "figure" }, count, el("span", { text: label }));
    this.summary = el(
      "div",
      { class: "figures" },
      figure(this.counts.machines, "machines"),
      figure(this.counts.online, "online"),
      figure(this.counts.episodes, "with open anomaly episodes"),
    );
    this.status = el("p", { class: "fleet-status", role: "status" });
    this.filters = this.buildFilters(plants);
    this.refresh();
  }

  addGroup(title, placed, modelById) {
    const header = el("tr", { class: "fleet-group" }, el("th", { scope: "rowgroup", colspan: "9", text: title }));
    const body = el("tbody", {}, header);
    const group = { body, rows: [] };
    for (const { machine, station, line, plant } of placed) {
      const cells = {
        online: el("td", {}, badge("unknown", "idle")),
        seen: el("td", { text: "never" }),
        health: el("td", {}, healthBadge(null)),
        episodes: el("td", { text: "none" }),
      };
      const tr = el(
        "tr",
        { dataset: { equipmentId: machine.id } },
        el("td", { text: line?.name ?? "" }),
        el("td", { text: station?.name ?? "" }),
        el("th", { scope: "row" }, link(`/machines/${encodeURIComponent(machine.id)}`, machine.name || machine.serial_number)),
        el("td", { text: machine.serial_number }),
        el("td", { text: modelById.get(machine.equipment_model_id)?.name ?? "" }),
        cells.online,
        cells.seen,
        cells.health,
        cells.episodes,
      );
      const row = {
        tr,
        cells,
        plantId: plant?.id ?? "",
        text: [machine.name, machine.serial_number, station?.name, line?.name].join(" ").toLowerCase(),
        twin: { connected: false, health: null, episodes: [], seen: null },
      };
      this.rows.set(machine.id, row);
      group.rows.push(row);
      body.append(tr);
    }
    this.groups.push(group);
    this.table.append(body);
  }

  buildFilters(plants) {
    const search = el("input", { type: "search", id: "fleet-search", placeholder: "Name, serial, station, line" });
    const plant = el(
      "select",
      { id: "fleet-plant" },
      el("option", { value: "", text: "All plants" }),
      ...[...plants].sort(byName).map((p) => el("option", { value: p.id, text: p.name })),
    );
    const online = el(
      "select",
      { id: "fleet-online" },
      el("option", { value: "", text: "Online and offline" }),
      el("option", { value: "online", text: "Online only" }),
      el("option", { value: "offline", text: "Offline only" }),
    );
    const unhealthy = el("input", { type: "checkbox", id: "fleet-unhealthy" });
    const withEpisodes = el("input", { type: "checkbox", id: "fleet-episodes" });
    this.inputs = { search, plant, online, unhealthy, withEpisodes };
    const apply = () => this.refresh();
    search.addEventListener("input", apply);
    for (const control of [plant, online, unhealthy, withEpisodes]) control.addEventListener("change", apply);
    const field = (label, control) => el("div", { class: "field" }, el("label", { for: control.id, text: label }), control);
    const check = (label, control) => el("div", { class: "field check" }, el("label", { for: control.id, text: label }), control);
    return el(
      "form",
      { class: "fleet-filters", role: "search", on: { submit: (event) => event.preventDefault() } },
      el(
        "fieldset",
        {},
        el("legend", { text: "Find machines" }),
        el(
          "div",
          { class: "toolbar" },
          field("Search", search),
          field("Plant", plant),
          field("Online state", online),
          check("Health below 50", unhealthy),
          check("With open anomaly episodes", withEpisodes),
        ),
      ),
    );
  }

  update(twin) {
    const row = this.rows.get(twin.equipment_id);
    if (!row) return;
    const next = {
      connected: twin.connected,
      health: twin.health_score ?? null,
      episodes: twin.open_episodes,
      seen: twin.last_seen_time,
    };
    row.twin = next;
    row.known = true;
    if (row.shownOnline !== next.connected) {
      row.shownOnline = next.connected;
      row.cells.online.replaceChildren(onlineBadge(next.connected));
    }
    setText(row.cells.seen, next.seen ? fmt.time(next.seen) : "never");
    const shownHealth = next.health === null ? null : Math.round(next.health);
    if (row.shownHealth !== shownHealth) {
      row.shownHealth = shownHealth;
      row.cells.health.replaceChildren(healthBadge(next.health));
    }
    const episodeKey = next.episodes.map((e) => `${e.id}:${e.severity}`).join(",");
    if (row.episodeKey !== episodeKey) {
      row.episodeKey = episodeKey;
      row.cells.episodes.replaceChildren(episodesCell(next.episodes));
    }
    this.scheduleRefresh();
  }

  // Streams deliver up to a hundred twins at once: filter and count once after them.
  scheduleRefresh() {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.refresh();
    });
  }

  matches(row) {
    const { search, plant, online, unhealthy, withEpisodes } = this.inputs;
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.every((word) => row.text.includes(word))) return false;
    if (plant.value && row.plantId !== plant.value) return false;
    if (online.value === "online" && !row.twin.connected) return false;
    if (online.value === "offline" && row.twin.connected) return false;
    if (unhealthy.checked && !(row.twin.health !== null && row.twin.health < 50)) return false;
    if (withEpisodes.checked && !row.twin.episodes.length) return false;
    return true;
  }

  refresh() {
    let shown = 0;
    for (const group of this.groups) {
      let groupShown = 0;
      for (const row of group.rows) {
        const visible = this.matches(row);
        if (row.tr.hidden === visible) row.tr.hidden = !visible;
        groupShown += visible ? 1 : 0;
      }
      group.body.hidden = groupShown === 0;
      shown += groupShown;
    }
    const rows = [...this.rows.values()];
    setText(this.counts.machines, String(rows.length));
    // Until the twins answer, the counts that come from them are not known.
    const known = rows.some((row) => row.known);
    const count = (test) => (known ? String(rows.filter(test).length) : "-");
    setText(this.counts.online, count((row) => row.twin.connected));
    setText(this.counts.episodes, count((row) => row.twin.episodes.length));
    const status = shown === rows.length ? `Showing all ${rows.length} machines` : `Showing ${shown} of ${rows.length} machines`;
    setText(this.status, status);
  }
}
