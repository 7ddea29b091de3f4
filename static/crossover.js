// The crossover, from this class's own run: what one delivered message
// cost each technique at every generator rate the page has seen held.
//
// Why the rate decides. A short poll pays for time, not for messages: it
// asks every second whatever happened, so when messages are rare most of
// its answers are empty and one message costs many requests, and when they
// are many one answer carries several under one set of headers. A
// long-poll pays one whole request per answer: cheap while messages are
// rare, a poll in disguise when they come fast. SSE and WebSocket pay one
// event or frame per message and little in between. So each line slopes
// its own way, and where two lines cross the cheaper technique changes:
// `pushlab load --rates …` draws the same chart for 1,000 clients on one
// machine (docs/06-comparison.md); this one is this tab, over the class's
// own machine and network.
//
// Where the figures come from: nothing is fetched for this chart. Every
// second figures.js brings this tab's own counters (GET /api/tabs/{id})
// and the class's (GET /api/stats, which also says the generator's rate);
// the chart takes the difference between two such snapshots, per
// technique — bytes in + out, requests, messages delivered — and adds it to
// the point of the rate that held between them. Latency is the p50 of the
// lane's own samples (lane.js) that arrived in those seconds.
//
// What is kept out, so that a point measures its rate alone:
// - the second in which the rate changed (the snapshot before it was taken
//   at the old rate, the one after at the new);
// - a new rate's seconds until it has held HOLD_S seconds and a technique
//   has delivered MIN_MESSAGES at it: a teacher passing through a rate on
//   the way to another leaves no point behind;
// - a lane's seconds while it was paused, or that brought catch-up
//   deliveries (they measure the pause, not the technique);
// - everything before "Reset counters" (or a server restart): the chart
//   starts over with the counters; and a technique's points when this
//   tab's setting for it changes (poll interval, long-poll timeout), since
//   they measured another setting.
// A rate seen again later adds to its earlier point: one point per rate
// and technique, refined while the rate holds.
//
// `?crossover-hold=<seconds>` in the page's URL shortens HOLD_S: for the
// browser test (tests/browser/crossover.test.mjs) and for a demonstration
// in a hurry; the figures of a shorter hold are noisier.

import { LATENCY_MAX_MS, LATENCY_MIN_MS, fit, fontSize, lines, percentile, svg } from "./charts.js";
import { readSettings } from "./controls.js";
import { NAMES, SHORT_NAME } from "./techniques.js";

// A new rate counts once it has held this long…
const HOLD_S = 10;
// …and a technique has delivered this many messages at it: fewer, and one
// early or late poll moves its cost per message by a third.
const MIN_MESSAGES = 3;
// The p50 of a point is over its newest deliveries, this many at most.
const KEPT_LATENCIES = 2000;
// The counters a point adds up, as /api/tabs/{id} names them.
const COUNTED = ["requests", "messages_delivered", "bytes_in", "bytes_out"];

// What the chart can show, chosen in its caption: a name, the value of a
// point's sums (null when it has none), and its y axis for `values`.
const MEASURES = {
  bytes: {
    unit: "B a message",
    value: (sums) => (sums.bytes_in + sums.bytes_out) / sums.messages_delivered,
    text: (value) => value.toFixed(0),
    axis: logAxis,
  },
  requests: {
    unit: "requests a message",
    value: (sums) => sums.requests / sums.messages_delivered,
    text: (value) => formatShort(value),
    axis: linearAxis,
  },
  p50: {
    unit: "ms, p50 in this browser",
    value: (sums) => percentile(sums.latencies, 50),
    text: (value) => formatShort(value),
    axis: latencyAxis,
  },
};

export class Crossover {
  constructor(element, lanes, figures) {
    this.element = element;
    this.lanes = lanes;
    this.figures = figures;
    this.holdMs = holdSeconds() * 1000;
    this.choice = document.querySelector("[data-crossover-measure]");
    this.choice?.addEventListener("change", () => this.draw());
    // rate → (technique → sums): the points.
    this.points = new Map();
    // The rate now, since when (page ms), what it has added up per
    // technique so far, and which techniques' sums already joined a point.
    this.hold = null;
    // The snapshot the next one is compared with.
    this.previous = null;
  }

  // Takes in figures.js's newest snapshot, if there is a new one.
  update() {
    const tab = this.figures.tab;
    if (!tab || tab === this.previous?.tab) return;
    const now = performance.now();
    const rate = this.figures.latest?.generator?.rate;
    const snapshot = {
      at: now,
      tab,
      baseline: this.figures.baseline,
      settings: readSettings(),
      paused: Object.fromEntries(NAMES.map((name) => [name, this.lanes[name].paused])),
    };
    const before = this.previous;
    this.previous = snapshot;
    if (before && (before.baseline !== snapshot.baseline || wentBack(before.tab, tab))) {
      this.points.clear();
      this.hold = null;
    }
    if (before && before.settings.pollIntervalMs !== snapshot.settings.pollIntervalMs) this.forget("poll");
    if (before && before.settings.longpollTimeoutS !== snapshot.settings.longpollTimeoutS) this.forget("longpoll");
    if (this.hold?.rate !== rate) {
      this.hold = { rate, since: now, sums: {}, joined: new Set() };
      return;
    }
    // Off (0) has no messages to divide by, and no place on a log axis.
    if (!before || !(rate > 0)) return;
    for (const name of NAMES) {
      if (before.paused[name] || snapshot.paused[name]) continue;
      const arrived = this.lanes[name].samples.filter((s) => s.at > before.at && s.at <= now);
      if (arrived.some((s) => s.backlog)) continue;
      const delta = difference(before.tab, tab, name);
      if (!delta) continue;
      delta.latencies = arrived.map((s) => s.ms);
      this.add(name, delta, now);
    }
  }

  // Adds `delta` to the hold's sums of technique `name`, and to its point
  // once the hold counts.
  add(name, delta, now) {
    const hold = this.hold;
    const sums = (hold.sums[name] ??= emptySums());
    addInto(sums, delta);
    if (hold.joined.has(name)) {
      addInto(this.point(hold.rate, name), delta);
    } else if (now - hold.since >= this.holdMs && sums.messages_delivered >= MIN_MESSAGES) {
      addInto(this.point(hold.rate, name), sums);
      hold.joined.add(name);
    }
  }

  // The sums of the point (rate, technique), created empty.
  point(rate, name) {
    if (!this.points.has(rate)) this.points.set(rate, new Map());
    const byName = this.points.get(rate);
    if (!byName.has(name)) byName.set(name, emptySums());
    return byName.get(name);
  }

  // Technique `name`'s points measured another setting: drop them, and
  // what the hold has added up for it.
  forget(name) {
    for (const [rate, byName] of this.points) {
      byName.delete(name);
      if (byName.size === 0) this.points.delete(rate);
    }
    if (this.hold) {
      delete this.hold.sums[name];
      this.hold.joined.delete(name);
    }
  }

  draw() {
    const key = this.choice?.value in MEASURES ? this.choice.value : "bytes";
    const measure = MEASURES[key];
    const rates = [...this.points.keys()].sort((a, b) => a - b);
    // Which techniques have a point at each rate, for a test to read.
    this.element.dataset.points = JSON.stringify(Object.fromEntries(rates.map((rate) => [rate, [...this.points.get(rate).keys()]])));
    if (rates.length < 2) {
      words(this.element, ["Change the rate to see where the lines cross.", this.progress(rates)]);
      return;
    }
    const series = NAMES.map((name) => {
      const points = [];
      for (const rate of rates) {
        const sums = this.points.get(rate).get(name);
        const value = sums ? measure.value(sums) : null;
        if (value === null || !Number.isFinite(value)) continue;
        const title = `${SHORT_NAME[name]} at ${formatShort(rate)} msg/s: ${measure.text(value)} ${measure.unit} (${sums.messages_delivered} messages)`;
        points.push({ x: rate, y: value, title });
      }
      return { name, label: SHORT_NAME[name], points };
    });
    const values = series.flatMap((s) => s.points.map((p) => p.y));
    lines(this.element, series, { x: rateAxis(rates), y: measure.axis(values) });
  }

  // What the chart waits for, in words, while it has fewer than two rates.
  progress(rates) {
    const rate = this.hold?.rate;
    if (rate === undefined) return "Waiting for the first figures…";
    if (!(rate > 0)) return "The generator is off: set a rate above 0 msg/s.";
    const held = Math.floor((performance.now() - this.hold.since) / 1000);
    if (rates.includes(rate)) return `${formatShort(rate)} msg/s is measured: now try another rate.`;
    return `${formatShort(rate)} msg/s for ${held} s: its point comes after ${this.holdMs / 1000} s and ${MIN_MESSAGES} messages.`;
  }
}

// The hold time: HOLD_S, or `?crossover-hold=` seconds (0.5 to 60).
function holdSeconds() {
  const asked = Number(new URL(location.href).searchParams.get("crossover-hold"));
  return asked >= 0.5 && asked <= 60 ? asked : HOLD_S;
}

function emptySums() {
  return { requests: 0, messages_delivered: 0, bytes_in: 0, bytes_out: 0, latencies: [] };
}

function addInto(sums, delta) {
  for (const counter of COUNTED) sums[counter] += delta[counter];
  sums.latencies.push(...delta.latencies);
  if (sums.latencies.length > KEPT_LATENCIES) sums.latencies.splice(0, sums.latencies.length - KEPT_LATENCIES);
}

// Technique `name`'s counters from `before` to `after`, or null if either
// lacks them.
function difference(before, after, name) {
  const a = before.techniques?.[name];
  const b = after.techniques?.[name];
  if (!a || !b) return null;
  const delta = {};
  for (const counter of COUNTED) {
    if (typeof a[counter] !== "number" || typeof b[counter] !== "number") return null;
    delta[counter] = b[counter] - a[counter];
  }
  return delta;
}

// The tab's counters only grow while a server runs; smaller ones mean a
// reset or a new run.
function wentBack(before, after) {
  return NAMES.some((name) => COUNTED.some((c) => (after.techniques?.[name]?.[c] ?? 0) < (before.techniques?.[name]?.[c] ?? 0)));
}

// x: the rates seen, each a tick, with room on both sides.
function rateAxis(rates) {
  const ticks = rates.map((rate, i) => [rate, i === rates.length - 1 ? `${formatShort(rate)} msg/s` : formatShort(rate)]);
  return { min: rates[0] / 1.6, max: rates[rates.length - 1] * 1.6, log: true, ticks };
}

// y for bytes: whole tenfold steps around the values, with 2 and 5 between
// them when there are few.
function logAxis(values) {
  const positive = values.filter((v) => v > 0);
  const low = positive.length ? Math.min(...positive) : 10;
  const high = positive.length ? Math.max(...positive) : 1000;
  const min = 10 ** Math.floor(Math.log10(low));
  const max = Math.max(min * 10, 10 ** Math.ceil(Math.log10(high)));
  const steps = max / min <= 100 ? [1, 2, 5] : [1];
  const ticks = [];
  for (let decade = min; decade <= max; decade *= 10) {
    for (const step of steps) if (decade * step <= max) ticks.push([decade * step, formatBytes(decade * step)]);
  }
  return { min, max, log: true, ticks };
}

// y for requests a message: from 0 (push lanes make none) to a round top.
function linearAxis(values) {
  const top = roundUp(Math.max(0, ...values));
  return { min: 0, max: top, log: false, ticks: [0, top / 2, top].map((v) => [v, formatShort(v)]) };
}

// y for latency: the page's one latency scale, 0.1 ms to 10 s.
function latencyAxis() {
  const ticks = [
    [1, "1 ms"],
    [10, "10 ms"],
    [100, "100 ms"],
    [1000, "1 s"],
    [10000, "10 s"],
  ];
  return { min: LATENCY_MIN_MS, max: LATENCY_MAX_MS, log: true, ticks };
}

// The smallest 1, 2 or 5 × 10^k at or above `value` (1 for nothing).
function roundUp(value) {
  if (!(value > 0)) return 1;
  const decade = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * decade).find((top) => top >= value * 0.999);
}

function formatBytes(bytes) {
  return bytes >= 1000 ? `${bytes / 1000} kB` : `${bytes} B`;
}

// Up to two decimals, none needless: 0.25, 1.5, 30.
function formatShort(value) {
  return String(Number(value.toFixed(value < 10 ? 2 : 0)));
}

// Sentences instead of a chart, centred, each wrapped to the drawing's
// width; the first in the legend's weight.
function words(element, sentences) {
  const { width, height } = fit(element);
  element.replaceChildren();
  const em = fontSize(element);
  const rows = sentences.flatMap((sentence, i) => wrap(element, sentence, i === 0 ? "legend" : "name", width - em));
  rows.forEach(({ text, kind }, i) => {
    const y = height / 2 + (i - (rows.length - 1) / 2) * 1.35 * em + 0.35 * em;
    svg(element, "text", { class: kind, x: width / 2, y, "text-anchor": "middle" }, text);
  });
}

// `sentence` in rows no wider than `room`, set in class `kind`.
function wrap(element, sentence, kind, room) {
  const probe = svg(element, "text", { class: kind });
  const rows = [];
  let row = "";
  for (const word of sentence.split(" ")) {
    probe.textContent = row ? `${row} ${word}` : word;
    if (row && probe.getComputedTextLength() > room) {
      rows.push({ text: row, kind });
      row = word;
    } else {
      row = probe.textContent;
    }
  }
  if (row) rows.push({ text: row, kind });
  probe.remove();
  return rows;
}
