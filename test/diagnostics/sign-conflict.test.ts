/** Sign conflict and dropped mass on tiny vectors, worked by hand; trims as TIES makes them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conflictRates, electionVectors, signConflictCounts } from '../../src/engine/diagnostics/sign-conflict.js';

const f = (...x: number[]) => Float32Array.from(x);
const TOL = 6; // decimal places (float32 inputs)

describe('signConflictCounts (hand-worked)', () => {
  it('counts contested entries, conflicts and the mass the election drops', () => {
    const u = [f(1, -2, 0, 3, 0.5), f(2, 1, 0, -1, 0.25), f(-1, 0, 4, -1, 0)];
    // e0: +,+,− contested, conflict, vote 2 → +, drops 1. e1: −,+ conflict, vote −1 → −, drops 1.
    // e2: one nonzero, not contested. e3: +,−,− conflict, vote 1 → +, drops 2. e4: +,+ agree.
    const c = signConflictCounts(u);
    expect(c).toEqual({ contested: 4, conflicts: 3, mass: 16.75, dropped: 4 });
    const r = conflictRates(c);
    expect(r.conflictRate).toBeCloseTo(0.75, 12);
    expect(r.droppedMass).toBeCloseTo(4 / 16.75, 12);
  });
  it('elects + on a tied vote (Σ u = 0), as gta.ts does (≥ 0 → +)', () => {
    const c = signConflictCounts([f(1), f(-1)]);
    expect(c).toEqual({ contested: 1, conflicts: 1, mass: 2, dropped: 1 });
  });
  it('drops nothing without an election, but still counts conflicts', () => {
    const c = signConflictCounts([f(1, -2), f(-1, 3)], false);
    expect(conflictRates(c)).toEqual({ conflictRate: 1, droppedMass: 0 });
  });
  it('is 0 when every task vector shares its signs, or nothing is contested', () => {
    expect(conflictRates(signConflictCounts([f(1, -2, 0, 5), f(3, -1, 0, 0), f(0.5, -0.1, 7, 0)]))).toEqual({ conflictRate: 0, droppedMass: 0 });
    expect(conflictRates(signConflictCounts([f(1, 0), f(0, -1)]))).toEqual({ conflictRate: 0, droppedMass: 0 });
    expect(conflictRates(signConflictCounts([]))).toEqual({ conflictRate: 0, droppedMass: 0 });
  });
});

/** The definition, written plainly: the counted loop must give exactly these sums. */
function referenceCounts(u: readonly Float32Array[], election = true) {
  const c = { contested: 0, conflicts: 0, mass: 0, dropped: 0 };
  for (let e = 0; e < (u[0]?.length ?? 0); e++) {
    const xs = u.map((v) => v[e]!);
    let vote = 0;
    for (const x of xs) vote = Math.fround(vote + x);
    const pos = xs.filter((x) => x > 0);
    const neg = xs.filter((x) => x < 0);
    if (pos.length + neg.length >= 2) c.contested++;
    if (pos.length > 0 && neg.length > 0) c.conflicts++;
    let mass = 0;
    for (const x of xs) if (x > 0) mass += x;
    else if (x < 0) mass -= x;
    c.mass += mass;
    if (election && pos.length > 0 && neg.length > 0) for (const x of xs) if (vote >= 0 ? x < 0 : x > 0) c.dropped += Math.abs(x);
  }
  return c;
}

describe('signConflictCounts (property)', () => {
  it('gives exactly the definition\'s sums, zeros, −0 and NaN entries included', () => {
    const value = fc.oneof(fc.constant(0), fc.constant(-0), fc.constant(Number.NaN), fc.float({ noNaN: true, min: -4, max: 4 }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 30 }), fc.infiniteStream(value), fc.boolean(), (m, n, values, election) => {
        const it = values[Symbol.iterator]();
        const u = Array.from({ length: m }, () => Float32Array.from({ length: n }, () => it.next().value as number));
        expect(signConflictCounts(u, election)).toEqual(referenceCounts(u, election));
      }),
    );
  });
});

describe('electionVectors', () => {
  const taus = (d0: number, d1: number) => [
    { model: 'a', tau: f(0.5, -0.1, 0.3, -0.4), params: { weight: 1, density: d0 } },
    { model: 'b', tau: f(-0.2, 0.3, 0.1, 0.1), params: { weight: 2, density: d1 } },
  ];
  const at = (method: string, d0: number, d1: number) =>
    electionVectors({ method, tensorName: 't', shape: [4], taus: taus(d0, d1), global: {}, seed: 1, warn: () => undefined });

  it('trims each model with its own density and weights it (TIES)', () => {
    const { vectors, election } = at('ties', 0.5, 0.5);
    expect(election).toBe(true);
    expect([...vectors[0]!]).toEqual([...f(0.5, 0, 0, -0.4)]);
    expect([...vectors[1]!]).toEqual([...f(-0.4, 0.6, 0, 0)]);
    // Only e0 is contested (0.5 vs −0.4): vote 0.1 → +, drops 0.4 of 0.5 + 0.4 + 0.6 + 0.4.
    const r = conflictRates(signConflictCounts(vectors));
    expect(r.conflictRate).toBe(1);
    expect(r.droppedMass).toBeCloseTo(0.4 / 1.9, TOL);
  });
  it('density 1 keeps every entry: more entries contested, a different rate', () => {
    const r = conflictRates(signConflictCounts(at('ties', 1, 1).vectors));
    // e0: 0.5/−0.4 (+, drop 0.4); e1: −0.1/0.6 (+, drop 0.1); e2: 0.3/0.2 agree; e3: −0.4/0.2 (−, drop 0.2).
    expect(r.conflictRate).toBeCloseTo(0.75, 12);
    expect(r.droppedMass).toBeCloseTo(0.7 / 2.7, TOL);
  });
  it('outside the TIES family: the untrimmed, unweighted task vectors, no election', () => {
    const { vectors, election } = at('task_arithmetic', 0.5, 0.5);
    expect(election).toBe(false);
    expect([...vectors[1]!]).toEqual([...f(-0.2, 0.3, 0.1, 0.1)]);
  });
  it('DARE TIES rescales what it keeps (L1), with the merge seed and stream', () => {
    const a = at('dare_ties', 0.5, 0.5).vectors;
    const kept = [...a[0]!].filter((x) => x !== 0);
    expect(kept.length).toBeGreaterThan(0);
    const l1 = (v: Iterable<number>) => [...v].reduce((s, x) => s + Math.abs(x), 0);
    expect(l1(a[0]!)).toBeCloseTo(1.3, 5);
    expect(at('dare_ties', 0.5, 0.5).vectors.map((v) => [...v])).toEqual(a.map((v) => [...v]));
  });
});
