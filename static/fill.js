// The six-connection limit, shown on purpose in one tab. A button opens
// SSE streams to the server one after another, each holding a connection
// for good, and counts them as it goes — until one does not open: the
// browser keeps it in its queue, because every connection it allows to this
// server is taken (the lane's own SSE stream and parked long-poll count
// too). From then on the lanes' polls and long-polls wait as well, and say
// so (waiting.js), until the streams are released.

import * as queue from "./queue.js";
import { multiplexed } from "./protocol.js";

// Over HTTP/2 no request waits for a connection: stop opening here.
const MAX_STREAMS = 8;
// A stream neither open nor judged waiting after this long: the server
// does not answer.
const GIVE_UP_MS = 10000;
// How often an opening stream is looked at.
const LOOK_EVERY_MS = 100;

export function wireFill(block) {
  if (!block) return;
  if (multiplexed()) {
    saysNoLimit(block);
    return;
  }
  const fillButton = block.querySelector('[data-action="fill"]');
  const releaseButton = block.querySelector('[data-action="release"]');
  const status = block.querySelector("[data-six-status]");
  const streams = [];
  let run = 0; // a release ends the run in progress

  const say = (text) => {
    status.textContent = text;
  };

  fillButton.addEventListener("click", async () => {
    const thisRun = ++run;
    fillButton.disabled = true;
    releaseButton.hidden = false;
    while (streams.length < MAX_STREAMS) {
      const n = streams.length + 1;
      say(`${opened(n - 1)}opening stream ${n}…`);
      const source = new EventSource("/api/sse");
      queue.markExtra(source);
      streams.push(source);
      const outcome = await opening(source);
      if (thisRun !== run) return;
      if (outcome === "open") continue;
      if (outcome === "waiting") {
        say(`${opened(n - 1)}stream ${n} is queued in the browser: no connection is left`);
        source.addEventListener(
          "open",
          () => {
            if (thisRun === run) say(`${opened(n)}stream ${n} got a freed connection: now streams hold all six`);
          },
          { once: true },
        );
      } else {
        say(`${opened(n - 1)}stream ${n} ${outcome === "closed" ? "was refused by the server" : `had no answer in ${GIVE_UP_MS / 1000} s`}`);
      }
      return;
    }
    say(`${MAX_STREAMS} streams opened and none waited: this browser is not limited to six connections here (HTTP/2?)`);
  });

  releaseButton.addEventListener("click", () => {
    run += 1;
    const count = streams.length;
    for (const source of streams.splice(0)) source.close();
    fillButton.disabled = false;
    releaseButton.hidden = true;
    say(`released ${count}: the lanes' requests get their connections back`);
  });
}

// "4 opened here · this tab holds 6 of 6 · ": the count so far, with what
// this tab holds — its streams and parked long-polls.
function opened(count) {
  if (count === 0) return "";
  const { streams, parked } = queue.mine();
  const held = Math.min(queue.CONNECTIONS_PER_ORIGIN, streams + parked);
  return `${count} opened here · this tab holds ${held} of ${queue.CONNECTIONS_PER_ORIGIN} · `;
}

// Resolves "open", "waiting" (in the browser's queue), "closed" (refused)
// or "silent" (no answer at all).
function opening(source) {
  const started = performance.now();
  return new Promise((resolve) => {
    const look = () => {
      if (source.readyState === EventSource.OPEN) resolve("open");
      else if (source.readyState === EventSource.CLOSED) resolve("closed");
      else if (queue.streamWaiting(source)) resolve("waiting");
      else if (performance.now() - started > GIVE_UP_MS) resolve("silent");
      else setTimeout(look, LOOK_EVERY_MS);
    };
    look();
  });
}

// Over HTTP/2 there are no six to fill: every request of this page is a
// stream of one connection. The block says so instead of offering a demo
// that would only open streams that never wait.
function saysNoLimit(block) {
  block.dataset.multiplexed = "";
  for (const button of block.querySelectorAll("button")) button.hidden = true;
  block.querySelector("[data-six-status]").textContent =
    "none over HTTP/2: this page's requests are streams of one connection, so none waits for a connection (open it over http:// to see the limit)";
}
