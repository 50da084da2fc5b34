/**
 * The lab's state in the URL hash (src/app/url-state.ts), on the real store with no engine started
 * (its setters then only set state): a hash the lab writes restores the same state (and so the
 * same hash), a preset link applies the preset, and values the lab could not have written (an
 * unknown method, a non-number, a value out of range) leave the state as it was. The checks name
 * the keys they are about, so keys added to the hash later do not break them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyHash, stateToHash } from '../../src/app/url-state.js';
import { findPreset } from '../../src/app/presets.js';
import { useLabStore } from '../../src/app/store/index.js';
import type { LabState } from '../../src/app/store/types.js';

const initial = useLabStore.getState();
afterEach(() => useLabStore.setState(initial, true));
const st = () => useLabStore.getState();
const reset = () => useLabStore.setState(initial, true);

/** The state a hash carries, as fields (what each test compares). */
const carried = (s: LabState) => ({
  method: s.method,
  density: s.density,
  lambda: s.lambda,
  tab: s.tab,
  globals: s.globals,
  perModel: s.perModel,
  spectrumTensor: s.spectrumTensor,
  svdRank: s.svdRank,
  sweepParam: s.sweepParam,
  present: s.present,
  hidden: [...s.hidden].sort(),
  preset: s.preset,
  demoSplit: s.demoSplit,
  twin: s.twin,
  channel: s.channel,
});

/** Writes the current state's hash, forgets the state, applies the hash: the same state and hash come back. */
function expectRoundTrip(): string {
  const before = carried(st());
  const hash = stateToHash(st());
  reset();
  expect(carried(st())).not.toEqual(before); // the test set something the defaults do not have
  applyHash(`#${hash}`);
  expect(carried(st())).toEqual(before);
  expect(stateToHash(st())).toBe(hash);
  return hash;
}

describe('a hash the lab writes round-trips', () => {
  it('method, sliders, globals, per-model values, tab, chart choices, presentation, hidden parts and preset', () => {
    const s = st();
    s.setMethod('dare_ties');
    s.setDensity(0.45);
    s.setLambda(0.7);
    s.setTab('methods');
    s.setGlobal('normalize', true);
    s.setGlobal('rescale', false);
    // An id with dots (a file name): the parameter is what follows the last one.
    s.setModelParam('expert-a.safetensors', 'weight', 0.5);
    s.setSpectrumTensor('hidden.weight');
    s.setSvdRank(3);
    s.setSweepParam('lambda');
    s.setPresentation(true, ['cosines', 'spectrum']);
    s.setPreset('signs');
    s.setDemoSplit('test');
    const hash = expectRoundTrip();
    const q = new URLSearchParams(hash);
    expect(q.get('method')).toBe('dare_ties');
    expect(q.get('test')).toBe('1');
    expect(q.get('w.expert-a.safetensors.weight')).toBe('0.5');
    expect(st().perModel).toEqual({ 'expert-a.safetensors': { weight: 0.5 } });
    expect(st().globals).toEqual({ normalize: true, rescale: false });
  });

  it('Twin-Merging’s controls, with a rank', () => {
    st().setMethod('twin_merging');
    st().setTwin({ sharedMethod: 'ties', sharedDensity: 0.4, lambda: 0.6, rank: 6, temperature: 2, topK: 2, oracle: true, hard: true });
    expectRoundTrip();
    expect(st().twin).toMatchObject({ sharedMethod: 'ties', sharedDensity: 0.4, lambda: 0.6, useEnergy: false, rank: 6, temperature: 2, topK: 2, oracle: true, hard: true });
  });

  it('Twin-Merging’s controls, with an energy share', () => {
    st().setMethod('twin_merging');
    st().setTwin({ useEnergy: true, energy: 0.8, lambda: 0.9 });
    expectRoundTrip();
    expect(st().twin).toMatchObject({ useEnergy: true, energy: 0.8, lambda: 0.9 });
  });

  it('Twin-Merging’s controls, with rank_ratio, exclude, the paper’s router, the test split and mixed inputs', () => {
    st().setMethod('twin_merging');
    st().setTwin({ useEnergy: false, useRatio: true, rankRatio: 0.1, exclude: ['head', 'bias'], router: 'paper', testScore: true, mixed: true });
    expectRoundTrip();
    expect(st().twin).toMatchObject({ useRatio: true, rankRatio: 0.1, exclude: ['head', 'bias'], router: 'paper', testScore: true, mixed: true });
  });

  it('Channel Merging’s controls', () => {
    st().setMethod('channel_merging');
    st().setChannel({ K: 3, groupMethod: 'task_arithmetic', lambda: 0.8, density: 0.5, oracle: true, tensor: 'hidden.weight', clustering: 'average_linkage', testScore: true });
    expectRoundTrip();
    expect(st().channel).toEqual({ K: 3, groupMethod: 'task_arithmetic', lambda: 0.8, density: 0.5, oracle: true, tensor: 'hidden.weight', clustering: 'average_linkage', testScore: true });
  });
});

describe('presets', () => {
  it('a link naming only a preset applies its method, settings and hidden parts', () => {
    applyHash('#preset=rank');
    const p = new URLSearchParams(findPreset('rank')!.hash);
    expect(st()).toMatchObject({ preset: 'rank', method: p.get('method'), lambda: Number(p.get('lambda')), spectrumTensor: p.get('tensor'), svdRank: Number(p.get('rank')) });
    expect([...st().hidden].sort()).toEqual(['conflicts', 'sweep']);
  });

  it('a preset link that hides parts itself hides those instead', () => {
    applyHash('#preset=rank&controls_hide=1');
    expect(st().method).toBe('task_arithmetic');
    expect(st().hidden).toEqual(['controls']);
  });

  it('beside a method, the link’s own settings win and the preset only names the story', () => {
    applyHash('#method=ties&lambda=1.2&preset=rank');
    expect(st()).toMatchObject({ method: 'ties', lambda: 1.2, preset: 'rank', spectrumTensor: undefined, svdRank: undefined });
  });

  it('an unknown preset applies nothing', () => {
    const before = stateToHash(st());
    applyHash('#preset=no-such-lesson');
    expect(st().preset).toBeUndefined();
    expect(stateToHash(st())).toBe(before);
  });
});

describe('values the lab could not have written are ignored', () => {
  /** Sets a known state, applies `hash`, and returns the state's fields before and after. */
  function apply(hash: string, setup: () => void = () => undefined) {
    setup();
    const before = carried(st());
    applyHash(hash);
    return { before, after: carried(st()) };
  }

  it('an unknown method, tab, sweep or hidden part, and non-numbers, change nothing', () => {
    const { before, after } = apply('#method=no_such_method&density=abc&lambda=&tab=nowhere&sweep=sideways&rank=x&tensor=&bogus_hide=1&g.normalize=maybe&g.rescale=&w.a.weight=heavy&w.weight=0.5', () => {
      st().setMethod('ties');
      st().setDensity(0.4);
      st().setLambda(0.8);
    });
    expect(after).toEqual(before);
  });

  it('NaN and infinities are not numbers', () => {
    const { before, after } = apply('#density=NaN&lambda=Infinity&rank=-Infinity&g.epsilon=NaN&w.a.weight=Infinity');
    expect(after).toEqual(before);
  });

  it('a bad value leaves the good ones beside it applied', () => {
    apply('#method=nope&density=0.6&lambda=oops&tab=about');
    expect(st()).toMatchObject({ method: initial.method, density: 0.6, lambda: initial.lambda, tab: 'about' });
  });

  it('the SVD rank must be a whole number from 1', () => {
    for (const rank of ['0', '-2', '2.5']) {
      st().setSvdRank(3);
      applyHash(`#rank=${rank}`);
      expect(st().svdRank).toBe(3);
    }
  });

  it('density never leaves [0, 1]; a global parameter never leaves its schema’s range', () => {
    for (const density of ['5', '-1']) {
      applyHash(`#density=${density}`);
      expect(st().density).toBeGreaterThanOrEqual(0);
      expect(st().density).toBeLessThanOrEqual(1);
    }
    applyHash('#method=della&g.epsilon=0.6');
    expect(st().globals['epsilon']).toBeUndefined(); // at or past its exclusive bound 0.5: no value can stand for it
    applyHash('#method=della&g.epsilon=-1');
    expect(st().globals['epsilon']).toBe(0);
  });

  it('Twin-Merging values out of range keep the controls', () => {
    st().setMethod('twin_merging');
    st().setTwin({ sharedDensity: 0.4, lambda: 0.6, rank: 6, temperature: 2, energy: 0.8 });
    const before = st().twin;
    applyHash('#method=twin_merging&twin.density=1.5&twin.lambda=-2&twin.rank=0&twin.energy=2&twin.temperature=-1&twin.topk=0');
    expect(st().twin).toMatchObject({ sharedDensity: before.sharedDensity, lambda: before.lambda, rank: before.rank, energy: before.energy, useEnergy: false, temperature: before.temperature, topK: undefined });
    applyHash('#method=twin_merging&twin.density=0&twin.rank=2.5&twin.temperature=0');
    expect(st().twin).toMatchObject({ sharedDensity: before.sharedDensity, rank: before.rank, temperature: before.temperature });
  });

  it('Channel Merging values out of range keep the controls', () => {
    st().setMethod('channel_merging');
    st().setChannel({ K: 3, groupMethod: 'ties', lambda: 0.8, density: 0.5 });
    const before = st().channel;
    applyHash('#method=channel_merging&channel.K=0&channel.method=slerp&channel.lambda=-1&channel.density=1.5');
    expect(st().channel).toMatchObject({ K: before.K, groupMethod: before.groupMethod, lambda: before.lambda, density: before.density });
    applyHash('#method=channel_merging&channel.K=2.5&channel.density=0');
    expect(st().channel).toMatchObject({ K: before.K, density: before.density });
  });

  // setModelParam once took any finite number, so `w.a.density=7` put density 7 in the user's recipe.
  it('a per-model value out of its schema’s range is not applied', () => {
    applyHash('#method=ties&w.a.density=7');
    const d = st().perModel['a']?.['density'];
    expect(d === undefined || (d >= 0 && d <= 1)).toBe(true);
  });

  // A number for a boolean global (`g.normalize=1`) was once stored as the number 1.
  it('a boolean global takes only true or false', () => {
    applyHash('#method=ties&g.normalize=1');
    const v = st().globals['normalize'];
    expect(v === undefined || typeof v === 'boolean').toBe(true);
  });
});
