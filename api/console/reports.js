// Sanwang Hub console, issue 20's two sides: a grid worker's report form (POST /grid/reports)
// and a department's open verification tasks, each confirmed or rejected with a reason. Uses
// app.js's helpers ($, api, say, setText, tableRow, state); loaded first, called once app.js
// knows the principal's kind. Data only ever as textContent.
"use strict";

const REPORT_FIELDS = { // kind: the fields its form asks, besides kind and observed_on
  moved_out: ["resident_id", "moved_to"],
  moved_in: ["grid_code", "name", "id_number", "phone", "address"],
  deceased: ["resident_id", "died_on"],
  lives_alone: ["resident_id", "lives_alone"],
  phone_changed: ["resident_id", "phone"],
  address_corrected: ["resident_id", "address"],
};
const tasksView = { department: "" }; // as the URL spells it (dashes, not underscores)

// ---- a grid worker's report -------------------------------------------------------------

function today() { // the browser's local date, YYYY-MM-DD
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

function showReportFields() {
  const asked = REPORT_FIELDS[$("report-kind").value];
  for (const label of $("report-form").querySelectorAll("label[data-for]")) {
    label.hidden = !asked.includes(label.dataset.for);
  }
}

function showReportForm(grids) {
  const form = $("report-form");
  form.elements.grid_code.replaceChildren(...grids.map((code) => new Option(code, code)));
  if (!form.elements.observed_on.value) form.elements.observed_on.value = today();
  showReportFields();
  $("report").hidden = false;
}

async function submitReport(event) {
  event.preventDefault();
  const form = $("report-form");
  const body = { kind: form.elements.kind.value, observed_on: form.elements.observed_on.value };
  for (const name of REPORT_FIELDS[body.kind]) {
    const value = form.elements[name].value.trim();
    if (value) body[name] = value;
  }
  const answer = $("report-answer");
  answer.className = "";
  answer.textContent = "sending…";
  delete answer.dataset.reportId;
  try {
    const receipt = await api("grid/reports", body);
    const about = receipt.resident_id ? ` about ${receipt.resident_id}` : "";
    answer.textContent = `Recorded: report ${receipt.report_id} (${receipt.kind}${about},`
      + ` grid ${receipt.grid_code}).`;
    answer.dataset.reportId = receipt.report_id;
  } catch (error) {
    answer.textContent = `Not recorded: ${error.message}`;
    answer.className = "error";
  }
}

// ---- a department's verification tasks -------------------------------------------------

const shown = (v) => (v == null ? "–" : typeof v === "string" ? v : JSON.stringify(v));

function taskRow(tbody, task) {
  const tr = tableRow(tbody, [
    { text: task.due_at.slice(0, 10) + (task.overdue ? " overdue" : ""), col: "due" },
    { text: task.kind, col: "kind" }, { text: task.resident_id, col: "resident" },
    { text: shown(task.reported), col: "reported" }, { text: task.observed_on, col: "observed" },
    { text: shown(task.owner_value), col: "owner" }, { text: task.reported_by || "–", col: "by" },
  ], "task-row");
  tr.dataset.taskId = task.task_id;
  tr.classList.toggle("overdue", task.overdue);
  const td = document.createElement("td");
  for (const [label, decision] of [["Confirm", "confirmed"], ["Reject", "rejected"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.dataset.decision = decision;
    button.addEventListener("click", () => decide(task.task_id, decision));
    td.append(button);
  }
  tr.append(td);
}

async function loadTasks(department = tasksView.department) {
  tasksView.department = department.replaceAll("_", "-");
  $("tasks").hidden = false;
  delete document.body.dataset.tasks;
  const tbody = $("task-rows");
  tbody.replaceChildren();
  if (!state.purpose) {
    setText("tasks-status", "");
    tableRow(tbody, [{ text: "declare a purpose (sign out, sign in with one) to read tasks" }]);
    return;
  }
  setText("tasks-status", "loading…");
  try {
    const items = [];
    for (let offset = 0; offset !== null;) {
      const page = await api(`departments/${tasksView.department}/tasks?limit=500`
        + `&offset=${offset}&purpose=${encodeURIComponent(state.purpose)}`);
      items.push(...page.items);
      offset = page.next_offset;
    }
    for (const task of items) taskRow(tbody, task);
    setText("tasks-status", `${items.length} open`);
    document.body.dataset.tasks = "ready";
  } catch (error) {
    setText("tasks-status", "failed");
    say(error.message, true);
  }
}

async function decide(taskId, decision) {
  const officer = $("officer").value.trim();
  if (!officer) {
    say("Name the officer who decides (it is audited) first.", true);
    $("officer").focus();
    return;
  }
  const body = { decision, officer };
  if (decision === "rejected") {
    const reason = window.prompt("Why is the report wrong? (the reason is audited)");
    if (reason === null) return;
    body.reason = reason.trim();
  }
  try {
    const task = await api(`departments/${tasksView.department}/tasks/${taskId}`, body);
    say(`Task ${task.task_id} ${task.status} by ${task.closed_by}.`);
    await loadTasks();
  } catch (error) {
    say(error.message, true);
  }
}
