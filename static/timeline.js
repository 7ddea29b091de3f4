// The dialogue between this browser and the server, drawn from the real
// traffic as it happens. Time flows down; the browser is on the left, the
// server on the right. Every request is an arrow across, every answer an
// arrow back: thin and grey when empty, in the technique's colour and
// labelled with the count when it carries messages. A long-poll that the
// server holds shows as a dotted wait on the server's side. A stream (SSE,
// WebSocket) is one long open band with a tick per message, and frames the
// browser sends up it are arrows across. Errors, reconnects (the lane's
// backoff, or for SSE the browser's own), gaps and pauses are marked across
// the lane.
//
// Each element is placed once, at the time it happened; scrolling is a
// single transform on the group that holds them, so an animation frame
// costs one attribute write per lane.

import { fit, svg } from "./charts.js";

// Seconds of history in view.
const WINDOW_S = 15;
// Room at the top for the "browser" and "server" labels.
const HEADER_PX = 14;
// Arrows slope down a little: a message takes time to cross.
const SLANT_PX = 4;
// Keep "now" a little above the bottom edge, so the newest arrow shows whole.
const NOW_INSET_PX = 8;
// An answer this much (in pixels) later than its request shows the wait.
const HELD_MIN_PX = 2 * SLANT_PX + 2;
// Labels closer than this to the one before are left out, not piled up.
const LABEL_GAP_PX = 11;

export class Timeline {
  constructor(element, name) {
    this.element = element;
    this.name = name;
    this.items = [];
    this.band = null;
    this.lastLabelY = -Infinity;
    this.layout();
    addEventListener("resize", () => this.layout());
  }

  // (Re)builds the fixed parts for the element's current size.
  layout() {
    const { width, height } = fit(this.element);
    this.height = height;
    this.pxPerS = (height - HEADER_PX - NOW_INSET_PX) / WINDOW_S;
    this.browserX = 30;
    this.serverX = width - 30;
    const scroll = this.scroll;
    this.element.replaceChildren();
    this.defineArrowHeads();
    svg(this.element, "line", { class: "lifeline", x1: this.browserX, x2: this.browserX, y1: HEADER_PX, y2: height });
    svg(this.element, "line", { class: "lifeline", x1: this.serverX, x2: this.serverX, y1: HEADER_PX, y2: height });
    this.scroll = scroll ?? svg(this.element, "g");
    this.element.append(this.scroll);
    svg(this.element, "rect", { class: "header", x: 0, y: 0, width, height: HEADER_PX });
    svg(this.element, "text", { class: "who", x: this.browserX, y: 10, "text-anchor": "middle" }, "browser");
    svg(this.element, "text", { class: "who", x: this.serverX, y: 10, "text-anchor": "middle" }, "server");
  }

  defineArrowHeads() {
    const defs = svg(this.element, "defs");
    for (const kind of ["ask", "empty", "news", "failed"]) {
      const marker = svg(defs, "marker", {
        id: this.headId(kind),
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerWidth: 6,
        markerHeight: 6,
        orient: "auto-start-reverse",
      });
      svg(marker, "path", { class: `head ${kind}`, d: "M0,0 L10,5 L0,10 z" });
    }
  }

  headId(kind) {
    return `head-${this.name}-${kind}`;
  }

  now() {
    return performance.now() / 1000;
  }

  y(t) {
    return t * this.pxPerS;
  }

  // Keeps `node` until it has scrolled out of view.
  keep(node) {
    this.items.push({ t: this.now(), node });
    return node;
  }

  arrow(kind, x1, y1, x2, y2) {
    return this.keep(
      svg(this.scroll, "line", {
        class: `arrow ${kind}`,
        x1,
        y1: y1.toFixed(1),
        x2,
        y2: y2.toFixed(1),
        "marker-end": `url(#${this.headId(kind)})`,
      }),
    );
  }

  // A label, unless the last one is too close. A mark across the lane
  // (reconnects, gaps, pauses: rare, and each one matters) always has its.
  label(kind, x, y, text, anchor = "middle") {
    if (!kind.startsWith("mark") && y - this.lastLabelY < LABEL_GAP_PX) return null;
    this.lastLabelY = y;
    return this.keep(svg(this.scroll, "text", { class: `label ${kind}`, x, y: y.toFixed(1), "text-anchor": anchor }, text));
  }

  // ---- what the lane reports ----

  // A request leaves the browser; returns what the answer needs to know.
  request() {
    const t = this.now();
    const line = this.arrow("ask", this.browserX, this.y(t), this.serverX, this.y(t) + SLANT_PX);
    return { t, line, arrived: this.y(t) + SLANT_PX };
  }

  // The answer to `request` arrives now, carrying `count` messages.
  answer(request, count) {
    const start = this.back(request, count > 0 ? "news" : "empty");
    if (count > 0) {
      const middle = (this.browserX + this.serverX) / 2;
      this.label("news", middle, start - 1, count === 1 ? "1 message" : `${count} messages`);
    }
  }

  // The arrow back for `request`, after the dotted wait if the server held
  // it; returns where the arrow starts.
  back(request, kind) {
    const start = Math.max(this.y(this.now()) - SLANT_PX, request.arrived);
    if (start - request.arrived >= HELD_MIN_PX) {
      this.keep(svg(this.scroll, "line", { class: "held", x1: this.serverX, x2: this.serverX, y1: request.arrived, y2: start.toFixed(1) }));
    }
    this.arrow(kind, this.serverX, start, this.browserX, start + SLANT_PX);
    return start;
  }

  // The stream is open: its first answer comes back, and the band begins.
  open(request, text) {
    const start = this.back(request, "empty");
    this.label("status", (this.browserX + this.serverX) / 2, start - 1, text);
    const y = start + SLANT_PX;
    const rect = svg(this.scroll, "rect", { class: "band", x: this.browserX, y: y.toFixed(1), width: this.serverX - this.browserX, height: 0 });
    this.band = { rect, y };
  }

  // A message on the open stream.
  tick() {
    const y = this.y(this.now());
    this.arrow("news", this.serverX, y, this.browserX, y + SLANT_PX / 2);
  }

  // A frame the browser sends up the open stream (WebSocket publishing).
  up(text) {
    const y = this.y(this.now());
    this.arrow("ask", this.browserX, y, this.serverX, y + SLANT_PX / 2);
    this.label("status", (this.browserX + this.serverX) / 2, y - 1, text);
  }

  // A frame back that carries no message: the answer to one sent up.
  reply(text, failed) {
    const y = this.y(this.now());
    const kind = failed ? "failed" : "empty";
    this.arrow(kind, this.serverX, y, this.browserX, y + SLANT_PX / 2);
    this.label(kind === "failed" ? "failed" : "status", (this.browserX + this.serverX) / 2, y + SLANT_PX + 9, text);
  }

  // The stream ended: "paused" by us, "error" (marked here), or "broken"
  // (an error the lane marks itself, saying what happens next).
  close(request, why) {
    if (this.band) {
      this.band.rect.setAttribute("height", Math.max(0, this.y(this.now()) - this.band.y).toFixed(1));
      this.keep(this.band.rect);
      this.band = null;
      if (why === "error") this.mark("connection closed", "failed");
    } else if (why !== "paused") {
      this.fail(request, "failed");
    } else {
      this.cancel(request);
    }
  }

  // `request` got an error (or no answer at all).
  fail(request, text) {
    const start = this.back(request, "failed");
    this.label("failed", this.serverX - 4, start + SLANT_PX + 9, text, "end");
  }

  // `request` was abandoned by us (the lane was paused).
  cancel(request) {
    request.line.classList.add("cancelled");
  }

  // A horizontal mark across the lane: reconnects, gaps, pauses.
  mark(text, kind) {
    const y = this.y(this.now());
    this.keep(svg(this.scroll, "line", { class: `mark ${kind}`, x1: 0, x2: this.serverX + 30, y1: y.toFixed(1), y2: y.toFixed(1) }));
    this.label(`mark ${kind}`, this.browserX + 4, y - 2, text, "start");
  }

  // ---- animation ----

  // Scrolls to now, grows the open band, and forgets what left the view.
  frame() {
    const now = this.now();
    const shift = this.height - NOW_INSET_PX - this.y(now);
    this.scroll.setAttribute("transform", `translate(0 ${shift.toFixed(1)})`);
    if (this.band) this.band.rect.setAttribute("height", Math.max(0, this.y(now) - this.band.y).toFixed(1));
    const forgotten = now - WINDOW_S - 2;
    while (this.items.length > 0 && this.items[0].t < forgotten) this.items.shift().node.remove();
  }
}
