/**
 * Exclusive knowledge: the truncated deltas against the SVD module's own reconstruction error,
 * the four ways of choosing a rank (fixed, rank_ratio, the spec default, energy), a matrix kept
 * whole where its factors would be no smaller, dense 1-D deltas, excluded tensors kept as each
 * task's own, the materialised merge's formula, and the storage accounting worked by hand.
 */
import { describe, expect, it } from 'vitest';
import { frobeniusError, exactSvd } from '../../src/engine/linalg/svd.js';
import {
  chooseRank,
  compressExclusive,
  decomposeExclusive,
  excludedTensors,
  lowRankPart,
  materializeMerge,
  partDelta,
  truncateExclusive,
  twinStorage,
  type LowRankPart,
  type TwinTensor,
} from '../../src/engine/methods/twin/index.js';
import { createRandom } from '../../src/engine/random.js';
import { expectCode } from '../io/helpers.js';

const rand = (seed: number) => {
  const r = createRandom(seed);
  return (n: number, scale = 1) => Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
};

const tensors: TwinTensor[] = [
  { name: 'layer.weight', shape: [12, 7] },
  { name: 'layer.bias', shape: [12] },
];
const draw = rand(1);
const shared = { 'layer.weight': draw(84), 'layer.bias': draw(12) };
/** An expert whose delta to `shared` is low rank plus a little noise, so truncation has something to keep. */
function expert(seed: number) {
  const d = rand(seed);
  const a = d(12 * 2);
  const b = d(7 * 2);
  const noise = d(84, 0.01);
  const w = new Float32Array(84);
  for (let i = 0; i < 12; i++) for (let j = 0; j < 7; j++) w[i * 7 + j] = shared['layer.weight'][i * 7 + j]! + a[i * 2]! * b[j * 2]! + a[i * 2 + 1]! * b[j * 2 + 1]! + noise[i * 7 + j]!;
  return { 'layer.weight': w, 'layer.bias': Float32Array.from(shared['layer.bias'], (x, i) => x + 0.1 * (i + seed)) };
}
const experts = { a: expert(10), b: expert(20), c: expert(30) };

/** Task a's factors at rank r, whatever the storage rule would keep. */
function lowRankPartOf(d: ReturnType<typeof decomposeExclusive>, r: number): LowRankPart {
  const p = d.parts[0]![0]!;
  if (p.kind !== 'svd') throw new Error('expected an SVD');
  return lowRankPart(p, r);
}

function delta(task: 'a' | 'b' | 'c'): Float32Array {
  return Float32Array.from(experts[task]['layer.weight'], (x, i) => x - shared['layer.weight'][i]!);
}

describe('exclusive knowledge', () => {
  it('keeps U·Σ (m × r) and V (n × r) whose error is the SVD module’s own, and 1-D deltas dense', () => {
    const d = decomposeExclusive(shared, experts, tensors);
    expect(d.tasks).toEqual(['a', 'b', 'c']);
    // 12 × 7: factors cost r · 19 values, the matrix 84, so ranks 1-4 are factored.
    for (const r of [1, 2, 3, 4]) {
      const ex = truncateExclusive(d, { rank: r });
      ex.tasks.forEach((task, ti) => {
        const p = ex.parts[ti]![0]! as LowRankPart;
        expect(p.kind).toBe('lowrank');
        expect(p.rank).toBe(r);
        expect(p.us).toHaveLength(12 * r);
        expect(p.v).toHaveLength(7 * r);
        const full = delta(task as 'a');
        const norm = Math.hypot(...full);
        const want = frobeniusError(full, exactSvd(full, 12, 7), r) / norm;
        expect(p.relativeError).toBeCloseTo(want, 5);
        // us·vᵀ is the reconstruction, to float32.
        const rec = partDelta(p, [12, 7]);
        const err = Math.hypot(...rec.map((x, i) => x - full[i]!)) / norm;
        expect(Math.abs(err - want)).toBeLessThan(1e-5);
        const bias = ex.parts[ti]![1]!;
        expect(bias.kind).toBe('dense');
        expect(Array.from(bias.kind === 'dense' ? bias.delta : [])).toEqual(Array.from(experts[task as 'a']['layer.bias'], (x, i) => Math.fround(x - shared['layer.bias'][i]!)));
      });
    }
    // From rank 5 (5 · 19 = 95 ≥ 84) the delta itself is kept: no larger, and exact.
    for (const r of [5, 7]) {
      const p = truncateExclusive(d, { rank: r }).parts[0]![0]!;
      expect(p.kind).toBe('dense');
      expect(Array.from(p.kind === 'dense' ? p.delta : [])).toEqual(Array.from(delta('a')));
    }
    // Full rank by the factors reproduces the delta.
    const full = lowRankPartOf(d, 7);
    expect(full.relativeError).toBeLessThan(1e-6);
    expect(full.energy).toBeCloseTo(1, 10);
  });

  it("keeps excluded tensors out: each task's own copy, picked by the largest routing weight", () => {
    const ex = compressExclusive(shared, experts, tensors, { rank: 2 }, { excluded: excludedTensors(tensors.map((t) => t.name), ['bias']) });
    expect(ex.excluded).toEqual(['layer.bias']);
    ex.tasks.forEach((task, ti) => {
      const p = ex.parts[ti]![1]!;
      expect(p.kind).toBe('own');
      expect(p.kind === 'own' && p.values).toBe(experts[task as 'a']['layer.bias']);
    });
    // θ* has no bias here: the merge takes the routed (largest-weight) task's, exactly.
    const noBias = { 'layer.weight': shared['layer.weight'] };
    expect(Array.from(materializeMerge(noBias, ex, [0.2, 0.5, 0.3])['layer.bias']!)).toEqual(Array.from(experts.b['layer.bias']));
    expect(Array.from(materializeMerge(noBias, ex, [0.4, 0.2, 0.4])['layer.bias']!)).toEqual(Array.from(experts.a['layer.bias']));
    expect(() => partDelta(ex.parts[0]![1]!, [12])).toThrow(expect.objectContaining({ code: 'PARAMETER_INVALID' }));
    // The rule: a tensor is excluded when its name contains one of the strings.
    expect(excludedTensors(['head.weight', 'head.bias', 'hidden.weight', 'hidden.bias'], ['head', 'bias'])).toEqual(['head.weight', 'head.bias', 'hidden.bias']);
    expect(excludedTensors(['a.weight'], [])).toEqual([]);
  });

  it('chooses ranks: fixed (capped at min(m, n)), the spec default ⌊0.1·min(m, n)⌋ ≥ 1, and by energy share', () => {
    const s = Float64Array.from([3, 2, 1, 0]);
    const total = 14;
    expect(chooseRank({ rank: 10 }, 12, 7, s, total)).toBe(7);
    expect(chooseRank({ rank: 'default' }, 12, 7, s, total)).toBe(1);
    expect(chooseRank({ rank: 'default' }, 1024, 64, s, total)).toBe(6);
    // rank_ratio: ⌊ratio · min(m, n)⌋, at least 1; the paper code's 0.1 gives 76 for a 768-wide layer.
    expect(chooseRank({ rankRatio: 0.1 }, 768, 768, s, total)).toBe(76);
    expect(chooseRank({ rankRatio: 0.1 }, 3072, 768, s, total)).toBe(76);
    expect(chooseRank({ rankRatio: 0.1 }, 70, 700, s, total)).toBe(7);
    expect(chooseRank({ rankRatio: 0.1 }, 10, 1024, s, total)).toBe(1);
    expect(chooseRank({ rankRatio: 0.1 }, 12, 7, s, total)).toBe(1);
    expect(chooseRank({ rankRatio: 0.5 }, 12, 7, s, total)).toBe(3);
    expect(chooseRank({ rankRatio: 1 }, 12, 7, s, total)).toBe(7);
    expect(() => chooseRank({ rankRatio: 0 }, 12, 7, s, total)).toThrow(expect.objectContaining({ code: 'PARAMETER_OUT_OF_RANGE' }));
    expect(chooseRank({ energy: 9 / 14 }, 12, 7, s, total)).toBe(1);
    expect(chooseRank({ energy: 0.65 }, 12, 7, s, total)).toBe(2);
    expect(chooseRank({ energy: 13 / 14 }, 12, 7, s, total)).toBe(2);
    expect(chooseRank({ energy: 1 }, 12, 7, s, total)).toBe(3);
    // Against the whole ‖Δ‖²: a truncated spectrum that holds 13 of 20 cannot reach 0.9.
    expect(chooseRank({ energy: 0.9 }, 12, 7, Float64Array.from([3, 2]), 20)).toBe(2);
    const ex = compressExclusive(shared, experts, tensors, { energy: 0.999 });
    for (const row of ex.parts) {
      const p = row[0]! as LowRankPart;
      expect(p.energy).toBeGreaterThanOrEqual(0.999 - 1e-12);
      expect(p.rank).toBeGreaterThanOrEqual(2); // two strong directions in every delta
    }
  });

  it('warns when the computed spectrum is too short for the rank asked', () => {
    const d = decomposeExclusive(shared, experts, tensors, { maxRank: 2 });
    const ex = truncateExclusive(d, { rank: 4 });
    expect((ex.parts[0]![0] as LowRankPart).rank).toBe(2);
    expect(ex.warnings[0]).toMatch(/Task "a", tensor "layer.weight": rank 4 was asked but only 2/);
  });

  it('materialises θ* + Σ w_t Δ_t', () => {
    const ex = compressExclusive(shared, experts, tensors, { rank: 2 });
    const w = [0.5, 0.25, 0.25];
    const merged = materializeMerge(shared, ex, w);
    const deltas = ex.parts.map((row) => partDelta(row[0]!, [12, 7]));
    for (let i = 0; i < 84; i++) {
      const want = shared['layer.weight'][i]! + w[0]! * deltas[0]![i]! + w[1]! * deltas[1]![i]! + w[2]! * deltas[2]![i]!;
      expect(merged['layer.weight']![i]).toBeCloseTo(want, 6);
    }
    // One-hot weights on the bias give the expert's own bias back (dense deltas are exact).
    const own = materializeMerge(shared, ex, [0, 1, 0]);
    for (let i = 0; i < 12; i++) expect(own['layer.bias']![i]).toBeCloseTo(experts.b['layer.bias'][i]!, 6);
  });

  it('errors name the tensor or setting', async () => {
    await expectCode(() => decomposeExclusive(shared, { a: { 'layer.weight': experts.a['layer.weight'] } }, tensors), 'TENSOR_MISSING', 'Expert "a"', 'layer.bias');
    await expectCode(() => decomposeExclusive(shared, { a: { ...experts.a, 'layer.bias': new Float32Array(3) } }, tensors), 'SHAPE_MISMATCH', 'layer.bias', '[12]');
    await expectCode(() => compressExclusive(shared, experts, tensors, { rank: 0 }), 'PARAMETER_OUT_OF_RANGE', 'rank');
    await expectCode(() => compressExclusive(shared, experts, tensors, { energy: 1.5 }), 'PARAMETER_OUT_OF_RANGE', 'energy');
    await expectCode(() => decomposeExclusive(shared, {}, tensors), 'TOO_FEW_MODELS');
    await expectCode(() => materializeMerge(shared, compressExclusive(shared, experts, tensors, { rank: 1 }), [1, 0]), 'SHAPE_MISMATCH', '3 tasks');
  });
});

describe('storage', () => {
  it('counts θ* + r·(m + n) per task and matrix + dense deltas, against T experts; the router apart', () => {
    const ex = compressExclusive(shared, experts, tensors, { rank: 2 });
    const s = twinStorage(tensors, ex, 100);
    const model = 84 + 12;
    expect(s).toMatchObject({ shared: model, factors: 3 * 2 * (12 + 7), dense: 3 * 12, own: 0, router: 100, experts: 3 * model, dtype: 'F32', bytesPerValue: 4 });
    expect(s.total).toBe(model + 114 + 36);
    expect(s.ratio).toBeCloseTo(s.total / (3 * model), 12);
    expect(s.bytes).toEqual({ total: 4 * s.total, experts: 4 * 3 * model });
    expect(s.withRouter).toEqual({ values: s.total + 100, bytes: 4 * (s.total + 100), ratio: (s.total + 100) / (3 * model) });
    expect(twinStorage(tensors, ex, 0, 'F16').bytes.total).toBe(2 * (model + 114 + 36));
    // An excluded bias: θ* holds only the weight, and each task its own 12 values.
    const own = twinStorage(tensors, compressExclusive(shared, experts, tensors, { rank: 2 }, { excluded: ['layer.bias'] }));
    expect(own).toMatchObject({ shared: 84, factors: 114, dense: 0, own: 36, total: 84 + 114 + 36 });
    // A matrix kept whole (rank 5: 95 ≥ 84) costs its 84 values per task, not 95.
    expect(twinStorage(tensors, compressExclusive(shared, experts, tensors, { rank: 5 }))).toMatchObject({ factors: 0, dense: 3 * (84 + 12) });
  });
});
