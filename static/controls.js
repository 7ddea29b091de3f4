// The knobs. Poll interval and long-poll timeout change this tab's own
// clients; the generator rate changes the server's, for everyone (POST
// /api/generator, which refuses other origins and bad values with a JSON
// error we show as it is). Pause per lane, reset counters, and the publish
// box, whose message every lane receives, sent by HTTP POST or as a frame up
// the WebSocket lane's socket. Answers are shown as text.

import { postJson } from "./http.js";

// What the clients read before each request.
export function readSettings() {
  return {
    pollIntervalMs: Number(document.querySelector('[name="poll-interval"]').value),
    longpollTimeoutS: Number(document.querySelector('[name="longpoll-timeout"]').value),
  };
}

export function wireControls({ lanes, figures, comparison, settings }) {
  document.querySelector('[name="poll-interval"]').addEventListener("change", (event) => {
    settings.pollIntervalMs = Number(event.target.value);
    lanes.poll.nudge();
  });
  // Takes effect with the next request: the parked one keeps its timeout.
  document.querySelector('[name="longpoll-timeout"]').addEventListener("change", (event) => {
    settings.longpollTimeoutS = Number(event.target.value);
  });
  for (const lane of Object.values(lanes)) {
    lane.pauseButton.addEventListener("click", () => lane.toggle());
  }
  document.querySelector('[data-action="reset"]').addEventListener("click", () => {
    figures.reset();
    comparison.draw();
  });
  wireRate(document.querySelector('form[data-action="rate"]'));
  wirePublish(document.querySelector('form[data-action="publish"]'), lanes.ws);
}

function wireRate(form) {
  const send = async () => {
    // The field knows its limits (min 0, max 100): say so without a round
    // trip. The server checks again, as it must.
    if (!form.rate.checkValidity()) {
      form.status.value = form.rate.validationMessage;
      return;
    }
    try {
      const { rate } = await postJson("/api/generator", { rate: Number(form.rate.value) });
      form.rate.value = rate;
      form.status.value = "set";
    } catch (error) {
      form.status.value = error.message;
    }
  };
  form.rate.addEventListener("change", send);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
}

function wirePublish(form, wsLane) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = { author: form.author.value, text: form.text.value };
    try {
      form.status.value = form.via.value === "ws" ? await overWebSocket(wsLane, message) : await overPost(message);
      form.text.value = "";
    } catch (error) {
      form.status.value = error.message;
    }
  });
}

// POST /api/messages: an ordinary request beside the lanes.
async function overPost(message) {
  const { id } = await postJson("/api/messages", message);
  return `sent #${id} by POST`;
}

// A text frame up the WebSocket lane's own socket. Never a silent fallback
// to POST: the point is to see the frame go up that socket.
async function overWebSocket(lane, message) {
  if (lane.paused) throw new Error("not sent: the WebSocket lane is paused (resume it, or send by HTTP POST)");
  if (!lane.uplink) throw new Error("not sent: the WebSocket lane has no open socket right now");
  const id = await lane.uplink.publish(message.author, message.text);
  return `sent #${id} over the WebSocket`;
}
