// Notifications: the live message log (from the tab's event stream), the topics with their
// subscriptions (SNS actions through POST /_/console/api/sns, whose XML replies we parse), and
// the dead letters of the function and of deliveries, with replay. Validation is the SNS
// service's: we only check that a filter policy is JSON before sending it.

import { api, sns, membersOf, textOf, childrenNamed } from '../api.js';
import { h, errorBox, emptyState, formatTime, announce } from '../dom.js';
import * as live from '../live.js';

const MAX_PAGES = 20;   // NextToken pages followed per list (100 each): plenty for a console
const PENDING_POLL_MS = 3000;  // how often pending subscriptions are looked at again

export function renderNotifications(main) {
  const log = messageLog();
  const topics = h('div', {}, h('p', { class: 'muted' }, 'Loading topics…'));
  const fnDead = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const deliveryDead = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('section', { class: 'page', 'aria-labelledby': 'notif-title' },
    h('div', { class: 'page-head' }, h('h1', { id: 'notif-title' }, 'Notifications')),
    log.el,
    h('section', { class: 'card panel', 'aria-labelledby': 'topics-title' }, h('h2', { id: 'topics-title' }, 'Topics and subscriptions'), topics),
    h('section', { class: 'card panel', 'aria-labelledby': 'fdl-title' }, h('h2', { id: 'fdl-title' }, 'Function dead letters'),
      h('p', { class: 'muted' }, 'Photo events the function gave up on after its retries.'), fnDead),
    h('section', { class: 'card panel', 'aria-labelledby': 'ddl-title' }, h('h2', { id: 'ddl-title' }, 'Delivery dead letters'),
      h('p', { class: 'muted' }, 'Messages a subscription endpoint never accepted.'), deliveryDead)));

  loadTopics(topics);
  loadFunctionDeadLetters(fnDead);
  loadDeliveryDeadLetters(deliveryDead);
  return log.dispose;
}

// --- The live message log ---

function messageLog() {
  const list = h('ol', { class: 'message-log', 'data-testid': 'message-log', 'aria-label': 'Messages, newest first' });
  const empty = emptyState('No messages yet.', 'Messages published on any topic appear here as they happen.');
  const state = h('span', { class: 'live-state' });
  const setState = (on) => {
    state.textContent = on ? 'Live' : 'Reconnecting…';
    state.classList.toggle('on', on);
  };
  setState(live.isConnected());
  const el = h('section', { class: 'card panel', 'aria-labelledby': 'log-title' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'log-title' }, 'Message log'), state), empty, list);
  const add = (m, atTop) => {
    empty.hidden = true;
    const item = messageItem(m);
    if (atTop) list.prepend(item); else list.append(item);
    while (list.children.length > 500) list.lastChild.remove();
  };
  live.recentMessages().forEach((m) => add(m, false));
  const stopMsg = live.on('message', (m) => add(m, true));
  const stopState = live.on('status', setState);
  return { el, dispose: () => { stopMsg(); stopState(); } };
}

// The photo a message is about (photo.* messages carry "key"; S3 event envelopes carry it in
// their first record), shown beside the subject; "" when there is none.
function messageKey(text) {
  try {
    const doc = JSON.parse(text);
    if (typeof doc.key === 'string') return doc.key;
    const key = doc.Records?.[0]?.s3?.object?.key;
    return typeof key === 'string' ? decodeURIComponent(key.replace(/\+/g, ' ')) : '';
  } catch {
    return '';
  }
}

function messageItem(m) {
  let body = m.message || '';
  try { body = JSON.stringify(JSON.parse(body), null, 2); } catch { /* not JSON: as is */ }
  return h('li', { class: 'message', 'data-testid': 'message', 'data-subject': m.subject || '' },
    h('details', {},
      h('summary', {},
        h('span', { class: 'message-subject' }, m.subject || '(no subject)'),
        h('span', { class: 'message-key mono' }, messageKey(body)),
        h('span', { class: 'message-topic mono' }, topicName(m.topic_arn)),
        h('time', { datetime: m.timestamp || '' }, formatTime(m.timestamp))),
      h('pre', { class: 'code' }, body)));
}

// --- Topics and subscriptions ---

function topicName(arn) { return (arn || '').split(':').pop(); }

// Follows NextToken; returns every <member> of the container.
async function listAll(action, container, params = {}) {
  const members = [];
  let token = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const doc = await sns(action, token ? { ...params, NextToken: token } : params);
    members.push(...membersOf(doc, container));
    token = textOf(doc, 'NextToken');
    if (!token) break;
  }
  return members;
}

async function loadTopics(box) {
  try {
    const topics = (await listAll('ListTopics', 'Topics')).map((m) => textOf(m, 'TopicArn'));
    if (topics.length === 0) {
      box.replaceChildren(emptyState('No topics.', 'Create one with the SNS API (aws sns create-topic).'));
      return;
    }
    box.replaceChildren(...topics.map(topicCard));
  } catch (err) {
    box.replaceChildren(errorBox(err, 'The topics could not be loaded'));
  }
}

let formCount = 0;

function topicCard(arn) {
  const n = ++formCount;
  const subs = h('div', {}, h('p', { class: 'muted' }, 'Loading subscriptions…'));
  const refresh = () => loadSubscriptions(arn, subs);

  const protocol = h('select', { id: `proto-${n}`, name: 'Protocol' }, ['https', 'http', 'email'].map((p) => h('option', { value: p }, p)));
  const endpoint = h('input', { id: `endpoint-${n}`, name: 'Endpoint', required: true, placeholder: 'https://example.com/hook', autocomplete: 'off', spellcheck: 'false' });
  protocol.addEventListener('change', () => {
    endpoint.placeholder = protocol.value === 'email' ? 'someone@example.com' : `${protocol.value}://example.com/hook`;
    endpoint.type = protocol.value === 'email' ? 'email' : 'text';
  });
  const result = h('div', { role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Subscribe');
  const form = h('form', { class: 'subscribe-form', 'aria-label': `Add a subscription to ${topicName(arn)}` },
    h('div', { class: 'field' }, h('label', { for: protocol.id }, 'Protocol'), protocol),
    h('div', { class: 'field grow' }, h('label', { for: endpoint.id }, 'Endpoint'), endpoint),
    h('div', { class: 'field' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    result.replaceChildren();
    try {
      await sns('Subscribe', { TopicArn: arn, Protocol: protocol.value, Endpoint: endpoint.value.trim() });
      result.replaceChildren(h('div', { class: 'alert alert-success' }, `Subscribed ${endpoint.value.trim()}: it stays pending until the endpoint confirms.`));
      announce('Subscription added.');
      endpoint.value = '';
      await refresh();
    } catch (err) {
      result.replaceChildren(errorBox(err, 'Subscribe failed'));
    } finally {
      submit.disabled = false;
    }
  });
  refresh();
  return h('article', { class: 'topic', 'data-topic-arn': arn },
    h('h3', {}, topicName(arn)), h('p', { class: 'muted mono small' }, arn), subs, form, result);
}

async function loadSubscriptions(arn, box) {
  try {
    const members = await listAll('ListSubscriptionsByTopic', 'Subscriptions', { TopicArn: arn });
    if (members.length === 0) {
      box.replaceChildren(h('p', { class: 'muted' }, 'No subscriptions.'));
      return;
    }
    const rows = members.map((m) => subscriptionRows({
      arn: textOf(m, 'SubscriptionArn'), protocol: textOf(m, 'Protocol'), endpoint: textOf(m, 'Endpoint'),
    }, () => loadSubscriptions(arn, box)));
    box.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['Endpoint', 'Protocol', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows))));
    // A confirmation happens elsewhere (the endpoint answers, or a person clicks the e-mail's
    // link) and no event tells us: look again while one is pending and the page is open.
    const pending = members.some((m) => !textOf(m, 'SubscriptionArn').startsWith('arn:'));
    if (pending) {
      setTimeout(() => { if (box.isConnected) loadSubscriptions(arn, box); }, PENDING_POLL_MS);
    }
  } catch (err) {
    box.replaceChildren(errorBox(err, 'The subscriptions could not be loaded'));
  }
}

// A subscription's row plus its (hidden) filter-policy editor row. Pending subscriptions have no
// ARN yet ("PendingConfirmation"), so they can be neither edited nor removed.
function subscriptionRows(sub, reload) {
  const pending = sub.arn === 'PendingConfirmation' || !sub.arn.startsWith('arn:');
  const status = pending ? 'pending' : 'confirmed';
  const editorRow = h('tr', { class: 'editor-row', hidden: true });
  const editBtn = h('button', { type: 'button', class: 'btn btn-small', disabled: pending, 'aria-expanded': 'false', 'aria-label': `Edit the filter policy of ${sub.endpoint}` }, 'Filter policy');
  const removeBtn = h('button', { type: 'button', class: 'btn btn-small btn-danger', disabled: pending, 'aria-label': `Remove ${sub.endpoint}` }, 'Remove');
  const rowError = h('div');
  editBtn.addEventListener('click', () => {
    const open = editorRow.hidden;
    editorRow.hidden = !open;
    editBtn.setAttribute('aria-expanded', String(open));
    if (open) editorRow.replaceChildren(h('td', { colspan: 4 }, filterPolicyEditor(sub)));
  });
  removeBtn.addEventListener('click', async () => {
    removeBtn.disabled = true;
    try {
      await sns('Unsubscribe', { SubscriptionArn: sub.arn });
      announce(`Removed the subscription of ${sub.endpoint}.`);
      reload();
    } catch (err) {
      removeBtn.disabled = false;
      rowError.replaceChildren(errorBox(err, 'Remove failed'));
    }
  });
  const row = h('tr', { 'data-testid': 'subscription-row', 'data-endpoint': sub.endpoint, 'data-subscription-arn': sub.arn },
    h('td', { class: 'mono wrap' }, sub.endpoint, rowError),
    h('td', {}, sub.protocol),
    h('td', {}, h('span', { class: `badge badge-${status}`, 'data-field': 'status', title: pending ? 'Waiting for the endpoint to confirm' : '' }, status)),
    h('td', { class: 'actions' }, editBtn, removeBtn));
  return [row, editorRow];
}

function filterPolicyEditor(sub) {
  const id = `policy-${++formCount}`;
  const text = h('textarea', { id, rows: 6, class: 'mono', spellcheck: 'false', disabled: true, 'aria-describedby': `${id}-help` }, '');
  const result = h('div', { role: 'status' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true }, 'Save filter policy');
  const form = h('form', { class: 'policy-form' },
    h('label', { for: id }, `Filter policy of ${sub.endpoint}`),
    text,
    h('p', { id: `${id}-help`, class: 'muted small' }, 'JSON, e.g. {"event": ["photo.failed"]}. Leave empty to receive every message.'),
    h('div', { class: 'form-actions' }, save), result);
  sns('GetSubscriptionAttributes', { SubscriptionArn: sub.arn }).then((doc) => {
    const entry = childrenNamed(doc, 'entry').find((e) => textOf(e, 'key') === 'FilterPolicy');
    const value = entry ? textOf(entry, 'value') : '';
    try { text.value = value ? JSON.stringify(JSON.parse(value), null, 2) : ''; } catch { text.value = value; }
    text.disabled = false;
    save.disabled = false;
  }).catch((err) => result.replaceChildren(errorBox(err, 'The filter policy could not be loaded')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = text.value.trim();
    if (value) {
      try { JSON.parse(value); } catch (err) {
        text.setAttribute('aria-invalid', 'true');
        result.replaceChildren(errorBox({ message: `This is not valid JSON: ${err.message}` }));
        text.focus();
        return;
      }
    }
    text.removeAttribute('aria-invalid');
    save.disabled = true;
    try {
      await sns('SetSubscriptionAttributes', { SubscriptionArn: sub.arn, AttributeName: 'FilterPolicy', AttributeValue: value });
      result.replaceChildren(h('div', { class: 'alert alert-success' }, value ? 'Filter policy saved.' : 'Filter policy removed.'));
    } catch (err) {
      text.setAttribute('aria-invalid', 'true');
      result.replaceChildren(errorBox(err, 'The SNS service refused the policy'));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

// --- Dead letters ---

async function loadFunctionDeadLetters(box, notice = '') {
  try {
    const { dead_letters: letters = [] } = await api('function-dead-letters');
    const replay = async (ids) => {
      const { replayed } = await api('function-dead-letters/replay', { method: 'POST', json: { request_ids: ids } });
      return `Replayed ${replayed} event${replayed === 1 ? '' : 's'}.`;
    };
    box.replaceChildren(deadLetterTable({
      rows: letters,
      empty: 'No function dead letters.',
      columns: ['Failed at', 'Photo', 'Error', 'Attempts'],
      cells: (d) => [formatTime(d.failed_at), h('span', { class: 'mono wrap' }, `s3://${d.bucket}/${d.key}`),
        h('span', {}, h('strong', {}, d.error_type || ''), ' ', d.error_message || d.condition || ''), d.attempts],
      detail: (d) => d.payload ? (typeof d.payload === 'string' ? d.payload : JSON.stringify(d.payload, null, 2)) : null,
      label: (d) => `s3://${d.bucket}/${d.key}`,
      replayOne: (d) => replay([d.request_id]),
      replayAll: () => replay([]),
      reload: (text) => loadFunctionDeadLetters(box, text),
      notice,
    }));
  } catch (err) {
    box.replaceChildren(errorBox(err, 'The function dead letters could not be loaded'));
  }
}

async function loadDeliveryDeadLetters(box, notice = '') {
  try {
    const doc = await sns('ListDeadLetters', { MaxItems: '200' });
    const letters = membersOf(doc, 'DeadLetters').map((m) => Object.fromEntries(
      ['DeliveryId', 'MessageId', 'TopicArn', 'Protocol', 'Endpoint', 'Attempts', 'DeadAt', 'Reason'].map((k) => [k, textOf(m, k)])));
    const report = (reply) => {
      const skipped = membersOf(reply, 'Skipped').map((m) => textOf(m, 'Reason'));
      const n = textOf(reply, 'Replayed') || '0';
      return `Replayed ${n} deliver${n === '1' ? 'y' : 'ies'}.` + (skipped.length ? ` Skipped ${skipped.length}: ${[...new Set(skipped)].join('; ')}.` : '');
    };
    box.replaceChildren(deadLetterTable({
      rows: letters,
      empty: 'No delivery dead letters.',
      columns: ['Dead at', 'Endpoint', 'Topic', 'Attempts', 'Reason'],
      cells: (d) => [formatTime(d.DeadAt), h('span', { class: 'mono wrap' }, `${d.Protocol} ${d.Endpoint}`), topicName(d.TopicArn), d.Attempts, d.Reason],
      detail: null,
      label: (d) => d.Endpoint,
      replayOne: async (d) => report(await sns('ReplayDeadLetters', { 'DeliveryIds.member.1': d.DeliveryId })),
      replayAll: async () => report(await sns('ReplayDeadLetters', { All: 'true' })),
      reload: (text) => loadDeliveryDeadLetters(box, text),
      notice,
      truncated: textOf(doc, 'IsTruncated') === 'true',
    }));
  } catch (err) {
    box.replaceChildren(errorBox(err, 'The delivery dead letters could not be loaded'));
  }
}

// The table shared by both kinds of dead letters: one Replay per row, Replay all, the outcome.
function deadLetterTable(o) {
  const result = h('div', { role: 'status' }, o.notice ? h('div', { class: 'alert alert-success' }, o.notice) : null);
  const run = async (btn, fn) => {
    btn.disabled = true;
    try {
      const text = await fn();
      announce(text);
      // reload() replaces this table; it shows the outcome above the new one.
      await o.reload(text);
      return text;
    } catch (err) {
      result.replaceChildren(errorBox(err, 'Replay failed'));
      btn.disabled = false;
      return null;
    }
  };
  if (o.rows.length === 0) return h('div', {}, emptyState(o.empty), result);
  const all = h('button', { type: 'button', class: 'btn' }, `Replay all (${o.rows.length}${o.truncated ? '+' : ''})`);
  const box = h('div', {}, h('div', { class: 'form-actions' }, all), result,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, [...o.columns, ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, o.rows.map((d) => {
        const btn = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Replay ${o.label(d)}` }, 'Replay');
        btn.addEventListener('click', () => run(btn, () => o.replayOne(d)));
        const detail = o.detail && o.detail(d);
        const cells = o.cells(d).map((c) => h('td', {}, c));
        if (detail) cells[1].append(h('details', {}, h('summary', {}, 'Payload'), h('pre', { class: 'code' }, detail)));
        return h('tr', {}, cells, h('td', {}, btn));
      })))));
  all.addEventListener('click', () => run(all, o.replayAll));
  return box;
}
