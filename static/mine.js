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
// An id names a message only within one run of the server (its epoch):
// after a restart, or the teacher's hub restart, ids begin again at 1, and
// the new run's #3 is not the #3 of this table. So everything here is kept
// by run and id. Each lane hears of a new run first, as a gap with
// `reset` and the new epoch, before any message of it; from then on its
// deliveries belong to that run. (While every lane is away, a publish's
// answer can tell first: an id this tab already has in the run.) The rows
// of the runs before stay, below a line that says so, until newer rows
// push them out.
//
// What this tab published shows up twice:
// - a row in the "your messages" table (`data-your-messages`): one
//   `[data-id]` row per message, newest first, each with four
//   `[data-lane-delay]` cells whose text is the delay in ms, empty until
//   the message arrives in that lane; a row of an earlier run is marked
//   `data-earlier-run`, under a `[data-run-divider]` row;
// - marked in every lane (lane.js: "you" in its list, a label by its arrow
//   in the dialogue, a ringed dot with its id in the latency strip).

import { formatMs } from "./figures.js";
import { NAMES } from "./techniques.js";

// Rows in the table: enough to compare a few tries, bounded for a long lesson.
const KEPT_ROWS = 20;
// Deliveries remembered before we know whose they are: at 100 msg/s about
// half a second per lane, far longer than a publish's answer takes.
const REMEMBERED_DELIVERIES = 200;
// The line above an earlier run's rows: short enough for one line of the
// table, the whole story in its tooltip.
const DIVIDER_TEXT = "↓ earlier run: ids began again at 1";
const DIVIDER_TITLE = "The server or its hub restarted: a new run (epoch) began, with ids from 1. The rows below are from the run before.";

// The run each lane is in, as it last heard, and the newest any lane heard:
// a publish's answer comes from the run the server is in now. At first,
// the run that served the page.
const runOfLane = {};
let currentRun = null;
// "run id" → { row, cells: {lane → td}, delivered } of the messages this
// tab published, oldest first.
const ours = new Map();
// "run id" → { text, delays: {lane → ms} } of recent deliveries, ours or not.
const recent = new Map();
let table = null;
let emptyHint = null;
let lanes = {};

// Where the rows go, and the lanes to mark a message in once it is ours.
export function attach(element, lanesByName) {
  table = element;
  emptyHint = element.parentElement.querySelector("[data-your-messages-empty]");
  lanes = lanesByName;
  currentRun = document.body.dataset.epoch ?? "";
  for (const lane of Object.values(lanes)) {
    runOfLane[lane.name] = currentRun;
    hearNewRuns(lane);
  }
}

// A lane reports a gap (lane.js `gap`) for a new run too: `reset`, with
// the new run's epoch, before that run's first message. The table listens
// there, since a delivery alone does not say which run it is from.
function hearNewRuns(lane) {
  const gap = lane.gap.bind(lane);
  lane.gap = (info) => {
    if (info.reset && info.epoch) newRun(lane.name, info.epoch);
    gap(info);
  };
}

// Lane `laneName` is now in run `epoch`. The first lane to hear of it
// starts it for the table.
function newRun(laneName, epoch) {
  runOfLane[laneName] = epoch;
  if (epoch !== currentRun) startRun(epoch);
}

// The table's rows so far belong to an earlier run, but for those no lane
// has received yet: they wait for their message in the new run. The row
// `earlierKey` is of the earlier run whatever it received.
function startRun(epoch, earlierKey = null) {
  const ended = currentRun;
  currentRun = epoch;
  let newestEarlier = null;
  for (const [key, mine] of [...ours]) {
    if (runOf(key) !== ended) continue;
    if (mine.delivered === 0 && key !== earlierKey) {
      // Published, and no lane has it yet: the lanes were away (paused,
      // or backing off from a real restart) while the server, already in
      // the new run, answered the publish. Wait for it there.
      ours.delete(key);
      ours.set(keyOf(epoch, idOf(key)), mine);
      mine.row.dataset.epoch = epoch;
      continue;
    }
    mine.row.dataset.earlierRun = "";
    mine.row.title = "a message of an earlier run of the server";
    newestEarlier = mine.row;
  }
  // Rows are newest first: the line goes right above the ended run's.
  newestEarlier?.before(divider());
}

// The publish box's message got `id`: add its row, fill in what already
// arrived, and mark it in the lanes that showed it before we knew.
export function published(id) {
  if (!table) return;
  // Within one run an id is published once. The same id again means the
  // server began a new run that no lane has told of yet (they are away):
  // its rows wait under a run without a name until a lane hears its epoch.
  const again = keyOf(currentRun, id);
  if (ours.has(again)) startRun(`after-${currentRun}`, again);
  const key = keyOf(currentRun, id);
  ours.set(key, addRow(id, currentRun));
  while (ours.size > KEPT_ROWS) {
    const [oldest, { row }] = ours.entries().next().value;
    row.remove();
    ours.delete(oldest);
  }
  removeEmptyDividers();
  const seen = recent.get(key);
  if (!seen) return;
  showText(key, seen.text);
  for (const [lane, ms] of Object.entries(seen.delays)) {
    showDelay(key, lane, ms);
    lanes[lane]?.markMine(id);
  }
}

// Lane `lane` received message `message` after `ms`. True if it is ours.
export function delivered(lane, message, ms) {
  const key = keyOf(runOfLane[lane] ?? currentRun, message.id);
  let seen = recent.get(key);
  if (!seen) {
    seen = { text: message.text, delays: {} };
    recent.set(key, seen);
    if (recent.size > REMEMBERED_DELIVERIES) recent.delete(recent.keys().next().value);
  }
  seen.delays[lane] = ms;
  if (!ours.has(key)) return false;
  showText(key, message.text);
  showDelay(key, lane, ms);
  return true;
}

// A message's key: its run and its id, which names it only within the run.
function keyOf(run, id) {
  return `${run} ${id}`;
}

function runOf(key) {
  return key.slice(0, key.lastIndexOf(" "));
}

function idOf(key) {
  return Number(key.slice(key.lastIndexOf(" ") + 1));
}

// One row: "#175 hello" and four empty cells, on top. Text as text.
function addRow(id, run) {
  const row = document.createElement("tr");
  row.dataset.id = id;
  row.dataset.epoch = run;
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
  for (const lane of NAMES) {
    cells[lane] = document.createElement("td");
    cells[lane].dataset.laneDelay = lane;
    row.append(cells[lane]);
  }
  table.tBodies[0].prepend(row);
  if (emptyHint) emptyHint.hidden = true;
  return { row, cells, delivered: 0 };
}

// The line above the rows of an earlier run.
function divider() {
  const row = document.createElement("tr");
  row.dataset.runDivider = "";
  const cell = document.createElement("th");
  cell.scope = "rowgroup";
  cell.colSpan = 1 + NAMES.length;
  cell.textContent = DIVIDER_TEXT;
  cell.title = DIVIDER_TITLE;
  row.append(cell);
  return row;
}

// A divider with no earlier row under it any more says nothing: gone.
function removeEmptyDividers() {
  for (const row of [...table.tBodies[0].rows].reverse()) {
    if (row.dataset.runDivider === undefined) break;
    row.remove();
  }
}

function showText(key, text) {
  const span = ours.get(key)?.row.querySelector(".text");
  if (span && !span.textContent) {
    span.textContent = text;
    span.title = text;
  }
}

// The first arrival counts: a lane shows a message once.
function showDelay(key, lane, ms) {
  const mine = ours.get(key);
  const cell = mine?.cells[lane];
  if (!cell || cell.textContent) return;
  cell.textContent = formatMs(ms);
  mine.delivered += 1;
}
