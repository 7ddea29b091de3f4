// Who steers the class, in a real browser: against a server whose controls
// are closed (as on a classroom LAN), a student's page shows the generator
// rate read-only with its live value; the teacher's page, opened with the
// teacher URL's `?key=`, takes the key off the address bar, may change the
// rate, and the student's page follows the change.
//
//   node tests/browser/teacher.test.mjs http://127.0.0.1:PORT/ KEY target/browser/teacher.png
//
// tests/browser.rs starts the server and runs this as part of `cargo test`.
// Every wait is bounded.

import { STEP_MS, runInBrowser, step, watch } from "./harness.mjs";

const [serverUrl, key, screenshot] = process.argv.slice(2);
if (!serverUrl || !key || !screenshot) {
  console.error("usage: node teacher.test.mjs <url> <key> <screenshot.png>");
  process.exit(2);
}

const RATE = 'form[data-action="rate"] [name="rate"]';

await runInBrowser(async (context) => {
  step("a student's page: the generator rate is read-only, and says who sets it");
  const student = await context.newPage();
  // The one refusal this test asks for, which Chromium logs.
  watch(student, "student", [/status of 403/]);
  await student.goto(serverUrl);
  await student.waitForFunction((selector) => document.querySelector(selector).readOnly, RATE, { timeout: STEP_MS });
  const status = await student.locator('form[data-action="rate"] output').textContent();
  if (!/teacher/.test(status)) throw new Error(`the student's rate says ${JSON.stringify(status)}`);

  step("the teacher's page: opened with ?key=, which leaves the address bar at once");
  const teacher = await context.newPage();
  watch(teacher, "teacher");
  await teacher.goto(`${serverUrl}?key=${encodeURIComponent(key)}`);
  await teacher.waitForFunction(() => !location.search.includes("key="), null, { timeout: STEP_MS });
  await teacher.waitForFunction((selector) => !document.querySelector(selector).readOnly, RATE, { timeout: STEP_MS });

  step("the teacher sets 7.5 msg/s; the server has it and the student's page follows");
  await teacher.locator(RATE).fill("7.5");
  await teacher.locator(RATE).press("Enter");
  await teacher.waitForFunction(
    async () => (await (await fetch("/api/generator")).json()).rate === 7.5,
    null,
    { timeout: STEP_MS, polling: 100 },
  );
  await student.waitForFunction((selector) => document.querySelector(selector).value === "7.5", RATE, {
    timeout: STEP_MS,
  });

  step("the student's page cannot change it, even by hand");
  const refused = await student.evaluate(async () => {
    const response = await fetch("/api/generator", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ rate: 100 }),
    });
    return { status: response.status, body: await response.json() };
  });
  if (refused.status !== 403 || refused.body.error !== "teacher_only") {
    throw new Error(`a student's POST got ${JSON.stringify(refused)}`);
  }
  await teacher.waitForFunction(async () => (await (await fetch("/api/generator")).json()).rate === 7.5, null, {
    timeout: STEP_MS,
  });

  step("the name 'teacher' is the teacher's: the box sends the key; a student's page is refused");
  const asTeacher = async (page) => {
    const form = page.locator('form[data-action="publish"]');
    await form.locator('[name="author"]').fill("teacher");
    await form.locator('[name="text"]').fill("from the front");
    await form.locator('[name="via"]').selectOption("post");
    await form.locator('button[type="submit"]').click();
    return form.locator("output");
  };
  await (await asTeacher(teacher)).filter({ hasText: /sent #\d+ by POST/ }).waitFor({ timeout: STEP_MS });
  await (await asTeacher(student)).filter({ hasText: /teacher/ }).waitFor({ timeout: STEP_MS });
}, screenshot);
