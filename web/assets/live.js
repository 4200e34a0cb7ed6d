// The one server-sent-event stream of this tab (GET /_/console/api/events). Pages subscribe to
// `photo` and `message` events here instead of opening their own EventSource, so a tab never
// holds more than one stream. The message log is also kept here (bounded), so that the
// Notifications page shows what arrived while another page was open.

const MAX_MESSAGES = 500;
const handlers = { photo: new Set(), message: new Set(), status: new Set() };
const messages = [];   // newest first
let source = null;
let retryTimer = null;
let connected = false;
let onLost = () => {};

export function on(type, fn) {
  handlers[type].add(fn);
  return () => handlers[type].delete(fn);
}

export function recentMessages() { return messages.slice(); }
export function isConnected() { return connected; }

function emit(type, data) {
  handlers[type].forEach((fn) => {
    try { fn(data); } catch (err) { console.error(err); }
  });
}

function setConnected(value) {
  if (connected !== value) { connected = value; emit('status', value); }
}

// checkSession is called when the stream fails for good (EventSource gives up on an HTTP error
// such as 401): app.js checks the session and either reconnects or shows sign-in.
export function connect(checkSession) {
  disconnect();
  onLost = checkSession;
  source = new EventSource('/_/console/api/events', { withCredentials: true });
  source.addEventListener('open', () => setConnected(true));
  source.addEventListener('photo', (e) => {
    const data = parse(e.data);
    if (data) emit('photo', data);
  });
  source.addEventListener('message', (e) => {
    const data = parse(e.data);
    if (!data) return;
    messages.unshift(data);
    if (messages.length > MAX_MESSAGES) messages.length = MAX_MESSAGES;
    emit('message', data);
  });
  source.addEventListener('error', () => {
    setConnected(false);
    // readyState CONNECTING: the browser reconnects by itself (the server closed the stream).
    if (source && source.readyState === EventSource.CLOSED) {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(async () => {
        if (await onLost()) connect(onLost);
      }, 3000);
    }
  });
}

export function disconnect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  setConnected(false);
}

export function clearMessages() { messages.length = 0; }

function parse(text) {
  try { return JSON.parse(text); } catch { return null; }
}
