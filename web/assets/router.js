// Hash router: "#/photo?bucket=b&key=k" -> the page registered as "photo" with those params.
// Hash routing keeps every page at /_/console/ so the server needs a single HTML route and
// reloads land on the same page. Each page's render() may return a dispose function (to close
// observers, timers and event subscriptions) that runs before the next page renders.

const pages = new Map();
let current = null;   // { name, dispose }
let fallback = 'upload';
let outlet = null;
let guard = () => true;

export function register(name, render, title) { pages.set(name, { render, title }); }

export function parseHash(hash = location.hash) {
  const raw = hash.startsWith('#/') ? hash.slice(2) : '';
  const q = raw.indexOf('?');
  const name = (q >= 0 ? raw.slice(0, q) : raw) || fallback;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { name, params };
}

export function navigate(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

// canRender() false (signed out) leaves the current screen (sign-in) alone.
export function start(mainEl, { defaultPage, canRender }) {
  outlet = mainEl;
  fallback = defaultPage;
  guard = canRender;
  window.addEventListener('hashchange', () => {
    // In-page anchors such as the skip link ("#main") are not routes.
    if (location.hash && !location.hash.startsWith('#/')) return;
    render();
  });
}

export function dispose() {
  if (current && typeof current.dispose === 'function') {
    try { current.dispose(); } catch (err) { console.error(err); }
  }
  current = null;
}

export function render() {
  if (!guard()) return;
  const { name, params } = parseHash();
  const page = pages.get(name) || pages.get(fallback);
  dispose();
  outlet.replaceChildren();
  document.title = `${page.title} · Photoflux`;
  document.querySelectorAll('[data-route]').forEach((a) => {
    if (a.dataset.route === name || (name === 'photo' && a.dataset.route === 'gallery')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  current = { name, dispose: page.render(outlet, params) };
}
