// The page's own small chart module: plain SVG, no library. Four shapes,
// each redrawn from scratch from a few hundred numbers:
// - strip: one lane's recent deliveries, latency against time, each dot
//          saying its message's id and delay when pointed at;
// - cdf:   the share of deliveries that arrived within each latency, one
//          line per technique;
// - bars:  one horizontal bar per technique (bytes per message);
// - lines: a measure against messages per second on a logarithmic axis,
//          one line per technique through its points (the crossover).
// Latency is always on the same logarithmic scale, 0.1 ms to 10 s, so a
// WebSocket's milliseconds and a slow poll's seconds fit on one axis and
// every chart can be compared with every other. Colours and type sizes come
// from the stylesheet (one colour per technique), never from here; room for
// words is measured in ems of the chart's text, so nothing is drawn on a
// line however large the page makes its type.

const SVG_NS = "http://www.w3.org/2000/svg";

export const LATENCY_MIN_MS = 0.1;
export const LATENCY_MAX_MS = 10000;
const LATENCY_TICKS = [
  [1, "1 ms"],
  [10, "10"],
  [100, "100"],
  [1000, "1 s"],
];

// Creates an SVG element with attributes (and text, always as text).
export function svg(parent, tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  parent.append(node);
  return node;
}

// Makes the drawing's units the element's CSS pixels, exactly (a box may
// be 241.25 px wide), so text is drawn at its font size, crisp and
// unstretched, at any size.
export function fit(element) {
  const box = element.getBoundingClientRect();
  const width = Math.max(1, box.width);
  const height = Math.max(1, box.height);
  element.setAttribute("viewBox", `0 0 ${width} ${height}`);
  return { width, height };
}

// The computed font size of `element`, in CSS pixels.
export function fontSize(element) {
  return parseFloat(getComputedStyle(element).fontSize) || 14;
}

// Where `ms` lies between `from` and `to` on the shared log scale.
export function latencyAt(ms, from, to) {
  const clamped = Math.min(LATENCY_MAX_MS, Math.max(LATENCY_MIN_MS, ms));
  const low = Math.log10(LATENCY_MIN_MS);
  const share = (Math.log10(clamped) - low) / (Math.log10(LATENCY_MAX_MS) - low);
  return from + share * (to - from);
}

// One lane's recent deliveries: x is time (now at the right edge), y the
// latency (slower is higher). `samples` are {at, ms, id, mine, backlog},
// `at` in page ms; `mine` marks a message this tab published, drawn ringed
// and on top; `backlog` a catch-up after a pause, drawn hollow. Each dot
// carries a <title> ("#175 · 41 ms"), the tooltip a pointer shows; at most
// MAX_DOTS of the newest are drawn.
const MAX_DOTS = 300;

export function strip(element, samples, nowMs, windowMs) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const em = fontSize(element);
  const left = 2.9 * em;
  const y = (ms) => latencyAt(ms, height - 3, 3);
  for (const [ms] of LATENCY_TICKS) {
    svg(element, "line", { class: "grid", x1: left, x2: width, y1: y(ms), y2: y(ms) });
  }
  // Too little height for four labels: the two ends say enough, left of
  // the grid, each level with its line.
  svg(element, "text", { class: "tick", x: left - 0.3 * em, y: y(1000) + 0.35 * em, "text-anchor": "end" }, "1 s");
  svg(element, "text", { class: "tick", x: left - 0.3 * em, y: y(1) + 0.35 * em, "text-anchor": "end" }, "1 ms");
  const since = nowMs - windowMs;
  const shown = [];
  for (let i = samples.length - 1; i >= 0 && shown.length < MAX_DOTS; i--) {
    if (samples[i].at < since) break;
    shown.push(samples[i]);
  }
  // Oldest first, yours last so that they are on top.
  shown.reverse().sort((a, b) => Number(Boolean(a.mine)) - Number(Boolean(b.mine)));
  for (const { at, ms, id, mine, backlog } of shown) {
    const x = left + ((at - since) / windowMs) * (width - left - 3);
    const kind = ["dot", mine && "mine", backlog && "backlog"].filter(Boolean).join(" ");
    const dot = svg(element, "circle", { class: kind, cx: x.toFixed(1), cy: y(ms).toFixed(1), r: mine ? 3.5 : 2.2 });
    const caughtUp = backlog ? " (caught up)" : "";
    svg(dot, "title", {}, `#${id}${mine ? " (yours)" : ""}${caughtUp} · ${formatDelay(ms)}`);
  }
}

// A delay as the tooltips say it: one decimal below 100 ms.
function formatDelay(ms) {
  return `${ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
}

// Cumulative distributions: for each series {name, label, values}, the
// share of values at or below each latency. The legend is a column right
// of the plot, the ticks below and left of it: no word on a line.
export function cdf(element, series) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const em = fontSize(element);
  // A legend entry: a swatch of the series' colour, then its name.
  const swatch = 0.9 * em;
  const legendWidth = swatch + 0.4 * em + widest(element, series.map((s) => s.label), "legend");
  const box = { left: 3.4 * em, right: width - legendWidth - 0.8 * em, top: 0.6 * em, bottom: height - 1.4 * em };
  const x = (ms) => latencyAt(ms, box.left, box.right);
  const y = (share) => box.bottom - share * (box.bottom - box.top);
  // 0.1 ms has its line but no word: "0.1 ms" and "1 ms" would collide.
  const ticks = [[0.1, null], ...LATENCY_TICKS, [10000, "10 s"]];
  ticks.forEach(([ms, label], i) => {
    const anchor = i === ticks.length - 1 ? "end" : "middle";
    svg(element, "line", { class: "grid", x1: x(ms), x2: x(ms), y1: box.top, y2: box.bottom });
    if (label) svg(element, "text", { class: "tick", x: x(ms), y: height - 0.25 * em, "text-anchor": anchor }, label);
  });
  for (const share of [0, 0.5, 1]) {
    svg(element, "line", { class: "grid", x1: box.left, x2: box.right, y1: y(share), y2: y(share) });
    svg(element, "text", { class: "tick", x: box.left - 0.3 * em, y: y(share) + 0.35 * em, "text-anchor": "end" }, `${share * 100} %`);
  }
  series.forEach(({ name, label, values }, i) => {
    const y = box.top + (i + 0.9) * 1.3 * em;
    const left = width - legendWidth;
    svg(element, "rect", { class: "swatch", "data-series": name, x: left, y: y - 0.6 * em, width: swatch, height: 0.5 * em });
    const text = svg(element, "text", { class: "legend", "data-series": name, x: left + swatch + 0.4 * em, y }, label);
    if (values.length === 0) {
      text.classList.add("none");
      svg(text, "title", {}, `${label}: no deliveries yet`);
    }
  });
  for (const { name, values } of series) {
    if (values.length === 0) continue;
    const sorted = [...values].sort((a, b) => a - b);
    let path = `M${x(sorted[0]).toFixed(1)},${y(0)}`;
    sorted.forEach((ms, i) => {
      path += `H${x(ms).toFixed(1)}V${y((i + 1) / sorted.length).toFixed(1)}`;
    });
    svg(element, "path", { class: "line", "data-series": name, d: path });
  }
}

// Horizontal bars: {name, label, value, text} per series; missing values
// (null) get a dash instead of a bar. Names left, values right of the bars.
export function bars(element, series) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const em = fontSize(element);
  const left = widest(element, series.map((s) => s.label), "name") + 0.8 * em;
  const right = width - 4.5 * em;
  const row = height / series.length;
  const max = Math.max(1, ...series.map((s) => s.value ?? 0));
  series.forEach(({ name, label, value, text }, i) => {
    const middle = row * i + row / 2;
    svg(element, "text", { class: "name", x: left - 0.4 * em, y: middle + 0.35 * em, "text-anchor": "end" }, label);
    const length = value === null ? 0 : Math.max(1, (value / max) * (right - left));
    svg(element, "rect", { class: "bar", "data-series": name, x: left, y: middle - row * 0.32, width: length, height: row * 0.64 });
    svg(element, "text", { class: "value", x: left + length + 0.4 * em, y: middle + 0.35 * em }, value === null ? "–" : text);
  });
}

// Lines through points: for each series {name, label, points}, points
// {x, y, title} joined in the order of x, each a dot whose <title> says
// what it is. `axes.x` and `axes.y` are {min, max, log, ticks: [[value,
// label]]}: a logarithmic axis gives each tenfold step the same room, so
// 0.1 and 100 msg/s fit on one chart and a line's slope reads as "grows
// with the rate" or "stays put". Legend right of the plot as in `cdf`; an
// x label that would run into the one before it is left out.
export function lines(element, series, axes) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const em = fontSize(element);
  const swatch = 0.9 * em;
  const legendWidth = swatch + 0.4 * em + widest(element, series.map((s) => s.label), "legend");
  const yLabels = widest(element, axes.y.ticks.map(([, label]) => label), "tick");
  const box = { left: yLabels + 0.7 * em, right: width - legendWidth - 1.2 * em, top: 0.6 * em, bottom: height - 1.4 * em };
  const x = (value) => along(value, axes.x, box.left, box.right);
  const y = (value) => along(value, axes.y, box.bottom, box.top);
  let lastEnd = -Infinity;
  axes.x.ticks.forEach(([value, label], i) => {
    svg(element, "line", { class: "grid", x1: x(value), x2: x(value), y1: box.top, y2: box.bottom });
    const last = i === axes.x.ticks.length - 1;
    const text = svg(element, "text", { class: "tick", x: x(value), y: height - 0.25 * em, "text-anchor": last ? "end" : "middle" }, label);
    const { x: start, width: used } = text.getBBox();
    if (start < lastEnd + 0.6 * em) text.remove();
    else lastEnd = start + used;
  });
  for (const [value, label] of axes.y.ticks) {
    svg(element, "line", { class: "grid", x1: box.left, x2: box.right, y1: y(value), y2: y(value) });
    svg(element, "text", { class: "tick", x: box.left - 0.3 * em, y: y(value) + 0.35 * em, "text-anchor": "end" }, label);
  }
  series.forEach(({ name, label, points }, i) => {
    const top = box.top + (i + 0.9) * 1.3 * em;
    const left = width - legendWidth;
    svg(element, "rect", { class: "swatch", "data-series": name, x: left, y: top - 0.6 * em, width: swatch, height: 0.5 * em });
    const text = svg(element, "text", { class: "legend", "data-series": name, x: left + swatch + 0.4 * em, y: top }, label);
    if (points.length === 0) text.classList.add("none");
  });
  for (const { name, points } of series) {
    const sorted = [...points].sort((a, b) => a.x - b.x);
    if (sorted.length > 1) {
      const d = sorted.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join("");
      svg(element, "path", { class: "line", "data-series": name, d });
    }
    for (const point of sorted) {
      const dot = svg(element, "circle", { class: "point", "data-series": name, cx: x(point.x).toFixed(1), cy: y(point.y).toFixed(1), r: (0.3 * em).toFixed(1) });
      svg(dot, "title", {}, point.title);
    }
  }
}

// Where `value` lies between `from` and `to` on `axis` (clamped to it).
function along(value, { min, max, log }, from, to) {
  const clamped = Math.min(max, Math.max(min, value));
  const share = log ? Math.log10(clamped / min) / Math.log10(max / min) : (clamped - min) / (max - min || 1);
  return from + share * (to - from);
}

// The width of the widest of `texts` set in class `kind` inside `element`.
function widest(element, texts, kind) {
  const probe = svg(element, "text", { class: kind });
  let most = 0;
  for (const text of texts) {
    probe.textContent = text;
    most = Math.max(most, probe.getComputedTextLength());
  }
  probe.remove();
  return most;
}

// The p-th percentile (0–100) of `values`, or null if there are none.
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, rank)];
}
