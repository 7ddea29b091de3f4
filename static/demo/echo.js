// The original article's WebSocket client, made visible: open a socket to
// the echo endpoint, send what is typed, close on request, and write down
// every event the browser reports — open, each message, error, and close
// with its code and reason. The server (/ws/echo) answers each message with
// the same message. Beside it, the number of echo connections the server
// has open now, from /api/stats: every tab of this page adds one.
//
// Text is only ever set as textContent: an echoed "<b>" stays "<b>".

const form = document.querySelector('form[data-action="send"]');
const closeButton = document.querySelector('[data-action="close"]');
const openButton = document.querySelector('[data-action="open"]');
const stateOut = document.querySelector("[data-state]");
const countOut = document.querySelector("[data-echo-open]");
const log = document.querySelector("[data-log]");

// How often the connection count is read again, and how long one read may take.
const COUNT_EVERY_MS = 2000;
const COUNT_TIMEOUT_MS = 5000;

// What a close code tells a student (RFC 6455 §7.4.1).
const CLOSE_MEANINGS = {
  1000: "normal closure: one side said goodbye",
  1001: "going away: the server is shutting down or the page is leaving",
  1002: "protocol error",
  1003: "a kind of data this endpoint does not take",
  1005: "no code was given in the close frame",
  1006: "abnormal closure: no close frame came, the connection just dropped (the server died, or the network)",
  1007: "a text message that was not UTF-8",
  1008: "policy: e.g. no answer to the server's pings",
  1009: "message too big",
  1011: "the server hit an unexpected error",
};

let socket = null;

function open() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/echo`);
  showState("connecting");
  socket.addEventListener("open", () => {
    write("open", `open: connected to ${socket.url}`);
    showState("open");
    refreshCount();
  });
  socket.addEventListener("message", (event) => {
    write("message", `message: ${event.data}`);
  });
  socket.addEventListener("error", () => {
    // The browser tells a page nothing more, on purpose: a close follows.
    write("error", "error: the browser reports no details; the close below says more");
  });
  socket.addEventListener("close", (event) => {
    const reason = event.reason ? ` "${event.reason}"` : "";
    const meaning = CLOSE_MEANINGS[event.code] ?? "see RFC 6455 §7.4";
    write("close", `close: code ${event.code}${reason} (${meaning}); wasClean: ${event.wasClean}`);
    showState("closed");
    refreshCount();
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = form.elements.text.value;
  if (socket?.readyState !== WebSocket.OPEN) return;
  socket.send(text);
  write("sent", `sent: ${text}`);
  form.elements.text.value = "";
});

closeButton.addEventListener("click", () => {
  socket?.close(1000, "the Close button");
});

openButton.addEventListener("click", () => {
  if (socket === null || socket.readyState === WebSocket.CLOSED) open();
});

// Send and Close only while the socket is open; Open again only once it is closed.
function showState(state) {
  stateOut.textContent = state;
  form.elements.text.disabled = state !== "open";
  form.querySelector('button[type="submit"]').disabled = state !== "open";
  closeButton.disabled = state !== "open";
  openButton.disabled = state !== "closed";
}

// One line of the log: the time, and what happened, as text.
function write(kind, text) {
  const line = document.createElement("li");
  line.dataset.event = kind;
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date().toLocaleTimeString();
  line.append(time, text);
  log.append(line);
  line.scrollIntoView({ block: "nearest" });
}

// The server's count of open echo connections: `echo.connections_open`.
async function refreshCount() {
  try {
    const response = await fetch("/api/stats", {
      cache: "no-store",
      signal: AbortSignal.timeout(COUNT_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const stats = await response.json();
    countOut.textContent = String(stats.echo.connections_open);
  } catch {
    countOut.textContent = "? (server unreachable)";
  }
}

async function keepCounting() {
  for (;;) {
    await refreshCount();
    await new Promise((resolve) => setTimeout(resolve, COUNT_EVERY_MS));
  }
}

open();
keepCounting();
