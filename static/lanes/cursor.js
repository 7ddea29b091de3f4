// The cursor every client keeps: the last message id it has seen and the
// run of the server (epoch) that id belongs to. Sent back on every request
// or reconnect, it lets the server answer with exactly what came after —
// or say that it can't: "missed N" (too old) or reset (another run).
// Every request also names this tab (tab.js), for the tab's own figures.

import { tabParam } from "../tab.js";

export class Cursor {
  // Before its first answer a client has no id yet, but it knows the run:
  // the one that served the page (`<body data-epoch>`).
  constructor(epoch = document.body?.dataset.epoch ?? null) {
    this.next = null;
    this.epoch = epoch;
  }

  // The query string that resumes from here. Without `since` it means "from
  // now on"; the epoch still goes along, because an EventSource reconnects
  // to this same URL with `Last-Event-ID: <id>`, and only the epoch tells
  // the server whether that id is from its own run or from one before a
  // restart.
  query() {
    const epoch = this.epoch === null ? "" : `&epoch=${encodeURIComponent(this.epoch)}`;
    if (this.next === null) return `${tabParam()}${epoch}`;
    return `since=${this.next}&${tabParam()}${epoch}`;
  }

  // A poll answer, or a stream's hello, says where we are now.
  moveTo(epoch, next) {
    this.epoch = epoch;
    this.next = next;
  }

  // A stream's hello names the run; it only sets the cursor if we had none.
  hello({ epoch, next }) {
    this.moveTo(epoch, this.next === null || epoch !== this.epoch ? next : this.next);
  }

  // A stream's gap event: after a reset the stream goes on in a new run,
  // from its beginning.
  gap({ reset, epoch }) {
    if (reset && epoch) this.moveTo(epoch, 0);
  }

  // A stream delivered message `id`.
  seen(id) {
    this.next = id;
  }
}
