/**
 * The lab's state in the URL hash, like the TensorFlow Playground's: the method, the global
 * controls, per-model values and the open tab, e.g.
 * `#method=ties&density=0.3&lambda=1&tab=methods&g.normalize=false&w.expert-a.weight=0.5`, the demo's
 * own controls (`m.invert.weight=0.5`, `baseweight=0.3`, `seed=7`, `l.density=hidden:0.4,head:0.6`,
 * `pair=invert,permute`), plus the
 * charts' choices (`tensor`, `rank`, `sweep`), presentation mode (`present=1`), hidden parts
 * (`controls_hide=1`, …), the preset whose story is shown (`preset=signs`) and the language-model
 * demo in place of the digits demo (`demo=lm`; `demo=digits` goes back).
 * Opening such a URL restores them; every change rewrites the hash (replaceState, so the Back
 * button is not flooded). Unknown methods, tabs and non-numbers are ignored.
 */
import { DEFAULT_RANDOM_SEED } from '../engine/merge/seed.js';
import { isHideable } from './presentation.js';
import { findPreset } from './presets.js';
import { useLabStore } from './store/index.js';
import { GROUP_METHODS } from './routed/methods.js';
import type { ChannelControls, LabState, TabId, TwinControls } from './store/types.js';

const TABS: readonly TabId[] = ['models', 'methods', 'about'];

/** The hash for the state (without '#'). */
export function stateToHash(s: LabState): string {
  const q = new URLSearchParams();
  // Which demo first: a link opens on it (one's own checkpoints cannot travel in a link).
  if (s.source === 'lm') q.set('demo', 'lm');
  q.set('method', s.method);
  q.set('density', String(s.density));
  q.set('lambda', String(s.lambda));
  q.set('tab', s.tab);
  for (const [k, v] of Object.entries(s.globals)) q.set(`g.${k}`, String(v));
  for (const [id, params] of Object.entries(s.perModel)) for (const [k, v] of Object.entries(params)) q.set(`w.${id}.${k}`, String(v));
  // The demo's own controls, each only when it is not at its default.
  for (const [id, params] of Object.entries(s.demoModels)) for (const [k, v] of Object.entries(params)) q.set(`m.${id}.${k}`, String(v));
  if (s.baseWeight !== undefined) q.set('baseweight', String(s.baseWeight));
  if (s.randomSeed !== DEFAULT_RANDOM_SEED) q.set('seed', String(s.randomSeed));
  for (const [name, groups] of Object.entries(s.layered)) q.set(`l.${name}`, Object.entries(groups).map(([g, v]) => `${g}:${v}`).join(','));
  if (s.pair) q.set('pair', `${s.pair.base},${s.pair.other}`);
  if (s.spectrumTensor) q.set('tensor', s.spectrumTensor);
  if (s.svdRank) q.set('rank', String(s.svdRank));
  q.set('sweep', s.sweepParam);
  // The digits demo's live score on the held-out test split (validation unless asked).
  if (s.demoSplit === 'test') q.set('test', '1');
  if (s.present) q.set('present', '1');
  for (const h of s.hidden) q.set(`${h}_hide`, '1');
  if (s.preset) q.set('preset', s.preset);
  // The routed methods' controls, only while one is chosen (the hash stays short otherwise).
  if (s.method === 'twin_merging') {
    const t = s.twin;
    if (t.sharedMethod !== 'task_arithmetic') {
      q.set('twin.shared', t.sharedMethod);
      q.set('twin.density', String(t.sharedDensity));
    }
    q.set('twin.lambda', String(t.lambda));
    if (t.useEnergy) q.set('twin.energy', String(t.energy));
    else if (t.useRatio) q.set('twin.ratio', String(t.rankRatio));
    else q.set('twin.rank', String(t.rank));
    if (t.exclude.length) q.set('twin.exclude', t.exclude.join(','));
    if (t.router !== 'small') q.set('twin.router', t.router);
    if (t.testScore) q.set('twin.test', '1');
    if (t.mixed) q.set('twin.mixed', '1');
    q.set('twin.temperature', String(t.temperature));
    if (t.topK !== undefined) q.set('twin.topk', String(t.topK));
    if (t.oracle) q.set('twin.oracle', '1');
    if (t.hard) q.set('twin.hard', '1');
  }
  if (s.method === 'channel_merging') {
    const c = s.channel;
    q.set('channel.K', String(c.K));
    q.set('channel.method', c.groupMethod);
    q.set('channel.lambda', String(c.lambda));
    q.set('channel.density', String(c.density));
    if (c.oracle) q.set('channel.oracle', '1');
    if (c.tensor) q.set('channel.tensor', c.tensor);
    if (c.clustering !== 'kmeans') q.set('channel.clustering', c.clustering);
    if (c.testScore) q.set('channel.test', '1');
  }
  return q.toString();
}

/** Applies a hash (with or without '#') to the store. */
export function applyHash(hash: string): void {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  // A link that names only a preset (#preset=rank) gets the preset's settings; a URL the lab wrote
  // names the method and its settings beside the preset, and those win.
  const preset = findPreset(q.get('preset'));
  const presetOnly = preset !== undefined && !q.has('method');
  if (presetOnly) applyHash(preset.hash);
  const st = useLabStore.getState();
  const num = (v: string | null) => (v === null || v.trim() === '' ? NaN : Number(v));
  // The LM demo is fetched when chosen: here, before anything else is applied.
  const demo = q.get('demo');
  if (demo === 'lm') st.setSource('lm');
  else if (demo === 'digits' && st.source === 'lm') st.setSource('demo');
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
  // The preset's hidden charts stay unless the link hides others itself.
  st.setPresentation(on(q.get('present')), presetOnly && hidden.length === 0 ? st.hidden : hidden);
  st.setPreset(findPreset(q.get('preset'))?.id);
  st.setDemoSplit(on(q.get('test')) ? 'test' : 'validation');
  applyRouted(q, num, on);
  const baseWeight = num(q.get('baseweight'));
  if (Number.isFinite(baseWeight)) st.setBaseWeight(baseWeight);
  const seed = num(q.get('seed'));
  if (Number.isFinite(seed)) st.setRandomSeed(seed);
  const pair = q.get('pair')?.split(',');
  if (pair?.length === 2 && pair[0] && pair[1]) st.setPair({ base: pair[0], other: pair[1] });
  for (const [k, v] of q) {
    if (k.startsWith('g.')) {
      const name = k.slice(2);
      if (v === 'true' || v === 'false') st.setGlobal(name, v === 'true');
      else if (Number.isFinite(num(v))) st.setGlobal(name, num(v));
    } else if (k.startsWith('m.')) {
      const dot = k.lastIndexOf('.');
      if (dot > 2 && Number.isFinite(num(v))) st.setDemoModelParam(k.slice(2, dot), k.slice(dot + 1), num(v));
    } else if (k.startsWith('l.')) {
      // name=group:value,group:value — one value that is not a number refuses the whole set (setLayered does).
      const groups = Object.fromEntries(v.split(',').map((e) => [e.slice(0, e.lastIndexOf(':')), num(e.slice(e.lastIndexOf(':') + 1))]));
      if (k.length > 2 && Object.keys(groups).every((g) => g !== '')) st.setLayered(k.slice(2), groups);
    } else if (k.startsWith('w.')) {
      const dot = k.lastIndexOf('.');
      if (dot > 2 && Number.isFinite(num(v))) st.setModelParam(k.slice(2, dot), k.slice(dot + 1), num(v));
    }
  }
}

/** The routed methods' keys (twin.*, channel.*), each applied only when it is valid. */
function applyRouted(q: URLSearchParams, num: (v: string | null) => number, on: (v: string | null) => boolean): void {
  const st = useLabStore.getState();
  if ([...q.keys()].some((k) => k.startsWith('twin.'))) {
    const patch: Partial<TwinControls> = {};
    const lambda = num(q.get('twin.lambda'));
    if (Number.isFinite(lambda) && lambda >= 0) Object.assign(patch, { lambda });
    const shared = q.get('twin.shared');
    Object.assign(patch, { sharedMethod: shared === 'ties' ? 'ties' : 'task_arithmetic' });
    const sharedDensity = num(q.get('twin.density'));
    if (Number.isFinite(sharedDensity) && sharedDensity > 0 && sharedDensity <= 1) Object.assign(patch, { sharedDensity });
    const energy = num(q.get('twin.energy'));
    const ratio = num(q.get('twin.ratio'));
    const rank = num(q.get('twin.rank'));
    if (Number.isFinite(energy) && energy > 0 && energy <= 1) Object.assign(patch, { useEnergy: true, energy });
    else if (Number.isFinite(ratio) && ratio > 0 && ratio <= 1) Object.assign(patch, { useEnergy: false, useRatio: true, rankRatio: ratio });
    else if (Number.isInteger(rank) && rank >= 1) Object.assign(patch, { useEnergy: false, useRatio: false, rank });
    const exclude = q.get('twin.exclude');
    Object.assign(patch, {
      exclude: exclude ? exclude.split(',').map((x) => x.trim()).filter((x) => x) : [],
      router: q.get('twin.router') === 'paper' ? 'paper' : 'small',
      testScore: on(q.get('twin.test')),
      mixed: on(q.get('twin.mixed')),
    });
    const temperature = num(q.get('twin.temperature'));
    if (Number.isFinite(temperature) && temperature > 0) Object.assign(patch, { temperature });
    const topK = num(q.get('twin.topk'));
    Object.assign(patch, { topK: Number.isInteger(topK) && topK >= 1 ? topK : undefined, oracle: on(q.get('twin.oracle')), hard: on(q.get('twin.hard')) });
    st.setTwin(patch);
  }
  if ([...q.keys()].some((k) => k.startsWith('channel.'))) {
    const patch: Partial<ChannelControls> = {};
    const K = num(q.get('channel.K'));
    if (Number.isInteger(K) && K >= 1) Object.assign(patch, { K });
    const method = GROUP_METHODS.find((m) => m.id === q.get('channel.method'));
    if (method) Object.assign(patch, { groupMethod: method.id });
    const lambda = num(q.get('channel.lambda'));
    if (Number.isFinite(lambda) && lambda >= 0) Object.assign(patch, { lambda });
    const density = num(q.get('channel.density'));
    if (Number.isFinite(density) && density > 0 && density <= 1) Object.assign(patch, { density });
    const tensor = q.get('channel.tensor');
    Object.assign(patch, {
      oracle: on(q.get('channel.oracle')),
      ...(tensor ? { tensor } : {}),
      clustering: q.get('channel.clustering') === 'average_linkage' ? 'average_linkage' : 'kmeans',
      testScore: on(q.get('channel.test')),
    });
    st.setChannel(patch);
  }
}

/** How long the hash waits for the state to settle before it is rewritten. */
export const HASH_WRITE_DELAY_MS = 120;

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
  // A moving slider rewrites the hash once it pauses: replaceState on every input cost the main
  // thread more than drawing the score did. A page being left writes what is pending at once.
  let pending: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(pending);
    pending = undefined;
    write(useLabStore.getState());
  };
  // Slider-driven values wait for the slider to pause; a click (tab, method, preset, view) is written at once.
  const sliders: (keyof LabState)[] = ['density', 'lambda', 'globals', 'perModel', 'demoModels', 'layered', 'svdRank', 'twin', 'channel'];
  const clicks: (keyof LabState)[] = ['source', 'method', 'tab', 'spectrumTensor', 'sweepParam', 'present', 'hidden', 'preset', 'baseWeight', 'randomSeed', 'pair', 'demoSplit'];
  useLabStore.subscribe((s, prev) => {
    if (clicks.some((k) => s[k] !== prev[k])) flush();
    else if (sliders.some((k) => s[k] !== prev[k])) {
      clearTimeout(pending);
      pending = setTimeout(flush, HASH_WRITE_DELAY_MS);
    }
  });
  window.addEventListener('pagehide', () => pending !== undefined && flush());
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
