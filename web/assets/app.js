// Entry point: decides between the sign-in screen and the application, wires the header (nav,
// the mobile menu, sign-out) and the one event stream, and registers the pages with the router.

import { api, setCsrfToken, onUnauthorized } from './api.js';
import * as router from './router.js';
import * as live from './live.js';
import { session, resetState } from './state.js';
import * as uploads from './uploads.js';
import { renderSignIn } from './pages/signin.js';
import { renderUpload } from './pages/upload.js';
import { renderGallery } from './pages/gallery.js';
import { renderPhoto } from './pages/photo.js';
import { renderNotifications } from './pages/notifications.js';
import { renderSettings } from './pages/settings.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
const navToggle = document.getElementById('nav-toggle');
const nav = document.getElementById('site-nav');

router.register('upload', renderUpload, 'Upload');
router.register('gallery', renderGallery, 'Gallery');
router.register('photo', renderPhoto, 'Photo');
router.register('notifications', renderNotifications, 'Notifications');
router.register('settings', renderSettings, 'Settings');
router.start(main, { defaultPage: 'upload', canRender: () => session.current !== null });

function enter(info) {
  session.current = info;
  setCsrfToken(info.csrf_token);
  document.getElementById('user-name').textContent = info.user || '';
  topbar.hidden = false;
  live.connect(checkSession);
  router.render();
}

function leave(notice) {
  const wasSignedIn = session.current !== null;
  resetState();
  uploads.reset();
  setCsrfToken(null);
  live.disconnect();
  live.clearMessages();
  router.dispose();
  topbar.hidden = true;
  closeNav();
  renderSignIn(main, { notice: wasSignedIn ? notice : '', onSignedIn: enter });
}

// Used by the event stream when it fails: true when the session is still good (reconnect).
async function checkSession() {
  try {
    await api('session');
    return true;
  } catch (err) {
    // api() does not treat a 401 of the session call itself as "signed out": do it here.
    if (err.status === 401 && session.current) leave('Your session has ended. Please sign in again.');
    return err.status !== 401;
  }
}

onUnauthorized(() => {
  if (session.current) leave('Your session has ended. Please sign in again.');
});

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await api('session', { method: 'DELETE' }); } catch { /* signed out either way */ }
  leave('');
});

function closeNav() {
  nav.classList.remove('open');
  navToggle.setAttribute('aria-expanded', 'false');
}
navToggle.addEventListener('click', () => {
  const open = !nav.classList.contains('open');
  nav.classList.toggle('open', open);
  navToggle.setAttribute('aria-expanded', String(open));
});
nav.addEventListener('click', (e) => { if (e.target.closest('a')) closeNav(); });
document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && nav.classList.contains('open')) { closeNav(); navToggle.focus(); } });

// The skip link must not change the hash route: move focus instead.
document.getElementById('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

(async function boot() {
  try {
    enter(await api('session'));
  } catch (err) {
    if (err.status === 401) leave('');
    else renderSignIn(main, { notice: err.message, onSignedIn: enter });
  }
})();
