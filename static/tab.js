// This tab's id: made up when the page loads, sent by the four lanes with
// every request (`?tab=…`), so the server can count this tab's own
// requests, bytes and messages apart from the class's, and show this tab —
// and only this tab — its own exchanges on the wire.
//
// It is random and never shown: knowing it is what makes a page "this tab".
// A reload is a new tab, with figures from zero.

// Not crypto.randomUUID: a classroom server over plain http on a LAN
// address is not a secure context, where that function does not exist;
// getRandomValues is there in every context. 16 bytes, 32 hex digits.
export const TAB_ID = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
  b.toString(16).padStart(2, "0"),
).join("");

// The query parameter that names this tab.
export const tabParam = () => `tab=${TAB_ID}`;
