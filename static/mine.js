// Your messages: the ones this tab published, followed through every lane.
//
// The publish box learns each new message's id from the server's answer
// (POST answers {"id"}, the WebSocket {"type":"published","id"}) and
// reports it here (`published`). Every lane reports every delivery with
// the delay this browser measured (`delivered`). A message often reaches a
// lane before the answer to its publish reaches us — the server hands it
// to the open streams first — so the last deliveries are remembered
// whoever published them, and an id reported late picks up the delays it
// already has, and its marks in the lanes are drawn then.
//
// What this tab published shows up twice:
// - a row in the "your messages" table (`data-your-messages`): one
//   `[data-id]` row per message, newest first, each with four
//   `[data-lane-delay]` cells whose text is the delay in ms, empty until
//   the message arrives in that lane;
// - marked in every lane (lane.js: "you" in its list, a label by its arrow
//   in the dialogue, a ringed dot with its id in the latency strip).

import { formatMs } from "./figures.js";

// Rows in the table: enough to compare a few tries, bounded for a long lesson.
const KEPT_ROWS = 20;
// Deliveries remembered before we know whose they are: at 100 msg/s about
// half a second per lane, far longer than a publish's answer takes.
const REMEMBERED_DELIVERIES = 200;
const LANE_ORDER = ["poll", "longpoll", "sse", "ws"];

// id → { row, cells: {lane → td} } of the messages this tab published.
const ours = new Map();
// id → { text, delays: {lane → ms} } of recent deliveries, ours or not.
const recent = new Map();
let table = null;
let emptyHint = null;
let lanes = {};

// Where the rows go, and the lanes to mark a message in once it is ours.
export function attach(element, lanesByName) {
  table = element;
  emptyHint = element.parentElement.querySelector("[data-your-messages-empty]");
  lanes = lanesByName;
}

// The publish box's message got `id`: add its row, fill in what already
// arrived, and mark it in the lanes that showed it before we knew.
export function published(id) {
  if (ours.has(id) || !table) return;
  ours.set(id, addRow(id));
  while (ours.size > KEPT_ROWS) {
    const [oldest, { row }] = ours.entries().next().value;
    row.remove();
    ours.delete(oldest);
  }
  const seen = recent.get(id);
  if (!seen) return;
  showText(id, seen.text);
  for (const [lane, ms] of Object.entries(seen.delays)) {
    showDelay(id, lane, ms);
    lanes[lane]?.markMine(id);
  }
}

// Lane `lane` received message `message` after `ms`. True if it is ours.
export function delivered(lane, message, ms) {
  let seen = recent.get(message.id);
  if (!seen) {
    seen = { text: message.text, delays: {} };
    recent.set(message.id, seen);
    if (recent.size > REMEMBERED_DELIVERIES) recent.delete(recent.keys().next().value);
  }
  seen.delays[lane] = ms;
  if (!ours.has(message.id)) return false;
  showText(message.id, message.text);
  showDelay(message.id, lane, ms);
  return true;
}

// One row: "#175 hello" and four empty cells, on top. Text as text.
function addRow(id) {
  const row = document.createElement("tr");
  row.dataset.id = id;
  const head = document.createElement("th");
  head.scope = "row";
  const number = document.createElement("span");
  number.className = "id";
  number.textContent = `#${id}`;
  const text = document.createElement("span");
  text.className = "text";
  head.append(number, " ", text);
  row.append(head);
  const cells = {};
  for (const lane of LANE_ORDER) {
    cells[lane] = document.createElement("td");
    cells[lane].dataset.laneDelay = lane;
    row.append(cells[lane]);
  }
  table.tBodies[0].prepend(row);
  if (emptyHint) emptyHint.hidden = true;
  return { row, cells };
}

function showText(id, text) {
  const span = ours.get(id)?.row.querySelector(".text");
  if (span && !span.textContent) {
    span.textContent = text;
    span.title = text;
  }
}

// The first arrival counts: a lane shows a message once.
function showDelay(id, lane, ms) {
  const cell = ours.get(id)?.cells[lane];
  if (cell && !cell.textContent) cell.textContent = formatMs(ms);
}
