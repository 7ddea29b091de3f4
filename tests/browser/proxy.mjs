// A TCP proxy between the browser and pushlab, for tests that need a
// connection to really break: the page is loaded through it, so every
// request of every lane passes here, byte for byte. It reads the request
// heads that go by (path, Last-Event-ID), can drop the connections that
// carry an SSE stream (both sockets destroyed: the browser sees its stream
// end as on a network failure, the server sees its client go), and can
// hold the next SSE request until the test has looked around.
//
// A request head is assumed to arrive in one piece (browsers write it in
// one go); bodies and responses are passed on untouched.

import net from "node:net";

const REQUEST_LINE = /^(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) (\S+) HTTP\/1\.1\r\n/;

export class Proxy {
  // Listens on 127.0.0.1 (a free port) and forwards to `target` (a URL).
  static async start(target) {
    const proxy = new Proxy(new URL(target));
    await new Promise((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  constructor(target) {
    this.target = target;
    this.connections = new Set();
    // Every SSE request that went by: { path, lastEventId, at }.
    this.sseRequests = [];
    this.hold = null;
    this.server = net.createServer((client) => this.connect(client));
  }

  get url() {
    return `http://127.0.0.1:${this.server.address().port}/`;
  }

  connect(client) {
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    const connection = { client, upstream, path: null, held: null };
    this.connections.add(connection);
    const forget = () => {
      client.destroy();
      upstream.destroy();
      this.connections.delete(connection);
    };
    client.on("error", forget).on("close", forget);
    upstream.on("error", forget).on("close", forget);
    upstream.on("data", (chunk) => client.write(chunk));
    client.on("data", (chunk) => this.fromBrowser(connection, chunk));
  }

  fromBrowser(connection, chunk) {
    if (connection.held) {
      connection.held.push(chunk);
      return;
    }
    const head = REQUEST_LINE.exec(chunk.toString("latin1"));
    if (head) connection.path = head[2];
    if (head && connection.path.startsWith("/api/sse")) {
      const request = { path: head[2], lastEventId: header(chunk, "last-event-id"), at: Date.now() };
      this.sseRequests.push(request);
      if (this.hold) {
        const { resolve } = this.hold;
        this.hold = null;
        connection.held = [chunk];
        resolve({ request, release: () => this.release(connection) });
        return;
      }
    }
    connection.upstream.write(chunk);
  }

  release(connection) {
    const held = connection.held ?? [];
    connection.held = null;
    for (const chunk of held) connection.upstream.write(chunk);
  }

  // Resolves with { request, release } when the next SSE request arrives;
  // it goes on to the server only when `release()` is called.
  holdNextSse() {
    return new Promise((resolve) => {
      this.hold = { resolve };
    });
  }

  // Breaks every connection whose last request was an SSE stream; returns
  // how many.
  dropSse() {
    let dropped = 0;
    for (const connection of this.connections) {
      if (!connection.path?.startsWith("/api/sse")) continue;
      connection.client.destroy();
      connection.upstream.destroy();
      dropped += 1;
    }
    return dropped;
  }

  close() {
    for (const connection of this.connections) {
      connection.client.destroy();
      connection.upstream.destroy();
    }
    this.server.close();
  }
}

// The value of header `name` in a request head, or null.
function header(chunk, name) {
  const head = chunk.toString("latin1").split("\r\n\r\n")[0];
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return null;
}
