// What a screen reader hears. Four lanes each receiving a message a second
// would be a flood if every list announced itself, so the lists are silent
// and one polite region speaks a summary instead, at most every
// ANNOUNCE_EVERY_MS and only when something arrived: how many messages each
// lane showed since the last summary.

const ANNOUNCE_EVERY_MS = 15000;

export function announce(region, lanes) {
  const counted = Object.fromEntries(Object.keys(lanes).map((name) => [name, 0]));
  setInterval(() => {
    const parts = [];
    for (const [name, lane] of Object.entries(lanes)) {
      const fresh = lane.delivered - counted[name];
      counted[name] = lane.delivered;
      if (fresh > 0) parts.push(`${lane.title} ${fresh}`);
    }
    if (parts.length > 0) region.textContent = `New messages in the last ${ANNOUNCE_EVERY_MS / 1000} s: ${parts.join(", ")}.`;
  }, ANNOUNCE_EVERY_MS);
}
