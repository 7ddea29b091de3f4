// The cursor every client keeps: the last message id it has seen and the
// run of the server (epoch) that id belongs to. Sent back on every request
// or reconnect, it lets the server answer with exactly what came after —
// or say that it can't: "missed N" (too old) or reset (another run).

export class Cursor {
  constructor() {
    this.next = null;
    this.epoch = null;
  }

  // The query string that resumes from here; empty means "from now on".
  query() {
    if (this.next === null) return "";
    return `since=${this.next}&epoch=${encodeURIComponent(this.epoch)}`;
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
