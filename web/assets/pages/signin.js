// The sign-in screen: an access key pair (what the serve banner prints) or a console user from
// the config file. Two tabs, each with its own form (one credential pair per form, as password
// managers expect); the server decides whether the pair is right.

import { api } from '../api.js';
import { h } from '../dom.js';

export function renderSignIn(main, { notice, onSignedIn }) {
  const keyForm = signInForm('key', [
    ['Access key ID', { id: 'f-key-id', name: 'access_key_id', autocomplete: 'username', spellcheck: 'false', autocapitalize: 'off' }],
    ['Secret access key', { id: 'f-secret', name: 'secret_access_key', type: 'password', autocomplete: 'current-password' }],
  ], 'Wrong access key ID or secret access key.', onSignedIn);
  const userForm = signInForm('user', [
    ['User name', { id: 'f-user', name: 'user', autocomplete: 'username', spellcheck: 'false', autocapitalize: 'off' }],
    ['Password', { id: 'f-password', name: 'password', type: 'password', autocomplete: 'current-password' }],
  ], 'Wrong user name or password.', onSignedIn);
  userForm.hidden = true;

  const tabKey = h('button', { type: 'button', role: 'tab', id: 'tab-key', 'aria-selected': 'true', 'aria-controls': 'panel-key', class: 'tab' }, 'Access key');
  const tabUser = h('button', { type: 'button', role: 'tab', id: 'tab-user', 'aria-selected': 'false', 'aria-controls': 'panel-user', class: 'tab', tabindex: '-1' }, 'Console user');
  keyForm.id = 'panel-key';
  userForm.id = 'panel-user';
  keyForm.setAttribute('role', 'tabpanel');
  userForm.setAttribute('role', 'tabpanel');
  keyForm.setAttribute('aria-labelledby', 'tab-key');
  userForm.setAttribute('aria-labelledby', 'tab-user');

  let mode = 'key';
  function select(next, focusTab = false) {
    mode = next;
    const isKey = mode === 'key';
    tabKey.setAttribute('aria-selected', String(isKey));
    tabUser.setAttribute('aria-selected', String(!isKey));
    tabKey.tabIndex = isKey ? 0 : -1;
    tabUser.tabIndex = isKey ? -1 : 0;
    keyForm.hidden = !isKey;
    userForm.hidden = isKey;
    if (focusTab) (isKey ? tabKey : tabUser).focus();
  }
  tabKey.addEventListener('click', () => select('key'));
  tabUser.addEventListener('click', () => select('user'));
  // Arrow keys move between tabs, as the ARIA tabs pattern expects.
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Sign in with' }, tabKey, tabUser);
  tablist.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') select(mode === 'key' ? 'user' : 'key', true);
  });

  main.replaceChildren(h('section', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('div', { class: 'card signin-card' },
      h('div', { class: 'signin-brand' }, h('img', { src: '/_/console/assets/icon.svg', alt: '', width: 40, height: 40 }), h('span', {}, 'Photoflux')),
      h('h1', { id: 'signin-title' }, 'Sign in to the console'),
      h('p', { class: 'muted' }, 'Use the access key pair printed by photoflux serve, or a console user from the config file.'),
      notice ? h('div', { class: 'alert alert-info', role: 'status' }, notice) : null,
      tablist, keyForm, userForm)));
  document.title = 'Sign in · Photoflux';
  keyForm.querySelector('input').focus();
}

function signInForm(kind, fields, wrongText, onSignedIn) {
  const error = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', { class: 'signin-form' },
    fields.map(([label, attrs]) => h('div', { class: 'field' }, h('label', { for: attrs.id }, label), h('input', { ...attrs, required: true }))),
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      onSignedIn(await api('session', { method: 'POST', json: Object.fromEntries(new FormData(form).entries()) }));
    } catch (err) {
      error.textContent = err.code === 'invalid_credentials' ? wrongText : err.message;
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  return form;
}
