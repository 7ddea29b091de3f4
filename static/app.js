// The page: four lanes, each a real client of its technique, and the
// figures the server measured for each. User text is only ever inserted
// with textContent, never as HTML.

const MAX_SHOWN = 30;
const POLL_INTERVAL_MS = 1000;

function lane(name) {
  return document.querySelector(`[data-lane="${name}"]`);
}

function show(name, message) {
  const list = lane(name).querySelector(".messages");
  const item = document.createElement("li");
  item.dataset.id = message.id;
  item.textContent = `#${message.id} ${message.author}: ${message.text}`;
  list.prepend(item);
  while (list.children.length > MAX_SHOWN) list.lastChild.remove();
}

function showGap(name, missed) {
  const list = lane(name).querySelector(".messages");
  const item = document.createElement("li");
  item.className = "gap";
  item.textContent = `missed ${missed}`;
  list.prepend(item);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Short and long polls share the loop; only the URL and the pause differ.
async function pollLoop(name, url, pauseMs) {
  let cursor = null;
  let backoff = 500;
  for (;;) {
    const since = cursor === null ? "" : `since=${cursor}`;
    try {
      const response = await fetch(`${url}${url.includes("?") ? "&" : "?"}${since}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const answer = await response.json();
      if (answer.missed > 0) showGap(name, answer.missed);
      answer.messages.forEach((m) => show(name, m));
      cursor = answer.next;
      backoff = 500;
      await sleep(pauseMs);
    } catch {
      await sleep(backoff + Math.random() * backoff);
      backoff = Math.min(backoff * 2, 10000);
    }
  }
}

function sse() {
  const source = new EventSource("/api/sse");
  source.addEventListener("message", (e) => show("sse", JSON.parse(e.data)));
  source.addEventListener("gap", (e) => showGap("sse", JSON.parse(e.data).missed));
}

function websocket(cursor = null, backoff = 500) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = cursor === null ? "" : `?since=${cursor}`;
  const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
  let next = cursor;
  socket.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    if (frame.type === "hello") next = frame.next;
    if (frame.type === "message") { show("ws", frame); next = frame.id; }
    if (frame.type === "gap") showGap("ws", frame.missed);
  };
  socket.onopen = () => { backoff = 500; };
  socket.onclose = () => {
    setTimeout(() => websocket(next, Math.min(backoff * 2, 10000)), backoff + Math.random() * backoff);
  };
}

async function refreshFigures() {
  try {
    const stats = await (await fetch("/api/stats")).json();
    for (const [name, t] of Object.entries(stats.techniques)) {
      const set = (stat, value) => { lane(name).querySelector(`[data-stat="${stat}"]`).textContent = value; };
      set("requests", t.requests);
      set("empty", t.empty_responses);
      set("messages", t.messages_delivered);
      set("bytes", t.bytes_in + t.bytes_out);
      set("p50", t.latency_ms.count ? t.latency_ms.p50.toFixed(1) : "–");
      set("p99", t.latency_ms.count ? t.latency_ms.p99.toFixed(1) : "–");
    }
  } catch {
    // the next refresh tries again
  }
}

function publishBox() {
  const form = document.querySelector('form[data-action="publish"]');
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = JSON.stringify({ author: form.author.value, text: form.text.value });
    const response = await fetch("/api/messages", {
      method: "POST", headers: { "Content-Type": "application/json" }, body,
    });
    const answer = await response.json();
    form.status.value = response.ok ? `sent #${answer.id}` : answer.message;
    if (response.ok) form.text.value = "";
  });
}

const longpollTimeout = document.body.dataset.longpollTimeout;
pollLoop("poll", "/api/poll", POLL_INTERVAL_MS);
pollLoop("longpoll", `/api/longpoll?timeout=${longpollTimeout}`, 0);
sse();
websocket();
publishBox();
refreshFigures();
setInterval(refreshFigures, 1000);
