// Sanwang Hub console, the analysts' trends view: a small chart per indicator of the unit being
// looked at (drill down through the four levels), and the month's early warnings, each
// explained. Uses app.js's helpers ($, api, svgEl, niceTop, tableRow, integer, setText, LEVELS);
// loaded first, called once app.js knows the principal is an analyst.
"use strict";

const trends = { unit: null, warnings: [] };
const PARENT_LENGTH = { district: 6, township: 9, community: 12, grid: 14 };

// points: [[month, value or null (withheld)], ...]
function sparkline(svg, points, warned) {
  const [W, H, L, R, T, B] = [220, 70, 30, 6, 6, 16];
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const top = niceTop(Math.max(1, ...points.map((p) => p[1] || 0)));
  const x = (i) => L + (i / Math.max(1, points.length - 1)) * (W - L - R);
  const y = (v) => H - B - (v / top) * (H - T - B);
  svgEl(svg, "text", { x: L - 4, y: y(top) + 8, class: "tick y" }, integer(top));
  svgEl(svg, "text", { x: L - 4, y: y(0), class: "tick y" }, "0");
  if (points.length) {
    svgEl(svg, "text", { x: L, y: H - 3, class: "tick x first" }, points[0][0]);
    svgEl(svg, "text", { x: W - R, y: H - 3, class: "tick x last" }, points.at(-1)[0]);
  }
  let run = [];
  const flush = () => {
    if (run.length > 1) svgEl(svg, "polyline", { points: run.join(" "), class: "line trend" });
    run = [];
  };
  points.forEach(([, v], i) => {
    if (v == null) flush();
    else run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  flush();
  const last = points.at(-1);
  if (last && last[1] != null) {
    svgEl(svg, "circle", { cx: x(points.length - 1), cy: y(last[1]), r: 3,
      class: warned ? "dot warned" : "dot trend" });
  }
}

function monthsBetween(first, last) {
  const months = [];
  let [y, m] = first.split("-").map(Number);
  for (;;) {
    const month = `${y}-${String(m).padStart(2, "0")}`;
    months.push(month);
    if (month >= last) return months;
    [y, m] = m === 12 ? [y + 1, 1] : [y, m + 1];
  }
}

async function showUnit(unit) {
  trends.unit = unit;
  const nav = $("trends-path");
  nav.replaceChildren();
  const path = LEVELS.slice(0, LEVELS.indexOf(unit.level) + 1)
    .map((level) => ({ level, code: unit.code.slice(0, PARENT_LENGTH[level]) }));
  for (const step of path) {
    const crumb = document.createElement("button");
    crumb.type = "button";
    crumb.textContent = step.code === unit.code ? `${unit.name || step.code}` : step.code;
    crumb.disabled = step.code === unit.code;
    crumb.addEventListener("click", () => showUnit({ level: step.level, code: step.code }));
    nav.append(crumb);
  }
  const rows = await api(`indicators?unit=${unit.code}&level=${unit.level}`);
  if (rows.length) unit.name = rows[0].unit_name;
  setText("trends-unit", `${unit.name || unit.code} (${unit.level} ${unit.code})`);
  const months = rows.length ? monthsBetween(rows.reduce((a, r) => (r.month < a ? r.month : a),
    rows[0].month), rows.reduce((a, r) => (r.month > a ? r.month : a), rows[0].month)) : [];
  const byIndicator = {};
  for (const r of rows) {
    (byIndicator[r.indicator] ||= Object.fromEntries(months.map((m) => [m, 0])))[r.month] =
      r.withheld ? null : r.value;
  }
  const warned = new Set(trends.warnings.filter((w) => w.unit_code === unit.code)
    .map((w) => w.indicator));
  const box = $("trend-charts");
  box.replaceChildren();
  for (const indicator of Object.keys(byIndicator).sort()) {
    const figure = document.createElement("figure");
    figure.className = warned.has(indicator) ? "small warned" : "small";
    figure.dataset.indicator = indicator;
    const caption = document.createElement("figcaption");
    const points = months.map((m) => [m, byIndicator[indicator][m]]);
    const last = points.at(-1)[1];
    caption.textContent = `${indicator}: ${last == null ? "withheld" : integer(last)}`;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "chart spark");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${indicator} by month`);
    figure.append(caption, svg);
    box.append(figure);
    sparkline(svg, points, warned.has(indicator));
  }
  if (unit.level !== "grid") await listChildren(unit);
  else $("trends-children").replaceChildren();
}

async function listChildren(unit) {
  const rows = await api(`indicators?parent=${unit.code}&indicator=population`);
  const latest = {};
  for (const r of rows) {
    if (!latest[r.unit_code] || r.month > latest[r.unit_code].month) latest[r.unit_code] = r;
  }
  const tbody = $("trends-children");
  tbody.replaceChildren();
  for (const r of Object.values(latest).sort((a, b) => a.unit_code.localeCompare(b.unit_code))) {
    const tr = tableRow(tbody, [{ text: `${r.unit_name} ${r.unit_code}`, col: "unit" },
      { text: r.withheld ? "withheld" : integer(r.value), num: true, col: "population" }],
    "trends-child");
    tr.classList.add("pick");
    tr.addEventListener("click", () => showUnit({ level: r.level, code: r.unit_code }));
  }
}

async function loadTrends() {
  delete document.body.dataset.trends;
  $("trends").hidden = false;
  setText("trends-status", "loading…");
  try {
    trends.warnings = await api("warnings").catch((error) => {
      if (error.status === 404) return [];
      throw error;
    });
    const tbody = $("warning-rows");
    tbody.replaceChildren();
    for (const w of trends.warnings) {
      const tr = tableRow(tbody, [{ text: w.kind, col: "kind" },
        { text: `${w.unit_name} ${w.unit_code}`, col: "unit" }, { text: w.indicator, col: "indicator" },
        { text: w.month, col: "month" }, { text: integer(w.value), num: true, col: "value" },
        { text: integer(w.expected), num: true, col: "expected" },
        { text: w.score.toFixed(2), num: true, col: "score" },
        { text: w.explanation, col: "explanation" }], "warning-row");
      tr.classList.add("pick");
      tr.addEventListener("click", () => showUnit({ level: w.level, code: w.unit_code }));
    }
    setText("warnings-count", `${trends.warnings.length}`);
    const districts = await api("indicators?level=district&indicator=population");
    if (districts.length) {
      await showUnit({ level: "district", code: districts[0].unit_code,
        name: districts[0].unit_name });
    }
    setText("trends-status", "");
    document.body.dataset.trends = "ready";
  } catch (error) {
    setText("trends-status", "failed");
    say(error.message, true);
  }
}
