// The console's JSON API client: every request goes through here so that the CSRF header, the
// error shape ({error, message}) and the "not signed in" reaction live in one place.

const BASE = '/_/console/api/';
let csrfToken = null;
const unauthorizedHandlers = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `Request failed (${status})`);
    this.status = status;
    this.code = code || 'error';
  }
}

export function setCsrfToken(token) { csrfToken = token; }

// A 401 anywhere means the session is gone (expired, server restarted): app.js shows sign-in.
export function onUnauthorized(fn) { unauthorizedHandlers.add(fn); }

function headersFor(method, extra = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  return headers;
}

async function errorFrom(res) {
  let code = 'http_' + res.status;
  let message = '';
  try {
    const body = await res.json();
    code = body.error || code;
    message = body.message || '';
  } catch { /* not JSON: keep the generic text */ }
  if (!message) {
    message = res.status === 429
      ? `Too many attempts; try again in ${res.headers.get('Retry-After') || 'a few'} seconds.`
      : `The server answered ${res.status} ${res.statusText}.`;
  }
  return new ApiError(res.status, code, message);
}

function signalUnauthorized(path) {
  // The sign-in call itself answers 401 for a wrong password: that is not a lost session.
  if (path !== 'session') unauthorizedHandlers.forEach((fn) => fn());
}

// api('photos?limit=10') or api('session', {method: 'POST', json: {...}}). Resolves to the parsed
// JSON (null for 204); rejects with ApiError.
export async function api(path, { method = 'GET', json, signal } = {}) {
  const init = { method, headers: headersFor(method), credentials: 'same-origin', signal };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that photoflux serve is running.');
  }
  if (res.status === 401) signalUnauthorized(path);
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  return res.json();
}

// Query string from an object, skipping empty values.
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

// One SNS Query API action through the console (POST /_/console/api/sns, a form body). Resolves
// to the reply's XML Document; an SNS ErrorResponse becomes an ApiError with SNS's own message.
export async function sns(action, params = {}) {
  const body = new URLSearchParams({ Action: action, ...params });
  let res;
  try {
    res = await fetch(BASE + 'sns', {
      method: 'POST',
      headers: headersFor('POST', { 'Content-Type': 'application/x-www-form-urlencoded' }),
      credentials: 'same-origin',
      body,
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (res.status === 401) signalUnauthorized('sns');
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    // The console itself refused (CSRF, session): its JSON error shape.
    if (!res.ok) throw await errorFrom(res);
  }
  const text = await res.text();
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const error = doc.getElementsByTagNameNS('*', 'Error')[0];
  if (!res.ok || error) {
    const code = error ? textOf(error, 'Code') : `http_${res.status}`;
    const message = error ? textOf(error, 'Message') : `The SNS service answered ${res.status}.`;
    throw new ApiError(res.status, code, message || code);
  }
  return doc;
}

// Namespace-agnostic XML helpers: SNS replies carry a default namespace, S3's too.
export function childrenNamed(node, name) {
  return Array.from(node.getElementsByTagNameNS('*', name));
}
export function textOf(node, name) {
  const el = node.getElementsByTagNameNS('*', name)[0];
  return el ? el.textContent : '';
}
// The <member> elements directly inside the first <container> (not nested members).
export function membersOf(doc, container) {
  const box = doc.getElementsByTagNameNS('*', container)[0];
  if (!box) return [];
  return Array.from(box.children).filter((el) => el.localName === 'member');
}
