// The browser's clock against the server's, measured NTP-style at load, so
// that "receive time − published_at_us" is a latency and not the difference
// between two laptops' clocks.
//
// Ask GET /api/time a few times. With t0 sent and t1 received, the server
// read its clock somewhere in between, so its offset from ours is
// now_us − (t0 + t1) / 2, wrong by at most half the round trip. The sample
// with the shortest round trip is the one to trust.

import { requestJson } from "./http.js";

const SAMPLES = 7;
// A sample slower than this is no use for the offset — and if the browser
// has no free connection to the server (see tabs.js), waiting longer would
// only keep the page from starting.
const SAMPLE_TIMEOUT_MS = 2000;

// Our own clock in µs since 1970: the monotonic clock anchored at page load,
// so it never jumps while the page runs.
export function localNowUs() {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export class Clock {
  constructor(offsetUs, uncertaintyUs) {
    this.offsetUs = offsetUs;
    this.uncertaintyUs = uncertaintyUs;
  }

  // Measures the offset; if the server cannot be asked, assumes none.
  static async measure() {
    let best = null;
    for (let i = 0; i < SAMPLES; i++) {
      try {
        const t0 = localNowUs();
        const { now_us } = await requestJson("/api/time", { signal: AbortSignal.timeout(SAMPLE_TIMEOUT_MS) });
        const t1 = localNowUs();
        if (!best || t1 - t0 < best.roundTrip) {
          best = { roundTrip: t1 - t0, offset: now_us - (t0 + t1) / 2 };
        }
      } catch {
        break; // no answer in time: go with what we have
      }
    }
    return best ? new Clock(best.offset, best.roundTrip / 2) : new Clock(0, Infinity);
  }

  // The server's clock now, as well as we know it.
  serverNowUs() {
    return localNowUs() + this.offsetUs;
  }

  // Milliseconds from `publishedAtUs` (server clock) until now.
  latencyMs(publishedAtUs) {
    return (this.serverNowUs() - publishedAtUs) / 1000;
  }

  describe() {
    if (!Number.isFinite(this.uncertaintyUs)) return "clock offset unknown: browser latency is uncorrected";
    const ms = (us) => (us / 1000).toFixed(1);
    const sign = this.offsetUs >= 0 ? "+" : "−";
    return `server clock ${sign}${ms(Math.abs(this.offsetUs))} ms from this browser's (± ${ms(this.uncertaintyUs)} ms)`;
  }
}
