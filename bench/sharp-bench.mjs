// The sharp side of bench/run.sh: the same work as photoflux's, as a sharp user would write it.
//
//   node sharp-bench.mjs --workload A|B --out DIR [--jobs 2] [--threads 1] [--exact-shrink] PHOTO...
//
// Photos are processed `jobs` at a time (a small pool of async workers pulling from one list);
// each sharp pipeline gets `threads` libvips worker threads (sharp.concurrency), so jobs x threads
// is the number of threads doing pixel work, as with photoflux --jobs N. The outputs of one photo
// run one after the other so a photo never uses more than its share. libvips' operation cache is
// off (sharp.cache(false)), as in photoflux, which sees each photo once.
//
// Workload A: one 400x400 fit-inside JPEG q80 per photo, written to DIR/NAME/thumb.jpg.
// Workload B: photoflux's default recipe: DIR/NAME/thumb.webp (320x320 cover, attention crop,
// WebP q80), DIR/NAME/preview.jpg (1280x1280 fit inside, no enlargement, progressive JPEG q82)
// and DIR/NAME/manifest.json from metadata() plus stats() of a 64 px copy (photoflux computes
// its manifest's colour, placeholder and hash on a copy at most 64 px on its longer side).
//
// --exact-shrink sets fastShrinkOnLoad: false on every resize: the JPEG decoder then shrinks at
// most to twice the target size, as photoflux and vipsthumbnail do, instead of sharp's default of
// shrinking as far as the target allows. A diagnostic, not how sharp is used by default.
//
// Prints one JSON line: photos, processed, failed, seconds, photos_per_second, peak_rss_bytes,
// and the versions of sharp and its libvips.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import sharp from 'sharp';

function parseArgs(argv) {
    const options = { workload: 'A', out: null, jobs: 2, threads: 1, exactShrink: false, photos: [] };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
            return argv[++i];
        };
        if (arg === '--workload') options.workload = value().toUpperCase();
        else if (arg === '--out') options.out = value();
        else if (arg === '--jobs') options.jobs = Number(value());
        else if (arg === '--threads') options.threads = Number(value());
        else if (arg === '--exact-shrink') options.exactShrink = true;
        else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
        else options.photos.push(arg);
    }
    if (!['A', 'B'].includes(options.workload)) throw new Error('--workload must be A or B');
    if (!options.out) throw new Error('--out is required');
    if (!(options.jobs >= 1 && options.threads >= 1)) throw new Error('--jobs/--threads must be >= 1');
    if (options.photos.length === 0) throw new Error('no photos given');
    return options;
}

// Extra resize options: empty by default, { fastShrinkOnLoad: false } with --exact-shrink.
let resizeExtra = {};

async function thumbnailA(input, dir) {
    await sharp(input)
        .autoOrient()
        .resize(400, 400, { fit: 'inside', withoutEnlargement: true, ...resizeExtra })
        .jpeg({ quality: 80 })
        .toFile(path.join(dir, 'thumb.jpg'));
}

async function defaultRecipeB(input, dir, sourceName) {
    const photoStarted = performance.now();
    const metadata = await sharp(input).metadata();

    const started = performance.now();
    const thumb = await sharp(input)
        .autoOrient()
        .resize(320, 320, { fit: 'cover', position: sharp.strategy.attention, ...resizeExtra })
        .webp({ quality: 80 })
        .toFile(path.join(dir, 'thumb.webp'));
    const thumbMillis = performance.now() - started;

    const previewStarted = performance.now();
    const preview = await sharp(input)
        .autoOrient()
        .resize(1280, 1280, { fit: 'inside', withoutEnlargement: true, ...resizeExtra })
        .jpeg({ quality: 82, progressive: true })
        .toFile(path.join(dir, 'preview.jpg'));
    const previewMillis = performance.now() - previewStarted;

    // The analysis: a small upright copy, then its per-channel statistics and dominant colour.
    const analysisStarted = performance.now();
    const small = await sharp(input)
        .autoOrient()
        .resize(64, 64, { fit: 'inside', ...resizeExtra })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
    const stats = await sharp(small.data, {
        raw: { width: small.info.width, height: small.info.height, channels: small.info.channels },
    }).stats();
    const analysisMillis = performance.now() - analysisStarted;

    const manifest = {
        source: {
            name: sourceName,
            format: metadata.format,
            width: metadata.autoOrient?.width ?? metadata.width,
            height: metadata.autoOrient?.height ?? metadata.height,
            orientation: metadata.orientation ?? 1,
            progressive: Boolean(metadata.isProgressive),
            has_exif: Boolean(metadata.exif),
            has_icc: Boolean(metadata.icc),
        },
        dominant: stats.dominant,
        channels: stats.channels.map((c) => ({ mean: c.mean, stdev: c.stdev })),
        entropy: stats.entropy,
        analysis_millis: analysisMillis,
        outputs: [
            { name: 'thumb', width: thumb.width, height: thumb.height, bytes: thumb.size, millis: thumbMillis },
            { name: 'preview', width: preview.width, height: preview.height, bytes: preview.size, millis: previewMillis },
        ],
    };
    manifest.millis = performance.now() - photoStarted;
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

async function main() {
    const options = parseArgs(process.argv.slice(2));
    sharp.cache(false);
    sharp.concurrency(options.threads);
    if (options.exactShrink) resizeExtra = { fastShrinkOnLoad: false };

    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 50);

    const started = performance.now();
    let next = 0;
    let processed = 0;
    const failures = [];
    const worker = async () => {
        while (next < options.photos.length) {
            const photo = options.photos[next++];
            const dir = path.join(options.out, path.basename(photo));
            try {
                await mkdir(dir, { recursive: true });
                const input = await readFile(photo);
                if (options.workload === 'A') await thumbnailA(input, dir);
                else await defaultRecipeB(input, dir, photo);
                processed++;
            } catch (error) {
                failures.push({ photo, error: String(error?.message ?? error) });
            }
        }
    };
    await Promise.all(Array.from({ length: options.jobs }, worker));
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());

    const summary = {
        tool: 'sharp',
        workload: options.workload,
        photos: options.photos.length,
        processed,
        failed: failures.length,
        failures,
        seconds: Math.round(seconds * 1000) / 1000,
        photos_per_second: Math.round((processed / seconds) * 100) / 100,
        jobs: options.jobs,
        threads_per_photo: sharp.concurrency(),
        fast_shrink_on_load: !options.exactShrink,
        // Sampled every 50 ms: a lower bound; bench/run.sh uses /usr/bin/time's figure instead.
        peak_rss_bytes: peakRss,
        sharp: sharp.versions.sharp,
        libvips: sharp.versions.vips,
    };
    process.stdout.write(JSON.stringify(summary) + '\n');
    process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((error) => {
    process.stderr.write(`sharp-bench: ${error?.message ?? error}\n`);
    process.exitCode = 2;
});
