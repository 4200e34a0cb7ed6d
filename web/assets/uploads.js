// The upload list of this tab, kept outside the upload page so that uploads keep going (and
// keep being followed) while the person looks at another page. Each entry pairs an Upload (the
// transfer) with what the server says about the photo afterwards, from the event stream and,
// because an event can arrive before the PUT returns or be missed, from polling.

import { api, qs } from './api.js';
import * as live from './live.js';
import { Upload, stripQuotes } from './upload.js';
import { announce } from './dom.js';

const FILES_IN_FLIGHT = 3;
const POLL_MS = 3000;
const RANK = { uploaded: 0, processing: 1, done: 2, failed: 2 };

const entries = [];              // in the order they were added
const listeners = new Set();     // (entry|null) -> void; null: the list itself changed
const early = new Map();         // "bucket/key" -> photo event seen while still uploading
let nextId = 1;
let pollTimer = null;
let unsubscribe = null;

export function list() { return entries.slice(); }
export function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
function notify(entry) { listeners.forEach((fn) => fn(entry)); }

// What the row shows: the transfer's state until the bytes are in, then the photo's.
export function displayStatus(entry) {
  return entry.upload.state === 'uploaded' ? entry.photo.status : entry.upload.state;
}
export function isFinal(entry) {
  const s = displayStatus(entry);
  return s === 'done' || s === 'failed' || s === 'cancelled';
}

export function add(files, config) {
  ensureFollowing();
  for (const file of files) {
    const key = (config.upload_prefix || '') + file.name;
    // Dropping the same name again replaces its row (the object is replaced too).
    const old = entries.findIndex((e) => e.upload.key === key);
    if (old >= 0) {
      entries[old].upload.cancel();
      entries.splice(old, 1);
    }
    const entry = { id: nextId++, name: file.name, photo: { status: 'uploaded', reason: null }, added: Date.now() };
    entry.upload = new Upload(file, { bucket: config.default_bucket, key, config, onChange: () => transferChanged(entry) });
    entries.push(entry);
  }
  notify(null);
  pump();
}

export function cancel(entry) { entry.upload.cancel(); pump(); }
export function cancelAll() { entries.forEach((e) => e.upload.cancel()); }

export function retry(entry) {
  entry.upload.reset();
  entry.photo = { status: 'uploaded', reason: null };
  early.delete(idOf(entry.upload));
  notify(entry);
  pump();
}

export function clearFinished() {
  for (let i = entries.length - 1; i >= 0; i--) if (isFinal(entries[i])) entries.splice(i, 1);
  notify(null);
}

// Forget everything (sign-out): the next user must not see this one's uploads.
export function reset() {
  cancelAll();
  entries.length = 0;
  early.clear();
  clearInterval(pollTimer);
  pollTimer = null;
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
}

function idOf(upload) { return `${upload.bucket}/${upload.key}`; }

function pump() {
  let active = entries.filter((e) => e.upload.state === 'uploading').length;
  for (const e of entries) {
    if (active >= FILES_IN_FLIGHT) break;
    if (e.upload.state === 'queued' && !e.starting) {
      e.starting = true;
      active++;
      e.upload.start().finally(() => { e.starting = false; pump(); });
    }
  }
}

function transferChanged(entry) {
  const state = entry.upload.state;
  if (state !== entry.lastState) {
    entry.lastState = state;
    if (state === 'uploaded') {
      const seen = early.get(idOf(entry.upload));
      early.delete(idOf(entry.upload));
      if (seen) applyPhoto(entry, seen);
      announce(`${entry.name} uploaded, waiting for processing.`);
      schedulePoll();
    } else if (state === 'failed') {
      announce(`${entry.name} failed to upload: ${entry.upload.reason}`);
    } else if (state === 'cancelled') {
      announce(`${entry.name} cancelled.`);
    }
  }
  notify(entry);
}

// photo: an SSE `photo` event or the `photo` of GET /api/photo. An event of another version of
// the object (an older upload of the same name) is ignored when both ETags are known.
function applyPhoto(entry, photo) {
  const ours = entry.upload.etag;
  const theirs = stripQuotes(photo.etag);
  if (ours && theirs && ours !== theirs) return;
  const next = photo.status;
  if (!(next in RANK) || RANK[next] < RANK[entry.photo.status]) return;
  const changed = next !== entry.photo.status || photo.thumbnail_url !== entry.photo.thumbnail_url;
  entry.photo = { ...entry.photo, ...photo, reason: photo.reason || null };
  if (!changed) return;
  if (next === 'done') announce(`${entry.name} is processed.`);
  else if (next === 'failed') announce(`${entry.name} could not be processed: ${photo.reason || 'unknown reason'}`);
  else if (next === 'processing') announce(`${entry.name} is being processed.`);
  notify(entry);
}

function ensureFollowing() {
  if (unsubscribe) return;
  unsubscribe = live.on('photo', (event) => {
    const id = `${event.bucket}/${event.key}`;
    let matched = false;
    for (const entry of entries) {
      if (idOf(entry.upload) !== id) continue;
      matched = true;
      if (entry.upload.state === 'uploaded') applyPhoto(entry, event);
      else if (entry.upload.state === 'uploading') early.set(id, event);
    }
    if (!matched) early.delete(id);
  });
}

function schedulePoll() {
  if (pollTimer) return;
  pollTimer = setInterval(poll, POLL_MS);
}

async function poll() {
  const waiting = entries.filter((e) => e.upload.state === 'uploaded' && !isFinal(e));
  if (waiting.length === 0) {
    clearInterval(pollTimer);
    pollTimer = null;
    return;
  }
  // A bounded batch per tick: a big drop should not fire hundreds of requests at once.
  waiting.sort((a, b) => (a.polled || 0) - (b.polled || 0));
  await Promise.all(waiting.slice(0, 8).map(async (entry) => {
    entry.polled = Date.now();
    try {
      const res = await api('photo' + qs({ bucket: entry.upload.bucket, key: entry.upload.key }));
      if (res && res.photo) applyPhoto(entry, res.photo);
    } catch { /* not there yet, or a blip: the next tick asks again */ }
  }));
}
