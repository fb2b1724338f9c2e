// Service: maintenance tickets with their booked windows, and customized orders with their
// stages and, on demand, their genealogy.
import { api, badge, can, el, every, fmt, link, notice, section, table, withQuery } from "/console/assets/console.js";
import { LiveList, shortId, stateFilter, statesOf } from "/console/assets/screens/lists.js";

const LIST_SIZE = 200;
const TICKET_FILTERS = [
  ["open", "Open (open, scheduled, in progress)", ["open", "scheduled", "in_progress"]],
  ["resolved", "Resolved", ["resolved"]],
  ["dismissed", "Dismissed", ["dismissed"]],
  ["all", "All", []],
];
const PRIORITY_BADGES = { low: "idle", medium: "idle", high: "warn", critical: "bad" };
const TICKET_BADGES = { open: "warn", scheduled: "idle", in_progress: "ok", resolved: "ok", dismissed: "idle" };
// The moves the ticket lifecycle allows from each state (POST ...:transition); scheduled is
// reached by booking a window.
const MOVES = {
  open: [["in_progress", "Start work"], ["dismissed", "Dismiss"]],
  scheduled: [["in_progress", "Start work"], ["open", "Unbook"]],
  in_progress: [["resolved", "Resolve"], ["dismissed", "Dismiss"]],
};
const WINDOWS_ASKED = 3;
const ORDER_STAGES = [
  ["accepted", "Accepted"],
  ["scheduled", "Scheduled"],
  ["in_production", "In production"],
  ["completed", "Completed"],
  ["shipped", "Shipped"],
];
const ORDER_BADGES = { accepted: "idle", scheduled: "idle", in_production: "ok", completed: "ok", shipped: "ok", cancelled: "bad" };
const CLOSED_ORDERS = ["completed", "shipped", "cancelled"];

export async function render(main, _params) {
  main.append(el("h1", {}, "Service"));
  const [equipment, stations] = await Promise.all([every("/v1/equipment"), every("/v1/stations")]);
  const names = {
    machine: new Map(equipment.map((e) => [e.id, e.name || e.serial_number])),
    station: new Map(stations.map((s) => [s.id, s.name])),
  };
  const tickets = new Tickets(names);
  const orders = new Orders(names);
  main.append(
    section("Maintenance tickets", tickets.filter(), tickets.box),
    section("Customized orders", orders.box),
  );
  tickets.follow();
  orders.follow();
  return () => {
    tickets.list.close();
    orders.list.close();
  };
}

class Tickets {
  constructor(names) {
    this.names = names;
    this.state = "open";
    // The windows suggested for one ticket, shown under the list until booked or closed.
    this.windows = null;
    this.box = el("div", { class: "box" });
    this.list = new LiveList(this.box, (body) => this.draw(body));
  }

  filter() {
    return stateFilter("ticket-filter", TICKET_FILTERS, this.state, (value) => {
      this.state = value;
      this.follow();
    });
  }

  follow() {
    const states = statesOf(TICKET_FILTERS, this.state);
    this.list.follow(withQuery("/v1/maintenance-tickets", { state: states, page_size: LIST_SIZE }));
  }

  draw(body) {
    const columns = [
      { label: "Ticket", value: (t) => el("span", {}, el("strong", {}, t.title), t.description ? el("div", { class: "hint" }, t.description) : null) },
      { label: "Machine", value: (t) => link(`/machines/${encodeURIComponent(t.equipment_id)}`, this.names.machine.get(t.equipment_id) ?? shortId(t.equipment_id)) },
      { label: "Priority", value: (t) => badge(t.priority, PRIORITY_BADGES[t.priority]) },
      { label: "State", value: (t) => badge(t.state.replace("_", " "), TICKET_BADGES[t.state]) },
      { label: "Opened", value: (t) => el("span", {}, fmt.time(t.create_time), el("div", { class: "hint" }, t.source_episode_id ? "by an anomaly" : "by a person")) },
      { label: "Assignee", value: (t) => t.assignee || "–" },
      { label: "Booked window", value: (t) => this.booking(t) },
    ];
    if (can("operator")) columns.push({ label: "Actions", value: (t) => this.actions(t) });
    return [
      table({ columns, rows: body.items, empty: "No tickets here", testid: "tickets", rowAttrs: (t) => ({ dataset: { ticketId: t.id, state: t.state } }) }),
      body.next_page_token ? el("p", { class: "hint" }, `The first ${LIST_SIZE} are shown.`) : null,
      this.windowsPanel(),
    ];
  }

  booking(ticket) {
    const booking = ticket.booking;
    if (!booking) return "–";
    return el(
      "span",
      {},
      `${fmt.time(booking.start_time)} – ${fmt.time(booking.end_time)}`,
      el("div", { class: "hint" }, `at ${this.names.station.get(booking.station_id) ?? shortId(booking.station_id)}`),
    );
  }

  actions(ticket) {
    const path = `/v1/maintenance-tickets/${encodeURIComponent(ticket.id)}`;
    const moves = (MOVES[ticket.state] ?? []).map(([to, label]) =>
      this.list.action({
        key: `${to}-${ticket.id}`,
        label,
        confirm: `Confirm: ${label.toLowerCase()}`,
        danger: to === "dismissed",
        input:
          to === "resolved"
            ? { name: "reset_anomaly_model", type: "checkbox", label: "The machine's anomaly model learns it afresh" }
            : null,
        act: (reset) => api(`${path}:transition`, { method: "POST", body: { to, reset_anomaly_model: Boolean(reset) } }),
        done: `${ticket.title}: now ${to.replace("_", " ")}.`,
      }),
    );
    const find =
      ticket.state === "open"
        ? this.list.action({
            key: `windows-${ticket.id}`,
            label: "Find a window…",
            confirm: "Suggest windows",
            input: { name: "hours", type: "number", label: "Hours of work", required: true, min: 0.25, max: 744, step: 0.25, value: 2 },
            act: async (hours) => {
              const answer = await api(`${path}/suggested-windows`, {
                // ISO 8601: the route's "or seconds" form fails as a query string.
                query: { duration: `PT${Math.round(Number(hours) * 60)}M`, count: WINDOWS_ASKED },
              });
              this.windows = { ticket, answer };
            },
          })
        : null;
    return el("div", { class: "actions" }, moves, find);
  }

  // The cheapest windows for production first; booking one schedules the ticket.
  windowsPanel() {
    if (!this.windows) return null;
    const { ticket, answer } = this.windows;
    const path = `/v1/maintenance-tickets/${encodeURIComponent(ticket.id)}`;
    const columns = [
      { label: "From", value: (w) => fmt.time(w.start_time) },
      { label: "To", value: (w) => fmt.time(w.end_time) },
      { label: "Displaces", value: (w) => (w.displaced_operation_s ? fmt.duration(w.displaced_operation_s) : "nothing") },
      { label: "Adds lateness", value: (w) => fmt.duration(w.added_lateness_s) },
      { label: "Why", value: (w) => w.explanation },
    ];
    if (can("operator") && ticket.state === "open") {
      columns.push({
        label: "",
        value: (w) =>
          this.list.action({
            key: `book-${ticket.id}-${w.start_time}`,
            label: "Book",
            confirm: "Confirm booking",
            act: async () => {
              await api(`${path}:book`, { method: "POST", body: { start_time: w.start_time, end_time: w.end_time } });
              this.windows = null;
            },
            done: `${ticket.title}: window booked.`,
          }),
      });
    }
    return el(
      "div",
      { class: "genealogy", "data-testid": "suggested-windows" },
      el("h3", {}, `Windows for “${ticket.title}” at ${this.names.station.get(answer.station_id) ?? shortId(answer.station_id)}, before ${fmt.time(answer.not_after)}`),
      table({ columns, rows: answer.windows, empty: "No window fits before then" }),
      el("button", { type: "button", class: "secondary", on: { click: () => this.closeWindows() } }, "Close"),
    );
  }

  closeWindows() {
    this.windows = null;
    this.list.redraw();
  }
}

class Orders {
  constructor(names) {
    this.names = names;
    // Genealogy shown per order: the answer, or the error that came instead.
    this.genealogy = new Map();
    this.box = el("div", { class: "box" });
    this.list = new LiveList(this.box, (body) => this.draw(body));
  }

  follow() {
    this.list.follow(withQuery("/v1/orders", { page_size: LIST_SIZE }));
  }

  draw(body) {
    const columns = [
      { label: "Customer reference", value: (o) => o.customer_reference || el("code", { title: o.id }, shortId(o.id)) },
      { label: "Family", value: (o) => o.family_name },
      { label: "Quantity", value: (o) => fmt.number(o.quantity, 0) },
      { label: "Price", value: (o) => money(o.total_price, o.currency) },
      { label: "State", value: (o) => badge(o.state.replace("_", " "), ORDER_BADGES[o.state]) },
      { label: "Promised", value: (o) => fmt.time(o.promised_time) },
      { label: "Stages", value: stepper },
      { label: "Genealogy", value: (o) => this.genealogyToggle(o) },
    ];
    if (can("operator")) columns.push({ label: "Actions", value: (o) => this.actions(o) });
    const shown = body.items.filter((o) => this.genealogy.has(o.id));
    return [
      el("div", { class: "scroll" }, table({ columns, rows: body.items, empty: "No customized orders yet", testid: "orders", rowAttrs: (o) => ({ dataset: { orderId: o.id, state: o.state } }) })),
      body.next_page_token ? el("p", { class: "hint" }, `The newest ${LIST_SIZE} are shown.`) : null,
      shown.map((o) => {
        const answer = this.genealogy.get(o.id);
        return el(
          "div",
          { id: genealogyId(o), class: "genealogy", "data-testid": "genealogy" },
          el("h3", {}, `Genealogy of ${orderName(o)}`),
          answer.error ? notice(answer.error.message, "bad") : genealogy(answer, this.names),
        );
      }),
    ];
  }

  genealogyToggle(order) {
    const shown = this.genealogy.has(order.id);
    return el(
      "button",
      {
        type: "button",
        class: "secondary",
        "aria-expanded": shown ? "true" : "false",
        "aria-controls": shown ? genealogyId(order) : null,
        dataset: { key: `genealogy-${order.id}` },
        on: { click: () => this.toggle(order) },
      },
      shown ? "Hide" : "Show",
    );
  }

  async toggle(order) {
    if (this.genealogy.has(order.id)) {
      this.genealogy.delete(order.id);
    } else {
      try {
        this.genealogy.set(order.id, await api(`/v1/orders/${encodeURIComponent(order.id)}/genealogy`));
      } catch (error) {
        this.genealogy.set(order.id, { error });
      }
    }
    this.list.redraw();
  }

  actions(order) {
    const path = `/v1/orders/${encodeURIComponent(order.id)}`;
    const name = orderName(order);
    return el(
      "div",
      { class: "actions" },
      order.state === "completed"
        ? this.list.action({
            key: `ship-${order.id}`,
            label: "Ship…",
            confirm: "Confirm shipment",
            input: { name: "detail", label: "Shipment note", maxlength: 500 },
            act: (detail) => api(`${path}:ship`, { method: "POST", body: { detail } }),
            done: `Shipped ${name}.`,
          })
        : null,
      CLOSED_ORDERS.includes(order.state)
        ? null
        : this.list.action({
            key: `cancel-${order.id}`,
            label: "Cancel…",
            confirm: "Confirm cancel",
            keep: "Keep it",
            danger: true,
            input: { name: "reason", label: "Why cancel?", required: true, maxlength: 500 },
            act: (reason) => api(`${path}:cancel`, { method: "POST", body: { reason } }),
            done: `Cancelled ${name}.`,
          }),
    );
  }
}

function orderName(order) {
  return `order ${order.customer_reference || shortId(order.id)}`;
}

function genealogyId(order) {
  return `genealogy-of-${order.id}`;
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount);
  } catch {
    return `${fmt.number(amount, 2)} ${currency}`;
  }
}

// The order's way through its stages, each reached one with its time.
function stepper(order) {
  const reached = new Map(order.stages.map((stage) => [stage.state, stage]));
  const step = (state, label) => {
    const stage = reached.get(state);
    const current = order.state === state;
    return el(
      "li",
      {
        class: [stage ? "reached" : "", current ? "current" : "", state === "cancelled" ? "cancelled" : ""].join(" ").trim(),
        title: stage ? `${label} ${fmt.time(stage.time)}${stage.detail ? `: ${stage.detail}` : ""}` : `${label}: not yet`,
        "aria-current": current ? "step" : null,
      },
      label,
    );
  };
  const steps = ORDER_STAGES.filter(([state]) => order.state !== "cancelled" || reached.has(state)).map(([state, label]) => step(state, label));
  if (order.state === "cancelled") steps.push(step("cancelled", "Cancelled"));
  return el("ol", { class: "stepper", "aria-label": `Stages, now ${order.state.replace("_", " ")}` }, steps);
}

// An order's units from its configuration to the machines, their signals and quality.
function genealogy(answer, names) {
  const machines = (op) =>
    op.equipment.map((m) =>
      el(
        "div",
        {},
        link(`/machines/${encodeURIComponent(m.equipment_id)}`, names.machine.get(m.equipment_id) ?? shortId(m.equipment_id)),
        m.recipe_version ? ` (recipe version ${m.recipe_version})` : "",
        m.signals.length
          ? el(
              "div",
              { class: "hint" },
              m.signals.map((s) => `${s.signal}: ${s.count} points, ${fmt.number(s.min)}–${fmt.number(s.max)} (mean ${fmt.number(s.mean)})`).join("; "),
            )
          : null,
      ),
    );
  return el(
    "div",
    {},
    el("p", { class: "hint" }, answer.work_order_id ? `Work order ${shortId(answer.work_order_id)}` : "No work order yet"),
    table({
      columns: [
        { label: "Step", value: (op) => `${op.sequence}. ${op.name}` },
        { label: "Station", value: (op) => names.station.get(op.station_id) ?? (op.station_id ? shortId(op.station_id) : "–") },
        { label: "Ran", value: (op) => (op.start_time ? `${fmt.time(op.start_time)} – ${op.end_time ? fmt.time(op.end_time) : "now"}` : "not yet") },
        { label: "Good / scrap", value: (op) => `${fmt.number(op.good_quantity, 0)} / ${fmt.number(op.scrap_quantity, 0)}` },
        { label: "Recipe", value: (op) => (op.recipe ? el("code", {}, JSON.stringify(op.recipe)) : "–") },
        { label: "Machines", value: machines },
      ],
      rows: answer.operations,
      empty: "No operations yet",
    }),
    answer.quality_records.length
      ? el(
          "ul",
          { "aria-label": "Quality records" },
          answer.quality_records.map((r) =>
            el("li", {}, `${fmt.time(r.record_time)}: ${fmt.number(r.quantity, 0)} × ${r.defect_code}${r.scrapped ? " (scrapped)" : ""}${r.note ? `, ${r.note}` : ""}`),
          ),
        )
      : el("p", { class: "hint" }, "No quality records."),
  );
}
