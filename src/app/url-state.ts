/**
 * The lab's state in the URL hash, like the TensorFlow Playground's: the method, the global
 * controls, per-model values and the open tab, e.g.
 * `#method=ties&density=0.3&lambda=1&tab=methods&g.normalize=false&w.expert-a.weight=0.5`, plus the
 * charts' choices (`tensor`, `rank`, `sweep`), presentation mode (`present=1`), hidden parts
 * (`controls_hide=1`, …) and the preset whose story is shown (`preset=signs`).
 * Opening such a URL restores them; every change rewrites the hash (replaceState, so the Back
 * button is not flooded). Unknown methods, tabs and non-numbers are ignored.
 */
import { isHideable } from './presentation.js';
import { findPreset } from './presets.js';
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
  if (s.spectrumTensor) q.set('tensor', s.spectrumTensor);
  if (s.svdRank) q.set('rank', String(s.svdRank));
  q.set('sweep', s.sweepParam);
  if (s.present) q.set('present', '1');
  for (const h of s.hidden) q.set(`${h}_hide`, '1');
  if (s.preset) q.set('preset', s.preset);
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
  const tensor = q.get('tensor');
  if (tensor) st.setSpectrumTensor(tensor);
  const rank = num(q.get('rank'));
  if (Number.isInteger(rank) && rank >= 1) st.setSvdRank(rank);
  const sweep = q.get('sweep');
  if (sweep === 'lambda' || sweep === 'density') st.setSweepParam(sweep);
  const on = (v: string | null) => v !== null && v !== '0' && v !== 'false';
  const hidden = [...q.keys()].filter((k) => k.endsWith('_hide') && on(q.get(k))).map((k) => k.slice(0, -'_hide'.length)).filter(isHideable);
  st.setPresentation(on(q.get('present')), hidden);
  st.setPreset(findPreset(q.get('preset'))?.id);
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
    const keys: (keyof LabState)[] = ['method', 'density', 'lambda', 'tab', 'globals', 'perModel', 'spectrumTensor', 'svdRank', 'sweepParam', 'present', 'hidden', 'preset'];
    if (keys.some((k) => s[k] !== prev[k])) write(s);
  });
  window.addEventListener('hashchange', () => {
    if (window.location.hash.replace(/^#/, '') !== last) applyHash(window.location.hash);
  });
}

/** Applies a preset: its settings (as a hash would) and its story. */
export function applyPreset(id: string): void {
  const p = findPreset(id);
  if (!p) return;
  const { present } = useLabStore.getState();
  applyHash(p.hash);
  const st = useLabStore.getState();
  // A preset chooses what to show, not how large: presentation mode stays as it was.
  st.setPresentation(present, st.hidden);
  st.setPreset(p.id);
}
