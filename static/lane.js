// A lane: the one object each technique's client reports to, and the pause
// button it obeys. The client says what happened on the wire — a request
// went out, an answer came back, a stream opened, a message arrived, the
// connection broke — and the lane draws it on the timeline, lists the
// messages (as text, never as HTML), and keeps this browser's own latency
// measurements for the figures and charts. A message this tab published
// (mine.js) is marked wherever the lane shows it: "you" in the list, where
// it also stays a while however fast newer ones come, a label by its arrow
// in the dialogue, a ringed dot in the latency strip.
//
// How the lane recovers is drawn too: a break names its cause when this
// tab caused it (faults.js: "dropped by the server", "offline"), the retry
// its backoff, and the first answer after it where it resumed ("resumed
// from #41") or what it missed. A new run of the server (a restart, or
// the teacher's hub restart) is a note that stays on top of the list a
// while, so nobody misses it.
//
// The WebSocket lane also says what its handshake settled — the
// subprotocol, and the compression the browser offered and the server
// accepted (deflate.js) — and keeps what each message would have cost
// uncompressed, for the saving figures.js shows beside the bytes.

import { Timeline } from "./timeline.js";
import { delivered } from "./mine.js";
import { formatMs } from "./figures.js";
import { describe, parseAnswer } from "./deflate.js";

// Messages listed under the lane; the timeline and figures tell the rest.
// The stylesheet shows the newest three (and your pinned one); a few more
// stay in the list, out of sight, so a message found to be yours a moment
// after it arrived can still be pinned: at 100 msg/s it is already fourth.
const KEPT_ITEMS = 12;
// Your newest message stays on top of the list this long, above newer
// ones: at 4 msg/s a short poll's answer alone would push it out at once.
const PINNED_MS = 60000;
// Latency samples kept for the browser's p50/p99 and the charts.
const KEPT_SAMPLES = 1000;
// A message published before the lane came back (a resume, a reconnect)
// by more than this is a catch-up, sampled apart (`backlog`): its delay
// measures the pause, not the technique. The slack covers the clock
// offset's error.
const CATCH_UP_SLACK_MS = 100;
// Where recent messages were drawn in the dialogue, so one found to be
// ours a moment later (its publish's answer came after it) can be marked.
const REMEMBERED_POSITIONS = 100;
// Uncompressed sizes kept for the saving: more than a rate window's worth
// at the generator's highest rate (100 msg/s for 15 s).
const KEPT_PLAIN_SIZES = 2000;
// "Starting over (new run)" stays on top of the list this long: at 4 msg/s
// the three rows would push it out within a second.
const LASTING_NOTE_MS = 30000;

export class Lane {
  constructor(name, clock) {
    this.name = name;
    this.clock = clock;
    this.root = document.querySelector(`[data-lane="${name}"]`);
    this.title = this.root.querySelector("h2").textContent;
    this.timeline = new Timeline(this.root.querySelector(".timeline"), name);
    this.list = this.root.querySelector(".messages");
    this.connection = this.root.querySelector("[data-connection]");
    this.pauseButton = this.root.querySelector('[data-action="pause"]');
    // {at: performance.now() ms, ms: latency, id, mine, backlog} of recent
    // deliveries; `backlog` marks a catch-up after the lane was away.
    this.samples = [];
    // When the lane last came back (page ms): resumed, reopened, retried.
    this.backAt = 0;
    this.paused = false;
    this.controller = new AbortController();
    this.resumed = Promise.resolve();
    this.endPause = () => {};
    this.endWait = () => {};
    // WebSocket only: `publish(author, text)` up the open socket, or null
    // while there is none (lanes/ws.js sets it).
    this.uplink = null;
    // SSE only: EventSource stopped reconnecting, so the lane's retry is next.
    this.browserGaveUp = false;
    // Why the request in flight was dropped to ask again (see reissue).
    this.reissuing = null;
    // Messages shown since the page loaded, for the spoken summary.
    this.delivered = 0;
    // Your newest message's list item, kept on top for a while.
    this.pinned = null;
    this.unpinTimer = 0;
    // id → {y, ms}: where the dialogue drew it and its delay, recent ones.
    this.drawnAt = new Map();
    // A fault this tab asked for on this lane (faults.js): {label, until,
    // once}, the name of the breaks it causes.
    this.fault = null;
    // The connection broke since the last answer: the next one says where
    // the lane resumed.
    this.away = false;
    // WebSocket only: what the last handshake settled on compression
    // (deflate.js parseAnswer: null when none), and {at, bytes} of recent
    // messages, each frame's size had it gone uncompressed.
    this.compression = null;
    this.plainSizes = [];
    // When the last hello arrived (performance.now() ms).
    this.negotiatedAt = Infinity;
  }

  // ---- what a client reports ----

  // A request goes out (for SSE and WebSocket: the one that opens the
  // stream), resuming after message `since` (null: from now on).
  asked(since = null) {
    this.status("connecting");
    const request = this.timeline.request();
    request.since = since;
    return request;
  }

  // A poll's answer came back: {messages, missed, reset, …}.
  answered(request, answer) {
    const y = this.timeline.answer(request, answer.messages.length);
    this.back(request);
    if (answer.missed > 0 || answer.reset) this.gap(answer);
    answer.messages.forEach((message) => this.deliver(message, y));
  }

  // The stream is open: 200 for SSE, 101 for WebSocket.
  opened(request, label) {
    this.backAt = performance.now();
    this.timeline.open(request, label);
    this.back(request);
    this.status("open");
  }

  // The first answer after a break: where the lane picked up again.
  back(request) {
    if (!this.away) return;
    this.away = false;
    const from = request.since === null || request.since === undefined ? "from now on" : `from #${request.since}`;
    this.timeline.mark(`back: resumed ${from}`, "reconnect");
  }

  // One message arrived on the open stream.
  received(message) {
    this.deliver(message, this.timeline.tick());
  }

  // The server could not give us everything after our cursor.
  // A reset is a new run of the server's messages, whether the server
  // restarted or the teacher restarted its hub: said so, and kept in view.
  gap({ missed, reset }) {
    const text = reset ? "server restarted: starting over (new run)" : `missed ${missed}`;
    this.timeline.mark(text, "gap");
    this.note(text, reset);
  }

  // The stream ended: "paused" by us, or "error" (it broke or was closed;
  // a WebSocket says its close `code`, 1006 when no close frame came).
  closed(request, why, code) {
    const cut = why === "error" ? this.cutLabel() : null;
    if (why === "error") this.away = true;
    if (cut || code) {
      const closing = code === 1006 ? "1006 (no close frame)" : code;
      const text = [cut ?? "connection closed", closing].filter(Boolean).join(" · ");
      if (this.timeline.band) {
        this.timeline.close(request, "broken");
        this.timeline.mark(text, "failed");
      } else {
        this.timeline.fail(request, text);
      }
    } else {
      this.timeline.close(request, why);
    }
    this.status(why === "paused" ? "paused" : "closed");
  }

  // SSE only: the stream's URL names the run that just ended; it is
  // reopened at once for the new one (the browser's own reconnects would
  // send the old run's epoch and start over yet again). The "starting
  // over" note just drawn says why.
  reopening(request) {
    this.timeline.close(request, "broken");
  }

  // ---- faults this tab asked for (faults.js) ----

  // The server will break this lane's connections: `text` on the
  // dialogue now, and `label` on each break it causes until `until` (page
  // ms), or on the next one only (`once`).
  faulted(text, { label, until, once = false }) {
    this.timeline.mark(text, "fault");
    this.fault = label ? { label, until, once } : null;
  }

  // What caused a break, if this tab asked for it.
  cutLabel() {
    const fault = this.fault;
    if (!fault || performance.now() > fault.until) return null;
    if (fault.once) this.fault = null;
    return fault.label;
  }

  // A request failed. Unless we aborted it by pausing, or to ask again with
  // a new setting, wait before retrying.
  async failed(request, error, backoff) {
    if (this.paused) {
      this.timeline.cancel(request);
      return;
    }
    if (this.reissuing) {
      this.timeline.cancel(request);
      this.timeline.mark(this.reissuing, "pause");
      this.reissuing = null;
      return;
    }
    this.away = true;
    this.timeline.fail(request, this.cutLabel() ?? (error.status ? String(error.status) : "error"));
    await this.retryAfter(backoff);
  }

  // The client's own retry: its backoff with jitter (backoff.js).
  async retryAfter(backoff) {
    const delay = backoff.next();
    const seconds = (delay / 1000).toFixed(1);
    const why = this.browserGaveUp ? "browser gave up · " : "";
    this.browserGaveUp = false;
    this.timeline.mark(`${why}backoff: retry in ${seconds} s`, "reconnect");
    this.status(`retrying in ${seconds} s`);
    await this.wait(delay);
    this.backAt = performance.now();
  }

  // SSE only: the browser itself reconnects after the server's `retry:`
  // delay, sending the id it saw last — drawn apart from the lane's backoff.
  browserRetries(request, lastEventId) {
    if (request) this.timeline.close(request, "broken");
    this.away = true;
    const header = lastEventId ? `Last-Event-ID: ${lastEventId}` : "no Last-Event-ID yet";
    const cut = this.cutLabel();
    this.timeline.mark(`${cut ? `${cut} · ` : ""}browser retries · ${header}`, "browser-retry");
    this.status("browser reconnecting");
  }

  // SSE only: the answer to `request` was not a stream, and the browser
  // stopped reconnecting; the client takes over.
  refused(request, text) {
    this.away = true;
    this.timeline.fail(request, text);
    this.browserGaveUp = true; // said with the retry that follows at once
    this.status("refused");
  }

  // The server sent again a message from `id` on that we already had
  // (SSE: a resumed stream whose URL still names an older cursor).
  resent(id) {
    this.timeline.mark(`re-sent from #${id}: already shown, skipped`, "resent");
  }

  // WebSocket only: a frame this browser sent up the open socket, and the
  // server's answer to it (`failed` for an error frame).
  sentUp(text) {
    this.timeline.up(text);
  }

  answeredUp(text, failed = false) {
    this.timeline.reply(text, failed);
  }

  // WebSocket only: the handshake settled `protocol` (socket.protocol,
  // "" for none) and the compression the hello frame reports: `offered`
  // (the browser's Sec-WebSocket-Extensions as sent, or null), `accepted`
  // (the server's answer, or null) and `extensions` (socket.extensions,
  // what the browser took the answer to be).
  negotiated({ offered, accepted, extensions, protocol }) {
    this.compression = parseAnswer(accepted);
    this.negotiatedAt = performance.now();
    const { words, title } = describe({ offered, accepted, protocol });
    const shown = this.root.querySelector("[data-ws-extensions]");
    if (shown) {
      shown.textContent = words;
      shown.title = title;
      shown.dataset.offered = offered ?? "";
      shown.dataset.accepted = accepted ?? "";
      shown.dataset.extensions = extensions ?? "";
    }
    const named = this.root.querySelector("[data-ws-protocol]");
    if (named) {
      named.textContent = protocol || "no subprotocol";
      named.title = protocol ? `The subprotocol this page asked for, and the server's 101 named: ${protocol}` : "The server's 101 named no subprotocol";
      named.hidden = false;
    }
  }

  // WebSocket only: a message just arrived whose frame would have been
  // `bytes` long uncompressed.
  plainSize(bytes) {
    this.plainSizes.push({ at: performance.now(), bytes });
    if (this.plainSizes.length > KEPT_PLAIN_SIZES) this.plainSizes.shift();
  }

  // ---- pausing and waiting ----

  // Resolves at once, or when a paused lane is resumed.
  running() {
    return this.resumed;
  }

  // Aborted when the lane is paused: clients pass it to fetch, or close
  // their stream on it.
  get signal() {
    return this.controller.signal;
  }

  // Waits `ms`, or less if the lane is paused or a setting changes.
  wait(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endWait = () => {};
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endWait = done;
    });
  }

  // A setting changed: stop waiting and use it now.
  nudge() {
    this.endWait();
  }

  // A setting changed that the request in flight was made with (the
  // long-poll's timeout): drop that request and ask again at once, saying
  // `why` on the timeline, instead of waiting up to the old timeout.
  reissue(why) {
    if (this.paused) return;
    this.reissuing = why;
    this.controller.abort();
    this.controller = new AbortController();
    this.endWait();
  }

  pause() {
    if (this.paused) return;
    this.paused = true;
    this.resumed = new Promise((resolve) => {
      this.endPause = resolve;
    });
    this.controller.abort();
    this.endWait();
    this.timeline.mark("paused", "pause");
    this.showPaused();
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.backAt = performance.now();
    this.controller = new AbortController();
    this.resumed = Promise.resolve();
    this.endPause();
    this.timeline.mark("resumed", "pause");
    this.showPaused();
  }

  toggle() {
    if (this.paused) this.resume();
    else this.pause();
  }

  clearSamples() {
    this.samples = [];
    this.plainSizes = [];
  }

  // ---- drawing ----

  // `message` arrived; the dialogue drew it at `y`.
  deliver(message, y) {
    this.delivered += 1;
    const ms = this.clock.latencyMs(message.published_at_us);
    const mine = delivered(this.name, message, ms);
    const at = performance.now();
    const backlog = at - ms < this.backAt - CATCH_UP_SLACK_MS;
    this.samples.push({ at, ms, id: message.id, mine, backlog });
    if (this.samples.length > KEPT_SAMPLES) this.samples.shift();
    this.drawnAt.set(message.id, { y, ms });
    if (this.drawnAt.size > REMEMBERED_POSITIONS) this.drawnAt.delete(this.drawnAt.keys().next().value);
    this.show(message);
    if (mine) this.markMine(message.id);
  }

  // Message `id` is one this tab published (known on arrival, or reported
  // by mine.js once the publish's answer came): mark it wherever it shows.
  markMine(id) {
    const drawn = this.drawnAt.get(id);
    if (drawn) this.timeline.mine(drawn.y, `you: #${id}`);
    const sample = this.samples.findLast((s) => s.id === id);
    if (sample) sample.mine = true;
    const item = this.list.querySelector(`li[data-id="${id}"]`);
    if (item && !item.classList.contains("mine")) {
      item.classList.add("mine");
      const tag = document.createElement("span");
      tag.className = "you";
      tag.textContent = drawn ? `you · ${formatMs(drawn.ms)} ms` : "you";
      item.prepend(tag, " ");
      this.pin(item);
    }
  }

  // Shows `item` on top of the list, above newer messages, for a while
  // (the stylesheet orders `.pinned` first). Only the newest of yours.
  pin(item) {
    this.unpin();
    this.pinned = item;
    item.classList.add("pinned");
    this.unpinTimer = setTimeout(() => this.unpin(), PINNED_MS);
  }

  unpin() {
    clearTimeout(this.unpinTimer);
    this.pinned?.classList.remove("pinned");
    this.pinned = null;
    this.trim();
  }

  // Author and text come from users: textContent only.
  show(message) {
    const item = document.createElement("li");
    item.dataset.id = message.id;
    const id = document.createElement("span");
    id.className = "id";
    id.textContent = `#${message.id}`;
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = message.author;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    // Separators in the text itself, so a screen reader and a copy-paste
    // keep id, author and text apart.
    item.append(id, " · ", author, ": ", text);
    this.prepend(item);
  }

  // A note in the list; a `lasting` one stays on top for a while.
  note(text, lasting = false) {
    const item = document.createElement("li");
    item.className = "gap";
    item.textContent = text;
    if (lasting) {
      item.classList.add("pinned", "lasting");
      setTimeout(() => {
        item.classList.remove("pinned", "lasting");
        this.trim();
      }, LASTING_NOTE_MS);
    }
    this.prepend(item);
  }

  prepend(item) {
    this.list.prepend(item);
    this.trim();
  }

  // The newest few, and your pinned one and lasting notes however old.
  trim() {
    const items = [...this.list.children];
    let excess = items.length - KEPT_ITEMS;
    for (let i = items.length - 1; i >= 0 && excess > 0; i--) {
      if (items[i] === this.pinned || items[i].classList.contains("lasting")) continue;
      items[i].remove();
      excess -= 1;
    }
  }

  status(text) {
    if (this.connection) this.connection.textContent = this.paused ? "paused" : text;
  }

  showPaused() {
    this.pauseButton.textContent = this.paused ? "resume" : "pause";
    this.pauseButton.setAttribute("aria-label", `${this.pauseButton.textContent} ${this.title}`);
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    this.root.classList.toggle("paused", this.paused);
    this.status(this.paused ? "paused" : "connecting");
  }
}
