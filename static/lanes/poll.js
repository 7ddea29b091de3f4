// Short polling: ask "any news?" on a timer, and the server answers at once
// — usually "no". GET /api/poll?since=<cursor>, wait the poll interval, ask
// again. Every question is a whole HTTP request, whether or not anything
// happened, and a message waits for the next question to be picked up.

import { requestJson } from "../http.js";
import { Backoff } from "./backoff.js";
import { Cursor } from "./cursor.js";

export async function run(lane, settings) {
  const cursor = new Cursor();
  const backoff = new Backoff();
  for (;;) {
    await lane.running();
    const request = lane.asked(cursor.next);
    try {
      const answer = await requestJson(`/api/poll?${cursor.query()}`, { signal: lane.signal });
      // A 200 whose body broke off (the connection closed mid-answer)
      // carries no JSON: a failure like any other.
      if (!answer) throw new Error("the answer broke off");
      lane.answered(request, answer);
      cursor.moveTo(answer.epoch, answer.next);
      backoff.reset();
      await lane.wait(settings.pollIntervalMs);
    } catch (error) {
      await lane.failed(request, error, backoff);
    }
  }
}
