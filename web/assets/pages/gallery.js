// The gallery: photo cards newest first, a prefix filter, infinite scroll (an
// IntersectionObserver on a sentinel after the grid asks for next_cursor) and live updates from
// the event stream (a card changes state in place; a new upload appears at the top).

import { api, qs } from '../api.js';
import { h, errorBox, emptyState } from '../dom.js';
import { getConfig } from '../state.js';
import * as live from '../live.js';
import { photoCard, updateCard } from '../photo-card.js';

const PAGE = 48;

export function renderGallery(main, params) {
  const filter = h('input', { id: 'gallery-prefix', type: 'search', placeholder: 'uploads/2024/', value: params.get('prefix') || '', autocomplete: 'off', spellcheck: 'false' });
  const grid = h('div', { class: 'photo-grid', role: 'list', 'aria-label': 'Photos' });
  const status = h('div', { class: 'grid-status', 'aria-live': 'polite' });
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  main.append(h('section', { class: 'page', 'aria-labelledby': 'gallery-title' },
    h('div', { class: 'page-head row' },
      h('h1', { id: 'gallery-title' }, 'Gallery'),
      h('form', { class: 'filter', role: 'search', onsubmit: (e) => { e.preventDefault(); reload(); } },
        h('label', { for: 'gallery-prefix' }, 'Filter by prefix'), filter)),
    grid, status, h('div', { class: 'more-row' }, more), sentinel));

  let bucket = null;
  let cursor = null;      // next_cursor of the last page; null: no more
  let loading = false;
  let generation = 0;     // a new filter makes answers to older requests stale
  const cards = new Map();   // key -> card

  function prefixNow() { return filter.value.trim(); }

  async function loadPage(first) {
    if (loading || (!first && !cursor)) return;
    loading = true;
    const mine = generation;
    status.replaceChildren(h('p', { class: 'muted' }, 'Loading photos…'));
    try {
      const config = await getConfig();
      bucket = config.default_bucket;
      const res = await api('photos' + qs({ bucket, prefix: prefixNow(), cursor: first ? '' : cursor, limit: PAGE }));
      if (mine !== generation) return;
      for (const photo of res.photos || []) {
        if (cards.has(photo.key)) continue;
        const card = withRole(photoCard(photo));
        cards.set(photo.key, card);
        grid.append(card);
      }
      cursor = res.next_cursor || null;
      more.hidden = !cursor;
      status.replaceChildren();
      if (cards.size === 0) {
        status.replaceChildren(prefixNow()
          ? emptyState(`No photos under “${prefixNow()}”.`, 'Try another prefix, or clear the filter.')
          : emptyState('No photos yet — drop some on the Upload page.', h('a', { href: '#/upload' }, 'Go to Upload')));
      }
    } catch (err) {
      if (mine === generation) status.replaceChildren(errorBox(err, 'The photos could not be loaded'));
    } finally {
      if (mine === generation) loading = false;
    }
    // The sentinel may still be visible after a short page: keep going until it is not.
    if (mine === generation && cursor && isVisible(sentinel)) loadPage(false);
  }

  function reload() {
    generation++;
    loading = false;
    cursor = null;
    cards.clear();
    grid.replaceChildren();
    const p = prefixNow();
    // Keep the filter in the URL (shareable, survives reload) without a re-render.
    history.replaceState(null, '', '#/gallery' + (p ? '?' + new URLSearchParams({ prefix: p }) : ''));
    loadPage(true);
  }

  let debounce = 0;
  filter.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(reload, 350); });
  more.addEventListener('click', () => loadPage(false));

  const observer = new IntersectionObserver((items) => {
    if (items.some((i) => i.isIntersecting)) loadPage(false);
  }, { rootMargin: '600px 0px' });
  observer.observe(sentinel);

  const stop = live.on('photo', async (event) => {
    if (bucket && event.bucket !== bucket) return;
    const card = cards.get(event.key);
    if (card) {
      updateCard(card, event);
      return;
    }
    // A photo we have not listed: newest first means it belongs at the top, if the filter
    // (or, without one, the upload prefix) covers it.
    const config = await getConfig().catch(() => null);
    const scope = prefixNow() || (config && config.upload_prefix) || '';
    if (!event.key.startsWith(scope) || cards.has(event.key)) return;
    const fresh = withRole(photoCard({ ...event, bytes: undefined }));
    cards.set(event.key, fresh);
    grid.prepend(fresh);
    status.replaceChildren();
  });

  loadPage(true);
  return () => { observer.disconnect(); stop(); clearTimeout(debounce); generation++; };
}

function withRole(card) {
  card.setAttribute('role', 'listitem');
  return card;
}

function isVisible(el) {
  const r = el.getBoundingClientRect();
  return r.top < window.innerHeight + 600;
}
