// The web console of `photoflux serve` (docs/console.md) driven in headless Chromium through
// playwright-core, as a person uses it; run by ../test_console.py, which starts the server and a
// webhook receiver and checks the server side afterwards.
//
// Input (environment): PF_URL (the server), PF_ACCESS_KEY / PF_SECRET_KEY (the API key pair),
// PF_WEBHOOK_URL (an HTTP endpoint to subscribe), PF_PHOTOS (paths of real photos, separated by
// ':'), PF_CORRUPT (a file that is not a decodable image), PF_SCREENSHOT_DIR (PNG files go there).
// Optional: PF_CHROMIUM (default /usr/bin/chromium), PF_CONSOLE_PHOTO_WAIT_MS (per photo, default
// 60000), PF_CONSOLE_UI_WAIT_MS (anything else, default 15000).
//
// Steps run in order, each printed as `STEP <n> <name>: ok` or `STEP <n> <name>: FAILED`; the
// first failure ends the run (later steps need the earlier ones) with a screenshot, what was being
// waited for and what was last seen, the page's console errors and failed requests. Any uncaught
// error in the page fails the step it happened in. The last line is `PF_RESULT {json}` for the
// Python side. Exit status: 0 all steps passed, 1 a step failed, 2 bad input.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`console_browser: environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}

const BASE = need("PF_URL").replace(/\/+$/, "");
const ACCESS_KEY = need("PF_ACCESS_KEY");
const SECRET_KEY = need("PF_SECRET_KEY");
const WEBHOOK_URL = need("PF_WEBHOOK_URL");
const PHOTOS = need("PF_PHOTOS").split(":").filter(Boolean);
const CORRUPT = need("PF_CORRUPT");
const SHOTS = need("PF_SCREENSHOT_DIR");
const CHROMIUM = process.env.PF_CHROMIUM || "/usr/bin/chromium";
const PHOTO_WAIT_MS = Number(process.env.PF_CONSOLE_PHOTO_WAIT_MS || 60000);
const UI_WAIT_MS = Number(process.env.PF_CONSOLE_UI_WAIT_MS || 15000);
const MAX_INPUT_BYTES = 32 * 1024 * 1024; // files are sent into the page as base64

for (const p of [...PHOTOS, CORRUPT]) {
  if (!existsSync(p) || statSync(p).size > MAX_INPUT_BYTES) {
    console.error(`console_browser: ${p} is missing or larger than ${MAX_INPUT_BYTES} bytes`);
    process.exit(2);
  }
}
if (PHOTOS.length < 1) {
  console.error("console_browser: PF_PHOTOS names no photo");
  process.exit(2);
}
mkdirSync(SHOTS, { recursive: true });

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const SCHEMES = ["light", "dark"];
// The order in which an upload moves (docs/console.md); a row never goes back.
const UPLOAD_ORDER = ["queued", "uploading", "uploaded", "processing", "done"];
// What a corrupt upload's reason should say, in some wording.
const REASON_RE = /corrupt|unsupported|not a supported|broken|not a known|invalid|cannot decode/i;
// The access key id field (not the "secret access key" one).
const ACCESS_KEY_LABEL = /^(?!.*secret).*access key/i;

const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const show = (v) => (typeof v === "string" ? v : JSON.stringify(v));

const pageErrors = []; // uncaught exceptions in the page: each fails the step
const consoleErrors = []; // console.error and failed loads: printed, not failing by themselves
const failedRequests = [];
const screenshots = [];
const warnings = [];
const result = { steps: [], screenshots, warnings };
let waitingFor = "(nothing)";
let lastSeen = "(nothing)";

class Fatal extends Error {} // a probe saw something that cannot get better (e.g. "failed")

// Polls probe() until it returns {ok: true, value}; a probe that throws is retried (the page may
// be re-rendering) unless it threw Fatal. On timeout: an error naming what was awaited and what
// was seen last.
async function until(what, probe, timeoutMs = UI_WAIT_MS) {
  waitingFor = what;
  lastSeen = "(nothing yet)";
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await probe();
      lastSeen = r.seen ?? r.value ?? r;
      if (r.ok) {
        waitingFor = "(nothing)";
        return r.value;
      }
    } catch (e) {
      if (e instanceof Fatal) throw new Error(`while waiting for ${what}: ${e.message}`);
      lastSeen = `probe threw: ${String(e.message).split("\n")[0]}`;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; ` +
        `last seen: ${show(lastSeen)}`);
    }
    await sleep(250);
  }
}

// --- browser ----------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  timeout: 60000,
});
const context = await browser.newContext({ viewport: VIEWPORTS.desktop, colorScheme: "light" });
context.setDefaultTimeout(UI_WAIT_MS);
const page = await context.newPage();
page.on("pageerror", (e) => {
  pageErrors.push(`${e.name}: ${e.message}`);
  log(`PAGE ERROR ${e.name}: ${e.message}`);
});
page.on("console", (m) => {
  // Loads answered 401 are expected before sign-in and after sign-out.
  if (m.type() === "error" && !/status of 401/.test(m.text())) consoleErrors.push(`${m.text()} (${m.location().url || "?"})`);
});
page.on("requestfailed", (r) => {
  // An EventSource closed by a page change is not a failure worth reporting.
  const why = r.failure()?.errorText || "";
  if (!why.includes("ERR_ABORTED")) failedRequests.push(`${r.method()} ${r.url()}: ${why}`);
});

// fetch() from the page: same origin, the session cookie goes along (as the app's own calls).
async function api(method, path, body, csrf) {
  return page.evaluate(async ({ method, path, body, csrf }) => {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const r = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, type: r.headers.get("content-type"), text: text.slice(0, 2000), json };
  }, { method, path, body, csrf });
}

// One screenshot per viewport and colour scheme: <page>-<desktop|phone>-<light|dark>.png.
async function shootAll(name) {
  for (const [vp, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await sleep(150);
      const file = join(SHOTS, `${name}-${vp}-${scheme}.png`);
      await page.screenshot({ path: file, fullPage: true });
      screenshots.push(file);
      log(`screenshot ${file}`);
      if (vp === "phone") {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
        if (overflow > size.width + 1) {
          warnings.push(`${name}: at ${size.width}px wide the page is ${overflow}px wide (scrolls sideways)`);
        }
      }
    }
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.emulateMedia({ colorScheme: "light" });
}

// The main navigation: a link (or button) with the page's name, as a person finds it.
async function go(name) {
  const re = new RegExp(`^\\s*${name}\\s*$`, "i");
  const target = page.getByRole("link", { name: re }).or(page.getByRole("button", { name: re }))
    .filter({ visible: true }).first();
  await target.click();
}

// The state of every upload row, read in the page.
const uploadRows = () => page.evaluate(() => {
  const norm = (t) => ((t || "").trim().toLowerCase().match(/[a-z]+/) || [""])[0];
  return [...document.querySelectorAll("[data-testid=upload-row]")].map((row) => {
    const p = row.querySelector("progress");
    const s = row.querySelector("[data-testid=upload-status]");
    const reason = row.querySelector("[data-testid=upload-reason]");
    return {
      name: row.dataset.name,
      status: s ? norm(s.dataset.status || s.textContent) : null,
      statusText: s ? s.textContent.trim() : null,
      value: p ? p.value : null,
      max: p ? p.max : null,
      reason: reason ? reason.textContent.trim() : null,
    };
  });
});

// Records every status each upload row shows, as it changes (a MutationObserver in the page),
// so the sequence can be checked afterwards: window.__pfStatusLog = {name: [status, ...]}.
async function recordStatuses() {
  await page.evaluate(() => {
    if (window.__pfStatusLog) return;
    window.__pfStatusLog = {};
    const norm = (t) => ((t || "").trim().toLowerCase().match(/[a-z]+/) || [""])[0];
    const scan = () => {
      for (const row of document.querySelectorAll("[data-testid=upload-row]")) {
        const s = row.querySelector("[data-testid=upload-status]");
        if (!s) continue;
        const st = norm(s.dataset.status || s.textContent);
        const seq = (window.__pfStatusLog[row.dataset.name] ||= []);
        if (st && seq[seq.length - 1] !== st) seq.push(st);
      }
    };
    new MutationObserver(scan).observe(document.body,
      { subtree: true, childList: true, characterData: true, attributes: true });
    scan();
  });
}

// Builds File objects from the files' bytes in the page and drops them on the drop zone with
// real drag events (dragenter, dragover, drop) carrying one DataTransfer.
async function dropFiles(files) {
  const payload = files.map(({ path, name }) => ({
    name: name || basename(path),
    type: "image/jpeg",
    b64: readFileSync(path).toString("base64"),
  }));
  const dt = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bin = atob(f.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      dt.items.add(new File([bytes], f.name, { type: f.type, lastModified: Date.now() }));
    }
    return dt;
  }, payload);
  const zone = page.locator("[data-testid=dropzone]");
  await zone.waitFor({ state: "visible" });
  await recordStatuses(); // (again after a reload)
  for (const type of ["dragenter", "dragover", "drop"]) {
    await zone.dispatchEvent(type, { dataTransfer: dt });
  }
  await dt.dispose();
  return payload.map((f) => f.name);
}

// The loaded thumbnail of an upload row or of its photo card: an <img> served by the console's
// object endpoint (not the blurhash placeholder) whose pixels arrived (naturalWidth > 0).
const thumbnailOf = (name, key) => page.evaluate(({ name, key }) => {
  const holders = [
    ...[...document.querySelectorAll("[data-testid=upload-row]")].filter((r) => r.dataset.name === name),
    ...[...document.querySelectorAll("[data-testid=photo-card]")].filter((c) => c.dataset.key === key),
  ];
  const imgs = holders.flatMap((h) => [...h.querySelectorAll("img")]);
  const seen = imgs.map((i) => ({ src: (i.currentSrc || i.src).slice(0, 160), complete: i.complete, w: i.naturalWidth }));
  const good = imgs.find((i) => i.complete && i.naturalWidth > 0 &&
    (i.currentSrc || i.src).includes("/_/console/api/object"));
  return { ok: !!good, value: good && { src: good.currentSrc, w: good.naturalWidth, h: good.naturalHeight },
    seen: { holders: holders.length, imgs: seen } };
}, { name, key });

const cards = () => page.evaluate(() =>
  [...document.querySelectorAll("[data-testid=photo-card]")].map((c) => ({
    key: c.dataset.key, status: c.dataset.status,
    img: (() => { const i = c.querySelector("img"); return i ? { w: i.naturalWidth, src: (i.currentSrc || i.src).slice(0, 120) } : null; })(),
  })));

// --- the steps ----------------------------------------------------------------------------------

let config = null; // GET /_/console/api/config once signed in
let csrf = null;
const photoNames = PHOTOS.map((p) => basename(p));
const keyOf = (name) => `${config.upload_prefix}${name}`;

async function waitUploads(names, finalStatus) {
  // Progress first: every row's bytes went (value == max), then the overall bar.
  for (const name of names) {
    await until(`upload row ${name}: progress value == max`, async () => {
      const row = (await uploadRows()).find((r) => r.name === name);
      if (row && row.status === "failed" && finalStatus !== "failed") {
        throw new Fatal(`${name} failed: ${row.reason}`);
      }
      return { ok: !!row && row.max > 0 && row.value === row.max, seen: row || "no such row" };
    }, PHOTO_WAIT_MS);
  }
  await until("overall progress value == max", async () => {
    const p = await page.evaluate(() => {
      const el = document.querySelector("[data-testid=overall-progress]");
      return el ? { value: el.value, max: el.max, visible: !!el.offsetParent } : null;
    });
    return { ok: !!p && p.max > 0 && p.value === p.max, seen: p || "no overall progress element" };
  });
  // Then each reaches its final status (processing happens on the server: generous timeout).
  const rows = {};
  for (const name of names) {
    rows[name] = await until(`upload row ${name}: status ${finalStatus}`, async () => {
      const row = (await uploadRows()).find((r) => r.name === name);
      if (row && row.status !== finalStatus && ["failed", "cancelled"].includes(row.status)) {
        throw new Fatal(`${name} is ${row.status}: ${row.reason}`);
      }
      return { ok: !!row && row.status === finalStatus, value: row, seen: row || "no such row" };
    }, PHOTO_WAIT_MS);
  }
  // The statuses each row showed (recorded since the drop) moved forward only, to the end.
  const seq = await page.evaluate(() => window.__pfStatusLog || {});
  const order = [...UPLOAD_ORDER.slice(0, -1), finalStatus];
  for (const name of names) {
    const s = seq[name] || [];
    log(`${name}: ${s.join(" -> ")}`);
    assert.equal(s[s.length - 1], finalStatus, `${name}: statuses recorded ${show(s)}`);
    const idx = s.map((x) => order.indexOf(x));
    assert.ok(idx.every((i) => i >= 0), `${name} showed a status outside ${order}: ${s}`);
    assert.ok(idx.every((v, i) => i === 0 || v > idx[i - 1]), `${name} went backwards: ${s.join(" -> ")}`);
  }
  return rows;
}

async function step1SignIn() {
  const resp = await page.goto(BASE + "/", { waitUntil: "domcontentloaded" });
  const from = resp.request().redirectedFrom();
  assert.ok(from, `GET / was not redirected (landed on ${page.url()}, status ${resp.status()})`);
  assert.equal((await from.response()).status(), 302, "GET / from a browser answers 302");
  assert.ok(page.url().startsWith(BASE + "/_/console/"), `landed on ${page.url()}, not the console`);

  const accessKey = page.getByRole("textbox", { name: ACCESS_KEY_LABEL });
  const secret = page.getByLabel(/secret/i);
  await until("the sign-in form (access key id and secret fields)", async () => {
    if (!(await accessKey.isVisible())) {
      // A sign-in with two kinds (key pair / console user) may show the other kind first.
      const mode = page.getByRole("tab", { name: /access key|api key/i })
        .or(page.getByRole("radio", { name: /access key|api key/i }));
      if (await mode.count()) await mode.first().click();
    }
    return { ok: (await accessKey.isVisible()) && (await secret.isVisible()),
      seen: (await page.locator("body").innerText()).slice(0, 300) };
  });

  // Nothing but the sign-in before signing in: no navigation, no drop zone, no data.
  const visibleTestIds = await page.evaluate(() => [...document.querySelectorAll("[data-testid]")]
    .filter((e) => e.offsetParent !== null || e.getClientRects().length > 0)
    .map((e) => e.dataset.testid));
  assert.deepEqual(visibleTestIds, [], "elements visible before sign-in");
  for (const n of ["Upload", "Gallery", "Notifications", "Settings"]) {
    const c = await page.getByRole("link", { name: new RegExp(`^\\s*${n}\\s*$`, "i") })
      .filter({ visible: true }).count();
    assert.equal(c, 0, `navigation link "${n}" visible before sign-in`);
  }
  const anon = await api("GET", "/_/console/api/photos");
  assert.equal(anon.status, 401, `photos before sign-in: ${show(anon)}`);
  assert.ok(anon.json && typeof anon.json.error === "string", `401 is a JSON error: ${show(anon)}`);
  await shootAll("signin");

  // A wrong secret is refused and says so; the right one signs in.
  await accessKey.fill(ACCESS_KEY);
  await secret.fill(SECRET_KEY + "x");
  const refusedRe = /invalid|incorrect|wrong|not valid|refused|denied|failed/i;
  const before = await page.locator("body").innerText();
  await page.getByRole("button", { name: /sign in|log in/i }).click();
  await until("a visible message saying the key pair was refused (role=alert, or new text)", async () => {
    const alert = page.getByRole("alert").filter({ visible: true });
    const alertText = (await alert.count()) ? (await alert.first().innerText()).trim() : "";
    const text = await page.locator("body").innerText();
    return { ok: alertText.length > 0 || (refusedRe.test(text) && !refusedRe.test(before)), seen: text.slice(0, 300) };
  });
  assert.equal((await api("GET", "/_/console/api/session")).status, 401, "wrong secret signed in");

  await secret.fill(SECRET_KEY);
  await page.getByRole("button", { name: /sign in|log in/i }).click();
  await until("the console after sign-in (drop zone or navigation)", async () => {
    const nav = await page.getByRole("link", { name: /^\s*gallery\s*$/i }).filter({ visible: true }).count();
    return { ok: nav > 0 && !(await accessKey.isVisible()),
      seen: (await page.locator("body").innerText()).slice(0, 300) };
  });
  const session = await api("GET", "/_/console/api/session");
  assert.equal(session.status, 200, show(session));
  assert.equal(session.json.user, ACCESS_KEY);
  assert.equal(session.json.kind, "access-key");
  assert.ok(session.json.csrf_token, "session has a CSRF token");
  csrf = session.json.csrf_token;
  const cookies = await context.cookies(BASE + "/_/console/");
  const c = cookies.find((x) => x.name === "pf_console");
  assert.ok(c, `pf_console cookie set: ${show(cookies.map((x) => x.name))}`);
  assert.ok(c.httpOnly && c.sameSite === "Strict" && c.path === "/_/", `cookie attributes: ${show(c)}`);
  const cfg = await api("GET", "/_/console/api/config");
  assert.equal(cfg.status, 200, show(cfg));
  config = cfg.json;
  log(`config: ${show(config)}`);
}

async function step2Upload() {
  await go("Upload");
  await page.locator("[data-testid=dropzone]").waitFor({ state: "visible" });
  await recordStatuses();
  const dropped = await dropFiles(PHOTOS.map((path) => ({ path })));
  assert.deepEqual(dropped, photoNames);
  const rows = await waitUploads(photoNames, "done");
  for (const name of photoNames) {
    assert.equal(rows[name].reason || null, null, `${name} done but with a reason`);
    const thumb = await until(`a loaded thumbnail for ${name}`, () => thumbnailOf(name, keyOf(name)), PHOTO_WAIT_MS);
    log(`${name}: thumbnail ${thumb.w}x${thumb.h} ${thumb.src}`);
  }
  await shootAll("upload");
}

async function step3Detail() {
  await go("Gallery");
  const keys = photoNames.map(keyOf);
  await until(`gallery cards of ${keys.join(", ")} with data-status=done and loaded images`, async () => {
    const cs = await cards();
    const ok = keys.every((k) => cs.some((c) => c.key === k && c.status === "done" && c.img && c.img.w > 0));
    return { ok, seen: cs };
  }, PHOTO_WAIT_MS);
  // Newest first: the cards are in the order of the photos' last_modified, newest first.
  const listed = await api("GET", `/_/console/api/photos?bucket=${encodeURIComponent(config.default_bucket)}`);
  assert.equal(listed.status, 200, show(listed));
  const times = listed.json.photos.map((p) => Date.parse(p.last_modified));
  assert.ok(times.every((t, i) => i === 0 || t <= times[i - 1]), `photos not newest first: ${show(listed.json.photos.map((p) => [p.key, p.last_modified]))}`);
  await shootAll("gallery");

  const key = keys[0];
  await page.locator(`[data-testid=photo-card][data-key="${key}"]`).first().click();
  const detail = await api("GET", `/_/console/api/photo?bucket=${encodeURIComponent(config.default_bucket)}&key=${encodeURIComponent(key)}`);
  assert.equal(detail.status, 200, show(detail));
  const manifest = detail.json.manifest;
  assert.ok(manifest && Array.isArray(manifest.outputs) && manifest.outputs.length > 0, `manifest of ${key}: ${show(detail.json)}`);
  const expected = manifest.outputs.map((o) => o.name).sort();
  const rows = await until(`derivative rows ${expected.join(", ")} in the detail view of ${key}`, async () => {
    const rs = await page.evaluate(() => [...document.querySelectorAll("[data-testid=derivative-row]")].map((r) => {
      const f = (n) => { const e = r.querySelector(`[data-field=${n}]`); return e ? e.textContent.trim() : null; };
      const a = r.querySelector("a[href]");
      return { name: r.dataset.name, width: f("width"), height: f("height"), format: f("format"), bytes: f("bytes"),
        href: a ? a.href : null };
    }));
    return { ok: rs.map((r) => r.name).sort().join() === expected.join(), value: rs, seen: rs };
  });
  const num = (s) => Number(String(s).replace(/[^\d]/g, ""));
  for (const out of manifest.outputs) {
    const row = rows.find((r) => r.name === out.name);
    assert.equal(num(row.width), out.width, `${out.name} width: row ${show(row)} manifest ${show(out)}`);
    assert.equal(num(row.height), out.height, `${out.name} height: row ${show(row)} manifest ${show(out)}`);
    assert.equal(row.format.toLowerCase(), String(out.format).toLowerCase(), `${out.name} format: row ${show(row)} manifest ${show(out)}`);
    assert.ok(row.bytes, `${out.name}: no size shown`);
    const d = detail.json.derivatives.find((x) => x.name === out.name);
    assert.ok(d, `API derivatives lack ${out.name}: ${show(detail.json.derivatives)}`);
    assert.deepEqual([d.width, d.height, d.format], [out.width, out.height, out.format], `API derivative ${out.name} vs manifest`);
    // The download link gives the derivative's bytes.
    assert.ok(row.href, `${out.name}: no download link`);
    const got = await page.evaluate(async (href) => {
      const r = await fetch(href, { credentials: "same-origin" });
      return { status: r.status, type: r.headers.get("content-type"), bytes: (await r.arrayBuffer()).byteLength };
    }, row.href);
    assert.deepEqual([got.status, got.bytes], [200, out.bytes], `${out.name} download ${row.href}: ${show(got)}`);
    log(`${out.name}: ${row.width} x ${row.height} ${row.format} ${row.bytes} (manifest ${out.width}x${out.height} ${out.format} ${out.bytes} B)`);
  }
  // Wait for the images of the detail view before the screenshots.
  await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: UI_WAIT_MS }).catch(() => {});
  await shootAll("detail");
}

const subscriptionRow = () => page.evaluate((endpoint) => {
  const r = [...document.querySelectorAll("[data-testid=subscription-row]")].find((x) => x.dataset.endpoint === endpoint);
  if (!r) return { rows: [...document.querySelectorAll("[data-testid=subscription-row]")].map((x) => x.dataset.endpoint) };
  const s = r.querySelector("[data-field=status]");
  return { status: s ? s.textContent.trim().toLowerCase() : null };
}, WEBHOOK_URL);

async function step4Notifications() {
  await go("Notifications");
  // The add-subscription form: protocol, endpoint (and a topic when the form asks for one).
  // The form of the function's topic (photo-events) when each topic has its own.
  const topicName = config.topic_arn ? config.topic_arn.split(":").pop() : "photo-events";
  await page.getByLabel(/endpoint/i).filter({ visible: true }).first().waitFor({ state: "visible" });
  const named = page.getByRole("form", { name: new RegExp(topicName) });
  const scope = (await named.count()) === 1 ? named : page;
  const endpoint = scope.getByLabel(/endpoint/i).filter({ visible: true }).first();
  const protocol = scope.getByLabel(/protocol/i);
  if (await protocol.count()) await protocol.first().selectOption("http");
  const topic = scope.getByLabel(/topic/i);
  if (await topic.count() && await topic.first().evaluate((e) => e.tagName === "SELECT")) {
    const value = await topic.first().evaluate((e) => [...e.options].find((o) => /photo-events/.test(o.value + o.text))?.value);
    assert.ok(value, "the topic select offers photo-events");
    await topic.first().selectOption(value);
  }
  await endpoint.fill(WEBHOOK_URL);
  await scope.getByRole("button", { name: /subscribe|add/i }).first().click();
  const first = await until(`subscription row for ${WEBHOOK_URL}`, async () => {
    const r = await subscriptionRow();
    return { ok: !!r.status, value: r.status, seen: r };
  });
  log(`subscription row appeared as ${first}`);
  assert.ok(["pending", "confirmed"].includes(first), `status ${first}`);
  // The receiver confirms through the SubscribeURL (the Python side); the page looks again while
  // a subscription is pending, so the row turns confirmed without a reload.
  await until(`subscription row for ${WEBHOOK_URL} to show confirmed (without a reload)`, async () => {
    const r = await subscriptionRow();
    return { ok: r.status === "confirmed", seen: r };
  }, 20000);
  await shootAll("notifications");

  // A new photo: its photo.processed message appears in the live log.
  const again = `again-${photoNames[0]}`;
  result.notify_key = keyOf(again);
  await go("Upload");
  await dropFiles([{ path: PHOTOS[0], name: again }]);
  await waitUploads([again], "done");
  await go("Notifications");
  const msg = await until(`a photo.processed message about ${keyOf(again)} in the message log`, async () => {
    const ms = await page.evaluate(() => [...document.querySelectorAll("[data-testid=message-log] [data-testid=message]")]
      .map((m) => ({ subject: m.dataset.subject, text: m.textContent.replace(/\s+/g, " ").trim().slice(0, 400) })));
    const m = ms.find((x) => x.subject === "photo.processed" && x.text.includes(keyOf(again)));
    return { ok: !!m, value: m, seen: ms };
  }, PHOTO_WAIT_MS);
  log(`message log: ${show(msg)}`);
  await shootAll("notifications-log");
}

async function step5Corrupt() {
  await go("Upload");
  const [name] = await dropFiles([{ path: CORRUPT }]);
  result.corrupt_key = keyOf(name);
  const rows = await waitUploads([name], "failed");
  const reason = rows[name].reason;
  assert.ok(reason && reason.length > 0, `failed row without a reason: ${show(rows[name])}`);
  assert.match(reason, REASON_RE, `the reason says what is wrong: ${reason}`);
  log(`${name}: failed, reason "${reason}"`);
  await shootAll("upload-failed");
}

async function step6Settings() {
  await go("Settings");
  const settings = await api("GET", "/_/console/api/settings");
  assert.equal(settings.status, 200, show(settings));
  const fn = settings.json.function && settings.json.function.name;
  await until(`settings page naming bucket ${config.default_bucket} and function ${fn}`, async () => {
    const text = await page.locator("main").or(page.locator("body")).first().innerText();
    return { ok: text.includes(config.default_bucket) && (!fn || text.includes(fn)), seen: text.slice(0, 400) };
  });
  await shootAll("settings");
}

async function step7SignOut() {
  await page.getByRole("button", { name: /sign out|log out/i }).filter({ visible: true }).first().click();
  await until("the sign-in form after signing out", async () => ({
    ok: await page.getByRole("textbox", { name: ACCESS_KEY_LABEL }).isVisible(),
    seen: (await page.locator("body").innerText()).slice(0, 300),
  }));
  for (const path of ["/_/console/api/session", "/_/console/api/photos", "/_/console/api/config"]) {
    const r = await api("GET", path);
    assert.equal(r.status, 401, `${path} after sign-out: ${show(r)}`);
  }
  // The old CSRF token changes nothing either.
  const p = await api("POST", "/_/console/api/presign",
    { method: "PUT", bucket: config.default_bucket, key: `${config.upload_prefix}after-signout.jpg`, query: {} }, csrf);
  assert.equal(p.status, 401, `presign after sign-out: ${show(p)}`);
  const cookies = (await context.cookies(BASE + "/_/console/")).filter((c) => c.name === "pf_console" && c.value);
  assert.deepEqual(cookies, [], "pf_console cookie cleared");
}

const STEPS = [
  ["sign in (redirect from /, nothing visible before)", step1SignIn],
  ["upload three photos by drag and drop", step2Upload],
  ["detail view matches the manifest", step3Detail],
  ["notifications: subscribe a webhook, see a message", step4Notifications],
  ["a corrupt upload fails with its reason", step5Corrupt],
  ["settings", step6Settings],
  ["sign out", step7SignOut],
];

let failed = 0;
for (const [i, [name, fn]] of STEPS.entries()) {
  const n = i + 1;
  const started = Date.now();
  log(`STEP ${n} ${name}: start`);
  try {
    await fn();
    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join(" | ")}`);
    log(`STEP ${n} ${name}: ok (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    result.steps.push({ n, name, ok: true });
  } catch (e) {
    failed++;
    result.steps.push({ n, name, ok: false, error: e.message });
    log(`STEP ${n} ${name}: FAILED: ${e.stack || e.message}`);
    log(`  waiting for: ${waitingFor}; last seen: ${show(lastSeen)}`);
    log(`  page URL: ${page.url()}`);
    const file = join(SHOTS, `failure-step${n}.png`);
    try {
      await page.setViewportSize(VIEWPORTS.desktop);
      await page.screenshot({ path: file, fullPage: true });
      log(`  screenshot ${file}`);
      screenshots.push(file);
    } catch (se) {
      log(`  (no screenshot: ${se.message})`);
    }
    try {
      log(`  page text: ${(await page.locator("body").innerText()).replace(/\s+/g, " ").slice(0, 1500)}`);
    } catch { /* page gone */ }
    break;
  }
}

if (pageErrors.length) log(`page errors:\n  ${pageErrors.join("\n  ")}`);
if (consoleErrors.length) log(`console errors:\n  ${consoleErrors.join("\n  ")}`);
if (failedRequests.length) log(`failed requests:\n  ${failedRequests.join("\n  ")}`);
for (const w of warnings) log(`WARNING ${w}`);
log(`screenshots (${screenshots.length}):\n  ${screenshots.join("\n  ")}`);
await browser.close();
console.log(`PF_RESULT ${JSON.stringify(result)}`);
process.exit(failed ? 1 : 0);
