/**
 * The nine methods after model_stock (passthrough … ramplus_tl) on hand-made tensors: formulas
 * worked by hand, torch.topk's choice among ties, arcee_fusion's sampled quantiles; and that the
 * README's method list and the lab's Methods tab name every method of the registry. Their parity
 * with mergekit's pipeline is test/parity/mergekit-more.test.ts.
 */
import { readFileSync } from 'node:fs';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { MethodsPanel } from '../../src/app/components/MethodsPanel.js';
import { quantileSample } from '../../src/engine/methods/arcee-fusion.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { torchTopkMask } from '../../src/engine/methods/torch-topk.js';
import { expectClose, runMethod } from './helpers.js';

const NEW = ['passthrough', 'nuslerp', 'multislerp', 'karcher', 'sce', 'nearswap', 'arcee_fusion', 'ram', 'ramplus_tl'];

describe('where the methods are listed', () => {
  it("the README's method list names every method of the registry", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Methods'), readme.indexOf('### What "exactly as mergekit" covers'));
    for (const m of METHODS) expect(section, m.id).toContain(`\`${m.id}\``);
    for (const name of new Set(METHODS.flatMap((m) => m.params.map((p) => p.name)))) expect(section, name).toContain(`\`${name}\``);
  });

  it("the lab's Methods tab shows each method's name, formula, reference and parameters", () => {
    const html = renderToStaticMarkup(createElement(MethodsPanel));
    const text = html.replace(/<[^>]+>/g, ' ').replace(/&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
    for (const id of NEW) {
      const m = METHODS.find((x) => x.id === id)!;
      expect(m.formula && m.reference, id).toBeTruthy();
      for (const part of [m.label, m.id, m.formula!, m.reference!, ...m.params.map((p) => p.name)]) expect(text, `${id}: ${part}`).toContain(part);
    }
  });
});

describe('formulas by hand', () => {
  it('passthrough copies the one model, times scale when set', () => {
    const values = [1, -2, 0.5, 3];
    expect([...runMethod('passthrough', { shape: [4], models: [{ values }] }).values]).toEqual(values);
    expect([...runMethod('passthrough', { shape: [4], models: [{ values, params: { scale: -0.5 } }] }).values]).toEqual([-0.5, 1, -0.25, -1.5]);
  });

  it('nuslerp of two orthogonal rows at equal weights: sin(π/4)/sin(π/2)·(v1 + v2); t = w2/(w1+w2)', () => {
    const v0 = [3, 0, 0, 2];
    const v1 = [0, 3, 2, 0];
    const half = runMethod('nuslerp', { shape: [2, 2], models: [{ values: v0, params: { weight: 1 } }, { values: v1, params: { weight: 1 } }], global: { nuslerp_flatten: false } });
    // Rows [3, 0]·[0, 3] and [0, 2]·[2, 0]: each at a right angle.
    expectClose(half.values, v0.map((x, i) => Math.SQRT1_2 * (x + v1[i]!)));
    // Weights 1 and 3: t = 0.75, so sin(π/8)·v1 + sin(3π/8)·v2.
    const quarter = runMethod('nuslerp', { shape: [4], models: [{ values: [1, 0, 0, 0], params: { weight: 1 } }, { values: [0, 1, 0, 0], params: { weight: 3 } }] });
    expectClose(quarter.values, [Math.sin(Math.PI / 8), Math.sin((3 * Math.PI) / 8), 0, 0]);
  });

  it('nearswap: w = clamp(t/|θ0 − θ1|, 0, 1), θ = w·θ1 + (1 − w)·θ0', () => {
    const base = [0, 0, 0, 1];
    const other = [0.001, 0.02, -0.5, 1];
    const { values } = runMethod('nearswap', { shape: [4], models: [{ isBase: true, values: base }, { values: other }], global: { t: 0.01 } });
    // |Δ| 0.001 < t: swapped; 0.02: half-way; 0.5: 2 % of the way; 0 (floored to 1e-6): swapped.
    expectClose(values, [0.001, 0.01, -0.01, 1]);
  });

  it('ram adds an entry one model changed as it is and averages one several changed', () => {
    const base = [1, 1, 1, 1];
    const a = [2, 1, 3, 1 + 1e-6];
    const b = [1, 1, 5, 1];
    const { values } = runMethod('ram', { shape: [4], models: [{ isBase: true, values: base }, { values: a }, { values: b }] });
    // Entry 0: only a (τ 1); 2: both (τ 2 and 4, mean 3); 3: a's 1e-6 is within epsilon.
    expectClose(values, [2, 1, 4, 1]);
  });

  it('karcher of two orthogonal vectors of norms 2 and 4: the bisector, scaled by the mean norm 3', () => {
    const { values } = runMethod('karcher', { shape: [2], models: [{ values: [2, 0] }, { values: [0, 4] }] });
    expectClose(values, [3 * Math.SQRT1_2, 3 * Math.SQRT1_2], 1e-5);
  });
});

describe("sce's selection: the entries torch.topk takes, ties included", () => {
  const cases = JSON.parse(readFileSync(new URL('../fixtures/mergekit-more/torch-topk.json', import.meta.url), 'utf8')) as { values: number[]; k: number; indices: number[] }[];
  it('equals torch 1.13 on both its paths (partial_sort for k·64 ≤ n, nth_element else)', () => {
    expect(cases.some((c) => c.k * 64 <= c.values.length) && cases.some((c) => c.k * 64 > c.values.length)).toBe(true);
    for (const c of cases) {
      const mask = torchTopkMask(Float32Array.from(c.values), c.k);
      const picked = [...mask.keys()].filter((i) => mask[i]);
      expect(picked, `n ${c.values.length}, k ${c.k}`).toEqual(c.indices);
    }
  });
  it('is not just any top k: a stable choice among the ties would differ', () => {
    const differs = cases.some((c) => {
      const stable = [...c.values.keys()].sort((i, j) => c.values[j]! - c.values[i]! || i - j).slice(0, c.k).sort((i, j) => i - j);
      return stable.join() !== c.indices.join();
    });
    expect(differs).toBe(true);
  });
});

describe("arcee_fusion's quantiles over a tensor of more than a million entries", () => {
  it('are taken over a seeded random million, as mergekit samples: the same million for the same seed, and about the entries the exact quantiles take', () => {
    const rows = 1001;
    const cols = 1000;
    // Every row of the other model is a permutation of one row, over a zero base: the KL term is the
    // same for each row, so importance ranks as |θ1 − θ0| and the exact cut is computable here.
    // Exponentially distributed magnitudes: about e^−2.3 ≈ 10 % lie above median + 1.5·IQR.
    const row = Float32Array.from({ length: cols }, (_, j) => Math.fround(-Math.log((j + 0.5) / cols) * 0.01));
    const other = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) other[r * cols + j] = row[(j * 7 + r * 13) % cols]!;
    const base = new Float32Array(rows * cols);
    const first = runMethod('arcee_fusion', { shape: [rows, cols], seed: 3, models: [{ isBase: true, values: base }, { values: other }] }).values;
    // The sample: a million of the entries, the same ones for the same seed.
    const a = quantileSample(other, 3);
    expect(a.length).toBe(1_000_000);
    const same = (x: Float32Array, y: Float32Array) => x.every((v, i) => Object.is(v, y[i]));
    expect(same(quantileSample(other, 3), a)).toBe(true);
    expect(same(quantileSample(other, 4), a)).toBe(false);
    const sorted = Float32Array.from(other, Math.abs).sort();
    const at = (q: number) => sorted[Math.trunc(q * (sorted.length - 1))]!;
    const cut = at(0.5) + 1.5 * (at(0.75) - at(0.25));
    const exact = sorted.filter((x) => x >= cut).length;
    const taken = first.filter((x) => x !== 0).length;
    expect(exact).toBeGreaterThan(1000);
    // Each magnitude occurs once per row: a sampled quantile one level off moves `rows` entries.
    expect(Math.abs(taken - exact)).toBeLessThanOrEqual(2 * rows);
  });
});
