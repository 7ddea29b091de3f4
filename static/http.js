// Asking the server for JSON, the one way every part of the page does it:
// a non-2xx answer is an error carrying the server's own {"error","message"}.

export class HttpError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// GET (or, with `init`, any method) `url`, and parse the JSON answer.
export async function requestJson(url, init = {}) {
  const response = await fetch(url, { cache: "no-store", ...init });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}

// POST `value` as JSON to `url`, with any extra `headers`.
export function postJson(url, value, headers = {}) {
  return requestJson(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(value),
  });
}
