// The upload page (home): the drop zone (also a button opening the file picker; paste works
// anywhere on the page), overall progress and one row per file. The transfers themselves live
// in uploads.js; this page only renders them and forwards the person's actions.

import { h, formatBytes, errorBox } from '../dom.js';
import { getConfig } from '../state.js';
import * as uploads from '../uploads.js';
import { photoCard, updateCard, detailHref } from '../photo-card.js';

export function renderUpload(main) {
  const input = h('input', { type: 'file', multiple: true, accept: 'image/*', class: 'sr-only', id: 'file-input', tabindex: '-1', 'aria-label': 'Choose photos to upload' });
  const dropzone = h('button', { type: 'button', class: 'dropzone', 'data-testid': 'dropzone', 'aria-describedby': 'dropzone-help' },
    h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }, '⇪'),
    h('span', { class: 'dropzone-title' }, 'Drop photos here or choose files'),
    h('span', { class: 'dropzone-help', id: 'dropzone-help' }, 'You can also paste an image from the clipboard.'));
  const target = h('p', { class: 'muted upload-target' }, 'Loading the upload settings…');
  const overall = h('progress', { 'data-testid': 'overall-progress', max: 1, value: 0, 'aria-label': 'Overall upload progress' });
  const summary = h('span', { class: 'overall-text' });
  const cancelAll = h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => uploads.cancelAll() }, 'Cancel all');
  const clearDone = h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => uploads.clearFinished() }, 'Clear finished');
  const overallBox = h('div', { class: 'card overall', hidden: true },
    h('div', { class: 'overall-head' }, summary, h('div', { class: 'overall-actions' }, cancelAll, clearDone)), overall);
  const listEl = h('ul', { class: 'upload-list', 'aria-label': 'Uploads' });
  const problem = h('div');
  const rows = new Map();   // entry id -> row element
  let config = null;

  main.append(h('section', { class: 'page', 'aria-labelledby': 'upload-title' },
    h('div', { class: 'page-head' }, h('h1', { id: 'upload-title' }, 'Upload photos'), target),
    problem, dropzone, input, overallBox, listEl));

  getConfig().then((c) => {
    config = c;
    target.textContent = `Photos go to s3://${c.default_bucket}/${c.upload_prefix || ''}; files above ${formatBytes(c.multipart_threshold_bytes)} are sent in parts.`;
  }).catch((err) => {
    target.textContent = '';
    problem.replaceChildren(errorBox(err, 'The upload settings could not be loaded'));
  });

  function addFiles(fileList, pasted = false) {
    let files = Array.from(fileList || []);
    if (pasted) files = files.map(renamePasted);
    if (files.length === 0) return;
    if (!config) {
      problem.replaceChildren(errorBox({ message: 'The upload settings are not loaded yet; try again in a moment.' }));
      return;
    }
    uploads.add(files, config);
  }

  dropzone.addEventListener('click', () => input.click());
  input.addEventListener('change', () => { addFiles(input.files); input.value = ''; });

  // Drops anywhere on the page count (a drop beside the zone must not open the file in the tab);
  // the zone highlights while files are dragged over the page.
  let depth = 0;
  const onDragEnter = (e) => { if (hasFiles(e)) { e.preventDefault(); depth++; dropzone.classList.add('dragging'); } };
  const onDragLeave = () => { depth = Math.max(0, depth - 1); if (depth === 0) dropzone.classList.remove('dragging'); };
  const onDragOver = (e) => { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } };
  const onDrop = (e) => {
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    depth = 0;
    dropzone.classList.remove('dragging');
    addFiles(e.dataTransfer.files);
  };
  const onPaste = (e) => {
    const files = e.clipboardData ? e.clipboardData.files : null;
    if (files && files.length) { e.preventDefault(); addFiles(files, true); }
  };
  document.addEventListener('dragenter', onDragEnter);
  document.addEventListener('dragleave', onDragLeave);
  document.addEventListener('dragover', onDragOver);
  document.addEventListener('drop', onDrop);
  document.addEventListener('paste', onPaste);

  function sync(entry) {
    if (entry === null) {
      // The list itself changed: add rows for new entries, drop rows of removed ones, keep order.
      const current = uploads.list();
      const ids = new Set(current.map((e) => e.id));
      for (const [id, row] of rows) if (!ids.has(id)) { row.remove(); rows.delete(id); }
      for (const e of current) {
        if (!rows.has(e.id)) rows.set(e.id, buildRow(e));
        listEl.append(rows.get(e.id));
        updateRow(rows.get(e.id), e);
      }
    } else if (rows.has(entry.id)) {
      updateRow(rows.get(entry.id), entry);
    }
    updateOverall();
  }

  function updateOverall() {
    const all = uploads.list();
    overallBox.hidden = all.length === 0;
    const counted = all.filter((e) => e.upload.state !== 'cancelled');
    const total = counted.reduce((a, e) => a + e.upload.total, 0);
    const loaded = counted.reduce((a, e) => a + Math.min(e.upload.loaded, e.upload.total), 0);
    overall.max = Math.max(total, 1);
    overall.value = total === 0 ? (counted.length ? 1 : 0) : loaded;
    const sent = counted.filter((e) => e.upload.state === 'uploaded').length;
    const done = counted.filter((e) => uploads.displayStatus(e) === 'done').length;
    const failed = counted.filter((e) => uploads.displayStatus(e) === 'failed').length;
    summary.textContent = `${sent} of ${counted.length} uploaded · ${done} processed` +
      (failed ? ` · ${failed} failed` : '') + ` · ${formatBytes(loaded)} of ${formatBytes(total)}`;
    cancelAll.disabled = !all.some((e) => e.upload.state === 'queued' || e.upload.state === 'uploading');
    clearDone.disabled = !all.some(uploads.isFinal);
  }

  // Frequent progress events are coalesced into one repaint per frame.
  const dirty = new Set();
  let frame = 0;
  const stop = uploads.onChange((entry) => {
    dirty.add(entry);
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; const batch = [...dirty]; dirty.clear(); if (batch.includes(null)) sync(null); else batch.forEach(sync); });
  });
  sync(null);

  return () => {
    stop();
    cancelAnimationFrame(frame);
    document.removeEventListener('dragenter', onDragEnter);
    document.removeEventListener('dragleave', onDragLeave);
    document.removeEventListener('dragover', onDragOver);
    document.removeEventListener('drop', onDrop);
    document.removeEventListener('paste', onPaste);
  };
}

function buildRow(entry) {
  const { upload } = entry;
  const card = photoCard({ bucket: upload.bucket, key: upload.key, status: 'uploaded' }, { compact: true });
  const progress = h('progress', { max: Math.max(upload.total, 1), value: 0, 'aria-label': `Upload progress of ${entry.name}` });
  const status = h('span', { class: 'badge', 'data-testid': 'upload-status' });
  const reason = h('span', { class: 'upload-reason', 'data-testid': 'upload-reason', hidden: true });
  const detail = h('a', { class: 'upload-detail', href: detailHref(upload.bucket, upload.key), hidden: true }, 'View details');
  const cancel = h('button', { type: 'button', class: 'btn btn-small', onclick: () => uploads.cancel(entry), 'aria-label': `Cancel ${entry.name}` }, 'Cancel');
  const retry = h('button', { type: 'button', class: 'btn btn-small', onclick: () => uploads.retry(entry), 'aria-label': `Retry ${entry.name}` }, 'Retry');
  const row = h('li', { class: 'card upload-row', 'data-testid': 'upload-row', 'data-name': entry.name },
    card,
    h('div', { class: 'upload-main' },
      h('div', { class: 'upload-head' }, h('span', { class: 'upload-name', title: upload.key }, entry.name), h('span', { class: 'upload-size muted' }, formatBytes(upload.total))),
      progress,
      h('div', { class: 'upload-foot' }, status, reason, detail)),
    h('div', { class: 'upload-actions' }, cancel, retry));
  row._parts = { card, progress, status, reason, detail, cancel, retry };
  return row;
}

function updateRow(row, entry) {
  const p = row._parts;
  const { upload } = entry;
  const shown = uploads.displayStatus(entry);
  p.progress.max = Math.max(upload.total, 1);
  p.progress.value = upload.total === 0 ? (upload.state === 'uploaded' ? 1 : 0) : Math.min(upload.loaded, upload.total);
  p.status.textContent = shown;
  p.status.className = `badge badge-${shown}`;
  row.dataset.status = shown;
  const why = upload.state === 'failed' ? upload.reason : (shown === 'failed' ? entry.photo.reason : null);
  p.reason.hidden = !why;
  p.reason.textContent = why || '';
  p.detail.hidden = upload.state !== 'uploaded';
  p.cancel.hidden = !(upload.state === 'queued' || upload.state === 'uploading');
  p.retry.hidden = !(shown === 'failed' || shown === 'cancelled');
  updateCard(p.card, { ...entry.photo, bucket: upload.bucket, key: upload.key, status: shown });
}

function hasFiles(e) {
  return e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
}

// Clipboard images are all called "image.png": give each a unique, dated name instead so two
// pastes do not overwrite each other.
let pasteCount = 0;
function renamePasted(file) {
  const ext = (file.type.split('/')[1] || 'png').replace('jpeg', 'jpg').replace(/[^a-z0-9]/g, '');
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return new File([file], `pasted-${stamp}-${++pasteCount}.${ext}`, { type: file.type });
}
