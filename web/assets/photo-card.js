// The photo card of the gallery and of the upload page's rows: a thumbnail frame that shows the
// blurhash placeholder until the thumbnail has loaded, and (in the gallery) the name, status and
// size. updateCard() applies a later state (an SSE `photo` event or a poll) in place, so the
// image element of a card is replaced only when its URL changes.

import { h, badge, baseName, formatBytes } from './dom.js';
import { placeholderUrl } from './blurhash.js';

export function detailHref(bucket, key) {
  return `#/photo?${new URLSearchParams({ bucket, key })}`;
}

// compact: the small square used inside an upload row (no caption).
export function photoCard(photo, { compact = false } = {}) {
  const frame = h('div', { class: 'thumb' });
  const card = h('article', {
    class: compact ? 'photo-card compact' : 'card photo-card',
    'data-testid': 'photo-card',
    'data-key': photo.key,
    'data-bucket': photo.bucket,
  });
  if (compact) {
    card.append(frame);
  } else {
    const title = h('span', { class: 'photo-title', title: photo.key }, baseName(photo.key));
    const meta = h('div', { class: 'photo-meta' }, h('span', { class: 'badge-slot' }), h('span', { class: 'photo-size' }, formatBytes(photo.bytes)));
    const reason = h('p', { class: 'photo-reason', hidden: true });
    card.append(h('a', { class: 'photo-link', href: detailHref(photo.bucket, photo.key), 'aria-label': `${baseName(photo.key)} — details` },
      frame, h('div', { class: 'photo-body' }, title, meta, reason)));
  }
  updateCard(card, photo);
  return card;
}

export function updateCard(card, photo) {
  const status = photo.status || 'uploaded';
  card.dataset.status = status;
  const slot = card.querySelector('.badge-slot');
  if (slot) slot.replaceChildren(badge(status));
  const reason = card.querySelector('.photo-reason');
  if (reason) {
    reason.hidden = status !== 'failed' || !photo.reason;
    reason.textContent = photo.reason || '';
  }
  if (photo.bytes !== undefined) {
    const size = card.querySelector('.photo-size');
    if (size) size.textContent = formatBytes(photo.bytes);
  }
  const frame = card.querySelector('.thumb');
  const placeholder = placeholderUrl(photo.placeholder);
  if (placeholder) frame.style.backgroundImage = `url("${placeholder}")`;
  frame.dataset.state = status;
  const img = frame.querySelector('img');
  if (photo.thumbnail_url && (!img || img.getAttribute('src') !== photo.thumbnail_url)) {
    const next = h('img', { src: photo.thumbnail_url, alt: baseName(photo.key), loading: 'lazy', decoding: 'async', class: 'is-loading' });
    // The placeholder stays visible behind the image until it has loaded, then it fades in.
    next.addEventListener('load', () => next.classList.remove('is-loading'));
    next.addEventListener('error', () => next.classList.add('is-broken'));
    frame.replaceChildren(next);
  } else if (!photo.thumbnail_url && !img) {
    frame.replaceChildren(h('span', { class: 'thumb-icon', 'aria-hidden': 'true' }, iconFor(status)));
  }
}

function iconFor(status) {
  return { failed: '!', processing: '…', uploaded: '↑' }[status] || '';
}
