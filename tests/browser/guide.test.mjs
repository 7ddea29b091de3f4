// The classroom guide (docs/08-classroom-guide.md), played in headless
// Chromium step by step: one teacher page (http://127.0.0.1:PORT, the
// projector) and three students, each on an origin of its own — the LAN
// address the page shows, 127.0.0.2 and 127.0.0.3 — so that, like separate
// laptops, each has its own six connections and its own tabs. Every claim
// the guide makes about what the page shows is checked where it is made;
// the guide's curl commands and console snippets are taken from the guide
// itself and run as written (address and cursor filled in). A step the page
// no longer does fails the test.
//
//   node tests/browser/guide.test.mjs play  http://127.0.0.1:PORT/ docs/08-classroom-guide.md target/browser
//   node tests/browser/guide.test.mjs print http://127.0.0.1:PORT/ target/browser
//
// "play" needs the server bound to 0.0.0.0 and asks for its restart by
// printing "guide: restart the server", then waits for "restarted" on its
// standard input (tests/classroom.rs does both: Ctrl-C, the same command).
// "print" renders both copies of the guide as paper shows them, checks
// them, and saves print-teacher.png and print-handout.png.
//
// Every wait is bounded; nothing sleeps in place of an event, except where
// the guide itself says "watch for N seconds".

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { LANES, STEP_MS, problems, publish, recordMessages, runInBrowser, step as say, watch } from "./harness.mjs";

const [mode, ...args] = process.argv.slice(2);

// ---- small helpers ----

// Each step with the seconds since the start, to see where the time goes.
const started = Date.now();
const step = (what) => say(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function check(condition, what) {
  if (!condition) throw new Error(what);
}

// Waits until `probe()` returns something truthy; fails after `ms`.
async function until(probe, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await pause(100);
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// The lines of the guide's code blocks of one language, as written.
function codeLines(markdown, language) {
  const lines = [];
  let inside = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) {
      inside = !inside && line.slice(3).trim() === language;
      continue;
    }
    if (inside) lines.push(line);
  }
  return lines;
}

// Runs a guide command through the shell, with a time limit; resolves with
// its output and exit code (null if it was stopped at the limit).
function run(command, limitMs) {
  return new Promise((resolve) => {
    // A process group of its own, so that Ctrl-C reaches curl, not only sh.
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    const timer = setTimeout(() => process.kill(-child.pid, "SIGINT"), limitMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ out, code });
    });
  });
}

// ---- reading the page ----

// Records every item added to each lane's message list, with its id and
// the moment it arrived, and notes such as "server restarted: starting over".
function recordIds(page) {
  return page.evaluate((lanes) => {
    window.guideSeen = Object.fromEntries(lanes.map((lane) => [lane, []]));
    for (const lane of lanes) {
      const list = document.querySelector(`[data-lane="${lane}"] .messages`);
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const item of change.addedNodes) {
            if (item.nodeType !== 1) continue;
            const at = performance.now();
            if (item.dataset.id) {
              const text = item.querySelector(".text")?.textContent ?? "";
              window.guideSeen[lane].push({ id: Number(item.dataset.id), text, at });
            } else {
              window.guideSeen[lane].push({ note: item.textContent, at });
            }
          }
        }
      }).observe(list, { childList: true });
    }
  }, LANES);
}

const seen = (page) => page.evaluate(() => window.guideSeen);

// A class figure of a lane (`data-class-stat`), as the page shows it.
async function classStat(page, lane, name) {
  return Number(await page.locator(`[data-lane="${lane}"] [data-class-stat="${name}"]`).textContent());
}

// This browser's own latency p50 of a lane, in ms (NaN while there is none).
async function browserP50(page, lane) {
  return Number(await page.locator(`[data-lane="${lane}"] [data-browser-stat="p50"]`).textContent());
}

// Elements of a lane's dialogue matching `selector` (e.g. ".arrow.empty").
function drawn(page, lane, selector) {
  return page.locator(`[data-lane="${lane}"] .timeline ${selector}`).count();
}

// The kind of the newest answer drawn in a lane's dialogue: "news"
// (coloured) or "empty" (grey).
function newestAnswer(page, lane) {
  return page
    .locator(`[data-lane="${lane}"] .timeline .arrow.news, [data-lane="${lane}"] .timeline .arrow.empty`)
    .last()
    .evaluate((arrow) => (arrow.classList.contains("news") ? "news" : "empty"));
}

// The texts of the marks and labels drawn across a lane's dialogue.
function labels(page, lane) {
  return page.locator(`[data-lane="${lane}"] .timeline text`).allTextContents();
}

// Records every label drawn on each lane's dialogue, with the page's time:
// labels scroll out of the dialogue, so a probe could miss them.
function recordLabels(page) {
  return page.evaluate((lanes) => {
    window.guideLabels = Object.fromEntries(lanes.map((lane) => [lane, []]));
    for (const lane of lanes) {
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const node of change.addedNodes) {
            if (node.nodeName === "text") window.guideLabels[lane].push({ label: node.textContent, time: performance.now() });
          }
        }
      }).observe(document.querySelector(`[data-lane="${lane}"] .timeline`), { childList: true, subtree: true });
    }
  }, LANES);
}

const drawnLabels = (page, lane) => page.evaluate((lane) => window.guideLabels[lane], lane);

// Waits until `lane` drew, after its first `from` labels, one matching
// `pattern`; returns it with its index (`at`). It looks in the page, so a
// busy machine spends no round trip per look.
async function drawnLabel(page, lane, from, pattern, what) {
  const found = await page
    .waitForFunction(
      ({ lane, from, source }) => {
        const all = window.guideLabels[lane];
        const at = all.findIndex((e, i) => i >= from && new RegExp(source).test(e.label));
        return at >= 0 && { ...all[at], at };
      },
      { lane, from, source: pattern.source },
      { timeout: STEP_MS, polling: 100 },
    )
    .catch(async () => {
      const drawnSince = (await drawnLabels(page, lane)).slice(from).map((e) => e.label);
      throw new Error(`timed out: ${lane}: ${what}; drawn since: ${JSON.stringify(drawnSince.slice(-20))}`);
    });
  return found.jsonValue();
}

// Drops `lane`'s connection from its break menu and follows it back: the
// break as the guide names it, the page's backoff (not for SSE: the
// browser's retry), and where it resumed. Returns {lane, broke, back}.
async function dropAndWatch(page, lane) {
  // A long-poll is between two questions for a moment after each answer:
  // a drop then finds nothing open, says so, and is asked again.
  let broke = null;
  for (let attempt = 0; attempt < 3 && !broke; attempt++) {
    const from = (await drawnLabels(page, lane)).length;
    await breakLane(page, lane, "drop");
    const said = await drawnLabel(page, lane, from, /^you: drop/, "the drop said on the dialogue");
    const outcome = await drawnLabel(page, lane, said.at, /dropped by the server|nothing was open/, "the drop's outcome");
    if (!outcome.label.includes("nothing was open")) broke = outcome;
  }
  check(broke, `${lane}: nothing was open to drop, three times`);
  if (lane === "sse") check(/browser retries · Last-Event-ID: \d+/.test(broke.label), `the SSE break says "${broke.label}", not the browser's retry with Last-Event-ID`);
  if (lane === "ws") check(broke.label.includes("1006 (no close frame)"), `the WebSocket break says "${broke.label}", not 1006`);
  if (lane !== "sse") await drawnLabel(page, lane, broke.at, /^backoff: retry in \d+\.\d s$/, "the page's own backoff");
  const back = await drawnLabel(page, lane, broke.at, /^back: resumed from #\d+$/, '"back: resumed from #N"');
  return { lane, broke, back };
}

// Clicks `fault` in `lane`'s "break" menu, opening it first.
async function breakLane(page, lane, fault, seconds) {
  const menu = page.locator(`[data-lane="${lane}"] details.faults`);
  await menu.locator("summary").click();
  if (seconds) await menu.locator('[name="offline-seconds"]').selectOption(String(seconds));
  await menu.locator(`[data-fault="${fault}"]`).click();
}

// Every lane of `page` showed, since its first `from[lane]` entries, ids
// one after the other and no "missed" note: a break lost nothing.
async function noMessageLost(page, from, when) {
  for (const [lane, entries] of Object.entries(await seen(page))) {
    const since = entries.slice(from[lane]);
    const missed = since.find((m) => m.note?.includes("missed"));
    check(!missed, `${lane} ${when}: ${missed?.note}`);
    const ids = since.filter((m) => m.id).map((m) => m.id);
    const hole = ids.findIndex((id, k) => k > 0 && id !== ids[k - 1] + 1);
    check(ids.length > 0 && hole < 0, `${lane} ${when}: ids ${ids.slice(Math.max(0, hole - 3), hole + 3).join(", ")}`);
  }
}

// Publishes `text` from `page` by an ordinary POST, as a partner would from
// another laptop, without waiting for it to arrive anywhere.
async function post(page, text) {
  const status = await page.evaluate(
    (text) => fetch("/api/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ author: "partner", text }) }).then((r) => r.status),
    text,
  );
  check(status === 201, `publishing ${text} answered ${status}`);
}

async function setRate(teacher, rate) {
  const form = teacher.locator('form[data-action="rate"]');
  await form.locator('[name="rate"]').fill(String(rate));
  await form.locator("output").evaluate((output) => (output.value = ""));
  await form.locator('[name="rate"]').press("Enter");
  await form.locator("output").filter({ hasText: "set" }).waitFor({ timeout: STEP_MS });
}

// Every request a page makes to one of the techniques' endpoints, with its
// time, URL and headers (as the developer tools' Network panel shows them).
function recordRequests(page) {
  const requests = [];
  page.on("request", async (request) => {
    const url = request.url();
    if (!/\/api\/(poll|longpoll|sse)\b/.test(url)) return;
    const entry = { at: Date.now(), url, request, headers: null, sentAt: null, answeredAt: null, body: null };
    requests.push(entry);
    entry.headers = await request.allHeaders().catch(() => ({}));
  });
  page.on("requestfinished", async (request) => {
    const entry = requests.find((e) => e.request === request);
    if (!entry) return;
    // The browser's own network timings, in this machine's clock: not
    // delayed by how long the event takes to reach this script.
    const timing = request.timing();
    entry.sentAt = timing.startTime > 0 ? timing.startTime : entry.at;
    entry.answeredAt = timing.responseEnd >= 0 ? timing.startTime + timing.responseEnd : Date.now();
    if (!entry.url.includes("/api/sse")) {
      entry.body = await request.response().then((r) => r?.json()).catch(() => null);
    }
  });
  return requests;
}

// Every WebSocket frame a page sends or receives, as DevTools' Messages tab.
function recordFrames(page) {
  const frames = [];
  page.on("websocket", (socket) => {
    socket.on("framesent", ({ payload }) => frames.push({ up: true, payload: String(payload) }));
    socket.on("framereceived", ({ payload }) => frames.push({ up: false, payload: String(payload) }));
  });
  return frames;
}

// The WebSocket handshakes of a page, as DevTools' Headers tab shows them.
async function recordHandshakes(context, page) {
  const handshakes = [];
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketWillSendHandshakeRequest", ({ requestId, request }) => {
    handshakes.push({ requestId, key: request.headers["Sec-WebSocket-Key"], accept: null, status: null });
  });
  cdp.on("Network.webSocketHandshakeResponseReceived", ({ requestId, response }) => {
    const handshake = handshakes.find((h) => h.requestId === requestId);
    if (handshake) {
      handshake.accept = response.headers["Sec-WebSocket-Accept"] ?? response.headers["sec-websocket-accept"];
      handshake.status = response.status;
    }
  });
  return { handshakes, cdp };
}

// Typed into the browser's console: top-level const and await allowed.
async function inConsole(cdp, code) {
  const { exceptionDetails } = await cdp.send("Runtime.evaluate", { expression: code, replMode: true, awaitPromise: true });
  if (exceptionDetails) throw new Error(`console: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
}

// ---- restarting the server (tests/classroom.rs does it) ----

const stdinLines = createInterface({ input: process.stdin });
const lineWaiters = [];
stdinLines.on("line", (line) => lineWaiters.shift()?.(line.trim()));

// Resolves with the teacher URL the restarted server printed.
async function restartServer() {
  const answered = new Promise((resolve) => lineWaiters.push(resolve));
  console.log("guide: restart the server");
  const line = await Promise.race([answered, pause(30000).then(() => "timeout")]);
  const [word, url] = line.split(" ");
  check(word === "restarted" && url, `the server was not restarted (got ${line})`);
  return url;
}

// The teacher URL as the projector opens it: on this machine, 127.0.0.1,
// so that the students' origins (the LAN address among them) are not the
// teacher's, as on separate laptops.
function onProjector(teacherUrl) {
  const url = new URL(teacherUrl);
  url.hostname = "127.0.0.1";
  return url.href;
}

// ---- the guide, played ----

async function play(context) {
  const [printedUrl, guidePath, outDir] = args;
  const guide = readFileSync(guidePath, "utf8");
  const port = new URL(printedUrl).port;
  check(new URL(printedUrl).searchParams.get("key"), `the teacher URL ${printedUrl} has no key`);
  const teacherUrl = onProjector(printedUrl);
  mkdirSync(outDir, { recursive: true });

  const teacher = context.pages()[0] ?? (await context.newPage());
  watch(teacher, "teacher");
  await teacher.setViewportSize({ width: 1280, height: 720 });
  await teacher.goto(teacherUrl, { timeout: STEP_MS });
  check(!new URL(teacher.url()).searchParams.has("key"), "the key stays in the projector's address bar");

  step("the day before: the page shows the address students type, and its QR code");
  const address = teacher.locator("[data-address]");
  await address.waitFor({ state: "visible", timeout: STEP_MS });
  check((await address.textContent()).includes("Students open"), "the address is not introduced as \"Students open\"");
  const lanAddresses = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i.family === "IPv4" && !i.internal)
    .map((i) => i.address);
  const shown = await teacher.locator("[data-address-url]").evaluateAll((links) => links.map((a) => a.href));
  let lanUrl = null;
  if (lanAddresses.length > 0) {
    lanUrl = shown.find((url) => lanAddresses.includes(new URL(url).hostname) && new URL(url).port === port);
    check(lanUrl, `the page shows ${JSON.stringify(shown)}, not this machine's ${lanAddresses.join(", ")} with port ${port}`);
    await address.locator("summary").filter({ hasText: "QR code" }).click();
    await address.locator(".qr svg").waitFor({ state: "visible", timeout: STEP_MS });
  } else {
    step("(this machine has no LAN address: the page must say so)");
    check(/address was not found/.test(await address.textContent()), "no LAN address, and the page does not say so");
  }

  step("the day before: a student laptop opens /healthz on that address");
  const studentUrls = [lanUrl, `http://127.0.0.2:${port}/`, `http://127.0.0.3:${port}/`].filter(Boolean);
  if (studentUrls.length < 3) studentUrls.push(`http://127.0.0.4:${port}/`);
  // Not watched: the browser's own /favicon.ico request is a 404 there.
  const health = await context.newPage();
  await health.goto(new URL("/healthz", studentUrls[0]).href, { timeout: STEP_MS });
  check((await health.textContent("body")).trim() === "ok", "/healthz did not answer ok");
  await health.close();
  const students = [];
  for (const [i, url] of studentUrls.entries()) {
    const page = await context.newPage();
    watch(page, `student ${i + 1}`);
    await page.setViewportSize({ width: 1280, height: 720 });
    const student = { page, url, requests: recordRequests(page), frames: recordFrames(page), ...(await recordHandshakes(context, page)) };
    await page.goto(url, { timeout: STEP_MS });
    students.push(student);
  }
  const teacherRequests = recordRequests(teacher);
  const everyone = [teacher, ...students.map((s) => s.page)];
  for (const page of everyone) {
    for (const lane of LANES) {
      await page.locator(`[data-lane="${lane}"] [data-connection], [data-lane="${lane}"] .timeline`).first().waitFor({ timeout: STEP_MS });
    }
    await recordMessages(page);
    await recordIds(page);
    await recordLabels(page);
  }

  step("who may change what: the generator is the teacher's, read-only for students");
  const rateField = (page) => page.locator('form[data-action="rate"] [name="rate"]');
  check(!(await rateField(teacher).evaluate((input) => input.readOnly)), "the teacher's generator field is read-only");
  for (const student of students) {
    // The page learns its role from the server before it wires the field.
    await student.page.locator('form[data-action="rate"] output').filter({ hasText: "set by the teacher" }).waitFor({ timeout: STEP_MS });
    check(await rateField(student.page).evaluate((input) => input.readOnly), `${student.url}: a student may change the generator`);
  }

  step("who may change what: the poll intervals and long-poll timeouts the guide lists are the page's");
  const listed = (setting) => {
    const at = guide.indexOf(`**${setting}**`);
    check(at >= 0, `the guide does not list the ${setting}s`);
    const list = guide.slice(at, guide.indexOf(")", at));
    return [...list.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  };
  for (const [setting, name] of [["poll interval", "poll-interval"], ["long-poll timeout", "longpoll-timeout"]]) {
    const options = await teacher.locator(`[name="${name}"] option`).allTextContents();
    const guideSays = listed(setting);
    check(JSON.stringify(options.map((o) => o.trim())) === JSON.stringify(guideSays), `the page offers ${options.join(", ")} as ${setting}; the guide lists ${guideSays.join(", ")}`);
  }

  step("who may change what: each lane's break menu, as the guide names it");
  const offlineOffered = await teacher.locator('[data-lane="ws"] [name="offline-seconds"] option').allTextContents();
  check(JSON.stringify(offlineOffered.map((o) => o.trim())) === JSON.stringify(listed("go offline")), `the page offers ${offlineOffered.join(", ")} offline; the guide lists ${listed("go offline").join(", ")}`);
  for (const lane of LANES) {
    const drop = (await teacher.locator(`[data-lane="${lane}"] [data-fault="drop"]`).textContent()).trim();
    const named = lane === "poll" ? "drop the next poll" : "drop this connection";
    check(drop === named && guide.includes(`**${named}**`), `${lane}: the drop button says "${drop}"`);
  }

  step("whose figures: this tab's in large type, the class's marked class, the latency rows and charts say whose");
  for (const lane of LANES) {
    const root = teacher.locator(`[data-lane="${lane}"]`);
    check(/this tab · class: \d+ open now/.test(await root.locator(".whose").textContent()), `${lane}: the figures do not say whose they are`);
    check((await root.locator(".figures .class").allTextContents()).every((t) => t.startsWith("class ")), `${lane}: a class figure not marked class`);
    const rows = (await root.locator("table.latency tbody th").allTextContents()).map((t) => t.trim());
    check(JSON.stringify(rows.slice(0, 3)) === JSON.stringify(["this tab, at the server", "this browser", "class, last 60 s"]) && rows[3]?.startsWith("caught up"),
      `${lane}: latency rows ${rows.join(", ")}`);
  }
  const captions = await teacher.locator(".compare figcaption").allTextContents();
  check(/this browser/.test(captions[0]) && /whole class/.test(captions[1]), `chart captions: ${captions.join(" | ")}`);

  // ---- step 1 ----
  step("step 1: generator at 1; one message, four ways, one id");
  await setRate(teacher, 1);
  const hello = `hello from row 3 ${Date.now()}`;
  const [first, second, third] = students;
  await publish(first.page, hello, everyone);
  const requestsOf = [teacherRequests, ...students.map((s) => s.requests)];
  for (const [i, page] of everyone.entries()) {
    const lanes = await seen(page);
    const got = LANES.map((lane) => lanes[lane].find((m) => m.text === hello));
    const ids = new Set(got.map((m) => m.id));
    check(ids.size === 1, `page ${i}: the four lanes show ${[...ids].join(", ")} for one message`);
    const pushed = Math.min(...got.slice(1).map((m) => m.at));
    const polled = got[0].at;
    // One interval as this page really polls (a busy machine's timers run
    // late), plus a round trip or two.
    const polls = requestsOf[i].filter((r) => r.url.includes("/api/poll") && r.answeredAt);
    const roundTrip = median(polls.map((r) => r.answeredAt - r.sentAt)) ?? 0;
    const longestGap = Math.max(1000, ...polls.slice(1).map((r, k) => r.sentAt - polls[k].sentAt));
    const bound = longestGap + 2 * roundTrip + 300;
    check(polled - pushed <= bound, `page ${i}: short polling got it ${Math.round(polled - pushed)} ms after the fastest lane (it polls at most ${Math.round(longestGap)} ms apart)`);
  }

  step("step 1: the publisher's own page follows the message under Your messages");
  const helloId = (await seen(first.page)).sse.find((m) => m.text === hello).id;
  const row = first.page.locator(`[data-your-messages] [data-id="${helloId}"]`);
  const delays = await until(async () => {
    const cells = await Promise.all(LANES.map((lane) => row.locator(`[data-lane-delay="${lane}"]`).textContent().catch(() => "")));
    const ms = cells.map(Number);
    return cells.every((c) => c.trim() !== "") && ms.every(Number.isFinite) && ms;
  }, "the four delays of the message in Your messages");
  const [pollDelay, ...pushDelays] = delays;
  check(pollDelay >= Math.min(...pushDelays), `Your messages: short polling ${pollDelay} ms, the others ${pushDelays.join(", ")} ms`);

  // ---- step 2 ----
  step("step 2: each student a poll interval (5 s, 250 ms, 1 s), then Reset counters");
  const intervals = [5000, 250, 1000];
  for (const [i, student] of students.entries()) {
    await student.page.locator('[name="poll-interval"]').selectOption(String(intervals[i]));
    await student.page.locator('[data-action="reset"]').click();
  }
  const pollWindowStart = Date.now();
  const classBefore = await classStat(teacher, "poll", "requests");
  step("watching the short-polling lanes for 16 s");
  await pause(16000);
  const classAfter = await classStat(teacher, "poll", "requests");
  const teacherOwn = teacherRequests.filter((r) => r.url.includes("/api/poll") && r.at >= pollWindowStart).length;
  const p50s = [];
  const measured = [];
  for (const [i, student] of students.entries()) {
    const asked = student.requests.filter((r) => r.url.includes("/api/poll") && r.at >= pollWindowStart && r.sentAt).map((r) => r.sentAt);
    const gaps = asked.slice(1).map((at, k) => at - asked[k]);
    const gap = median(gaps);
    check(gaps.length >= 2 && gap >= intervals[i] * 0.9 && gap <= intervals[i] * 1.4 + 150,
      `student ${i + 1}: polls every ${gap} ms at the ${intervals[i]} ms setting`);
    p50s.push(await browserP50(student.page, "poll"));
    // The same latency measured here, on the server's own clock (this
    // machine's), free of the page's clock-offset estimate, which a busy
    // test machine can throw off by a few hundred milliseconds.
    const latencies = student.requests
      .filter((r) => r.url.includes("/api/poll") && r.at >= pollWindowStart && r.body)
      .flatMap((r) => r.body.messages.map((m) => r.answeredAt - m.published_at_us / 1000));
    check(latencies.length >= 5, `student ${i + 1}: only ${latencies.length} messages by short polling`);
    const roundTrip = median(student.requests.filter((r) => r.url.includes("/api/poll") && r.answeredAt).map((r) => r.answeredAt - r.sentAt));
    const p50 = median(latencies);
    // Half the time between polls, plus the round trip (a busy machine's
    // may be long). The median of some fifteen random waits strays from
    // half by a tenth or so of the time between polls; three times that
    // is allowed.
    const expected = gap / 2 + roundTrip;
    step(`  ${intervals[i]} ms: p50 ${Math.round(p50)} ms measured, ${p50s[i]} ms on the page; expected about ${Math.round(expected)} (polls ${Math.round(gap)} ms apart, round trip ${Math.round(roundTrip)} ms)`);
    check(Math.abs(p50 - expected) < 0.4 * gap + 100, `student ${i + 1}: p50 ${Math.round(p50)} ms at the ${intervals[i]} ms setting`);
    measured.push(p50);
  }
  check(p50s.every(Number.isFinite), `this browser's p50 is not shown: ${p50s.join(", ")}`);
  check(p50s[1] < p50s[0], "this browser's p50 at 250 ms is not below its p50 at 5 s");
  check(await drawn(second.page, "poll", ".arrow.empty") > 0, "no grey (empty) answers in the 250 ms lane");
  check(classAfter - classBefore > teacherOwn + 20,
    `the requests figure grew by ${classAfter - classBefore} while this browser asked ${teacherOwn} times: it is not the class's`);

  step("step 2: generator at 0: polls go on, messages stop");
  await first.page.locator('[name="poll-interval"]').selectOption("1000");
  await setRate(teacher, 0);
  for (const student of students) {
    await until(async () => (await rateField(student.page).inputValue()) === "0", `${student.url}: the read-only generator field following the teacher's 0`);
  }
  // Until nothing more arrives: the last messages reach every lane.
  let last = await classStat(teacher, "poll", "messages");
  await until(async () => {
    await pause(2500);
    const now = await classStat(teacher, "poll", "messages");
    const settled = now === last;
    last = now;
    return settled;
  }, "messages to stop after the generator was set to 0", 20000);
  const requestsQuiet = await classStat(teacher, "poll", "requests");
  const greyQuiet = await drawn(teacher, "poll", ".arrow.empty");
  step("watching with the generator at 0 for 4 s");
  await pause(4000);
  check(await classStat(teacher, "poll", "requests") > requestsQuiet + 8, "requests stopped with the generator");
  check(await classStat(teacher, "poll", "messages") === last, "messages went on with the generator at 0");
  check(await drawn(teacher, "poll", ".arrow.empty") > greyQuiet, "no new grey answers with the generator at 0");

  // ---- step 3 ----
  step("step 3: long-poll timeout 5 s: the lane asks again at once; one grey answer per 5 s");
  const lp = second.page.locator('[data-lane="longpoll"]');
  const changedAt = Date.now();
  await lp.locator('[name="longpoll-timeout"]').selectOption("5");
  const parked = await until(
    () => second.requests.find((r) => r.url.includes("/api/longpoll") && r.at >= changedAt),
    "a long-poll sent at once with the new timeout",
    3000,
  );
  await until(async () => (await labels(second.page, "longpoll")).some((t) => t.includes("timeout now 5 s: asking again")),
    '"timeout now 5 s: asking again" in the long-poll dialogue');
  check(/[?&]timeout=5(&|$)/.test(parked.url), `the new long-poll asks ${parked.url}, not timeout=5`);
  await until(() => parked.answeredAt && parked.body, "the long-poll to time out", 9000);
  const held = parked.answeredAt - parked.sentAt;
  check(held >= 4500 && held <= 7000, `the empty answer came after ${held} ms, not 5 s`);
  check(parked.body.messages.length === 0, "the long-poll timed out with messages");
  await until(() => drawn(second.page, "longpoll", ".arrow.empty"), "a grey long-poll answer drawn");
  check(await drawn(second.page, "longpoll", ".held") > 0, "no held (dotted) wait drawn");

  step("step 3: the teacher publishes: the held long-poll answers at once, coloured");
  const now = `now ${Date.now()}`;
  const publishedAt = Date.now();
  await publish(teacher, now, [second.page]);
  const answer = await until(
    () => second.requests.find((r) => r.url.includes("/api/longpoll") && r.answeredAt >= publishedAt && r.body?.messages?.some((m) => m.text === now)),
    "the long-poll answer carrying the message",
  );
  const publishedUs = answer.body.messages.find((m) => m.text === now).published_at_us;
  const waited = answer.answeredAt - publishedUs / 1000;
  check(waited < 1000, `the long-poll answered ${Math.round(waited)} ms after the publish`);
  check(await newestAnswer(second.page, "longpoll") === "news", "the long-poll answer was not drawn coloured");

  // ---- step 4 ----
  step("step 4: generator at 1; curl -sN on the projector shows the wire");
  // The guide sets 1; the test sets 2, to see the restart bring back the command's 1.
  await setRate(teacher, 2);
  const projector = codeLines(guide, "sh").find((line) => line.startsWith("curl -sN") && line.includes("127.0.0.1:8080/api/sse"));
  check(projector, "the guide's curl -sN on the projector");
  const curl = spawn("sh", ["-c", projector.replace("127.0.0.1:8080", `127.0.0.1:${port}`)], { stdio: ["ignore", "pipe", "inherit"] });
  let wire = "";
  curl.stdout.on("data", (chunk) => (wire += chunk));
  const curlExited = new Promise((resolve) => curl.on("close", resolve));
  await until(() => /id: \d+\nevent: message\ndata: \{/.test(wire), "curl to show an event");
  check(/^retry: 2000\nid: \d+\nevent: hello\n/.test(wire), `the stream starts ${JSON.stringify(wire.slice(0, 40))}`);
  for (const student of students) {
    const streams = student.requests.filter((r) => r.url.includes("/api/sse"));
    check(streams.length === 1, `${student.url}: ${streams.length} SSE requests before the restart, not one`);
  }

  step("step 4: Ctrl-C and the same command: the browser's EventSource reconnects with Last-Event-ID");
  const beforeRestart = await Promise.all(students.map(async (s) => Math.max(...(await seen(s.page)).sse.filter((m) => m.id).map((m) => m.id))));
  const restartAt = Date.now();
  const problemsBefore = problems.length;
  const wsLabelsBefore = await Promise.all(students.map(async (s) => (await drawnLabels(s.page, "ws")).length));
  const restartedUrl = await restartServer();
  const curlCode = await Promise.race([curlExited, pause(STEP_MS).then(() => "still running")]);
  check(curlCode === 0, `curl did not end with the stream (exit ${curlCode})`);
  for (const [i, student] of students.entries()) {
    const again = await until(
      () => student.requests.find((r) => r.url.includes("/api/sse") && r.at > restartAt && r.headers),
      `${student.url}: the browser's SSE reconnect`,
    );
    const lastEventId = Number(again.headers["last-event-id"]);
    check(lastEventId >= beforeRestart[i], `${student.url}: reconnected with Last-Event-ID ${again.headers["last-event-id"]}, having seen ${beforeRestart[i]}`);
    const sseSeen = (await seen(student.page)).sse;
    check(sseSeen.some((m) => m.id === lastEventId), `${student.url}: Last-Event-ID ${lastEventId} is no id the lane showed`);
    const marks = await until(async () => {
      const texts = await labels(student.page, "sse");
      return texts.some((t) => t.includes(`Last-Event-ID: ${lastEventId}`)) && texts;
    }, `${student.url}: "browser retries · Last-Event-ID: ${lastEventId}" in the SSE dialogue`);
    check(marks.some((t) => t.includes("browser retries")), "the reconnect is not drawn as the browser's");
    await until(async () => (await seen(student.page)).sse.some((m) => m.note?.includes("server restarted: starting over")),
      `${student.url}: the SSE lane saying it starts over`);
    await until(async () => {
      const lanes = await seen(student.page);
      return LANES.every((lane) => {
        const restarted = lanes[lane].findLastIndex((m) => m.note?.includes("starting over"));
        return restarted >= 0 && lanes[lane].slice(restarted).some((m) => m.id);
      });
    }, `${student.url}: every lane saying it starts over, then receiving the new run's messages`);
    // From the labels' record: the dialogue may have scrolled it away by now.
    const wsDrawn = (await drawnLabels(student.page, "ws")).slice(wsLabelsBefore[i]);
    check(wsDrawn.some((e) => e.label.startsWith("backoff: retry in")), `${student.url}: the WebSocket lane's own backoff not drawn`);
  }
  const rate = await teacher.evaluate(() => fetch("/api/generator").then((r) => r.json()));
  check(rate.rate === 1, `after the restart the generator runs at ${rate.rate}, not the command's 1`);
  step("step 4: the projector's old key no longer sets the generator; the new teacher URL does");
  check(restartedUrl !== printedUrl, "the restarted server kept the old key");
  const rateForm = teacher.locator('form[data-action="rate"]');
  await rateForm.locator('[name="rate"]').fill("3");
  await rateForm.locator('[name="rate"]').press("Enter");
  await rateForm.locator("output").filter({ hasText: "open the teacher URL" }).waitFor({ timeout: STEP_MS });
  await teacher.goto(onProjector(restartedUrl), { timeout: STEP_MS });
  await recordMessages(teacher);
  await recordIds(teacher);
  // The restart's refused connections are the lesson, not a fault of the page.
  const expected = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING|WebSocket connection to .* failed|Failed to load resource/;
  for (let i = problems.length - 1; i >= problemsBefore; i--) if (expected.test(problems[i])) problems.splice(i, 1);

  step("step 4: pause the SSE lane, publish meanwhile, resume: nothing missed, in order");
  const sse = third.page.locator('[data-lane="sse"]');
  await sse.locator('[data-action="pause"]').click();
  await sse.locator("[data-connection]").filter({ hasText: "paused" }).waitFor({ timeout: STEP_MS });
  const shownBeforePause = (await seen(third.page)).sse.filter((m) => m.id).length;
  const during = [`while paused 1 ${Date.now()}`, `while paused 2 ${Date.now()}`];
  for (const text of during) await post(teacher, text);
  await sse.locator('[data-action="pause"]').click();
  await until(async () => (await seen(third.page)).sse.some((m) => m.text === during[1]), "the messages published during the pause");
  const ids = (await seen(third.page)).sse.filter((m) => m.id).map((m) => m.id);
  const after = ids.slice(shownBeforePause - 1);
  check(after.every((id, k) => k === 0 || id === after[k - 1] + 1), `ids after the pause are not consecutive: ${after.join(", ")}`);

  // ---- step 5 ----
  step("step 5: the handshake as DevTools shows it, and /api/ws-accept agrees");
  await setRate(teacher, 1);
  const handshake = await until(() => first.handshakes.findLast((h) => h.accept), "a WebSocket handshake seen");
  check(handshake.status === 101, `the handshake answered ${handshake.status}`);
  const accepted = await first.page.evaluate((key) => fetch(`/api/ws-accept?key=${encodeURIComponent(key)}`).then((r) => r.text()), handshake.key);
  check(accepted.includes(handshake.accept), `/api/ws-accept says ${accepted} for ${handshake.key}, the server answered ${handshake.accept}`);

  step("step 5: send over the WebSocket: the publish frame goes up");
  const upText = `over the socket ${Date.now()}`;
  const framesBefore = first.frames.length;
  await publish(first.page, upText, [first.page, third.page], "ws");
  const frames = first.frames.slice(framesBefore);
  const up = frames.find((f) => f.up && f.payload.includes(upText));
  check(up && JSON.parse(up.payload).type === "publish", "no publish frame sent up the WebSocket");
  check(frames.some((f) => !f.up && JSON.parse(f.payload).type === "published"), "no published answer frame");
  check(frames.some((f) => !f.up && f.payload.includes(upText) && JSON.parse(f.payload).type === "message"), "the message did not come back down");
  await first.page.locator('form[data-action="publish"] output').filter({ hasText: "over the WebSocket" }).waitFor({ timeout: STEP_MS });
  await until(async () => (await labels(first.page, "ws")).some((t) => t.includes("publish ↑")), '"publish ↑" in the WebSocket dialogue');
  await until(async () => (await labels(first.page, "ws")).some((t) => /published #\d+/.test(t)), '"published #N" in the WebSocket dialogue');
  await first.page.locator('[name="via"]').selectOption("post");

  // ---- step 6 ----
  step("step 6: a student drops each lane's connection: each comes back its own way, from its cursor");
  const breaker = second.page;
  const problemsBeforeBreaks = problems.length;
  const shownBeforeBreaks = Object.fromEntries(Object.entries(await seen(breaker)).map(([lane, entries]) => [lane, entries.length]));
  for (const lane of LANES) {
    const { broke, back } = await dropAndWatch(breaker, lane);
    step(`  ${lane}: "${broke.label}", back ${Math.round(back.time - broke.time)} ms later`);
  }
  await noMessageLost(breaker, shownBeforeBreaks, "after the drops");

  step("step 6: SSE and WebSocket offline for 3 s: SSE back within 2 s of the network; nothing lost");
  const saidOffline = {};
  for (const lane of ["sse", "ws"]) {
    const from = (await drawnLabels(breaker, lane)).length;
    await breakLane(breaker, lane, "offline", 3);
    saidOffline[lane] = await drawnLabel(breaker, lane, from, /^you: offline for 3 s$/, "the offline said");
  }
  const offline = await Promise.all(["sse", "ws"].map(async (lane) => {
    const said = saidOffline[lane];
    await drawnLabel(breaker, lane, said.at, /^offline: no answer/, '"offline: no answer" on a cut try');
    const back = await drawnLabel(breaker, lane, said.at, /^back: resumed from #\d+$/, `${lane} back after the offline`);
    return { lane, after: back.time - said.time };
  }));
  for (const { lane, after } of offline) {
    step(`  ${lane}: back ${Math.round(after)} ms after going offline for 3 s`);
    check(after >= 3000 - 300, `${lane} was back ${Math.round(after)} ms after going offline for 3 s`);
    // The browser's retry: every 2 s, so within 2 s of the network (and
    // slack for a busy machine's timers).
    if (lane === "sse") check(after <= 3000 + 2000 + 2500, `SSE was back only ${Math.round(after)} ms after going offline for 3 s`);
  }
  await noMessageLost(breaker, shownBeforeBreaks, "after the offline");
  // The cut requests and streams are the lesson, not a fault of the page.
  const cutByFaults = /ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_CONNECTION_(RESET|CLOSED)|WebSocket connection to .* failed|Failed to load resource/;
  for (let i = problems.length - 1; i >= problemsBeforeBreaks; i--) if (cutByFaults.test(problems[i])) problems.splice(i, 1);

  step("step 6: the teacher restarts the hub: every lane starts over, nothing reconnects, the key still works");
  const handshakesBefore = students.map((s) => s.handshakes.length);
  const entriesBefore = await Promise.all(students.map(async (s) => Object.fromEntries(Object.entries(await seen(s.page)).map(([l, e]) => [l, e.length]))));
  await teacher.locator('[data-hub-controls] [data-action="restart-hub"]').click();
  await teacher.locator("[data-hub-status]").filter({ hasText: /new run/ }).waitFor({ timeout: STEP_MS });
  for (const [i, student] of students.entries()) {
    await until(async () => {
      const lanes = await seen(student.page);
      return LANES.every((lane) => {
        const after = lanes[lane].slice(entriesBefore[i][lane]);
        const note = after.findIndex((m) => m.note?.includes("server restarted: starting over (new run)"));
        return note >= 0 && after.slice(note).some((m) => m.id);
      });
    }, `${student.url}: every lane saying it starts over, then receiving the new run's messages`);
    check(student.handshakes.length === handshakesBefore[i], `${student.url}: the WebSocket reconnected after the hub restart`);
  }
  const rows = await first.page.locator("[data-your-messages] tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({ earlier: tr.dataset.earlierRun !== undefined, divider: tr.dataset.runDivider !== undefined, text: tr.querySelector(".text")?.textContent })),
  );
  const messageRows = rows.filter((r) => !r.divider);
  check(messageRows.length > 0 && messageRows.every((r) => r.earlier) && rows.some((r) => r.divider) && messageRows.some((r) => r.text === upText),
    `Your messages after the hub restart: ${JSON.stringify(rows)}`);
  await setRate(teacher, 1);
  const rateSaid = await teacher.locator('form[data-action="rate"] output').textContent();
  check(rateSaid === "set for everyone", `after the hub restart the teacher's key no longer sets the generator: "${rateSaid}"`);

  // ---- step 7 ----
  step("step 7: the pairs' curl commands, as written in the guide");
  const studentAddress = new URL(studentUrls[0]).host;
  const commands = codeLines(guide, "sh").filter((line) => line.startsWith("curl ") && line.includes("ADDRESS"));
  check(commands.length >= 4, `only ${commands.length} curl commands with ADDRESS in the guide`);
  // The cursor first: the address's port may contain "57".
  const fill = (command, cursor) => command.replaceAll("57", String(cursor)).replaceAll("ADDRESS", studentAddress);
  const first_ = commands.find((c) => c.endsWith('/api/poll"'));
  check(first_, 'the guide\'s first poll command, curl -s "http://ADDRESS/api/poll"');
  const start = JSON.parse((await run(fill(first_, 0), 5000)).out);
  check(Number.isInteger(start.next) && start.messages.length === 0, `the first poll answered ${JSON.stringify(start)}`);
  const pairText = `pair 3 ${Date.now()}`;
  await post(second.page, pairText);
  for (const command of commands.filter((c) => c !== first_)) {
    const filled = fill(command.replace("--max-time 20", "--max-time 3"), start.next);
    const resume = command.includes("Last-Event-ID");
    const running = run(filled, resume ? 2000 : 10000);
    // The partner publishes while the stream runs, so it has an event.
    if (command.includes("/api/sse") && !resume) await pause(1000).then(() => post(second.page, `pair 3 again ${Date.now()}`));
    const { out, code } = await running;
    step(`  ${filled.slice(0, 110)} → exit ${code}`);
    if (resume) {
      // The first message's id (the hello before it carries the cursor).
      const first = out.match(/id: (\d+)\nevent: message/);
      check(first && Number(first[1]) === start.next + 1, `resuming from ${start.next} began at ${first?.[1]}`);
      continue;
    }
    const bytes = out.match(/bytes: (\d+) up, (\d+) \+ (\d+) down/);
    check(bytes && Number(bytes[1]) > 0 && Number(bytes[2]) > 0 && Number(bytes[3]) > 0, `no bytes line from: ${filled}\n${out}`);
    if (command.includes("/api/sse")) {
      check(code === 28 && /retry: 2000/.test(out) && /id: \d+/.test(out), `the SSE command printed:\n${out}`);
      continue;
    }
    const [answerJson, timeJson] = out.split("\n").filter((l) => l.startsWith("{"));
    const { messages } = JSON.parse(answerJson);
    const { now_us } = JSON.parse(timeJson);
    check(messages.length > 0, `${filled} answered no messages`);
    const latencyMs = (now_us - messages[0].published_at_us) / 1000;
    check(latencyMs >= 0 && latencyMs < 60000, `a latency of ${latencyMs} ms by hand`);
    if (command.includes("/api/poll")) check(messages.some((m) => m.text === pairText), "the partner's message is not in the poll answer");
  }

  step("step 7: the console snippets, as written in the guide");
  const snippets = codeLines(guide, "js").join("\n").split(/\n(?=const )/);
  const wsSnippet = snippets.find((s) => s.includes("new WebSocket"));
  const sseSnippet = snippets.find((s) => s.includes("new EventSource"));
  check(wsSnippet && sseSnippet, "the guide's console snippets");
  check(wsSnippet.split("\n").filter(Boolean).length === 3, "the WebSocket client is not three lines");
  const logs = [];
  third.page.on("console", (message) => logs.push(message.text()));
  await inConsole(third.cdp, sseSnippet);
  await inConsole(third.cdp, wsSnippet);
  const byHand = /^pair 7 hello over the socket bytes: (\d+) ms: ([\d.]+)$/;
  const wsLine = await until(() => logs.find((l) => byHand.test(l)), "the console WebSocket client's line for its own message");
  const [, size, ms] = wsLine.match(byHand);
  check(Number(size) > 50 && Number(ms) < 2000, `the console WebSocket client says ${wsLine}`);
  await until(() => logs.find((l) => / ms: [\d.]+$/.test(l) && !byHand.test(l)), "the console EventSource client's lines");
  await inConsole(third.cdp, "es.close(); ws.close();");

  // ---- step 8 ----
  step("step 8: four tabs of the page: the notice says so; the fourth tab is slowed, not frozen");
  const tabs = [];
  for (let n = 2; n <= 4; n++) {
    const tab = await context.newPage();
    watch(tab, `student 1, tab ${n}`);
    tabs.push(tab);
    await tab.goto(first.url, { timeout: 30000, waitUntil: "commit" });
  }
  const notice = first.page.locator('[data-notice="tabs"]');
  await notice.waitFor({ state: "visible", timeout: 30000 });
  await until(async () => /\b4 tabs\b/.test(await notice.textContent()), "the notice counting 4 tabs", 30000);
  check(await notice.locator('[data-action="park"]').isVisible(), "no button to pause long-poll and SSE");
  const fourth = tabs[2];
  await fourth.locator('[data-lane="poll"] .messages li[data-id]').first().waitFor({ timeout: 40000 });
  await fourth.locator('[data-lane="longpoll"] .messages li[data-id]').first().waitFor({ timeout: 40000 });
  const otherLaptop = await classStat(third.page, "ws", "messages");
  await until(async () => (await classStat(third.page, "ws", "messages")) > otherLaptop, "another laptop's figures to keep moving", 10000);
  for (const tab of tabs) await tab.close({ runBeforeUnload: true });
  await until(async () => (await notice.isHidden()) || (await notice.textContent()).includes("This tab holds"), "the notice forgetting the closed tabs", 30000)
    .catch(async (error) => {
      throw new Error(`${error.message}; it says: ${await notice.textContent()}`);
    });

  step("step 8: open them until one has to wait: six streams held, polls stop, SSE and WebSocket go on");
  const six = first.page.locator("[data-six]");
  await six.locator('[data-action="fill"]').click();
  // The last stream waits for a connection a long-poll's answer frees.
  await until(async () => /Streams never end/.test(await notice.textContent()), "the notice saying streams never end", 25000);
  const before = await seen(first.page);
  const stalled = `while six are held ${Date.now()}`;
  await post(teacher, stalled);
  await until(async () => {
    const lanes = await seen(first.page);
    return ["sse", "ws"].every((lane) => lanes[lane].some((m) => m.text === stalled));
  }, "SSE and WebSocket delivering while the six are held");
  const whileHeld = await seen(first.page);
  for (const lane of ["poll", "longpoll"]) {
    check(whileHeld[lane].length === before[lane].length, `the ${lane} lane went on with six streams held`);
  }
  await six.locator('[data-action="release"]').click();
  await until(async () => {
    const lanes = await seen(first.page);
    return ["poll", "longpoll"].every((lane) => lanes[lane].some((m) => m.text === stalled));
  }, "polls and long-polls catching up after the release", 20000);
  const caughtUp = await seen(first.page);
  for (const lane of ["poll", "longpoll"]) {
    check(!caughtUp[lane].slice(before[lane].length).some((m) => m.note), `the ${lane} lane missed messages while held: ${JSON.stringify(caughtUp[lane].filter((m) => m.note))}`);
  }

  // ---- step 9 ----
  step("step 9: the generator back at 1");
  await setRate(teacher, 1);
  await teacher.screenshot({ path: join(outDir, "guide-teacher.png") });
}

// ---- the copies on paper ----

// A4 is 210 mm wide, Letter 215.9 mm; both less 15 mm margins each side
// (static/docs.css, @page), at 96 CSS px per inch.
const PRINTABLE_PX = { A4: ((210 - 30) / 25.4) * 96, Letter: ((215.9 - 30) / 25.4) * 96 };
const SCREENSHOT_WIDTH = 800;

async function print(context) {
  const [base, outDir] = args;
  mkdirSync(outDir, { recursive: true });
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, "print");
  for (const [copy, path] of [["teacher", "/docs/08-classroom-guide"], ["handout", "/docs/handout"]]) {
    step(`${copy}: as paper shows it`);
    await page.emulateMedia({ media: "print" });
    await page.setViewportSize({ width: SCREENSHOT_WIDTH, height: 1000 });
    await page.goto(new URL(path, base).href, { timeout: STEP_MS });
    const looks = await page.evaluate(() => {
      const style = (selector) => {
        const element = document.querySelector(selector);
        return element && getComputedStyle(element);
      };
      const shown = (selector) => [...document.querySelectorAll(selector)].filter((e) => getComputedStyle(e).display !== "none").length;
      const colours = new Set([...document.querySelectorAll("article *")].map((e) => getComputedStyle(e).color));
      const backgrounds = new Set(
        [...document.querySelectorAll("body, main, article, article *")]
          .map((e) => getComputedStyle(e).backgroundColor)
          .filter((c) => c !== "rgba(0, 0, 0, 0)"),
      );
      return {
        controls: shown("nav, p.copies, button, input, select, form"),
        colours: [...colours],
        backgrounds: [...backgrounds],
        body: style("body").color,
        answers: document.querySelectorAll("blockquote.answer").length,
        writeIns: document.querySelectorAll("div.write-in").length,
        linkAfter: getComputedStyle(document.querySelector('article a[href^="/"], article a[href^="http"]'), "::after").content,
      };
    });
    check(looks.controls === 0, `${copy}: ${looks.controls} navigation or control elements on paper`);
    check(looks.colours.every((c) => c === "rgb(0, 0, 0)"), `${copy}: text colours on paper ${looks.colours.join(", ")}`);
    check(looks.backgrounds.every((c) => c === "rgb(255, 255, 255)"), `${copy}: backgrounds on paper ${looks.backgrounds.join(", ")}`);
    check(looks.linkAfter.includes("attr") || looks.linkAfter.includes("("), `${copy}: links do not say where they lead (${looks.linkAfter})`);
    check(copy === "teacher" ? looks.answers > 0 && looks.writeIns === 0 : looks.answers === 0 && looks.writeIns > 0, `${copy}: ${looks.answers} answers, ${looks.writeIns} boxes to write in`);
    await page.screenshot({ path: join(outDir, `print-${copy}.png`), fullPage: true });

    for (const [paper, width] of Object.entries(PRINTABLE_PX)) {
      await page.setViewportSize({ width: Math.floor(width), height: 1000 });
      const wide = await page.evaluate(() => {
        const limit = document.documentElement.clientWidth;
        return [...document.querySelectorAll("article *")]
          .filter((e) => e.getBoundingClientRect().right > limit + 1 || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
          .map((e) => `${e.tagName.toLowerCase()}: ${e.textContent.slice(0, 60)}`);
      });
      check(wide.length === 0, `${copy} on ${paper}: wider than the paper:\n${wide.slice(0, 5).join("\n")}`);
      const pdf = await page.pdf({ format: paper });
      check(pdf.length > 10000, `${copy}: no ${paper} PDF`);
    }
  }
}

if (mode === "play") await runInBrowser(play, join(args[2] ?? "target/browser", "guide-failure.png"));
else if (mode === "print") await runInBrowser(print, join(args[1] ?? "target/browser", "print-failure.png"));
else {
  console.error("usage: node guide.test.mjs play <url> <guide.md> <outdir> | print <url> <outdir>");
  process.exit(2);
}
