// The events every interop peer sends (the same as sseconform serve's /demo):
// line breaks of each kind, a leading space, empty data with and without an
// event name, an id on each, and a close event last.
export const events = [
  { id: '1', data: 'plain' },
  { id: '2', data: 'lf\nin data' },
  { id: '3', data: 'cr\rin data' },
  { id: '4', data: 'crlf\r\nin data' },
  { id: '5', data: ' leading space' },
  { id: '6', data: '' },
  { id: '7', event: 'named', data: 'n' },
  { id: '8', event: 'named', data: '' },
  { id: '9', event: 'close', data: 'bye' },
];

// after returns the events after the Last-Event-ID header value (all of them
// without one).
export function after(lastEventID) {
  const n = Number.parseInt(lastEventID ?? '', 10);
  return Number.isNaN(n) ? events : events.filter((e) => Number(e.id) > n);
}

export const pace = (ms) => new Promise((r) => setTimeout(r, ms));

// listening prints the port for the Go test, which reads "PORT n".
export function listening(port) {
  process.stdout.write(`PORT ${port}\n`);
}
