// The page's own small chart module: plain SVG, no library. Three shapes,
// each redrawn from scratch from a few hundred numbers:
// - strip: one lane's recent deliveries, latency against time;
// - cdf:   the share of deliveries that arrived within each latency, one
//          line per technique;
// - bars:  one horizontal bar per technique (bytes per message).
// Latency is always on the same logarithmic scale, 0.1 ms to 10 s, so a
// WebSocket's milliseconds and a slow poll's seconds fit on one axis and
// every chart can be compared with every other. Colours come from the
// stylesheet (one per technique), never from here.

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

// Makes the drawing's units the element's CSS pixels, so text stays crisp
// and unstretched at any size.
export function fit(element) {
  const width = Math.max(1, Math.round(element.clientWidth));
  const height = Math.max(1, Math.round(element.clientHeight));
  element.setAttribute("viewBox", `0 0 ${width} ${height}`);
  return { width, height };
}

// Where `ms` lies between `from` and `to` on the shared log scale.
export function latencyAt(ms, from, to) {
  const clamped = Math.min(LATENCY_MAX_MS, Math.max(LATENCY_MIN_MS, ms));
  const low = Math.log10(LATENCY_MIN_MS);
  const share = (Math.log10(clamped) - low) / (Math.log10(LATENCY_MAX_MS) - low);
  return from + share * (to - from);
}

// One lane's recent deliveries: x is time (now at the right edge), y the
// latency (slower is higher). `samples` are {at, ms}, `at` in page ms.
export function strip(element, samples, nowMs, windowMs) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const left = 28;
  const y = (ms) => latencyAt(ms, height - 3, 3);
  for (const [ms] of LATENCY_TICKS) {
    svg(element, "line", { class: "grid", x1: left, x2: width, y1: y(ms), y2: y(ms) });
  }
  // Too little height for four labels: the two ends say enough.
  svg(element, "text", { class: "tick", x: left - 3, y: y(1000) + 6, "text-anchor": "end" }, "1 s");
  svg(element, "text", { class: "tick", x: left - 3, y: y(1) + 2, "text-anchor": "end" }, "1 ms");
  for (const { at, ms } of samples) {
    if (at < nowMs - windowMs) continue;
    const x = left + ((at - (nowMs - windowMs)) / windowMs) * (width - left - 3);
    svg(element, "circle", { class: "dot", cx: x.toFixed(1), cy: y(ms).toFixed(1), r: 2.2 });
  }
}

// Cumulative distributions: for each series {name, label, values}, the
// share of values at or below each latency.
export function cdf(element, series) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const box = { left: 34, right: width - 8, top: 6, bottom: height - 16 };
  const x = (ms) => latencyAt(ms, box.left, box.right);
  const y = (share) => box.bottom - share * (box.bottom - box.top);
  const ticks = [[0.1, "0.1 ms"], ...LATENCY_TICKS, [10000, "10 s"]];
  ticks.forEach(([ms, label], i) => {
    const anchor = i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
    svg(element, "line", { class: "grid", x1: x(ms), x2: x(ms), y1: box.top, y2: box.bottom });
    svg(element, "text", { class: "tick", x: x(ms), y: height - 4, "text-anchor": anchor }, label);
  });
  for (const share of [0, 0.5, 1]) {
    svg(element, "line", { class: "grid", x1: box.left, x2: box.right, y1: y(share), y2: y(share) });
    svg(element, "text", { class: "tick", x: box.left - 4, y: y(share) + 3, "text-anchor": "end" }, `${share * 100} %`);
  }
  series.forEach(({ name, label, values }, i) => {
    const legend = `${label}${values.length ? "" : " (no deliveries yet)"}`;
    svg(element, "text", { class: "legend", "data-series": name, x: box.right - 4, y: box.bottom - 6 - (series.length - 1 - i) * 13, "text-anchor": "end" }, legend);
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
// (null) get a dash instead of a bar.
export function bars(element, series) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const left = 130;
  const right = width - 70;
  const row = height / series.length;
  const max = Math.max(1, ...series.map((s) => s.value ?? 0));
  series.forEach(({ name, label, value, text }, i) => {
    const middle = row * i + row / 2;
    svg(element, "text", { class: "name", x: left - 6, y: middle + 4, "text-anchor": "end" }, label);
    const length = value === null ? 0 : Math.max(1, (value / max) * (right - left));
    svg(element, "rect", { class: "bar", "data-series": name, x: left, y: middle - row * 0.32, width: length, height: row * 0.64 });
    svg(element, "text", { class: "value", x: left + length + 5, y: middle + 4 }, value === null ? "–" : text);
  });
}

// The p-th percentile (0–100) of `values`, or null if there are none.
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, rank)];
}
