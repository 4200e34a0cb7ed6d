// One photo: a preview, every derivative (name, format, size, bytes, download), the manifest's
// metadata (GPS only behind the "Show private fields" switch), the original and the raw
// manifest. The manifest marks the location private; it is left out of the raw JSON view too
// until the switch is on, so a screen share does not leak it by accident.

import { api, qs } from '../api.js';
import { h, errorBox, formatBytes, formatTime, baseName, badge } from '../dom.js';
import { placeholderUrl } from '../blurhash.js';
import * as live from '../live.js';

export function renderPhoto(main, params) {
  const bucket = params.get('bucket') || '';
  const key = params.get('key') || '';
  const section = h('section', { class: 'page', 'aria-labelledby': 'photo-title' },
    h('p', { class: 'back' }, h('a', { href: '#/gallery' }, '← Gallery')),
    h('h1', { id: 'photo-title', class: 'photo-heading' }, baseName(key) || 'Photo'));
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  section.append(body);
  main.append(section);

  let showPrivate = false;
  let data = null;

  async function load() {
    try {
      data = await api('photo' + qs({ bucket, key }));
      draw();
    } catch (err) {
      body.replaceChildren(errorBox(err, 'This photo could not be loaded'));
    }
  }

  function draw() {
    const { photo, manifest, derivatives = [], original } = data;
    const exif = (manifest && manifest.exif) || {};
    const parts = [];
    parts.push(h('div', { class: 'photo-status' }, badge(photo.status),
      photo.status === 'failed' && photo.reason ? h('span', { class: 'photo-reason' }, photo.reason) : null,
      h('span', { class: 'muted' }, `s3://${photo.bucket}/${photo.key}`)));

    const preview = pickPreview(derivatives);
    if (preview) {
      const frame = h('div', { class: 'hero' });
      const ph = placeholderUrl(photo.placeholder || (manifest && manifest.placeholder));
      if (ph) frame.style.backgroundImage = `url("${ph}")`;
      const img = h('img', { src: preview.url, alt: baseName(photo.key), class: 'is-loading', decoding: 'async' });
      img.addEventListener('load', () => img.classList.remove('is-loading'));
      frame.append(img);
      if (preview.width && preview.height) frame.style.aspectRatio = `${preview.width} / ${preview.height}`;
      parts.push(frame);
    }

    parts.push(h('div', { class: 'detail-grid' },
      h('div', { class: 'card panel' }, h('h2', {}, 'Camera'), metadataList(exif)),
      h('div', { class: 'card panel' }, h('h2', {}, 'Original'), originalList(original))));

    parts.push(h('div', { class: 'card panel' }, h('h2', {}, 'Derivatives'),
      derivatives.length ? derivativeTable(derivatives) : h('p', { class: 'muted' }, photo.status === 'done' ? 'This recipe made no derivatives.' : 'None yet: the photo is not processed.')));

    const toggle = h('input', { type: 'checkbox', role: 'switch', id: 'show-private', class: 'switch-input', checked: showPrivate });
    toggle.addEventListener('change', () => { showPrivate = toggle.checked; draw(); document.getElementById('show-private').focus(); });
    const privatePanel = h('div', { class: 'card panel' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'Private fields'),
        h('span', { class: 'switch' }, toggle, h('label', { for: 'show-private' }, 'Show private fields'))));
    if (showPrivate) {
      privatePanel.append(exif.gps ? gpsList(exif.gps) : h('p', { class: 'muted' }, 'This photo has no location.'));
    } else {
      privatePanel.append(h('p', { class: 'muted' }, 'The location (GPS) is hidden.'));
    }
    parts.push(privatePanel);

    if (manifest) {
      parts.push(h('details', { class: 'card panel raw' }, h('summary', {}, 'Raw manifest (JSON)'),
        h('pre', { class: 'code' }, JSON.stringify(showPrivate ? manifest : redact(manifest), null, 2))));
    }
    body.replaceChildren(...parts);
  }

  // Reload when this photo changes state (e.g. it was still processing when the page opened).
  const stop = live.on('photo', (event) => {
    if (event.bucket === bucket && event.key === key && data && event.status !== data.photo.status) load();
  });
  load();
  return stop;
}

// The largest image derivative the browser can show, but not a huge one.
function pickPreview(derivatives) {
  const images = derivatives.filter((d) => /^image\/(jpeg|png|webp|avif|gif)$/.test(d.content_type || ''));
  images.sort((a, b) => (a.width || 0) - (b.width || 0));
  return images.filter((d) => (d.width || 0) <= 2048).pop() || images[0] || null;
}

function withDownload(url) {
  return url + (url.includes('?') ? '&' : '?') + 'download=1';
}

function derivativeTable(derivatives) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, ['Name', 'Format', 'Width', 'Height', 'Size', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, derivatives.map((d) => h('tr', { 'data-testid': 'derivative-row', 'data-name': d.name },
      h('th', { scope: 'row' }, d.name),
      h('td', { 'data-field': 'format' }, d.format || ''),
      h('td', { 'data-field': 'width' }, d.width ?? ''),
      h('td', { 'data-field': 'height' }, d.height ?? ''),
      h('td', { 'data-field': 'bytes', 'data-bytes': d.bytes, title: `${d.bytes} bytes` }, formatBytes(d.bytes)),
      h('td', {}, h('a', { href: withDownload(d.url), download: '', 'aria-label': `Download ${d.name}` }, 'Download')))))));
}

function dl(rows) {
  const present = rows.filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (present.length === 0) return h('p', { class: 'muted' }, 'No camera data in this photo.');
  return h('dl', { class: 'facts' }, present.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function metadataList(exif) {
  return dl([
    ['Camera', cameraName(exif)],
    ['Lens', exif.lens],
    ['Exposure', exif.exposure_time ? `${exif.exposure_time} s` : null],
    ['Aperture', exif.f_number ? `f/${exif.f_number}` : null],
    ['ISO', exif.iso],
    ['Focal length', exif.focal_length_mm ? `${exif.focal_length_mm} mm` : null],
    ['Date taken', exif.date_taken],
  ]);
}

// Most cameras repeat the make in the model ("Canon" + "Canon EOS 70D"): say it once.
function cameraName(exif) {
  const make = (exif.make || '').trim(), model = (exif.model || '').trim();
  if (make && model.toLowerCase().startsWith(make.toLowerCase())) return model;
  return [make, model].filter(Boolean).join(' ');
}

function originalList(original) {
  if (!original) return h('p', { class: 'muted' }, 'The original is gone.');
  return h('div', {}, h('dl', { class: 'facts' },
    h('dt', {}, 'Size'), h('dd', { title: `${original.bytes} bytes` }, formatBytes(original.bytes)),
    h('dt', {}, 'Type'), h('dd', {}, original.content_type || '—'),
    h('dt', {}, 'Uploaded'), h('dd', {}, formatTime(original.last_modified)),
    h('dt', {}, 'ETag'), h('dd', { class: 'mono' }, original.etag || '—')),
    original.url ? h('a', { class: 'btn', href: withDownload(original.url), download: '' }, 'Download original') : null);
}

function gpsList(gps) {
  const lat = Number(gps.latitude), lon = Number(gps.longitude);
  return dl([
    ['Latitude', Number.isFinite(lat) ? lat.toFixed(6) : null],
    ['Longitude', Number.isFinite(lon) ? lon.toFixed(6) : null],
    ['Altitude', gps.altitude !== undefined ? `${gps.altitude} m` : null],
  ]);
}

function redact(manifest) {
  const copy = JSON.parse(JSON.stringify(manifest));
  if (copy.exif && copy.exif.gps) copy.exif.gps = '(hidden: turn on “Show private fields”)';
  return copy;
}
