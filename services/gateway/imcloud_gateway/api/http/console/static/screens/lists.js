// What the production and service screens share: filters, and live lists with actions in
// their rows (the list follows a REST GET, an operator's action is confirmed in its row).
import { ApiError, el, live, notice } from "/console/assets/console.js";

// A labelled select whose choice takes effect at once (a filter, not a form).
export function picker(id, label, options, value, onChange) {
  const select = el(
    "select",
    { id, name: id, on: { change: (event) => onChange(event.target.value) } },
    options.map(([v, text]) => el("option", { value: v }, text)),
  );
  select.value = value;
  return el("div", { class: "field" }, el("label", { for: id }, label), select);
}

// A toolbar choosing one of a list's filters, each [value, label, the states it shows].
export function stateFilter(id, filters, value, onChange) {
  return el("div", { class: "toolbar" }, picker(id, "Show", filters.map(([v, label]) => [v, label]), value, onChange));
}

export function statesOf(filters, value) {
  return filters.find(([v]) => v === value)[2];
}

export function shortId(id) {
  return id.slice(0, 8);
}

// A list drawn from the latest body of a live GET. While an operator confirms an action the
// list is held (a redraw would take the half-filled row away) and drawn once it is done.
export class LiveList {
  constructor(box, draw) {
    this.box = box;
    this.draw = draw;
    this.body = null;
    this.held = false;
    this.message = null;
  }

  follow(path, onBody = () => {}) {
    this.close();
    this.stream = live(
      path,
      (body) => {
        this.body = body;
        onBody(body);
        this.redraw();
      },
      { onFailure: (error) => this.box.replaceChildren(notice(error.message, "bad")) },
    );
  }

  redraw() {
    if (this.held || !this.body) return;
    keepingFocus(this.box, () => this.box.replaceChildren(...[this.draw(this.body), this.message].flat(Infinity).filter(Boolean)));
  }

  close() {
    this.stream?.close();
    this.stream = null;
  }

  // A button that turns into "confirm" and "keep" (with a labelled input when the action
  // takes one, e.g. a reason); `act(value)` makes the request, `done` (if given) says what happened.
  action({ key, label, confirm, keep = "Keep", danger = false, input, act, done }) {
    const box = el("span", { class: "row-action" });
    const finish = (message) => {
      this.held = false;
      if (message !== undefined) this.message = message;
      this.redraw();
    };
    const open = () => {
      this.held = true;
      const id = `${key}-input`;
      const field = input ? el("input", { type: "text", ...input, label: null, id }) : null;
      const submit = el("button", { type: "submit", class: danger ? "danger" : null, dataset: { key: `${key}-confirm` } }, confirm);
      const form = el(
        "form",
        {
          class: "inline",
          on: {
            submit: async (event) => {
              event.preventDefault();
              if (!form.checkValidity()) {
                form.reportValidity();
                return;
              }
              submit.disabled = true;
              try {
                await act(field ? (field.type === "checkbox" ? field.checked : field.value) : undefined);
                finish(done ? notice(done, "ok") : undefined);
              } catch (error) {
                if (!(error instanceof ApiError)) throw error;
                finish(el("p", { class: "error", role: "alert" }, `${label}: ${error.message}`));
              }
            },
          },
        },
        field ? el("label", { for: id }, input.label) : null,
        field,
        submit,
        el("button", { type: "button", class: "secondary", on: { click: () => finish() } }, keep),
      );
      box.replaceChildren(form);
      (field ?? submit).focus();
    };
    box.append(el("button", { type: "button", class: danger ? "danger" : "secondary", dataset: { key }, on: { click: open } }, label));
    return box;
  }
}

// A redraw keeps the keyboard focus on the control that had it (the same data-key).
export function keepingFocus(container, redraw) {
  const key = container.contains(document.activeElement) ? document.activeElement.dataset?.key : undefined;
  redraw();
  if (key) container.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}
