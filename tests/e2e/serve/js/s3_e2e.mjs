// AWS SDK for JavaScript v3 against an S3 endpoint, driven by ../test_js_sdk.py.
//
// Input: one JSON argument {endpoint, accessKeyId, secretAccessKey, bucket, prefix, workdir,
// files: {small, medium, big}}. Every step's result goes into one JSON document on stdout; the
// Python side compares bytes (files written under workdir) and the recorded wire headers.
// A failing step records {error: {name, message, status}} and the script goes on.
import { createReadStream, createWriteStream, readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";

import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  DeleteObjectsCommand, CreateBucketCommand, DeleteBucketCommand, CopyObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const cfg = JSON.parse(process.argv[2]);
const out = { steps: {}, wire: {} };

function client(extra = {}) {
  const c = new S3Client({
    endpoint: cfg.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
    maxAttempts: 1,
    ...extra,
  });
  // Record what actually goes on the wire (after checksums, aws-chunked and signing).
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const h = args.request.headers || {};
      const rec = {};
      for (const [k, v] of Object.entries(h)) rec[k.toLowerCase()] = String(v);
      rec[":path"] = args.request.path;
      rec[":query"] = args.request.query || {};
      (out.wire[context.commandName] ||= []).push(rec);
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "pfWireRecorder" },
  );
  return c;
}

const s3 = client();
const md5 = (buf) => createHash("md5").update(buf).digest("hex");
const key = (name) => `${cfg.prefix}${name}`;

async function step(name, fn) {
  try {
    out.steps[name] = (await fn()) ?? {};
  } catch (e) {
    out.steps[name] = {
      error: { name: e.name, message: String(e.message), status: e.$metadata?.httpStatusCode },
    };
  }
}

async function download(k, file, extra = {}) {
  const r = await s3.send(new GetObjectCommand({ Bucket: cfg.bucket, Key: k, ...extra }));
  await pipeline(r.Body, createWriteStream(join(cfg.workdir, file)));
  return {
    file, etag: r.ETag, contentType: r.ContentType, contentLength: r.ContentLength,
    contentRange: r.ContentRange, metadata: r.Metadata, status: r.$metadata.httpStatusCode,
  };
}

await step("putBuffer", async () => {
  const body = readFileSync(cfg.files.small);
  const r = await s3.send(new PutObjectCommand({
    Bucket: cfg.bucket, Key: key("buffer body.png"), Body: body, ContentType: "image/png",
    Metadata: { Owner: "js-sdk" }, ContentDisposition: "inline",
  }));
  return { etag: r.ETag, checksumCRC32: r.ChecksumCRC32 };
});

await step("putFileStream", async () => {
  // fs.ReadStream: the SDK knows the length -> aws-chunked with x-amz-decoded-content-length.
  const r = await s3.send(new PutObjectCommand({
    Bucket: cfg.bucket, Key: key("file stream+1.bin"), Body: createReadStream(cfg.files.medium),
  }));
  return { etag: r.ETag, checksumCRC32: r.ChecksumCRC32 };
});

await step("putGenericStream", async () => {
  // A generic Readable with an explicit ContentLength, delivered in odd-sized pieces.
  const data = readFileSync(cfg.files.medium);
  const pieces = [];
  for (let i = 0; i < data.length; i += 70001) pieces.push(data.subarray(i, i + 70001));
  const r = await s3.send(new PutObjectCommand({
    Bucket: cfg.bucket, Key: key("generic stream.bin"), Body: Readable.from(pieces),
    ContentLength: data.length,
  }));
  return { etag: r.ETag };
});

await step("getBuffer", () => download(key("buffer body.png"), "get-buffer.bin"));
await step("getFileStream", () => download(key("file stream+1.bin"), "get-file-stream.bin"));
await step("getGenericStream", () => download(key("generic stream.bin"), "get-generic-stream.bin"));
await step("getRange", () => download(key("file stream+1.bin"), "get-range.bin", { Range: "bytes=100-199" }));

await step("head", async () => {
  const r = await s3.send(new HeadObjectCommand({ Bucket: cfg.bucket, Key: key("buffer body.png") }));
  return { metadata: r.Metadata, contentType: r.ContentType, contentDisposition: r.ContentDisposition,
           contentLength: r.ContentLength, etag: r.ETag };
});

await step("copy", async () => {
  const r = await s3.send(new CopyObjectCommand({
    Bucket: cfg.bucket, Key: key("copied.png"),
    CopySource: encodeURIComponent(`${cfg.bucket}/${key("buffer body.png")}`),
  }));
  return { etag: r.CopyObjectResult?.ETag };
});

await step("libStorageUpload", async () => {
  const up = new Upload({
    client: s3,
    params: { Bucket: cfg.bucket, Key: key("big upload.bin"), Body: createReadStream(cfg.files.big) },
    partSize: 5 * 1024 * 1024,
    queueSize: 3,
  });
  const r = await up.done();
  return { etag: r.ETag, key: r.Key };
});
await step("getBig", () => download(key("big upload.bin"), "get-big.bin"));

await step("presigned", async () => {
  // Presigning with the default checksum config bakes an empty-body CRC32 into the URL (fact
  // sheet 1.9); users presign with WHEN_REQUIRED.
  const ps = client({ requestChecksumCalculation: "WHEN_REQUIRED" });
  const body = readFileSync(cfg.files.small);
  const putUrl = await getSignedUrl(ps, new PutObjectCommand({ Bucket: cfg.bucket, Key: key("presigned.bin") }), { expiresIn: 300 });
  const put = await fetch(putUrl, { method: "PUT", body });
  const getUrl = await getSignedUrl(ps, new GetObjectCommand({ Bucket: cfg.bucket, Key: key("presigned.bin") }), { expiresIn: 300 });
  const get = await fetch(getUrl);
  const got = Buffer.from(await get.arrayBuffer());
  return { putStatus: put.status, putEtag: put.headers.get("etag"), getStatus: get.status,
           getMd5: md5(got), getLength: got.length, putUrlHasSignature: putUrl.includes("X-Amz-Signature=") };
});

await step("list", async () => {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: cfg.bucket, Prefix: cfg.prefix }));
  return { keys: (r.Contents || []).map((o) => o.Key), sizes: (r.Contents || []).map((o) => o.Size),
           keyCount: r.KeyCount };
});

await step("listPaged", async () => {
  const keys = [];
  let token;
  let pages = 0;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: cfg.bucket, Prefix: cfg.prefix, MaxKeys: 2, ContinuationToken: token }));
    (r.Contents || []).forEach((o) => keys.push(o.Key));
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
    pages += 1;
  } while (token && pages < 100);
  return { keys, pages };
});

await step("deleteObjects", async () => {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: cfg.bucket, Prefix: cfg.prefix }));
  const r = await s3.send(new DeleteObjectsCommand({
    Bucket: cfg.bucket,
    Delete: { Objects: (listed.Contents || []).map((o) => ({ Key: o.Key })) },
  }));
  const after = await s3.send(new ListObjectsV2Command({ Bucket: cfg.bucket, Prefix: cfg.prefix }));
  return { deleted: (r.Deleted || []).map((d) => d.Key), errors: r.Errors || [], remaining: after.KeyCount };
});

await step("bucketLifecycle", async () => {
  const name = `js-${Date.now().toString(36)}`;
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  await s3.send(new PutObjectCommand({ Bucket: name, Key: "k", Body: "x" }));
  let notEmpty = null;
  try {
    await s3.send(new DeleteBucketCommand({ Bucket: name }));
  } catch (e) {
    notEmpty = e.name;
  }
  await s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: [{ Key: "k" }] } }));
  const d = await s3.send(new DeleteBucketCommand({ Bucket: name }));
  return { notEmpty, deleteStatus: d.$metadata.httpStatusCode };
});

await step("missingKey", async () => {
  try {
    await s3.send(new GetObjectCommand({ Bucket: cfg.bucket, Key: key("does-not-exist") }));
    return { thrown: null };
  } catch (e) {
    return { thrown: e.name, status: e.$metadata?.httpStatusCode };
  }
});

process.stdout.write(JSON.stringify(out));
