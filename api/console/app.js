// Sanwang Hub console: plain JS, no build step. The token lives in sessionStorage only; it
// arrives from the sign-in form or once in the URL fragment (#token=...&purpose=...), which is
// then removed from the address bar. Every number is also rendered as text.
"use strict";

const TOKEN = "sanwang.console.token";
const PURPOSE = "sanwang.console.purpose";
const LEVELS = ["district", "township", "community", "grid"];
const COLUMNS = ["population", "male", "female", "elderly_80", "floating", "dibao", "deceased",
  "open_conflicts"];
const FINDINGS = { // kind: [short name, meaning]
  deceased_with_active_pension: ["死亡仍领养老金", "deceased, pension still paid"],
  cremated_not_deregistered: ["已火化未注销户口", "cremated, not deregistered"],
  dibao_with_employment: ["低保且有就业", "低保 while employed"],
  elderly_living_alone: ["独居老人", "elderly living alone"],
  party_member_living_elsewhere: ["党员组织关系在外", "party member kept in another community"],
  deceased_party_member_on_roll: ["已故党员仍在册", "deceased, still on the party roll"],
  death_certified_not_deregistered: ["已出具死亡证明未注销", "death certified, not deregistered"],
  birth_not_registered: ["新生儿未落户", "birth certified, not registered"],
};
const SVGNS = "http://www.w3.org/2000/svg";
const state = { token: "", purpose: "", timer: null, opsBusy: false, population: null, path: [] };

const $ = (id) => document.getElementById(id);

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

// FastAPI's detail: a sentence, or the fields a body did not match ([{loc, msg}, ...])
function detailText(detail) {
  if (!Array.isArray(detail)) return typeof detail === "string" ? detail : JSON.stringify(detail);
  return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
}

// GET path, or POST `body` as JSON when one is given
async function api(path, body = undefined) {
  const headers = { Authorization: `Bearer ${state.token}` };
  const init = { headers, cache: "no-store" };
  if (body !== undefined) {
    Object.assign(init, { method: "POST", body: JSON.stringify(body) });
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = detailText(answer.detail);
    const error = new Error(`${path.split("?")[0]}: ${response.status} ${detail}`);
    error.status = response.status;
    throw error;
  }
  return answer;
}

// ---- formatting -------------------------------------------------------------------------

const integer = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
// an analyst's count below the township is null where the small-cell rule withholds it
const count = (v) => (v == null ? "withheld" : integer(v));
const rate = (v) => (v == null ? "–" : v.toFixed(1));
const tick = (v) => (v >= 1000 ? `${Number((v / 1000).toFixed(1))}k` : `${Number(v.toFixed(2))}`);

function millis(seconds) {
  if (seconds == null) return "–";
  const ms = seconds * 1000;
  return ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString("en-US");
}

function clock(t, seconds = false) {
  const options = { hour: "2-digit", minute: "2-digit", hour12: false };
  if (seconds) options.second = "2-digit";
  return new Date(t * 1000).toLocaleTimeString("en-GB", options);
}

function setText(id, text) {
  $(id).textContent = text;
}

function tableRow(tbody, cells, testid) {
  const tr = document.createElement("tr");
  if (testid) tr.dataset.testid = testid;
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = cell.text;
    if (cell.num) td.className = "num";
    if (cell.col) td.dataset.col = cell.col;
    tr.append(td);
  }
  tbody.append(tr);
  return tr;
}

// ---- charts (inline SVG) ----------------------------------------------------------------

function svgEl(parent, name, attrs = {}, text = undefined) {
  const node = document.createElementNS(SVGNS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  parent.append(node);
  return node;
}

function niceTop(v) {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= v);
}

// series: [{cls, points: [[unix seconds, value or null], ...]}] over [t0, t1]
function lineChart(svg, series, t0, t1) {
  const [W, H, L, R, T, B] = [560, 200, 48, 14, 10, 24];
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v != null);
  const top = niceTop(Math.max(0, ...values));
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => H - B - (v / top) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svgEl(svg, "line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" });
    svgEl(svg, "text", { x: L - 6, y: y(v) + 4, class: "tick y" }, tick(v));
    const t = t0 + ((t1 - t0) * i) / 4;
    const edge = ["first", "", "", "", "last"][i];
    svgEl(svg, "text", { x: x(t), y: H - 6, class: `tick x ${edge}` }, clock(t, t1 - t0 <= 900));
  }
  for (const s of series) {
    let run = [];
    const flush = () => { // a lone point (a series seen once in the window) as a dot
      const cls = `line ${s.cls}`;
      if (run.length > 1) svgEl(svg, "polyline", { points: run.join(" "), class: cls });
      if (run.length === 1) {
        const [cx, cy] = run[0].split(",");
        svgEl(svg, "circle", { cx, cy, r: 3.5, class: `dot ${s.cls}` });
      }
      run = [];
    };
    for (const [t, v] of s.points) {
      if (v == null) flush();
      else run.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    }
    flush();
  }
  if (!values.length) svgEl(svg, "text", { x: W / 2, y: H / 2, class: "empty" }, "no data");
}

// rows: [{label, value, key}]; onPick(key) makes the bars clickable
function barChart(svg, rows, onPick) {
  const [W, L, R, BAR, GAP, T] = [560, 150, 60, 18, 6, 6];
  const H = T * 2 + Math.max(rows.length, 1) * (BAR + GAP);
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const top = Math.max(1, ...rows.map((r) => r.value));
  rows.forEach((row, i) => {
    const y = T + i * (BAR + GAP);
    const g = svgEl(svg, "g", { class: onPick ? "bar pick" : "bar" });
    svgEl(g, "title", {}, `${row.label}: ${count(row.value)}`);
    const label = row.label.length > 16 ? `${row.label.slice(0, 15)}…` : row.label;
    svgEl(g, "text", { x: L - 8, y: y + BAR - 5, class: "tick y" }, label);
    const width = Math.max(1, ((W - L - R) * row.value) / top);
    svgEl(g, "rect", { x: L, y, width: width.toFixed(1), height: BAR, rx: 2 });
    svgEl(g, "text", { x: L + width + 6, y: y + BAR - 5, class: "value" }, count(row.value));
    if (onPick) g.addEventListener("click", () => onPick(row.key));
  });
  if (!rows.length) svgEl(svg, "text", { x: W / 2, y: H / 2 + 4, class: "empty" }, "none");
}

// ---- operations view --------------------------------------------------------------------

async function refreshOps() {
  if (state.opsBusy || !state.token) return;
  state.opsBusy = true;
  try {
    const o = await api(`console/ops?minutes=${$("window").value}`);
    setText("ops-consumed-rate", rate(o.consumed_per_second));
    setText("ops-merged-rate", rate(o.merged_per_second));
    setText("ops-consumed-total", integer(o.consumed_total));
    setText("ops-merged-total", integer(o.merged_total));
    setText("ops-lag", integer(o.lag));
    setText("ops-p50", millis(o.latency_seconds.p50));
    setText("ops-p99", millis(o.latency_seconds.p99));
    const basis = o.latency_seconds.basis;
    setText("ops-latency-basis", basis ? `p50 and p99 ${basis}` : "nothing merged yet");
    setText("ops-dead-total", integer(o.dead_letters.reduce((n, d) => n + (d.count || 0), 0)));
    const t0 = o.at - o.minutes * 60;
    lineChart($("chart-throughput"), [{ cls: "consumed", points: o.series.consumed },
      { cls: "merged", points: o.series.merged }], t0, o.at);
    lineChart($("chart-lag"), [{ cls: "lag", points: o.series.lag }], t0, o.at);
    const dead = $("dead-letters");
    dead.replaceChildren();
    for (const d of o.dead_letters) {
      tableRow(dead, [{ text: d.source }, { text: d.reason, col: "reason" },
        { text: integer(d.count), num: true, col: "count" }], "dead-letter-row");
    }
    if (!o.dead_letters.length) tableRow(dead, [{ text: "none" }, { text: "" }, { text: "" }]);
    const processes = $("processes");
    processes.replaceChildren();
    for (const p of o.processes) {
      const tr = tableRow(processes, [{ text: p.job, col: "job" }, { text: p.instance },
        { text: p.up ? "up" : "down", col: "state" }], "process-row");
      tr.className = p.up ? "up" : "down";
    }
    setText("ops-status", `as of ${clock(o.at, true)} · from Prometheus ${o.prometheus}`);
    document.body.dataset.ops = "ready";
  } catch (error) {
    setText("ops-status", `numbers unavailable: ${error.message}`);
  } finally {
    state.opsBusy = false;
  }
}

// ---- analytics view ---------------------------------------------------------------------

const keyOf = (level, row) => (level === "grid" ? row.grid_code : row[level]);
const nameOf = (level, row) => (level === "grid" ? `${row.grid_name} ${row.grid_code}`
  : row[level]);

function renderPopulation() {
  const level = LEVELS[state.path.length];
  const rows = state.population[level].filter((r) => state.path.every((p) => r[p.level] === p.key));
  setText("population-level", level);
  const nav = $("population-path");
  nav.replaceChildren();
  ["all districts", ...state.path.map((p) => p.key)].forEach((label, depth) => {
    const crumb = document.createElement("button");
    crumb.type = "button";
    crumb.textContent = label;
    crumb.disabled = depth === state.path.length;
    crumb.addEventListener("click", () => {
      state.path = state.path.slice(0, depth);
      renderPopulation();
    });
    nav.append(crumb);
  });
  const drill = state.path.length < LEVELS.length - 1 ? (key) => {
    state.path.push({ level, key });
    renderPopulation();
  } : null;
  const label = (r) => (level === "grid" ? r.grid_name : r[level]); // unique in a community
  barChart($("chart-population"), rows.map((r) => ({
    label: label(r), value: r.population, key: keyOf(level, r),
  })), drill);
  const tbody = $("population-rows");
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = tableRow(tbody, [{ text: nameOf(level, r), col: "area" },
      ...COLUMNS.map((c) => ({ text: count(r[c]), num: true, col: c }))], "population-row");
    if (drill) {
      tr.classList.add("pick");
      tr.addEventListener("click", () => drill(keyOf(level, r)));
    }
  }
  const total = rows.reduce((n, r) => n + (r.population ?? 0), 0);
  const withheld = rows.filter((r) => r.population == null).length;
  setText("population-sum", `${rows.length} ${level} rows, population ${integer(total)}`
    + (withheld ? ` shown, ${withheld} withheld (1 to k residents each)` : ""));
  $("population-table").dataset.level = level;
}

async function loadFindings() {
  const tbody = $("findings-rows");
  tbody.replaceChildren();
  if (!state.purpose) {
    setText("findings-total", "–");
    tableRow(tbody, [{ text: "declare a purpose (sign out, sign in with one) to read findings" },
      { text: "" }, { text: "" }]);
    barChart($("chart-findings"), [], null);
    return;
  }
  const counts = Object.fromEntries(Object.keys(FINDINGS).map((k) => [k, 0]));
  let offset = 0;
  while (offset !== null) {
    const purpose = encodeURIComponent(state.purpose);
    const page = await api(`analytics/findings?limit=500&offset=${offset}&purpose=${purpose}`);
    for (const f of page.items) counts[f.kind] = (counts[f.kind] || 0) + 1;
    offset = page.next_offset;
  }
  const kinds = Object.keys(counts);
  for (const kind of kinds) {
    tableRow(tbody, [{ text: kind, col: "kind" }, { text: (FINDINGS[kind] || []).join(" · ") },
      { text: integer(counts[kind]), num: true, col: "count" }], "finding-row");
  }
  setText("findings-total", integer(kinds.reduce((n, k) => n + counts[k], 0)));
  barChart($("chart-findings"), kinds.map((k) => ({
    label: FINDINGS[k] ? FINDINGS[k][0] : k, value: counts[k], key: k,
  })), null);
}

async function loadAnalytics() {
  delete document.body.dataset.analytics;
  setText("analytics-status", "loading…");
  try {
    const [summary, ...levels] = await Promise.all([api("console/summary"),
      ...LEVELS.map((level) => api(`analytics/population?level=${level}`))]);
    state.population = Object.fromEntries(LEVELS.map((level, i) => [level, levels[i]]));
    setText("population-total", integer(summary.population));
    setText("population-placed", integer(levels[0].reduce((n, r) => n + r.population, 0)));
    setText("population-unplaced", integer(summary.unplaced));
    setText("population-deceased", integer(summary.deceased));
    setText("open-conflicts", integer(summary.open_conflicts));
    setText("review-queue", integer(summary.review_queue));
    renderPopulation();
    await loadFindings();
    setText("analytics-status", `as of ${clock(Date.now() / 1000, true)}`);
    document.body.dataset.analytics = "ready";
  } catch (error) {
    setText("analytics-status", "failed");
    say(error.message, true);
  }
}

// ---- signing in and out -----------------------------------------------------------------

function readFragment() {
  const given = new URLSearchParams(location.hash.slice(1));
  if (given.get("token")) sessionStorage.setItem(TOKEN, given.get("token"));
  if (given.get("purpose")) sessionStorage.setItem(PURPOSE, given.get("purpose"));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

async function start() {
  clearInterval(state.timer);
  state.token = sessionStorage.getItem(TOKEN) || "";
  state.purpose = sessionStorage.getItem(PURPOSE) || "";
  let principal;
  try {
    principal = await api("console/me");
  } catch (error) {
    if (error.status === 401) sessionStorage.removeItem(TOKEN);
    say(`Not signed in: ${error.message}`, true);
    return;
  }
  say("");
  $("signin").hidden = true;
  $("whoami").hidden = false;
  setText("principal", `${principal.name} · ${principal.kind}`);
  setText("purpose-shown", state.purpose ? `purpose: ${state.purpose}` : "no purpose declared");
  $("ops").hidden = false;
  refreshOps();
  state.timer = setInterval(refreshOps, 10000);
  if (principal.kind === "analyst") {
    $("analytics").hidden = false;
    state.path = [];
    loadAnalytics();
    loadTrends();
  } else if (principal.kind === "grid_worker") {
    showReportForm(principal.grids);
  } else if (principal.kind === "department") {
    loadTasks(principal.department);
  } else {
    say("The analytics view needs an analyst's token.");
  }
}

function signOut() {
  clearInterval(state.timer);
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(PURPOSE);
  Object.assign(state, { token: "", purpose: "", timer: null, population: null, path: [] });
  for (const id of ["ops", "analytics", "trends", "report", "tasks", "whoami"]) {
    $(id).hidden = true;
  }
  $("signin").hidden = false;
  delete document.body.dataset.ops;
  delete document.body.dataset.analytics;
  delete document.body.dataset.trends;
  delete document.body.dataset.tasks;
  say("Signed out.");
}

function boot() {
  readFragment();
  $("purpose").value = sessionStorage.getItem(PURPOSE) || "";
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN, $("token").value.trim());
    sessionStorage.setItem(PURPOSE, $("purpose").value.trim());
    $("token").value = "";
    start();
  });
  $("signout").addEventListener("click", signOut);
  $("window").addEventListener("change", refreshOps);
  $("reload").addEventListener("click", loadAnalytics);
  $("report-kind").addEventListener("change", showReportFields);
  $("report-form").addEventListener("submit", submitReport);
  $("tasks-reload").addEventListener("click", () => loadTasks());
  window.addEventListener("hashchange", () => {
    readFragment();
    if (sessionStorage.getItem(TOKEN)) start();
  });
  if (sessionStorage.getItem(TOKEN)) start();
}

boot();
