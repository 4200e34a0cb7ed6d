// The upload engine: one Upload per file, straight from the browser to the S3 API with URLs the
// console presigns (POST /_/console/api/presign). Small files are a single PUT; files above the
// server's multipart threshold use CreateMultipartUpload, parts 4 at a time and
// CompleteMultipartUpload, and an abort on cancel or failure so no orphan parts stay behind.
// XMLHttpRequest rather than fetch: fetch cannot report upload progress. No DOM here: the
// upload page renders what onChange reports.

import { api, textOf } from './api.js';

const PARTS_IN_FLIGHT = 4;
const PART_ATTEMPTS = 3;

export class Upload {
  // config: GET /_/console/api/config
  constructor(file, { bucket, key, config, onChange }) {
    this.file = file;
    this.bucket = bucket;
    this.key = key;
    this.config = config;
    this.onChange = onChange || (() => {});
    this.reset();
  }

  reset() {
    this.state = 'queued';
    this.loaded = 0;
    this.total = this.file.size;
    this.reason = null;
    this.etag = null;
    this.uploadId = null;
    this.xhrs = new Set();
    this.cancelled = false;
  }

  get contentType() { return this.file.type || 'application/octet-stream'; }

  set(fields) {
    Object.assign(this, fields);
    this.onChange(this);
  }

  async start() {
    if (this.cancelled) return;
    const limit = Number(this.config.max_object_bytes) || 0;
    if (limit && this.file.size > limit) {
      this.set({ state: 'failed', reason: `The file is larger than the server's limit of ${limit} bytes.` });
      return;
    }
    this.set({ state: 'uploading', loaded: 0 });
    try {
      const threshold = Number(this.config.multipart_threshold_bytes) || 16 * 1024 * 1024;
      const etag = this.file.size > threshold ? await this.multipart() : await this.single();
      if (this.cancelled) return;
      this.set({ state: 'uploaded', etag: stripQuotes(etag), loaded: this.total });
    } catch (err) {
      if (this.cancelled) return;
      this.abortRequests();
      this.set({ state: 'failed', reason: err.message || String(err) });
      if (this.uploadId) this.abortMultipart(this.uploadId);
    }
  }

  cancel() {
    if (this.state !== 'queued' && this.state !== 'uploading') return;
    this.cancelled = true;
    this.abortRequests();
    if (this.uploadId) this.abortMultipart(this.uploadId);
    this.set({ state: 'cancelled', reason: null });
  }

  abortRequests() {
    this.xhrs.forEach((xhr) => xhr.abort());
    this.xhrs.clear();
  }

  async presign(method, query = {}) {
    const res = await api('presign', { method: 'POST', json: { method, bucket: this.bucket, key: this.key, query } });
    return res.url;
  }

  async single() {
    const url = await this.presign('PUT');
    const res = await this.send('PUT', url, this.file, (loaded) => this.set({ loaded }));
    return res.etag || '';
  }

  async multipart() {
    const partBytes = Math.max(5 * 1024 * 1024, Number(this.config.part_bytes) || 8 * 1024 * 1024);
    const created = await this.send('POST', await this.presign('POST', { uploads: '' }), null, null, true);
    const uploadId = textOf(created.xml, 'UploadId');
    if (!uploadId) throw new Error('The server did not return an UploadId.');
    this.uploadId = uploadId;

    const count = Math.ceil(this.file.size / partBytes);
    const etags = new Array(count);
    const partLoaded = new Array(count).fill(0);
    let next = 0;
    const progress = () => this.set({ loaded: partLoaded.reduce((a, b) => a + b, 0) });

    const uploadPart = async (index) => {
      const blob = this.file.slice(index * partBytes, Math.min(this.file.size, (index + 1) * partBytes));
      for (let attempt = 1; ; attempt++) {
        try {
          const url = await this.presign('PUT', { partNumber: String(index + 1), uploadId });
          const res = await this.send('PUT', url, blob, (loaded) => { partLoaded[index] = loaded; progress(); });
          if (!res.etag) throw new Error('The part\'s ETag header is missing from the reply.');
          etags[index] = res.etag;
          partLoaded[index] = blob.size;
          progress();
          return;
        } catch (err) {
          // A dropped connection is worth another try; a refusal from S3 (4xx) is not.
          if (this.cancelled || attempt >= PART_ATTEMPTS || (err.status >= 400 && err.status < 500)) throw err;
          partLoaded[index] = 0;
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    };
    // A fixed pool of workers pulling the next part number keeps exactly 4 requests in flight.
    const worker = async () => {
      while (!this.cancelled && next < count) await uploadPart(next++);
    };
    await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, count) }, worker));
    if (this.cancelled) return '';

    const body = '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`).join('') +
      '</CompleteMultipartUpload>';
    const done = await this.send('POST', await this.presign('POST', { uploadId }), body, null, true, 'application/xml');
    this.uploadId = null;
    return textOf(done.xml, 'ETag');
  }

  // Best effort: the server also expires abandoned uploads, so a failed abort is not an error.
  async abortMultipart(uploadId) {
    this.uploadId = null;
    try {
      const url = await this.presign('DELETE', { uploadId });
      await fetch(url, { method: 'DELETE' });
    } catch { /* ignored, see above */ }
  }

  // One S3 request. Resolves {status, etag, xml}; rejects with S3's own error message (its XML
  // <Error>), which CompleteMultipartUpload may send even with a 200.
  send(method, url, body, onProgress, wantXml = false, contentType = this.contentType) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhrs.add(xhr);
      xhr.open(method, url);
      if (body) xhr.setRequestHeader('Content-Type', contentType);
      if (method === 'POST' && !body) xhr.setRequestHeader('Content-Type', this.contentType);
      if (onProgress) xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
      xhr.addEventListener('load', () => {
        this.xhrs.delete(xhr);
        const xml = xhr.responseText ? new DOMParser().parseFromString(xhr.responseText, 'application/xml') : null;
        const s3Error = xml && xml.documentElement && xml.documentElement.localName === 'Error';
        if (xhr.status >= 200 && xhr.status < 300 && !s3Error) {
          resolve({ status: xhr.status, etag: xhr.getResponseHeader('ETag'), xml: wantXml ? xml : null });
          return;
        }
        const message = s3Error ? (textOf(xml, 'Message') || textOf(xml, 'Code')) : '';
        const err = new Error(message ? `S3 refused the upload: ${message}` : `S3 answered ${xhr.status} ${xhr.statusText}`);
        err.status = xhr.status;
        reject(err);
      });
      xhr.addEventListener('error', () => { this.xhrs.delete(xhr); reject(new Error('The connection to the server failed.')); });
      xhr.addEventListener('abort', () => { this.xhrs.delete(xhr); reject(new Error('Cancelled.')); });
      xhr.send(body);
    });
  }
}

export function stripQuotes(etag) { return (etag || '').replace(/^"+|"+$/g, ''); }

function escapeXml(s) { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
