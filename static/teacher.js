// Who steers the class. The generator's rate (and anything else that
// changes what every laptop sees) needs the teacher key, which pushlab
// prints at start-up inside a teacher URL: `http://…:8080/?key=…`. The page
// opened with it keeps the key for its own requests (`Authorization:
// Bearer …`) and takes it off the address bar at once, so the projector
// never shows it to the room. A student's page has no key: it shows the
// global controls read-only, with their live values. On a server bound to
// loopback the controls are open to every client, and /api/role says so.

import { requestJson } from "./http.js";

const STORE = "pushlab.teacher-key";

// The key from `?key=` (remembered for this origin's later tabs), or the
// one remembered before; null for a student.
export function teacherKey() {
  const url = new URL(location.href);
  const given = url.searchParams.get("key");
  if (given) {
    remember(given);
    url.searchParams.delete("key");
    history.replaceState(history.state, "", url);
  }
  return given ?? recall();
}

// The header that carries the key, or none.
export function authorization(key) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// `{teacher, open_controls}`: whether this page may steer the class.
export async function role(key) {
  try {
    return await requestJson("/api/role", { headers: authorization(key) });
  } catch {
    return { teacher: false, open_controls: false };
  }
}

// Storage can be off (private windows, policies): then the key lives only
// as long as this page.
function remember(key) {
  try {
    localStorage.setItem(STORE, key);
  } catch {
    /* kept in memory only */
  }
}

function recall() {
  try {
    return localStorage.getItem(STORE);
  } catch {
    return null;
  }
}
