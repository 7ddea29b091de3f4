// A lane's request that waits in the browser's queue, shown on the lane.
//
// Nothing on the wire shows such a request — it was never sent — so the
// dialogue would just go quiet. A badge at the bottom of the lane's
// dialogue, where "now" is, says instead that the lane has asked and the
// browser holds the question back, and for how long so far (queue.js
// judges it). When the request has gone, the badge says for a few seconds
// how long it waited, as the browser timed it.

import * as queue from "./queue.js";
import { TECHNIQUES } from "./techniques.js";

// The lanes whose requests count against the six connections.
const LANES = TECHNIQUES.filter((t) => t.sharesConnections).map((t) => t.name);
// A finished request's wait stays on the lane this long.
const WAITED_SHOWN_MS = 4000;

// Creates the badges; `draw()` (call it a few times a second) updates them.
export function laneBadges() {
  const badges = [];
  for (const kind of LANES) {
    const timeline = document.querySelector(`[data-lane="${kind}"] .timeline`);
    if (!timeline) continue;
    const badge = document.createElement("div");
    badge.className = "queued";
    badge.dataset.queued = "";
    badge.hidden = true;
    badge.title =
      "Asked but not sent: every connection this browser opens to the server is taken, so the " +
      "request waits inside the browser until one frees up (the time once it has gone: Resource Timing).";
    const text = document.createElement("span");
    badge.append(text);
    timeline.after(badge);
    badges.push({ kind, badge, text });
  }
  return () => badges.forEach(draw);
}

function draw({ kind, badge, text }) {
  const now = queue.waiting(kind);
  const last = queue.lastWait(kind);
  const recent = last && performance.now() - last.at < WAITED_SHOWN_MS;
  let said = "";
  if (now) said = `queued in the browser · ${seconds(now.ms)}`;
  else if (recent) said = `last request queued in the browser ${seconds(last.ms)}`;
  badge.hidden = said === "";
  badge.dataset.state = now ? "waiting" : recent ? "waited" : "";
  if (text.textContent !== said) text.textContent = said;
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
