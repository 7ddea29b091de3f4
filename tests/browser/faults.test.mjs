// Faults a student causes to their own lanes, and the teacher's hub
// restart, in a real browser. Against a server whose controls are closed:
//
// - a student drops each lane's connection from its "break" menu, and each
//   recovers its own way, saying so on its dialogue: the long-poll and the
//   short poll retry after a backoff, the browser's EventSource reconnects
//   by itself with Last-Event-ID, the WebSocket (closed 1006, without a
//   close frame) comes back with the lane's backoff and since=; each says
//   where it resumed, and no other lane is touched;
// - the student takes the WebSocket lane offline for 3 s while messages
//   come faster than the ring keeps them: its handshakes are cut, it backs
//   off, and when it is back it says where it resumed and what it missed;
// - the teacher's page (opened with the key) has "restart the hub", the
//   student's has not; the teacher restarts the hub, and every lane of the
//   student's page says "starting over (new run)", keeps saying it, and goes
//   on with ids from 1 (the SSE lane reopening its stream with the new
//   run's epoch).
//
//   node tests/browser/faults.test.mjs http://127.0.0.1:PORT/ KEY target/browser/faults.png
//
// tests/browser.rs starts the server (generator on, a small ring) and runs
// this as part of `cargo test`. Every wait is bounded.

import { LANES, STEP_MS, runInBrowser, step, watch } from "./harness.mjs";

const [serverUrl, key, screenshot] = process.argv.slice(2);
if (!serverUrl || !key || !screenshot) {
  console.error("usage: node faults.test.mjs <url> <key> <screenshot.png>");
  process.exit(2);
}

// What the browser logs for the failures this test causes on purpose: cut
// requests, a cut stream, WebSocket handshakes cut while offline, and the
// student's refused restart.
const EXPECTED = [
  /ERR_EMPTY_RESPONSE/,
  /ERR_INCOMPLETE_CHUNKED_ENCODING/,
  /ERR_CONNECTION_(RESET|CLOSED)/,
  /WebSocket connection to .* failed/,
  /status of 403/,
];
const OFFLINE_S = 3;
// Messages per second while the WebSocket lane is offline: many more than
// the server's ring of 16 keeps in that time, so it misses some.
const BUSY_RATE = 20;
const CALM_RATE = 4;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(probe, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await pause(100);
  }
}

// Records, per lane, every item added to its list ({id} or {note}) and
// every label drawn on its dialogue ({label}), each with the page's time:
// lists show the newest few and labels scroll away, so a probe could miss
// them.
function record(page) {
  return page.evaluate((lanes) => {
    window.faultsSeen = Object.fromEntries(lanes.map((lane) => [lane, []]));
    for (const lane of lanes) {
      const root = document.querySelector(`[data-lane="${lane}"]`);
      const seen = window.faultsSeen[lane];
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const item of change.addedNodes) {
            if (item.nodeType !== 1) continue;
            const at = performance.now();
            if (item.dataset.id) seen.push({ id: Number(item.dataset.id), at });
            else seen.push({ note: item.textContent, at, lasting: item.classList.contains("lasting") });
          }
        }
      }).observe(root.querySelector(".messages"), { childList: true });
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const node of change.addedNodes) {
            if (node.nodeName === "text") seen.push({ label: node.textContent, at: performance.now() });
          }
        }
      }).observe(root.querySelector(".timeline"), { childList: true, subtree: true });
    }
  }, LANES);
}

async function seen(page) {
  return page.evaluate(() => window.faultsSeen);
}

// What `lane` recorded after the first `from` entries.
async function since(page, lane, from) {
  return (await seen(page))[lane].slice(from);
}

// Waits until `lane` recorded, after entry `from`, a label matching
// `pattern`; returns its index among everything the lane recorded.
async function label(page, lane, from, pattern, what) {
  const found = await until(async () => {
    const entries = (await seen(page))[lane];
    const at = entries.findIndex((e, i) => i >= from && e.label && pattern.test(e.label));
    return at >= 0 ? { at } : null;
  }, `${lane}: ${what}`).catch(async (error) => {
    const drawn = (await since(page, lane, from)).filter((e) => e.label).map((e) => e.label);
    throw new Error(`${error.message}; drawn since: ${JSON.stringify(drawn.slice(-20))}`);
  });
  return found.at;
}

// Clicks `button` of `lane`'s "break" menu, opening it first.
async function breakLane(page, lane, fault, seconds) {
  const menu = page.locator(`[data-lane="${lane}"] details.faults`);
  await menu.locator("summary").click();
  if (seconds) await menu.locator('[name="offline-seconds"]').selectOption(String(seconds));
  await menu.locator(`[data-fault="${fault}"]`).click();
}

async function setRate(rate) {
  const response = await fetch(new URL("/api/generator", serverUrl), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ rate }),
  });
  if (!response.ok) throw new Error(`setting the rate: ${response.status}`);
}

await runInBrowser(async (context) => {
  step("a student's page: four lanes flowing, each with a break menu, no restart button");
  const student = await context.newPage();
  watch(student, "student", EXPECTED);
  const requests = [];
  // allHeaders: the headers the network stack added too (Last-Event-ID).
  student.on("request", async (request) => {
    const entry = { url: request.url(), headers: {}, at: Date.now() };
    requests.push(entry);
    entry.headers = await request.allHeaders().catch(() => ({}));
  });
  const sockets = [];
  student.on("websocket", (socket) => sockets.push({ url: socket.url(), at: Date.now() }));
  await student.goto(serverUrl);
  await record(student);
  await until(async () => {
    const lanes = await seen(student);
    return LANES.every((lane) => lanes[lane].some((e) => e.id));
  }, "a message in every lane");
  for (const lane of LANES) {
    const name = await student.locator(`[data-lane="${lane}"] [data-fault="drop"]`).getAttribute("aria-label");
    if (!name?.includes("drop this connection")) throw new Error(`${lane}'s drop button is named ${JSON.stringify(name)}`);
  }
  if ((await student.locator("[data-hub-controls] button").count()) !== 0) {
    throw new Error("a student's page shows a hub control");
  }

  for (const lane of ["longpoll", "sse", "ws", "poll"]) {
    step(`drop the ${lane} lane's connection: it breaks, recovers, resumes, and no other lane breaks`);
    const before = Object.fromEntries(Object.entries(await seen(student)).map(([l, e]) => [l, e.length]));
    const lastId = Math.max(...(await seen(student))[lane].filter((e) => e.id).map((e) => e.id));
    const asked = Date.now();
    // A long-poll is between two requests for a moment after each answer:
    // a drop then finds nothing open, says so, and is asked again.
    let broke = -1;
    for (let attempt = 0; attempt < 3 && broke < 0; attempt++) {
      const from = (await seen(student))[lane].length;
      await breakLane(student, lane, "drop");
      const said = await label(student, lane, from, /^you: drop/, "the drop said on the dialogue");
      const next = await label(student, lane, said, /dropped by the server|nothing was open/, "the drop's outcome");
      if (!(await seen(student))[lane][next].label.includes("nothing was open")) broke = next;
    }
    if (broke < 0) throw new Error(`${lane}: nothing was open, three times`);
    const breakLabel = (await seen(student))[lane][broke].label;
    if (lane === "sse" && !/browser retries · Last-Event-ID: \d+/.test(breakLabel)) {
      throw new Error(`the SSE break says ${JSON.stringify(breakLabel)}, not the browser's retry with Last-Event-ID`);
    }
    if (lane === "ws" && !breakLabel.includes("1006 (no close frame)")) {
      throw new Error(`the WebSocket break says ${JSON.stringify(breakLabel)}, not 1006 without a close frame`);
    }
    if (lane !== "sse") await label(student, lane, broke, /^backoff: retry in \d+\.\d s$/, "the lane's own backoff");
    const back = await label(student, lane, broke, /^back: resumed from #\d+$/, '"back: resumed from #…"');
    const entries = (await seen(student))[lane];
    step(`   ${lane}: "${entries[broke].label}", back ${Math.round(entries[back].at - entries[broke].at)} ms later: "${entries[back].label}"`);
    await until(async () => (await since(student, lane, back)).some((e) => e.id > lastId), `${lane}: new messages after the resume`);
    if (lane === "sse") {
      const again = requests.find((r) => r.url.includes("/api/sse") && r.at > asked && r.headers["last-event-id"]);
      if (!again) throw new Error("the browser did not reconnect the SSE stream with Last-Event-ID");
    }
    if (lane === "ws") {
      const again = sockets.find((r) => r.at > asked);
      if (!again || !/[?&]since=\d+/.test(again.url)) throw new Error(`the WebSocket came back as ${again?.url}, without since=`);
    }
    for (const other of LANES.filter((l) => l !== lane)) {
      const broken = (await since(student, other, before[other])).find((e) => /dropped by the server/.test(e.label ?? ""));
      if (broken) throw new Error(`dropping ${lane} broke ${other} too: ${broken.label}`);
    }
  }

  step(`take the WebSocket lane offline for ${OFFLINE_S} s while messages outrun the ring: cut, backoff, back, "missed"`);
  await setRate(BUSY_RATE);
  const from = (await seen(student)).ws.length;
  await breakLane(student, "ws", "offline", OFFLINE_S);
  const said = await label(student, "ws", from, new RegExp(`^you: offline for ${OFFLINE_S} s$`), "the offline said");
  const saidAt = (await seen(student)).ws[said].at;
  await label(student, "ws", said, /^offline: no answer/, '"offline: no answer" on a cut handshake');
  const back = await label(student, "ws", said, /^back: resumed from #\d+$/, "the WebSocket back after the offline");
  const backAt = (await seen(student)).ws[back].at;
  step(`   ws: back ${Math.round(backAt - saidAt)} ms after going offline for ${OFFLINE_S} s`);
  if (backAt - saidAt < OFFLINE_S * 1000 - 300) {
    throw new Error(`the WebSocket was back ${Math.round(backAt - saidAt)} ms after going offline for ${OFFLINE_S} s`);
  }
  await until(async () => (await since(student, "ws", back)).some((e) => /^missed \d+$/.test(e.note ?? "")), 'the WebSocket lane saying "missed N"');
  await setRate(CALM_RATE);

  step("the teacher's page has 'restart the hub'; the student may not restart it");
  const teacher = await context.newPage();
  watch(teacher, "teacher", EXPECTED);
  await teacher.goto(`${serverUrl}?key=${encodeURIComponent(key)}`);
  const restart = teacher.locator('[data-hub-controls] [data-action="restart-hub"]');
  await restart.waitFor({ timeout: STEP_MS });
  const refused = await student.evaluate(() => fetch("/api/hub/restart", { method: "POST" }).then((r) => r.status));
  if (refused !== 403) throw new Error(`a student's restart got ${refused}, not 403`);

  step("the teacher restarts the hub: every lane of the student's page starts over, says so, and goes on from id 1");
  const beforeRestart = Object.fromEntries(Object.entries(await seen(student)).map(([l, e]) => [l, e.length]));
  await restart.click();
  await teacher.locator("[data-hub-status]").filter({ hasText: /new run/ }).waitFor({ timeout: STEP_MS });
  await until(async () => {
    const lanes = await seen(student);
    return LANES.every((lane) => {
      const after = lanes[lane].slice(beforeRestart[lane]);
      const note = after.findIndex((e) => e.note?.includes("starting over (new run)") && e.lasting);
      return note >= 0 && after.slice(note).some((e) => e.id);
    });
  }, "every lane saying it starts over, then receiving the new run's messages");
  for (const lane of LANES) {
    const after = await since(student, lane, beforeRestart[lane]);
    const note = after.findIndex((e) => e.note?.includes("starting over (new run)"));
    const first = after.slice(note).find((e) => e.id);
    if (first.id > 10) throw new Error(`${lane}: the new run's first message is #${first.id}, not from 1`);
  }
  await pause(3000);
  for (const lane of LANES) {
    const note = student.locator(`[data-lane="${lane}"] .messages li.lasting`);
    if (!(await note.isVisible())) throw new Error(`${lane}: the "starting over" note is gone after 3 s`);
  }
  const newEpoch = await student.evaluate(() => fetch("/api/poll").then((r) => r.json()).then((a) => a.epoch));
  const reopened = requests.find((r) => r.url.includes("/api/sse?") && r.url.includes(`epoch=${newEpoch}`));
  if (!reopened) throw new Error("the SSE lane did not reopen its stream with the new run's epoch");
  await student.screenshot({ path: screenshot });
}, screenshot);
