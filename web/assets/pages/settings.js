// Settings, read-only: what serve runs with (GET /_/console/api/settings). Changing it means
// editing the config file, whose path is shown first.

import { api } from '../api.js';
import { h, errorBox } from '../dom.js';

export function renderSettings(main) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('section', { class: 'page', 'aria-labelledby': 'settings-title' },
    h('div', { class: 'page-head' }, h('h1', { id: 'settings-title' }, 'Settings'),
      h('p', { class: 'muted' }, 'Read-only. Edit the config file and restart photoflux serve to change them.')),
    body));

  api('settings').then((s) => {
    const fn = s.function || null;
    body.replaceChildren(
      h('div', { class: 'card panel' }, h('h2', {}, 'Server'), facts([
        ['Config file', s.config_file || '(none: built-in defaults)'],
        ['Data directory', s.data_dir],
        ['Endpoint', s.endpoint],
        ['Region', s.region],
      ])),
      h('div', { class: 'card panel' }, h('h2', {}, 'Buckets'),
        (s.buckets || []).length === 0 ? h('p', { class: 'muted' }, 'No buckets.') :
          h('ul', { class: 'bucket-list' }, s.buckets.map((b) => h('li', {},
            h('strong', { class: 'mono' }, b.name),
            (b.rules || []).length ? h('ul', { class: 'rule-list' }, b.rules.map((r) => h('li', { class: 'mono' }, r)))
              : h('p', { class: 'muted' }, 'No notification rules.'))))),
      h('div', { class: 'card panel' }, h('h2', {}, 'Function'), fn && fn.name ? [
        facts([
          ['Name', fn.name],
          ['Workers', fn.workers],
          ['Timeout', fn.timeout_seconds !== undefined ? `${fn.timeout_seconds} s` : null],
          ['Memory', fn.memory_mb !== undefined ? `${fn.memory_mb} MB` : null],
          ['Retries', fn.max_retry_attempts],
          ['Trigger', `${fn.trigger_prefix || ''}*${fn.trigger_suffix || ''}`],
          ['Output', `s3://${fn.output_bucket || '<photo bucket>'}/${fn.output_prefix || ''}`],
          ['Topic', fn.topic],
          ['Recipe file', fn.recipe_file || '(built-in recipe)'],
        ]),
        h('h3', {}, 'Recipe'),
        h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Recipe YAML' }, fn.recipe || '(empty)'),
      ] : h('p', { class: 'muted' }, 'serve runs no function.')),
      h('div', { class: 'card panel' }, h('h2', {}, 'Topics'),
        (s.topics || []).length ? h('ul', { class: 'plain-list' }, s.topics.map((t) => h('li', { class: 'mono' }, t)))
          : h('p', { class: 'muted' }, 'No topics.')));
  }).catch((err) => body.replaceChildren(errorBox(err, 'The settings could not be loaded')));
}

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, String(v))]));
}
