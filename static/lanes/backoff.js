// Waiting before trying again after an error: twice as long after every
// failure in a row (exponential backoff, capped), and a random part of that
// (jitter), so thirty laptops that lost the server together do not all come
// back in the same millisecond.

const FIRST_MS = 500;
const MAX_MS = 15000;

export class Backoff {
  constructor() {
    this.failures = 0;
  }

  // The connection works again: the next failure starts from the beginning.
  reset() {
    this.failures = 0;
  }

  // How long to wait now: between half and all of the current ceiling.
  next() {
    const ceiling = Math.min(MAX_MS, FIRST_MS * 2 ** this.failures);
    this.failures += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}
