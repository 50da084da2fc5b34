/**
 * The lab's state in the URL hash, like the TensorFlow Playground's: the method, the global
 * controls, per-model values and the open tab, e.g.
 * `#method=ties&density=0.3&lambda=1&tab=methods&g.normalize=false&w.expert-a.weight=0.5`.
 * Opening such a URL restores them; every change rewrites the hash (replaceState, so the Back
 * button is not flooded). Unknown methods, tabs and non-numbers are ignored.
 */
import { useLabStore } from './store/index.js';
import type { LabState, TabId } from './store/types.js';

const TABS: readonly TabId[] = ['models', 'methods', 'about'];

/** The hash for the state (without '#'). */
export function stateToHash(s: LabState): string {
  const q = new URLSearchParams();
  q.set('method', s.method);
  q.set('density', String(s.density));
  q.set('lambda', String(s.lambda));
  q.set('tab', s.tab);
  for (const [k, v] of Object.entries(s.globals)) q.set(`g.${k}`, String(v));
  for (const [id, params] of Object.entries(s.perModel)) for (const [k, v] of Object.entries(params)) q.set(`w.${id}.${k}`, String(v));
  return q.toString();
}

/** Applies a hash (with or without '#') to the store. */
export function applyHash(hash: string): void {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  const st = useLabStore.getState();
  const num = (v: string | null) => (v === null || v.trim() === '' ? NaN : Number(v));
  const method = q.get('method');
  if (method) st.setMethod(method);
  const density = num(q.get('density'));
  if (Number.isFinite(density)) st.setDensity(density);
  const lambda = num(q.get('lambda'));
  if (Number.isFinite(lambda)) st.setLambda(lambda);
  const tab = TABS.find((t) => t === q.get('tab'));
  if (tab) st.setTab(tab);
  for (const [k, v] of q) {
    if (k.startsWith('g.')) {
      const name = k.slice(2);
      if (v === 'true' || v === 'false') st.setGlobal(name, v === 'true');
      else if (Number.isFinite(num(v))) st.setGlobal(name, num(v));
    } else if (k.startsWith('w.')) {
      const dot = k.lastIndexOf('.');
      if (dot > 2 && Number.isFinite(num(v))) st.setModelParam(k.slice(2, dot), k.slice(dot + 1), num(v));
    }
  }
}

/** Restores the state from the page's hash and keeps the hash in step with the store from now on. */
export function syncUrlHash(): void {
  if (window.location.hash) applyHash(window.location.hash);
  let last = '';
  const write = (s: LabState) => {
    const hash = stateToHash(s);
    if (hash === last) return;
    last = hash;
    window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}#${hash}`);
  };
  write(useLabStore.getState());
  useLabStore.subscribe((s, prev) => {
    if (s.method !== prev.method || s.density !== prev.density || s.lambda !== prev.lambda || s.tab !== prev.tab || s.globals !== prev.globals || s.perModel !== prev.perModel) write(s);
  });
  window.addEventListener('hashchange', () => {
    if (window.location.hash.replace(/^#/, '') !== last) applyHash(window.location.hash);
  });
}
