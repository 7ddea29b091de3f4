// The knobs. Poll interval and long-poll timeout change this tab's own
// clients; the generator rate changes the server's, for everyone (POST
// /api/generator, which refuses other origins and bad values with a JSON
// error we show as it is). Pause per lane, reset counters, and the publish
// box, whose message every lane receives. Answers are shown as text.

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
  wirePublish(document.querySelector('form[data-action="publish"]'));
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

function wirePublish(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { id } = await postJson("/api/messages", { author: form.author.value, text: form.text.value });
      form.status.value = `sent #${id}`;
      form.text.value = "";
    } catch (error) {
      form.status.value = error.message;
    }
  });
}
