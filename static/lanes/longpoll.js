// Long-polling: ask "any news?", and the server holds the question until
// there is some — or until the timeout, when it answers empty. Then ask
// again at once. GET /api/longpoll?since=<cursor>&timeout=<seconds>. One
// request stays parked at the server all the time: one of the six
// connections a browser opens to a server over HTTP/1.1.

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
      const timeout = `timeout=${settings.longpollTimeoutS}`;
      const answer = await requestJson(`/api/longpoll?${timeout}&${cursor.query()}`, { signal: lane.signal });
      // A 200 whose body broke off (the connection closed mid-answer)
      // carries no JSON: a failure like any other.
      if (!answer) throw new Error("the answer broke off");
      lane.answered(request, answer);
      cursor.moveTo(answer.epoch, answer.next);
      backoff.reset();
    } catch (error) {
      await lane.failed(request, error, backoff);
    }
  }
}
