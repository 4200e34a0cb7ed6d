// Small DOM and formatting helpers shared by every page. Pages build their markup with h()
// instead of innerHTML so that text from the server (file names, messages, SNS endpoints) is
// always inserted as text, never parsed as HTML.

// h('div', {class: 'x', 'data-testid': 'y', onclick: fn}, child, [children], 'text')
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'text') {
      el.textContent = value;
    } else if (name in PROPS) {
      el[PROPS[name]] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

// Attributes that must be set as properties to take effect after creation.
const PROPS = { value: 'value', checked: 'checked', hidden: 'hidden', disabled: 'disabled' };

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// 1536 -> "1.5 KiB": binary units, like the server's limits are expressed.
export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  n = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatTime(value) {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

// One polite live region for the whole app (index.html #announcer): screen readers hear upload
// and processing state changes without the focus moving. Clearing first makes a repeated
// identical sentence be read again.
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 30);
}

// The standard panel for a failed request: the server's message, else a generic sentence.
export function errorBox(err, prefix = '') {
  const message = err && err.message ? err.message : 'Something went wrong.';
  return h('div', { class: 'alert alert-error', role: 'alert' }, prefix ? `${prefix}: ${message}` : message);
}

export function emptyState(title, body) {
  return h('div', { class: 'empty-state' }, h('p', { class: 'empty-title' }, title), body ? h('p', {}, body) : null);
}

// The key without its folder part, for labels.
export function baseName(key) {
  const i = key.lastIndexOf('/');
  return i >= 0 ? key.slice(i + 1) : key;
}

// A status badge; the text is the status itself so tests and people read the same word.
export function badge(status) {
  return h('span', { class: `badge badge-${status}` }, status);
}
