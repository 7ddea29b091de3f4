// The wire view: click any arrow of a lane's dialogue (or focus a dialogue
// and press Enter for its newest exchange) to see the exact bytes of that
// exchange, as the server read and wrote them — this tab's own, nobody
// else's (the server gives a tab's log only to whoever names its id).
//
// The server records nothing while no view is open. Opening the panel asks
// it to record (POST /api/tabs/{id}/wire/open, a lease renewed while the
// panel stays open); closing it (the button, or Esc) stops that and lets it
// forget (…/wire/close). So the arrow that opened the panel was usually
// not recorded: the panel says so and shows that lane's next exchange when
// it comes. An open stream is the exception: the server kept its handshake,
// and its frames show from the moment the panel opened.
//
// Which recorded exchange an arrow is: wire/match.js. How one is drawn:
// wire/render.js (WebSocket frames: wire/frame.js).
//
// Over HTTP/2 (pushlab --tls) no head crosses the socket as text: HPACK
// sends its fields compressed, and the server sees them only decoded. The
// server then logs those fields as HTTP/2 carries them, pseudo-headers
// first (":method: GET", ":status: 200"), which no HTTP/1 head can start
// with; such an exchange is marked here (data-http2) and says what it
// shows: decoded fields, and beside each head the estimate of its frame
// that the counters hold (wire/render.js).

import { TAB_ID } from "./tab.js";
import { requestJson } from "./http.js";
import { findExchange } from "./wire/match.js";
import { render, renderMissing } from "./wire/render.js";

// The server's lease lasts 30 s; renew it well before.
const RENEW_MS = 10000;
// While the panel is open, new exchanges and frames show this often.
const REFRESH_MS = 1000;

const NAMES = { poll: "short poll", longpoll: "long-poll", sse: "SSE", ws: "WebSocket" };

export function attach(panel, lanes) {
  if (!panel) return;
  const view = new WireView(panel, lanes);
  for (const lane of Object.values(lanes)) {
    const dialogue = lane.timeline.element;
    dialogue.addEventListener("click", (event) => {
      const key = event.target.closest?.("[data-exchange]")?.dataset.exchange;
      if (key) view.show(lane, key, dialogue);
    });
    // Keyboard: the dialogue is one stop; Enter shows its newest exchange.
    dialogue.setAttribute("tabindex", "0");
    dialogue.setAttribute("aria-label", `${dialogue.getAttribute("aria-label")}. Enter: show its newest exchange on the wire`);
    dialogue.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      const newest = lane.timeline.newestExchange();
      if (!newest) return;
      event.preventDefault();
      view.show(lane, newest.key, dialogue);
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) view.close();
  });
}

class WireView {
  constructor(panel, lanes) {
    this.panel = panel;
    this.lanes = lanes;
    this.clock = Object.values(lanes)[0].clock;
    this.base = `/api/tabs/${TAB_ID}/wire`;
    // What to show: {lane, key} (an arrow) or {id} (a button of the list).
    this.selected = null;
    this.openedAt = null;
    this.latest = [];
    this.listedIds = "";
    this.shownState = "";
    this.timers = [];
    this.build();
  }

  build() {
    const heading = document.createElement("h2");
    heading.id = "wire-heading";
    heading.textContent = "The wire · this tab only";
    this.status = document.createElement("span");
    this.status.className = "wire-status";
    this.status.setAttribute("role", "status");
    this.closeButton = document.createElement("button");
    this.closeButton.type = "button";
    this.closeButton.textContent = "close (Esc)";
    this.closeButton.dataset.action = "close-wire";
    this.closeButton.addEventListener("click", () => this.close());
    const head = document.createElement("div");
    head.className = "wire-head";
    head.append(heading, this.status, this.closeButton);

    this.list = document.createElement("ol");
    this.list.className = "wire-list";
    this.list.setAttribute("aria-label", "recorded exchanges, newest first");

    this.bytes = document.createElement("div");
    this.bytes.className = "wire-bytes";
    this.bytes.dataset.wire = "";
    this.bytes.setAttribute("tabindex", "-1");

    this.panel.setAttribute("aria-labelledby", heading.id);
    this.panel.replaceChildren(head, this.list, this.bytes);
  }

  // Shows exchange `key` of `lane`; opens the panel (and the recording).
  async show(lane, key, from) {
    this.returnFocus = from;
    this.selected = { lane, key };
    this.highlight();
    if (this.panel.hidden) await this.open();
    await this.refresh();
  }

  async open() {
    // Below the page's header, so the publish box stays in reach.
    const header = document.querySelector("header")?.getBoundingClientRect();
    this.panel.style.setProperty("--wire-top", `${Math.max(0, header?.bottom ?? 0)}px`);
    this.panel.hidden = false;
    this.shownState = "";
    this.say("recording this tab's exchanges…");
    await this.renew();
    // Exchanges drawn from now on are recorded.
    this.openedAt = performance.now();
    this.timers = [setInterval(() => this.renew(), RENEW_MS), setInterval(() => this.refresh(), REFRESH_MS)];
    this.closeButton.focus();
  }

  async renew() {
    try {
      await requestJson(`${this.base}/open`, { method: "POST" });
    } catch (error) {
      this.say(`the server did not start recording: ${error.message}`);
    }
  }

  close() {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.selected = null;
    this.highlight();
    requestJson(`${this.base}/close`, { method: "POST" }).catch(() => {}); // the lease runs out anyway
    this.returnFocus?.focus();
  }

  async refresh() {
    if (this.panel.hidden) return;
    let log;
    try {
      log = await requestJson(this.base);
    } catch (error) {
      this.say(`the wire log did not load: ${error.message}`);
      return;
    }
    this.latest = log.exchanges;
    this.say(log.recording ? `recording: the last ${log.kept} exchanges of this tab` : "not recording");
    this.showList();
    this.showSelected();
  }

  // The recorded exchanges as buttons, newest first: the keyboard's way in.
  // Rebuilt only when the list changed, keeping the focused button focused.
  showList() {
    const newestFirst = [...this.latest].reverse();
    const ids = newestFirst.map((exchange) => exchange.id).join(" ");
    if (ids !== this.listedIds) {
      this.listedIds = ids;
      const focused = document.activeElement?.dataset?.exchangeId;
      this.list.replaceChildren(...newestFirst.map((exchange) => this.listItem(exchange)));
      if (focused) this.list.querySelector(`[data-exchange-id="${focused}"]`)?.focus();
    }
    for (const exchange of newestFirst) {
      const button = this.list.querySelector(`[data-exchange-id="${exchange.id}"]`);
      const label = `${NAMES[exchange.technique]} ${exchange.id} · ${exchange.bytes_in + exchange.bytes_out} B`;
      if (button.textContent !== label) button.textContent = label;
    }
  }

  listItem(exchange) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.exchangeId = exchange.id;
    button.addEventListener("click", () => {
      this.selected = { id: exchange.id };
      this.highlight();
      this.showSelected();
    });
    const item = document.createElement("li");
    item.append(button);
    return item;
  }

  // Draws the selected exchange, unless it is drawn already and unchanged.
  showSelected() {
    const { exchange, why, note } = this.pick();
    for (const button of this.list.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(Boolean(exchange) && Number(button.dataset.exchangeId) === exchange.id));
    }
    const state = exchange ? `${exchange.id}/${exchange.bytes_in}/${exchange.bytes_out}/${exchange.parts.length}/${exchange.response_head !== null}` : why;
    if (state === this.shownState) return;
    // Another exchange starts at its top; the same one, grown, stays put.
    if (exchange?.id !== this.shownId) this.panel.scrollTop = 0;
    this.shownId = exchange?.id;
    this.shownState = state;
    if (exchange) {
      render(this.bytes, exchange, this.clock, note);
      markHttp2(this.bytes, exchange);
    } else {
      renderMissing(this.bytes, why);
      delete this.bytes.dataset.http2;
    }
    // Which arrow's exchange this is (its timeline key), when it is one.
    const key = exchange && this.selected?.key;
    if (key) this.bytes.dataset.wireFor = key;
    else delete this.bytes.dataset.wireFor;
  }

  // The server's exchange for the selection, or why there is none.
  pick() {
    const selected = this.selected;
    if (!selected) return { why: "Click an arrow of a lane's dialogue." };
    if (selected.id !== undefined) {
      const exchange = this.latest.find((e) => e.id === selected.id);
      return exchange ? { exchange } : { why: "That exchange is no longer among the last ones kept." };
    }
    const timeline = selected.lane.timeline;
    const drawn = timeline.exchange(selected.key);
    const found = drawn && findExchange(drawn, this.latest, this.clock);
    if (found) return { exchange: found, note: selected.note };
    const name = NAMES[selected.lane.name];
    if (drawn && drawn.sentAt >= this.openedAt) {
      return { why: `Waiting for the server's record of this ${name} exchange…` };
    }
    // Drawn before the view was open, so not recorded: show the lane's
    // first exchange since, once there is one, and stay with it.
    const since = [...timeline.exchanges.values()].filter((e) => e.sentAt >= this.openedAt);
    for (const next of since) {
      const exchange = findExchange(next, this.latest, this.clock);
      if (!exchange) continue;
      const note = `The arrow you clicked came before the wire view was open, so the server kept no bytes of it. This is the ${name} lane's first exchange since.`;
      this.selected = { lane: selected.lane, key: next.key, note };
      this.highlight();
      return { exchange, note };
    }
    return {
      why: `That exchange happened before the wire view was open, so the server kept no bytes of it. It records now: the ${name} lane's next exchange shows here as soon as it happens.`,
    };
  }

  // The status line, changed only when its words do (it is announced).
  say(words) {
    if (this.status.textContent !== words) this.status.textContent = words;
  }

  // Marks the selected arrow's lines in its dialogue.
  highlight() {
    for (const node of document.querySelectorAll(".timeline .wire-selected")) node.classList.remove("wire-selected");
    const selected = this.selected;
    if (!selected?.key) return;
    for (const node of selected.lane.timeline.element.querySelectorAll(`[data-exchange="${selected.key}"]`)) {
      node.classList.add("wire-selected");
    }
  }
}

// An exchange over HTTP/2: its heads are the header fields decoded from
// HPACK, pseudo-headers first (a colon no HTTP/1 request line or status
// line begins with).
function isHttp2(exchange) {
  return atob(exchange.request_head).startsWith(":");
}

const HTTP2_NOTE =
  "HTTP/2: no head went over the socket as text. Each went as a HEADERS frame whose fields HPACK " +
  "compressed (a field sent before on the connection costs a byte or so), and the server sees them " +
  "only decoded: below are those fields, pseudo-headers first, one per line for reading, and the " +
  "bodies went in DATA frames (9 bytes of frame header each, counted but not shown). So each head's " +
  "size is the server's estimate of its HEADERS frame (≈), as in the lane's byte figures, and the " +
  "text below is longer than what went.";

// Says so on an HTTP/2 exchange drawn by render().
function markHttp2(target, exchange) {
  if (!isHttp2(exchange)) {
    delete target.dataset.http2;
    return;
  }
  target.dataset.http2 = "";
  const note = document.createElement("p");
  note.className = "wire-note";
  note.dataset.part = "http2-note";
  note.textContent = HTTP2_NOTE;
  const summary = target.querySelector(".wire-summary");
  if (summary) {
    summary.lastChild.textContent = " — what this tab's figures counted for it, heads estimated (≈); the heads below are the fields decoded.";
    summary.before(note);
  } else {
    target.prepend(note);
  }
}
