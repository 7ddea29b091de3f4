// The knobs. Poll interval and long-poll timeout change this tab's own
// clients; the generator rate changes the server's, for everyone (POST
// /api/generator, which refuses other origins and bad values with a JSON
// error we show as it is, and needs the teacher key unless the controls are
// open: see teacher.js). A page without the key shows the rate read-only
// and follows it live. Pause per lane, reset counters, and the publish
// box, whose message every lane receives, sent by HTTP POST or as a frame up
// the WebSocket lane's socket. Answers are shown as text.

import { postJson } from "./http.js";
import { authorization } from "./teacher.js";
import { published } from "./mine.js";

// A status text ("set", "sent #175") clears itself after this long.
const STATUS_MS = 5000;

// What the clients read before each request.
export function readSettings() {
  return {
    pollIntervalMs: Number(document.querySelector('[name="poll-interval"]').value),
    longpollTimeoutS: Number(document.querySelector('[name="longpoll-timeout"]').value),
  };
}

// Wires every control; returns `follow(stats)`, which keeps the global
// controls showing the server's live values.
export function wireControls({ lanes, figures, comparison, settings, key, role }) {
  document.querySelector('[name="poll-interval"]').addEventListener("change", (event) => {
    settings.pollIntervalMs = Number(event.target.value);
    lanes.poll.nudge();
  });
  // The parked request was made with the old timeout: ask again at once.
  document.querySelector('[name="longpoll-timeout"]').addEventListener("change", (event) => {
    settings.longpollTimeoutS = Number(event.target.value);
    lanes.longpoll.reissue(`timeout now ${settings.longpollTimeoutS} s: asking again`);
  });
  for (const lane of Object.values(lanes)) {
    lane.pauseButton.addEventListener("click", () => lane.toggle());
  }
  document.querySelector('[data-action="reset"]').addEventListener("click", () => {
    figures.reset();
    comparison.draw();
  });
  const rateForm = document.querySelector('form[data-action="rate"]');
  wireRate(rateForm, key, role.teacher || role.open_controls);
  wirePublish(document.querySelector('form[data-action="publish"]'), lanes.ws, key);
  return (stats) => followRate(rateForm, stats?.generator?.rate);
}

// Shows `text` in a form's status, and clears it after a while.
function say(form, text) {
  form.status.value = text;
  clearTimeout(form.statusTimer);
  form.statusTimer = setTimeout(() => (form.status.value = ""), STATUS_MS);
}

// The server's rate, unless the teacher is typing a new one.
function followRate(form, rate) {
  if (rate === undefined || document.activeElement === form.rate) return;
  if (Number(form.rate.value) !== rate) form.rate.value = rate;
}

function wireRate(form, key, mayChange) {
  if (!mayChange) {
    form.rate.readOnly = true;
    form.dataset.readOnly = "";
    form.rate.title = "set by the teacher for the whole class";
    form.status.value = "set by the teacher";
    return;
  }
  const send = async () => {
    // The field knows its limits (min 0, max 100): say so without a round
    // trip. The server checks again, as it must.
    if (!form.rate.checkValidity()) {
      say(form, form.rate.validationMessage);
      return;
    }
    try {
      const { rate } = await postJson("/api/generator", { rate: Number(form.rate.value) }, authorization(key));
      form.rate.value = rate;
      say(form, "set for everyone");
    } catch (error) {
      say(form, error.message);
    }
  };
  form.rate.addEventListener("change", send);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
}

function wirePublish(form, wsLane, key) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = { author: form.author.value, text: form.text.value };
    try {
      say(form, form.via.value === "ws" ? await overWebSocket(wsLane, message) : await overPost(message, key));
      form.text.value = "";
    } catch (error) {
      say(form, error.message);
    }
  });
}

// POST /api/messages: an ordinary request beside the lanes. The teacher's
// page sends its key, which the name "teacher" needs. (The WebSocket lane
// does not put the key in its URL: the projector shows that URL in DevTools.)
async function overPost(message, key) {
  const { id } = await postJson("/api/messages", message, authorization(key));
  published(id);
  return `sent #${id} by POST`;
}

// A text frame up the WebSocket lane's own socket. Never a silent fallback
// to POST: the point is to see the frame go up that socket.
async function overWebSocket(lane, message) {
  if (lane.paused) throw new Error("not sent: the WebSocket lane is paused (resume it, or send by HTTP POST)");
  if (!lane.uplink) throw new Error("not sent: the WebSocket lane has no open socket right now");
  const id = await lane.uplink.publish(message.author, message.text);
  published(id);
  return `sent #${id} over the WebSocket`;
}
