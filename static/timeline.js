// The dialogue between this browser and the server, drawn from the real
// traffic as it happens. Time flows down; the browser is on the left, the
// server on the right. Every request is an arrow across, every answer an
// arrow back: thin and grey when empty, in the technique's colour when it
// carries messages. A long-poll that the server holds shows as a dotted
// wait on the server's side. A stream (SSE, WebSocket) is one long open
// band with a tick per message, and frames the browser sends up it are
// arrows across. Errors, reconnects (the lane's backoff, or for SSE the
// browser's own), gaps and pauses are marked across the lane.
//
// Words never sit on a line. Arrows stay between the two lifelines; every
// label — "3 messages", "you: #175", a mark's "server restarted: starting
// over" — is a note in the margin left of the browser's lifeline, level
// with what it names, wrapped to the margin's width. Counts are left out
// where the margin is full; the rest (marks, errors, your own messages and
// frames) always get theirs, nudging older notes up to make room.
//
// Each element is placed once, at the time it happened; scrolling is a
// single transform on the group that holds them, so an animation frame
// costs one attribute write per lane. Sizes are in ems of the lane's text,
// so the drawing grows with the page on a large screen.
//
// Every exchange — a request and its answer, or a stream from its opening
// on — has a key ("poll-12"), carried by each of its arrows, its band and
// its ticks as `data-exchange`, and the times it was sent and answered
// (`exchange(key)`): the wire view (wire.js) finds the server's bytes for
// it by those times. Each arrow has a wide invisible twin to click on. A
// request waiting in the browser's queue (queue.js), not sent yet, is
// drawn as waiting (`.queued`).

import { fit, fontSize, svg } from "./charts.js";
import { waiting } from "./queue.js";

// Time runs down this many ems a second: the scale stays when the lane
// grows or shrinks (a taller dialogue shows a longer past), so nothing
// drawn has to move.
const EM_PER_S = 1.2;
// Room at the top for the "browser" and "server" labels (ems).
const HEADER_EM = 1.5;
// Arrows slope down a little: a message takes time to cross (ems).
const SLANT_EM = 0.3;
// Keep "now" this far above the bottom edge, so the newest note shows whole.
const NOW_INSET_EM = 0.7;
// The margin for notes: this share of the lane's width, within these ems.
const MARGIN_SHARE = 0.42;
const MARGIN_MIN_EM = 7;
const MARGIN_MAX_EM = 14;
// Room right of the server's lifeline, for the "server" label (ems).
const SERVER_INSET_EM = 2.2;
// One line of a note, and the space kept between two notes (ems).
const LINE_EM = 1.2;
const NOTE_GAP_EM = 0.15;
// Exchanges whose times are remembered for the wire view: the ones in
// view, and some.
const REMEMBERED_EXCHANGES = 200;
// How often the newest request is checked for waiting in the queue.
const QUEUE_CHECK_MS = 250;

export class Timeline {
  constructor(element, name) {
    this.element = element;
    this.name = name;
    this.items = [];
    // Notes in the margin, oldest first: {node, top, bottom, lasting}.
    this.notes = [];
    this.band = null;
    // key → {key, technique, sentAt, answeredAt, endedAt, stream} (ms,
    // performance.now()), oldest first.
    this.exchanges = new Map();
    this.asked = 0;
    this.lastAsk = null;
    this.queueCheckedAt = 0;
    this.layout();
    // The lane's height follows the screen's and the rows above it.
    new ResizeObserver(() => this.layout()).observe(element);
  }

  // Fits the drawing to the element's size. A new height only shows more
  // or less of the past; a new width (or type size) moves every x, so the
  // dialogue starts afresh (an open stream's band goes on).
  layout() {
    const { width, height } = fit(this.element);
    // Not laid out for now (a page being hidden): keep what is drawn.
    if ((width < 2 || height < 2) && this.scroll) return;
    const em = fontSize(this.element);
    if (width === this.width && em === this.em) {
      if (height !== this.height) this.resized(height);
      return;
    }
    this.width = width;
    this.em = em;
    this.header = HEADER_EM * em;
    this.slant = SLANT_EM * em;
    this.nowInset = NOW_INSET_EM * em;
    this.line = LINE_EM * em;
    this.noteGap = NOTE_GAP_EM * em;
    this.pxPerS = EM_PER_S * em;
    this.browserX = Math.round(Math.min(MARGIN_MAX_EM * em, Math.max(MARGIN_MIN_EM * em, MARGIN_SHARE * width)));
    this.serverX = Math.round(width - SERVER_INSET_EM * em);
    this.noteX = this.browserX - 0.4 * em;
    this.noteWidth = this.noteX - 0.2 * em;
    this.heldMin = 2 * this.slant + 2;

    this.items = [];
    this.notes = [];
    this.element.replaceChildren();
    this.defineArrowHeads();
    this.lifelines = [this.browserX, this.serverX].map((x) =>
      svg(this.element, "line", { class: "lifeline", x1: x, x2: x, y1: this.header, y2: height }),
    );
    this.scroll = svg(this.element, "g");
    svg(this.element, "rect", { class: "header", x: 0, y: 0, width, height: this.header });
    const baseline = (1.1 * em).toFixed(1);
    svg(this.element, "text", { class: "who", x: this.browserX, y: baseline, "text-anchor": "middle" }, "browser");
    svg(this.element, "text", { class: "who", x: this.serverX, y: baseline, "text-anchor": "middle" }, "server");
    this.resized(height);
    if (this.band) this.startBand(this.y(this.now() - this.windowS - 1), this.band.key);
  }

  resized(height) {
    this.height = height;
    this.windowS = (height - this.header - this.nowInset) / this.pxPerS;
    for (const line of this.lifelines) line.setAttribute("y2", height);
    this.frame();
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

  // An arrow of exchange `key`, and its wide invisible twin to click on.
  arrow(kind, x1, y1, x2, y2, key) {
    const ends = { x1, y1: y1.toFixed(1), x2, y2: y2.toFixed(1) };
    const line = this.keep(
      svg(this.scroll, "line", { class: `arrow ${kind}`, ...ends, "marker-end": `url(#${this.headId(kind)})` }),
    );
    if (key) {
      line.dataset.exchange = key;
      // A path, not a line: it is no line to be seen (nor for a label to avoid).
      const d = `M${x1},${ends.y1} L${x2},${ends.y2}`;
      this.keep(svg(this.scroll, "path", { class: "hit", d, "data-exchange": key }));
    }
    return line;
  }

  // ---- exchanges, for the wire view ----

  // A new exchange starts now: its key and record.
  begin(stream = false) {
    this.asked += 1;
    const record = { key: `${this.name}-${this.asked}`, technique: this.name, sentAt: performance.now(), answeredAt: null, endedAt: null, stream };
    this.exchanges.set(record.key, record);
    if (this.exchanges.size > REMEMBERED_EXCHANGES) this.exchanges.delete(this.exchanges.keys().next().value);
    return record;
  }

  // What is known of exchange `key`'s times, or undefined.
  exchange(key) {
    return this.exchanges.get(key);
  }

  // The newest exchange drawn, for a keyboard user's Enter.
  newestExchange() {
    return [...this.exchanges.values()].at(-1);
  }

  // ---- notes in the margin ----

  // A note level with `y`. A lasting one (marks, errors, what you sent)
  // is always drawn, older notes moving up or making way for it; any
  // other is left out when the margin there is taken.
  note(kind, y, text, lasting = false) {
    const last = this.notes.at(-1);
    const oneLineTop = y - this.line / 2;
    if (!lasting && last && oneLineTop < last.bottom + this.noteGap) return null;
    const node = this.keep(svg(this.scroll, "text", { class: `label ${kind}`, "text-anchor": "end" }));
    const lines = this.wrap(node, text);
    // The last line is level with `y`; earlier ones go up.
    const bottom = y + this.line / 2;
    const note = { node, top: bottom - lines * this.line, bottom, lasting };
    if (!lasting && last && note.top < last.bottom + this.noteGap) {
      node.remove();
      return null;
    }
    this.place(note);
    this.notes.push(note);
    this.makeRoomAbove(note);
    this.forgetNotes();
    return node;
  }

  // Writes `text` into `node` as lines (tspans) that fit the margin,
  // breaking after spaces and hyphens. Joined, the lines are `text` again,
  // so the element's text reads as written. Returns the number of lines.
  wrap(node, text) {
    const pieces = text.split(/(?<=[\s-])/);
    const probe = svg(node, "tspan");
    const lines = [];
    let current = "";
    for (const piece of pieces) {
      probe.textContent = (current + piece).trimEnd();
      if (current && probe.getComputedTextLength() > this.noteWidth) {
        lines.push(current);
        current = piece;
      } else {
        current += piece;
      }
    }
    lines.push(current);
    probe.remove();
    for (const line of lines) svg(node, "tspan", { x: this.noteX.toFixed(1) }, line);
    return lines.length;
  }

  // Sets a note's lines at its `top`.
  place(note) {
    const baseline = 0.95 * this.em;
    [...note.node.children].forEach((tspan, i) => {
      tspan.setAttribute("y", (note.top + i * this.line + baseline).toFixed(1));
    });
  }

  // Notes above `note` that it overlaps: passing ones are removed, lasting
  // ones move up, and so on up the margin.
  makeRoomAbove(note) {
    let below = note;
    for (let i = this.notes.length - 2; i >= 0; i--) {
      const above = this.notes[i];
      const overlap = above.bottom + this.noteGap - below.top;
      if (overlap <= 0) break;
      if (!above.lasting) {
        above.node.remove();
        this.notes.splice(i, 1);
        continue;
      }
      above.top -= overlap;
      above.bottom -= overlap;
      this.place(above);
      below = above;
    }
  }

  // Notes that scrolled out of view need no more room.
  forgetNotes() {
    const gone = this.y(this.now() - this.windowS - 2);
    while (this.notes.length > 0 && this.notes[0].bottom < gone) this.notes.shift();
  }

  // ---- what the lane reports ----

  // A request leaves the browser; returns what the answer needs to know.
  request() {
    const t = this.now();
    const exchange = this.begin();
    const line = this.arrow("ask", this.browserX, this.y(t), this.serverX, this.y(t) + this.slant, exchange.key);
    const request = { t, line, exchange };
    this.lastAsk = request;
    return request;
  }

  // The answer to `request` arrives now, carrying `count` messages.
  // Returns where it reached the browser.
  answer(request, count) {
    if (request.exchange) request.exchange.count = count;
    const end = this.back(request, count > 0 ? "news" : "empty");
    if (count > 0) this.note("news", end, count === 1 ? "1 message" : `${count} messages`);
    return end;
  }

  // The arrow back for `request`, after the dotted wait if the server held
  // it; returns where it reaches the browser.
  back(request, kind) {
    const arrived = this.y(request.t) + this.slant;
    const start = Math.max(this.y(this.now()) - this.slant, arrived);
    const key = request.exchange?.key;
    if (request.exchange) {
      request.exchange.answeredAt ??= performance.now();
      // The cursor it asked from, when the lane says (lane.asked(since)).
      request.exchange.since = request.since;
    }
    request.line?.classList.remove("queued");
    if (start - arrived >= this.heldMin) {
      const held = this.keep(svg(this.scroll, "line", { class: "held", x1: this.serverX, x2: this.serverX, y1: arrived.toFixed(1), y2: start.toFixed(1) }));
      if (key) held.dataset.exchange = key;
    }
    this.arrow(kind, this.serverX, start, this.browserX, start + this.slant, key);
    return start + this.slant;
  }

  // The stream is open: its first answer comes back, and the band begins.
  open(request, text) {
    if (request.exchange) request.exchange.stream = true;
    const end = this.back(request, "empty");
    this.note("status", end, text);
    this.band = {};
    this.startBand(end, request.exchange?.key);
  }

  startBand(y, key) {
    const width = Math.max(0, this.serverX - this.browserX);
    const rect = svg(this.scroll, "rect", { class: "band", x: this.browserX, y: y.toFixed(1), width, height: 0 });
    if (key) rect.dataset.exchange = key;
    this.band = { rect, y, key };
  }

  // A message on the open stream; returns where it reached the browser.
  tick() {
    const y = this.y(this.now());
    this.arrow("news", this.serverX, y, this.browserX, y + this.slant / 2, this.band?.key);
    return y + this.slant / 2;
  }

  // A frame the browser sends up the open stream (WebSocket publishing).
  up(text) {
    const y = this.y(this.now());
    this.arrow("ask", this.browserX, y, this.serverX, y + this.slant / 2, this.band?.key);
    this.note("status", y, text, true);
  }

  // A frame back that carries no message: the answer to one sent up.
  reply(text, failed) {
    const y = this.y(this.now());
    const kind = failed ? "failed" : "empty";
    this.arrow(kind, this.serverX, y, this.browserX, y + this.slant / 2, this.band?.key);
    this.note(kind === "failed" ? "failed" : "status", y + this.slant / 2, text, true);
  }

  // A message this tab published arrived at `y`: said in the margin, with
  // a dot where it reached the browser.
  mine(y, text) {
    this.keep(svg(this.scroll, "circle", { class: "mine", cx: this.browserX, cy: y.toFixed(1), r: (0.3 * this.em).toFixed(1) }));
    this.note("mine", y, text, true);
  }

  // The stream ended: "paused" by us, "error" (marked here), or "broken"
  // (an error the lane marks itself, saying what happens next).
  close(request, why) {
    if (request?.exchange) request.exchange.endedAt ??= performance.now();
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
    const end = this.back(request, "failed");
    this.note("failed", end, text, true);
  }

  // `request` was abandoned by us (the lane was paused).
  cancel(request) {
    request.line.classList.remove("queued");
    request.line.classList.add("cancelled");
  }

  // A horizontal mark across the dialogue: reconnects, gaps, pauses; its
  // words in the margin beside it.
  mark(text, kind) {
    const y = this.y(this.now());
    this.keep(svg(this.scroll, "line", { class: `mark ${kind}`, x1: this.browserX, x2: this.width, y1: y.toFixed(1), y2: y.toFixed(1) }));
    this.note(`mark ${kind}`, y, text, true);
  }

  // ---- animation ----

  // Scrolls to now, grows the open band, and forgets what left the view.
  frame() {
    const now = this.now();
    const shift = this.height - this.nowInset - this.y(now);
    this.scroll.setAttribute("transform", `translate(0 ${shift.toFixed(1)})`);
    if (this.band) this.band.rect.setAttribute("height", Math.max(0, this.y(now) - this.band.y).toFixed(1));
    const forgotten = now - this.windowS - 2;
    while (this.items.length > 0 && this.items[0].t < forgotten) this.items.shift().node.remove();
    this.showQueued();
  }

  // The newest request, while the browser holds it in its queue (no
  // connection free: it has not left yet), is drawn as waiting.
  showQueued() {
    const at = performance.now();
    if (at - this.queueCheckedAt < QUEUE_CHECK_MS || !this.lastAsk) return;
    this.queueCheckedAt = at;
    const ask = this.lastAsk;
    const queued = ask.exchange.answeredAt === null && !ask.line.classList.contains("cancelled") && Boolean(waiting(this.name));
    ask.line.classList.toggle("queued", queued);
  }
}
