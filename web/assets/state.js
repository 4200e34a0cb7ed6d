// What several pages share for the lifetime of a session: the upload configuration (fetched
// once) and who is signed in. Cleared on sign-out so the next user starts fresh.

import { api } from './api.js';

let configPromise = null;
export const session = { current: null };

export function getConfig() {
  if (!configPromise) {
    configPromise = api('config').catch((err) => { configPromise = null; throw err; });
  }
  return configPromise;
}

export function resetState() {
  configPromise = null;
  session.current = null;
}
