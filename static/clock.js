// The browser's clock against the server's, measured NTP-style at load, so
// that "receive time − published_at_us" is a latency and not the difference
// between two laptops' clocks.
//
// Ask GET /api/time a few times. The server read its clock somewhere
// between the moment our request went out and the moment its answer came
// back, so its offset from ours is now_us − (sent + answered) / 2, wrong by
// at most half that round trip. The sample with the shortest round trip is
// the one to trust.
//
// "Went out" is not "fetch() was called". When every one of the six
// connections a browser opens to a server is taken (see tabs.js), the
// request waits inside the browser first, and a stopwatch around fetch()
// counts that wait as round trip: the offset comes out wrong by half of it,
// or, if we give up waiting, is not measured at all, and a laptop whose
// clock is behind the server's shows negative latencies. So the two moments
// come from the browser's own timing of the request (Resource Timing:
// requestStart, responseStart; see timing.js), which begins only when it
// was sent. A queued sample is then as good as any other, and the page
// never gives up on one: it starts its lanes after a few seconds whatever
// happens, and the measurement lands when the queue lets it through.

import { requestJson } from "./http.js";
import { watchEntry } from "./timing.js";

// Samples with a plausible round trip to take; the best of them is used.
const GOOD_SAMPLES = 5;
// The server answers /api/time at once, so sending to first byte back takes
// a few ms on a LAN. A round trip longer than this (queueing excluded) means
// a busy network or server, and an offset uncertain by half of it: ask again.
const PLAUSIBLE_ROUND_TRIP_MS = 250;
// Requests at most, however many were implausible.
const MAX_SAMPLES = 12;
// The page starts its lanes after this long even without an answer: their
// latencies are uncorrected until the measurement lands.
const START_WITHIN_MS = 3000;
// The browser hands over a request's timing a moment after its answer.
const ENTRY_WAIT_MS = 1000;

// Our own clock in µs since 1970: the monotonic clock anchored at page load,
// so it never jumps while the page runs.
export function localNowUs() {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export class Clock {
  constructor() {
    this.offsetUs = 0;
    this.uncertaintyUs = Infinity;
    // Resolves when the measurement is over (Clock.measure sets it).
    this.measured = Promise.resolve();
    this.done = false;
    // Every answer, in order, { offsetUs, roundTripUs }: how the offset was
    // chosen, for whoever looks.
    this.samples = [];
    this.onChange = () => {};
  }

  // Starts measuring the offset, and returns the clock once it has a first
  // answer — or after START_WITHIN_MS, still measuring. Until then, or if
  // the server cannot be asked, it assumes no offset.
  static async measure() {
    const clock = new Clock();
    clock.measured = clock.sample();
    await Promise.race([clock.measured, new Promise((resolve) => setTimeout(resolve, START_WITHIN_MS))]);
    return clock;
  }

  // Asks until GOOD_SAMPLES plausible answers (or MAX_SAMPLES in all),
  // keeping the best.
  async sample() {
    let good = 0;
    for (let n = 0; n < MAX_SAMPLES && good < GOOD_SAMPLES; n++) {
      let sample;
      try {
        sample = await askTime(n);
      } catch {
        break; // the server does not answer: go with what we have
      }
      this.samples.push(sample);
      if (sample.roundTripUs <= PLAUSIBLE_ROUND_TRIP_MS * 1000) good += 1;
      if (sample.roundTripUs / 2 < this.uncertaintyUs) {
        this.offsetUs = sample.offsetUs;
        this.uncertaintyUs = sample.roundTripUs / 2;
        this.onChange();
      }
    }
    this.done = true;
    this.onChange();
  }

  // Shows what is known about the clock in `element`, now and as it changes.
  show(element) {
    this.onChange = () => {
      element.textContent = this.describe();
    };
    this.onChange();
  }

  // The server's clock now, as well as we know it.
  serverNowUs() {
    return localNowUs() + this.offsetUs;
  }

  // Milliseconds from `publishedAtUs` (server clock) until now — never below
  // zero, since nothing arrives before it was published. The clamp is the
  // last resort, not the measurement: it hides an error, it does not fix it.
  // With the queue excluded above, the error left is the offset's
  // uncertainty (± half the best round trip), which can exceed a delivery
  // that took less; and before the measurement lands (or if the server
  // never answered it) a laptop whose clock is behind the server's would
  // otherwise show deliveries from the future.
  latencyMs(publishedAtUs) {
    return Math.max(0, (this.serverNowUs() - publishedAtUs) / 1000);
  }

  describe() {
    if (!Number.isFinite(this.uncertaintyUs)) {
      return this.done
        ? "clock offset unknown: browser latency is uncorrected"
        : "measuring the clock (its request may wait for a free connection): browser latency is uncorrected until then";
    }
    const ms = (us) => (us / 1000).toFixed(1);
    const sign = this.offsetUs >= 0 ? "+" : "−";
    return `server clock ${sign}${ms(Math.abs(this.offsetUs))} ms from this browser's (± ${ms(this.uncertaintyUs)} ms)`;
  }
}

// One GET /api/time: the offset it gives and the round trip it is good to.
// The URL is new each time, so that its timing entry is this request's. A
// request waiting in the browser's queue is left to wait: no timeout.
async function askTime(n) {
  const url = `/api/time?sample=${n}-${Math.random().toString(36).slice(2)}`;
  const entry = watchEntry(url);
  const asked = localNowUs();
  const { now_us } = await requestJson(url);
  const answered = localNowUs();
  const timing = await entry(ENTRY_WAIT_MS);
  if (timing?.requestStart > 0 && timing.responseStart >= timing.requestStart) {
    const sent = (performance.timeOrigin + timing.requestStart) * 1000;
    const firstByte = (performance.timeOrigin + timing.responseStart) * 1000;
    return { offsetUs: now_us - (sent + firstByte) / 2, roundTripUs: firstByte - sent };
  }
  // No timing from the browser: the stopwatch around fetch(), queue and
  // all. If the request waited, its long round trip marks it as poor.
  return { offsetUs: now_us - (asked + answered) / 2, roundTripUs: answered - asked };
}
