// What the browser itself timed for one request (Resource Timing): when the
// page asked (startTime), when the request really went out (requestStart)
// and when the first byte of the answer came back (responseStart), all in
// performance.now() milliseconds.
//
// The gap between asking and sending is the time the request waited inside
// the browser — over HTTP/1.1 mostly for one of the six connections a
// browser opens to a server. No event says a request is waiting; only this
// entry, once the request has finished, says how long it did.
//
// Entries are read with a PerformanceObserver, not from the page's timeline
// buffer: that buffer keeps 250 entries by default, and a page that polls
// fills it within minutes, after which new entries are left out of it.

// The time `entry`'s request waited in the browser before it was sent, in
// ms: from asking to sending, less the time spent opening a connection (a
// new connection's DNS and TCP handshake are not waiting in a queue).
export function waitedMs(entry) {
  if (!(entry.requestStart > 0)) return 0; // not exposed: no sign of a wait
  const connecting = entry.connectEnd - entry.connectStart + (entry.domainLookupEnd - entry.domainLookupStart);
  return Math.max(0, entry.requestStart - entry.startTime - connecting);
}

// Calls `listener(entry)` for every request of this page the browser
// finishes from now on. Returns a function that stops listening.
export function onFinished(listener) {
  const observer = new PerformanceObserver((list) => list.getEntries().forEach(listener));
  observer.observe({ type: "resource" });
  return () => observer.disconnect();
}

// Starts watching for the entry of the request for `url` (relative to the
// page); call it before making the request, since only entries finished
// after the call are seen. Returns `entry(timeoutMs)`, which resolves with
// the entry once the browser has it, or with null `timeoutMs` after it is
// called — call that once the answer is in, however long the request
// waited.
export function watchEntry(url) {
  const name = new URL(url, location.href).href;
  let found = null;
  let arrived = () => {};
  const stop = onFinished((entry) => {
    if (entry.name !== name) return;
    found = entry;
    arrived();
  });
  return (timeoutMs) =>
    new Promise((resolve) => {
      const done = () => {
        stop();
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(done, found ? 0 : timeoutMs);
      arrived = done;
    });
}
