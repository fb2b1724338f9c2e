// The equipment maker's view: the machines its customers granted it, across customers,
// with what each grant allows and how each machine is doing, and its fleet jobs.
import { api, ApiError, badge, el, every, fmt, link, notice, section, session, table } from "/console/assets/console.js";

// One twin request per machine: past this many the rest show "not checked", so a
// maker with a large fleet does not send hundreds of requests on each refresh.
const TWINS_AT_MOST = 50;
const JOBS_SHOWN = 20;
const ALL_CUSTOMERS = "";

// A machine granted twice (two grants of the same customer) shows once, with the
// scopes of both and the later expiry (none beats any).
function grantedMachines(items) {
  const byMachine = new Map();
  for (const { grant, equipment } of items) {
    const seen = byMachine.get(equipment.id);
    if (!seen) {
      byMachine.set(equipment.id, {
        equipment,
        customer: grant.owner_tenant_id,
        scopes: new Set(grant.scopes),
        expire_time: grant.expire_time,
      });
      continue;
    }
    grant.scopes.forEach((scope) => seen.scopes.add(scope));
    if (seen.expire_time && (!grant.expire_time || grant.expire_time > seen.expire_time)) {
      seen.expire_time = grant.expire_time;
    }
  }
  return [...byMachine.values()].sort(
    (a, b) => a.customer.localeCompare(b.customer) || machineName(a.equipment).localeCompare(machineName(b.equipment)),
  );
}

function machineName(equipment) {
  return equipment.name || equipment.serial_number;
}

function onlineBadge(state) {
  if (state.gone) return badge("no longer granted", "idle");
  if (state.twin === null) return badge("needs twin:read", "idle");
  return state.twin.connected ? badge("online", "ok") : badge("offline", "bad");
}

function healthBadge(state) {
  if (!state.twin) return "";
  const score = state.twin.health_score;
  if (score === null) return badge("learning", "idle");
  const kind = score >= 75 ? "ok" : score >= 50 ? "warn" : "bad";
  return badge(fmt.number(score, 0), kind);
}

async function twinState(machine) {
  if (!machine.scopes.has("twin:read")) return { twin: null };
  try {
    return { twin: await api(`/v1/granted-equipment/${encodeURIComponent(machine.equipment.id)}/twin`) };
  } catch (error) {
    // The grant ended since the list was read.
    if (error instanceof ApiError && error.status === 404) return { gone: true };
    throw error;
  }
}

// Each machine's state and health cells stay the same nodes across filtering and
// refreshing, so a refresh changes their text without rebuilding the table.
async function refreshStates(machines) {
  const checked = machines.slice(0, TWINS_AT_MOST);
  const states = await Promise.all(checked.map(twinState));
  checked.forEach((machine, i) => {
    machine.stateCell.replaceChildren(onlineBadge(states[i]));
    machine.healthCell.replaceChildren(healthBadge(states[i]));
  });
}

function machinesTable(machines) {
  return table({
    testid: "granted-machines",
    empty: "No machines granted to you",
    columns: [
      { label: "Machine", value: (m) => link(`/maker/machines/${encodeURIComponent(m.equipment.id)}`, machineName(m.equipment)) },
      { label: "Serial number", value: (m) => m.equipment.serial_number },
      { label: "Customer tenant", value: (m) => el("code", { text: m.customer }) },
      { label: "Granted", value: (m) => el("span", { class: "scopes" }, ...[...m.scopes].sort().map((s) => badge(s, "idle"))) },
      { label: "Grant expires", value: (m) => (m.expire_time ? fmt.time(m.expire_time) : "never") },
      { label: "State", value: (m) => m.stateCell },
      { label: "Health", value: (m) => m.healthCell },
    ],
    rows: machines,
  });
}

function customerFilter(machines, onChange) {
  const customers = [...new Set(machines.map((m) => m.customer))];
  const select = el(
    "select",
    { id: "maker-customer", on: { change: () => onChange(select.value) } },
    el("option", { value: ALL_CUSTOMERS, text: `All customers (${customers.length})` }),
    ...customers.map((c) => {
      const count = machines.filter((m) => m.customer === c).length;
      return el("option", { value: c, text: `${c} (${count} machine${count === 1 ? "" : "s"})` });
    }),
  );
  return el("p", { class: "picker" }, el("label", { for: "maker-customer", text: "Customer" }), " ", select);
}

function jobWhat(job) {
  if (job.command) return `command ${job.command.name}`;
  return `desired state ${Object.keys(job.desired_change?.desired ?? {}).join(", ")}`;
}

const JOB_STATE_KIND = { in_progress: "warn", completed: "ok", aborted: "bad", cancelled: "idle" };

function jobsTable(jobs) {
  return table({
    testid: "granted-jobs",
    empty: "No fleet jobs yet",
    columns: [
      { label: "Job", value: (j) => el("code", { text: j.id }) },
      { label: "What", value: jobWhat },
      { label: "State", value: (j) => badge(j.state.replace("_", " "), JOB_STATE_KIND[j.state] ?? "idle") },
      { label: "Machines", value: (j) => String(j.machine_count) },
      {
        label: "Succeeded / failed / waiting",
        value: (j) => {
          const s = j.summary;
          return `${s.succeeded} / ${s.failed + s.rejected + s.expired} / ${s.queued + s.pending + s.delivered}`;
        },
      },
      { label: "Created", value: (j) => fmt.time(j.create_time) },
      { label: "Detail", value: (j) => j.detail },
    ],
    rows: jobs,
  });
}

export async function render(main) {
  main.append(el("h1", { text: "Granted machines" }));
  const [items, jobs] = await Promise.all([
    every("/v1/granted-equipment"),
    api("/v1/granted-jobs", { query: { page_size: JOBS_SHOWN } }),
  ]);
  const machines = grantedMachines(items).map((m, i) => ({
    ...m,
    stateCell: el("span", {}, i < TWINS_AT_MOST ? "" : badge("not checked", "idle")),
    healthCell: el("span"),
  }));

  const machinesSection = section(
    "Machines your customers granted you",
    el("p", {}, "Your tenant id, for customers granting you a machine: ", el("code", { text: session.tenant_id })),
  );
  main.append(machinesSection);
  if (machines.length === 0) {
    machinesSection.append(
      notice(
        "No customer has granted you a machine yet. A customer's admin grants one under " +
          "Administration > Access grants, naming your tenant id.",
      ),
    );
  }
  const machinesNode = machinesTable(machines);
  const problems = el("div");
  if (new Set(machines.map((m) => m.customer)).size > 1) {
    machinesSection.append(
      customerFilter(machines, (customer) =>
        machinesNode.fill(customer === ALL_CUSTOMERS ? machines : machines.filter((m) => m.customer === customer)),
      ),
    );
  }
  if (machines.length > TWINS_AT_MOST) {
    machinesSection.append(notice(`State and health are shown for the first ${TWINS_AT_MOST} machines.`));
  }
  // Read on demand, not polled: every read through a grant is written to the
  // customer's audit log, and polling would fill it. The machine screen is live.
  const refresh = el("button", { type: "button", text: "Refresh state and health" });
  const readStates = async () => {
    refresh.disabled = true;
    problems.replaceChildren();
    try {
      await refreshStates(machines);
    } catch (error) {
      problems.replaceChildren(notice(`State and health could not be read: ${error.message}`, "warn"));
    } finally {
      refresh.disabled = false;
    }
  };
  refresh.addEventListener("click", readStates);
  if (machines.some((m) => m.scopes.has("twin:read"))) machinesSection.append(el("p", {}, refresh));
  machinesSection.append(problems, machinesNode);
  await readStates();

  main.append(section(`Your fleet jobs (newest ${JOBS_SHOWN})`, jobsTable(jobs.items)));
}
