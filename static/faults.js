// Faults a student causes to their own tab's lanes, and the teacher's hub
// restart.
//
// Each lane head has a "break" menu: "drop this connection" asks the server
// to hang up this tab's open connection of that lane now, the way a
// network that fails does (no answer, no last chunk, no close frame), and
// "go offline for N s" also cuts every new request of that lane for N
// seconds. POST /api/tabs/<this tab>/faults: the tab id is this tab's
// secret, so nobody else's lanes are touched. Then the lane shows how its
// technique recovers: the long-poll retries after a backoff, the browser's
// EventSource reconnects by itself with Last-Event-ID, the WebSocket client
// comes back with its own backoff and since=, and each says where it
// resumed, or what it missed (lane.js).
//
// The teacher (or anyone, where the controls are open: teacher.js) also
// gets "restart the hub": POST /api/hub/restart starts a new run of the
// messages for everyone — a new epoch, ids from 1 — and every lane on every
// page says "starting over (new run)", as after a real server restart.

import { postJson } from "./http.js";
import { TAB_ID } from "./tab.js";
import { authorization } from "./teacher.js";

// The offline durations offered, in seconds (the server takes 1–60).
const OFFLINE_S = [3, 10, 30];
const OFFLINE_DEFAULT_S = 10;
// A drop names the break it causes if the break comes within this long
// (a short poll's next poll comes after the poll interval).
const DROP_NAMES_BREAK_MS = 15000;
// A status text clears itself after this long.
const STATUS_MS = 6000;

export function attach(lanes, { key, role }) {
  for (const lane of Object.values(lanes)) {
    const slot = lane.root.querySelector("[data-lane-faults]");
    if (slot) slot.append(menu(lane));
  }
  const controls = document.querySelector("[data-hub-controls]");
  if (controls && (role.teacher || role.open_controls)) controls.append(restartButton(key));
}

// ---- a lane's "break" menu ----

function menu(lane) {
  const details = element("details", { class: "faults" });
  const summary = element("summary", { "aria-label": `break ${lane.title}: faults in this tab` }, "break");
  const box = element("div", { class: "fault-menu", role: "group", "aria-label": `faults for ${lane.title} in this tab` });

  const isPoll = lane.name === "poll";
  const drop = element(
    "button",
    { type: "button", "data-fault": "drop", "aria-label": `${lane.title}: drop this connection` },
    isPoll ? "drop the next poll" : "drop this connection",
  );
  const seconds = element("select", { name: "offline-seconds", "aria-label": `${lane.title}: seconds offline` });
  for (const s of OFFLINE_S) {
    seconds.append(element("option", { value: String(s), ...(s === OFFLINE_DEFAULT_S ? { selected: "" } : {}) }, `${s} s`));
  }
  const offline = element("button", { type: "button", "data-fault": "offline" }, "go offline");
  const labelOffline = () => offline.setAttribute("aria-label", `${lane.title}: go offline for ${seconds.value} s`);
  labelOffline();
  seconds.addEventListener("change", labelOffline);
  const hint = element(
    "p",
    { class: "hint" },
    isPoll
      ? "A poll holds no connection between two asks: the server cuts the next one."
      : "The server hangs up this tab's connection, as a failing network would.",
  );
  const status = element("output", { "data-fault-status": "", role: "status" });
  const offlineRow = element("span", { class: "row" }, offline, " for ", seconds);
  box.append(drop, offlineRow, hint, status);
  details.append(summary, box);

  const ask = async (fault) => {
    const body = { technique: lane.name, fault };
    if (fault === "offline") body.seconds = Number(seconds.value);
    // Said before it is sent: the server cuts at once, and the break may
    // reach the lane before the answer to this request does.
    expect(lane, body);
    try {
      const done = await postJson(`/api/tabs/${TAB_ID}/faults`, body);
      details.open = false;
      if (done.fault === "drop" && lane.name !== "poll" && done.dropped === 0) {
        lane.faulted("nothing was open to drop", {});
      }
      say(status, "");
    } catch (error) {
      lane.faulted(`not done: ${error.message}`, {});
      say(status, error.message);
    }
  };
  drop.addEventListener("click", () => ask("drop"));
  offline.addEventListener("click", () => ask("offline"));
  return details;
}

// Says on the lane's dialogue what is asked, and names the breaks to come.
function expect(lane, { fault, seconds }) {
  const now = performance.now();
  if (fault === "offline") {
    lane.faulted(`you: offline for ${seconds} s`, { label: "offline: no answer", until: now + seconds * 1000 + 500 });
  } else if (lane.name === "poll") {
    lane.faulted("you: drop → the next poll is cut", { label: "dropped by the server", until: now + DROP_NAMES_BREAK_MS, once: true });
  } else {
    lane.faulted("you: drop → the server hangs up", { label: "dropped by the server", until: now + DROP_NAMES_BREAK_MS, once: true });
  }
}

// ---- the teacher's "restart the hub" ----

function restartButton(key) {
  const wrap = element("span", { class: "hub-restart" });
  const button = element(
    "button",
    {
      type: "button",
      "data-action": "restart-hub",
      title: "Start the messages over for every page: a new run (epoch), ids from 1. Connections stay open; every lane says it starts over.",
    },
    "restart the hub",
  );
  const status = element("output", { "data-hub-status": "", role: "status" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const { epoch } = await postJson("/api/hub/restart", {}, authorization(key));
      say(status, `new run ${epoch.slice(0, 6)}…`);
    } catch (error) {
      say(status, error.message);
    } finally {
      button.disabled = false;
    }
  });
  wrap.append(button, status);
  return wrap;
}

// ---- helpers ----

// An element with attributes and children (text is set as text, never HTML).
function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function say(output, text) {
  output.value = text;
  clearTimeout(output.clearTimer);
  if (text) output.clearTimer = setTimeout(() => (output.value = ""), STATUS_MS);
}
