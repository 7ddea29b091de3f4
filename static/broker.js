// The broker line in the header: shown only when this server shares its
// message stream with other instances (`pushlab serve --broker redis://…`).
// It names the broker, its round trip, and says plainly when the broker is
// away: publishing is refused then, while every lane keeps its connection.

export function showBroker(element, stats) {
  const broker = stats?.broker;
  if (!broker || broker.kind === "local") {
    element.hidden = true;
    return;
  }
  element.hidden = false;
  element.classList.toggle("down", !broker.connected);
  element.textContent = broker.connected
    ? `one stream shared through ${broker.url} · round trip p50 ${broker.round_trip_ms.p50.toFixed(2)} ms`
    : `broker ${broker.url} unreachable: publishing is refused; the lanes stay connected`;
}
