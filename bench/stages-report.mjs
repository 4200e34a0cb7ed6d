// Summarises the manifests bench/stages.sh collected: mean milliseconds per photo, per stage,
// for photoflux and sharp, split into baseline and progressive JPEGs.
//
//   node stages-report.mjs PHOTOFLUX_OUT SHARP_OUT
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const [photofluxDir, sharpDir] = process.argv.slice(2);
if (!photofluxDir || !sharpDir) {
    process.stderr.write('usage: node stages-report.mjs PHOTOFLUX_OUT SHARP_OUT\n');
    process.exit(2);
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const outputMillis = (manifest, name) => manifest.outputs.find((o) => o.name === name)?.millis ?? 0;

const rows = [];
for (const name of readdirSync(photofluxDir).sort()) {
    const pf = readJson(path.join(photofluxDir, name, 'manifest.json'));
    const sh = readJson(path.join(sharpDir, name, 'manifest.json'));
    const pfThumb = outputMillis(pf, 'thumb');
    const pfPreview = outputMillis(pf, 'preview');
    rows.push({
        name,
        megapixels: (pf.source.width * pf.source.height) / 1e6,
        progressive: Boolean(pf.source.progressive),
        pf: { total: pf.millis, decode: pf.millis - pfThumb - pfPreview, thumb: pfThumb, preview: pfPreview },
        sharp: {
            total: sh.millis,
            thumb: outputMillis(sh, 'thumb'),
            preview: outputMillis(sh, 'preview'),
            analysis: sh.analysis_millis,
        },
    });
}

const mean = (list, pick) => list.reduce((sum, r) => sum + pick(r), 0) / Math.max(1, list.length);
const fmt = (v) => v.toFixed(0);
const groups = [
    ['baseline JPEG', rows.filter((r) => !r.progressive)],
    ['progressive JPEG', rows.filter((r) => r.progressive)],
    ['all', rows],
];

const lines = [];
lines.push('Mean milliseconds per photo, one photo at a time (--jobs 1, one libvips thread).');
lines.push('photoflux "open+decode+analysis" is its total minus its two outputs; sharp decodes the');
lines.push('JPEG once per pipeline (thumb, preview, analysis), each shrunk on load for its own size.');
lines.push('');
lines.push('| photos | n | mean MP | photoflux total | photoflux open+decode+analysis | photoflux thumb | photoflux preview | sharp total | sharp thumb | sharp preview | sharp analysis | sharp total / photoflux total |');
lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [label, list] of groups) {
    const pfTotal = mean(list, (r) => r.pf.total);
    const shTotal = mean(list, (r) => r.sharp.total);
    lines.push(`| ${label} | ${list.length} | ${mean(list, (r) => r.megapixels).toFixed(1)} | ${fmt(pfTotal)} | ` +
        `${fmt(mean(list, (r) => r.pf.decode))} | ${fmt(mean(list, (r) => r.pf.thumb))} | ` +
        `${fmt(mean(list, (r) => r.pf.preview))} | ${fmt(shTotal)} | ${fmt(mean(list, (r) => r.sharp.thumb))} | ` +
        `${fmt(mean(list, (r) => r.sharp.preview))} | ${fmt(mean(list, (r) => r.sharp.analysis))} | ` +
        `${(shTotal / pfTotal).toFixed(2)} |`);
}
lines.push('');
lines.push('Per photo (ms): photoflux total = open+decode+analysis + thumb + preview; sharp total.');
lines.push('');
lines.push('| photo | MP | progressive | photoflux open+decode+analysis | photoflux thumb | photoflux preview | photoflux total | sharp total |');
lines.push('| --- | ---: | :---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
    lines.push(`| ${r.name} | ${r.megapixels.toFixed(1)} | ${r.progressive ? 'yes' : ''} | ${fmt(r.pf.decode)} | ` +
        `${fmt(r.pf.thumb)} | ${fmt(r.pf.preview)} | ${fmt(r.pf.total)} | ${fmt(r.sharp.total)} |`);
}
process.stdout.write(lines.join('\n') + '\n');
