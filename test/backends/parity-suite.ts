/**
 * The engine's parity on a non-reference backend (wasm, webgpu), one suite shared by the
 * per-backend files:
 *   (a) every per-tensor case mergekit's own code produced (test/fixtures), at the spec's
 *       1e-5 · max(1, |v|);
 *   (b) every registered method, random ones included, on seeded random tensors of a few shapes,
 *       equal to the same merge on the cpu backend in this process (same seeds → same masks);
 *   (c) no tensor leaks on that backend;
 *   (d) the runner's path — each method's CPU `prepare` then its `block`s on the backend, forced
 *       into small blocks — and an end-to-end mergeToMemory of small multi-tensor recipes, equal
 *       to cpu.
 * Results are read with `await data()`: WebGPU has no synchronous read in Node (Dawn).
 */
import { FIXTURE_CASES, decodeFloat32, type FixtureCase } from '../parity/fixtures.js';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { mergeOne, type MergePlanToRun } from '../../src/engine/merge/run-merge.js';
import { METHODS, getMethod } from '../../src/engine/methods/registry.js';
import type { ModelTensor, ParamValue } from '../../src/engine/methods/types.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { toyCheckpoint, type ToyTensor } from '../merge/helpers.js';
import { HALF_CASES, byteDifferences, expectedTensors, mergedTensors } from '../parity/half-fixtures.js';
import { decodeToFloat32 } from '../../src/engine/io/dtypes.js';
import { probeBackend, startBackend, stopBackend, worstRelDiff, type ParityBackend } from './harness.js';

const TOL = 1e-5;

// ---------------------------------------------------------------------------------------------
// Running one method on given values, reading the result asynchronously.

interface ModelSpec {
  readonly name: string;
  readonly isBase: boolean;
  readonly values: Float32Array;
  readonly params: Record<string, ParamValue>;
}

interface MergeCase {
  readonly method: string;
  readonly tensorName: string;
  readonly shape: readonly number[];
  readonly models: readonly ModelSpec[];
  readonly global: Record<string, ParamValue>;
  readonly seed: number;
}

function defaults(methodId: string, scope: 'model' | 'global'): Record<string, ParamValue> {
  return Object.fromEntries(
    getMethod(methodId)
      .params.filter((p) => p.scope === scope && p.default !== undefined)
      .map((p) => [p.name, p.default!]),
  );
}

/** Merges on the current backend; every tensor made here is freed before returning. */
async function runCase(c: MergeCase): Promise<Float32Array> {
  const method = getMethod(c.method);
  const inputs: ModelTensor[] = c.models.map((m) => ({
    model: m.name,
    isBase: m.isBase,
    tensor: tf.tensor(m.values, [...c.shape], 'float32'),
    params: { ...defaults(c.method, 'model'), ...m.params },
  }));
  let out: tf.Tensor | undefined;
  try {
    try {
      out = method.mergeTensor({
        tensorName: c.tensorName,
        models: inputs,
        global: { ...defaults(c.method, 'global'), ...c.global },
        seed: c.seed,
        warn: () => {},
      });
    } catch (e) {
      const msg = (e as Error).message;
      if (/OffscreenCanvas/.test(msg)) {
        throw new Error(
          `${c.method} on ${tf.getBackend()}: the engine read a GPU-resident tensor synchronously (dataSync), ` +
            `which tfjs-webgpu does through OffscreenCanvas — absent in Node/Dawn. (${msg})`,
          { cause: e },
        );
      }
      throw e;
    }
    expect(out.shape).toEqual([...c.shape]);
    return Float32Array.from((await out.data()) as Float32Array);
  } finally {
    out?.dispose();
    tf.dispose(inputs.map((m) => m.tensor));
  }
}

/**
 * The same merge through the runner's path: the method's whole-tensor `prepare` on the CPU, then
 * its `block`s on the backend, here forced to at most `blockValues` values per input.
 */
async function runBlocked(c: MergeCase, blockValues: number): Promise<Float32Array> {
  const plan: MergePlanToRun = {
    method: getMethod(c.method),
    randomSeed: c.seed,
    tensors: [],
  };
  const spec = {
    name: c.tensorName,
    shape: c.shape,
    outDtype: 'F32' as const,
    global: { ...defaults(c.method, 'global'), ...c.global },
    models: c.models.map((m) => ({ model: m.name, isBase: m.isBase, params: { ...defaults(c.method, 'model'), ...m.params } })),
  };
  return mergeOne(plan, spec, c.models.map((m) => m.values), () => {}, { maxBlockBytes: blockValues * 4 });
}

// ---------------------------------------------------------------------------------------------
// (a) mergekit's own outputs.

function fixtureCase(c: FixtureCase): MergeCase {
  return {
    method: c.method,
    tensorName: c.tensor,
    shape: c.shape,
    models: c.models.map((m) => ({ name: m.model, isBase: m.model === c.base, values: decodeFloat32(m.values), params: m.params })),
    global: c.global,
    seed: 1,
  };
}

// ---------------------------------------------------------------------------------------------
// (b) seeded random tensors for every method.

/** mulberry32 + Box–Muller: reproducible normal draws without tfjs (identical on every backend). */
function normals(seed: number, n: number, scale: number, offset = 0): Float32Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(uniform(), 1e-12);
    out[i] = offset + scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}

/**
 * Shapes above tfjs-webgpu's CPU hand-off size (1000), with a scale each, so the spec's
 * max(1, |v|) criterion is absolute in one and relative in another.
 */
const SHAPES: readonly { shape: number[]; scale: number }[] = [
  { shape: [1531], scale: 0.5 },
  { shape: [64, 48], scale: 20 },
  { shape: [6, 10, 24], scale: 2 },
];

/** base, and fine-tunes = base + scale·0.05·(shared direction + own noise): aligned but conflicting. */
function randomModels(shape: readonly number[], scale: number, seed: number, count: number): { base: Float32Array; fts: Float32Array[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const base = normals(seed, n, scale);
  const shared = normals(seed + 1, n, 1);
  const fts = Array.from({ length: count }, (_, k) => {
    const own = normals(seed + 10 + k, n, 1);
    return Float32Array.from(base, (b, i) => b + scale * 0.05 * (shared[i]! + own[i]!));
  });
  return { base, fts };
}

interface MethodVariant {
  readonly label: string;
  readonly method: string;
  readonly global: Record<string, ParamValue>;
  build(base: Float32Array, fts: Float32Array[]): ModelSpec[];
}

const gtaModels = (extra: Record<string, ParamValue>) => (base: Float32Array, fts: Float32Array[]): ModelSpec[] => [
  { name: 'ft0', isBase: false, values: fts[0]!, params: { weight: 1, density: 0.5, ...extra } },
  { name: 'ft1', isBase: false, values: fts[1]!, params: { weight: 0.6, density: 0.7, ...extra } },
  { name: 'ft2', isBase: false, values: fts[2]!, params: { weight: 0.4, density: 0.3, ...extra } },
  { name: 'base', isBase: true, values: base, params: {} },
];

const baseOf = (values: Float32Array): ModelSpec => ({ name: 'base', isBase: true, values, params: {} });
const withWeights = (fts: Float32Array[], weights: number[]): ModelSpec[] => fts.map((values, k) => ({ name: `ft${k}`, isBase: false, values, params: { weight: weights[k]! } }));

function variantsFor(methodId: string): MethodVariant[] {
  switch (methodId) {
    case 'linear':
      return [
        {
          label: 'linear',
          method: 'linear',
          global: {},
          build: (base, fts) => [
            { name: 'ft0', isBase: false, values: fts[0]!, params: { weight: 0.5 } },
            { name: 'ft1', isBase: false, values: fts[1]!, params: { weight: 0.3 } },
            { name: 'ft2', isBase: false, values: fts[2]!, params: { weight: -0.2 } },
            { name: 'base', isBase: true, values: base, params: { weight: 0.4 } },
          ],
        },
      ];
    case 'slerp':
      return [
        {
          label: 'slerp',
          method: 'slerp',
          global: { t: 0.3 },
          build: (base, fts) => [
            { name: 'base', isBase: true, values: base, params: {} },
            { name: 'ft0', isBase: false, values: fts[0]!, params: {} },
          ],
        },
      ];
    case 'model_stock':
      return [false, true].map((fw) => ({
        label: fw ? 'model_stock filter_wise' : 'model_stock',
        method: 'model_stock',
        global: { filter_wise: fw },
        build: (base: Float32Array, fts: Float32Array[]) => [
          ...fts.map((v, k) => ({ name: `ft${k}`, isBase: false, values: v, params: {} })),
          { name: 'base', isBase: true, values: base, params: {} },
        ],
      }));
    case 'passthrough':
      return [
        {
          label: 'passthrough scale',
          method: 'passthrough',
          global: {},
          build: (_base, fts) => [{ name: 'ft0', isBase: false, values: fts[0]!, params: { scale: 0.7 } }],
        },
      ];
    case 'nuslerp':
      return [
        { label: 'nuslerp task vectors rows', method: 'nuslerp', global: { nuslerp_flatten: false }, build: (base, fts) => [...withWeights(fts.slice(0, 2), [0.6, 0.4]), baseOf(base)] },
        { label: 'nuslerp row_wise', method: 'nuslerp', global: { nuslerp_flatten: false, nuslerp_row_wise: true }, build: (_base, fts) => withWeights(fts.slice(0, 2), [1, 2]) },
      ];
    case 'multislerp':
    case 'karcher':
    case 'sce':
    case 'ram':
    case 'ramplus_tl': {
      const global: Record<string, ParamValue> = { karcher: { max_iter: 5 }, sce: { select_topk: 0.5 }, ramplus_tl: { r: 0.5, alpha: 0.5 } }[methodId as 'karcher'] ?? {};
      return [{ label: methodId, method: methodId, global, build: (base, fts) => [...withWeights(fts, [0.5, 0.3, 0.2]), baseOf(base)] }];
    }
    case 'nearswap':
    case 'arcee_fusion':
      return [{ label: methodId, method: methodId, global: methodId === 'nearswap' ? { t: 0.05 } : {}, build: (base, fts) => [baseOf(base), ...withWeights(fts.slice(0, 1), [1])] }];
    default: {
      const extra: Record<string, ParamValue> = methodId.startsWith('breadcrumbs') ? { gamma: 0.05 } : methodId.startsWith('della') ? { epsilon: 0.1 } : {};
      return [{ label: methodId, method: methodId, global: { lambda: 0.9 }, build: gtaModels(extra) }];
    }
  }
}

function randomCases(): { variant: string; shapeLabel: string; c: MergeCase }[] {
  const out: { variant: string; shapeLabel: string; c: MergeCase }[] = [];
  SHAPES.forEach(({ shape, scale }, si) => {
    const { base, fts } = randomModels(shape, scale, 1000 * (si + 1), 3);
    for (const m of METHODS) {
      for (const v of variantsFor(m.id)) {
        out.push({
          variant: v.label,
          shapeLabel: shape.join('x'),
          c: { method: v.method, tensorName: `model.layers.${si}.mlp.up_proj.weight`, shape, models: v.build(base, fts), global: v.global, seed: 12345 + si },
        });
      }
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// (d) a whole recipe through mergeToMemory.

const LAYOUT: ToyTensor[] = [
  { name: 'model.embed_tokens.weight', shape: [64, 32] },
  { name: 'model.layers.0.self_attn.q_proj.weight', shape: [32, 40] },
  { name: 'model.layers.0.mlp.up_proj.weight', shape: [64, 32] },
  { name: 'model.layers.1.self_attn.q_proj.weight', shape: [32, 40] },
  { name: 'model.layers.1.mlp.up_proj.weight', shape: [64, 32] },
  { name: 'model.norm.weight', shape: [32] },
];

const RECIPES: Record<string, string> = {
  dare_ties: [
    'merge_method: dare_ties',
    'base_model: base',
    'random_seed: 7',
    'models:',
    '  - model: a',
    '    parameters: {weight: 1.0, density: [0.3, 0.8]}',
    '  - model: b',
    '    parameters:',
    '      weight: [{filter: mlp, value: 0.4}, {value: 0.7}]',
    '      density: 0.5',
    'parameters: {lambda: 1.1}',
    '',
  ].join('\n'),
  slerp: ['merge_method: slerp', 'base_model: base', 'models:', '  - model: base', '  - model: a', 'parameters: {t: [0.1, 0.9]}', ''].join('\n'),
};

async function mergeRecipe(text: string): Promise<Record<string, Float32Array>> {
  const checkpoints = new Map([
    ['base', await toyCheckpoint('base', LAYOUT, 0)],
    ['a', await toyCheckpoint('a', LAYOUT, 0.3)],
    ['b', await toyCheckpoint('b', LAYOUT, -0.2)],
  ]);
  try {
    return await mergeToMemory({ recipe: parseRecipe(text), methods: METHODS, checkpoints, config: { num_hidden_layers: 2 } });
  } finally {
    for (const c of checkpoints.values()) await c.close();
  }
}

// ---------------------------------------------------------------------------------------------

/** Registers the parity suite for `name`, or one skipped suite whose title says why. */
export async function backendParitySuite(name: ParityBackend): Promise<void> {
  const probe = await probeBackend(name);
  if (!probe.ok) {
    // Printed, and in the skipped suite's title: an absent backend never passes silently.
    console.warn(`[${name} parity] SKIPPED: ${probe.reason}`);
    describe.skip(`${name} parity — skipped: ${probe.reason}`, () => {
      it('needs the backend', () => {});
    });
    return;
  }

  describe(`${name} parity with cpu and mergekit`, () => {
    const random = randomCases();
    const cpuRandom = new Map<number, Float32Array>();
    const cpuRecipes = new Map<string, Record<string, Float32Array>>();
    // The runner's path in small blocks, on the 2-D shape (rows of 48: per-row methods get 96-value blocks).
    const BLOCK = 100;
    const blocked = random.filter((r) => r.shapeLabel === '64x48');
    const cpuBlocked = new Map<string, Float32Array>();
    const worst = new Map<string, number>();
    const note = (key: string, d: number) => worst.set(key, Math.max(worst.get(key) ?? 0, d));
    const started = Date.now();

    beforeAll(async () => {
      // The references, on the cpu backend the engine's setup selected, before switching.
      expect(tf.getBackend()).toBe('cpu');
      for (let i = 0; i < random.length; i++) cpuRandom.set(i, await runCase(random[i]!.c));
      for (const [id, text] of Object.entries(RECIPES)) cpuRecipes.set(id, await mergeRecipe(text));
      for (const r of blocked) cpuBlocked.set(r.variant, await runBlocked(r.c, BLOCK));
      const desc = await startBackend(name);
      console.log(`[${name} parity] running on ${desc}`);
      expect(tf.getBackend()).toBe(name);
    });

    afterAll(async () => {
      const rows = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b));
      console.log(
        `[${name} parity] worst |Δ|/max(1,|v|) per check (${((Date.now() - started) / 1000).toFixed(1)} s):\n` +
          rows.map(([k, d]) => `  ${k.padEnd(44)} ${d.toExponential(2)}`).join('\n'),
      );
      await stopBackend(name);
    });

    describe('(a) mergekit reference outputs', () => {
      FIXTURE_CASES.forEach((fc, i) => {
        it(`#${i} ${fc.method} [${fc.shape.join('x')}] ${JSON.stringify(fc.global)}`, async () => {
          const got = await runCase(fixtureCase(fc));
          const d = worstRelDiff(got, decodeFloat32(fc.expected));
          note(`mergekit ${fc.method}`, d);
          expect(d).toBeLessThanOrEqual(TOL);
        });
      });
    });

    describe('(b) every method equals cpu (random methods: same seeded masks)', () => {
      random.forEach(({ variant, shapeLabel, c }, i) => {
        it(`${variant} [${shapeLabel}]`, async () => {
          const got = await runCase(c);
          const d = worstRelDiff(got, cpuRandom.get(i)!);
          note(`cpu ${variant}`, d);
          expect(d).toBeLessThanOrEqual(TOL);
        });
      });
    });

    describe('(c) no tensor leaks', () => {
      for (const m of METHODS) {
        it(`${m.id} leaves tf.memory().numTensors unchanged`, async () => {
          const cases = random.filter((r) => r.c.method === m.id).map((r) => r.c);
          const before = tf.memory().numTensors;
          for (const c of cases) await runCase(c);
          for (const c of cases) await runCase(c);
          expect(tf.memory().numTensors).toBe(before);
        });
      }
    });

    if (name === 'webgpu') {
      it('ran on the device (no op handed to tfjs-webgpu\'s cpu kernels)', async () => {
        await runCase(random.find((r) => r.shapeLabel === '64x48')!.c);
        const mem = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
        expect(tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(false);
        expect(mem.numBytesAllocatedInGPU ?? 0).toBeGreaterThan(0);
      });
    }

    describe(`(d) the runner's path equals cpu: prepare + ${BLOCK}-value blocks, and mergeToMemory`, () => {
      for (const r of blocked) {
        it(`${r.variant} [${r.shapeLabel}] in blocks`, async () => {
          const before = tf.memory().numTensors;
          const got = await runBlocked(r.c, BLOCK);
          expect(tf.memory().numTensors).toBe(before);
          const d = worstRelDiff(got, cpuBlocked.get(r.variant)!);
          note(`blocks ${r.variant}`, d);
          expect(d).toBeLessThanOrEqual(TOL);
        });
      }
      for (const [id, text] of Object.entries(RECIPES)) {
        it(`${id} over ${LAYOUT.length} tensors`, async () => {
          const before = tf.memory().numTensors;
          const got = await mergeRecipe(text);
          expect(tf.memory().numTensors).toBe(before);
          const want = cpuRecipes.get(id)!;
          expect(Object.keys(got)).toEqual(Object.keys(want));
          for (const t of Object.keys(want)) {
            const d = worstRelDiff(got[t]!, want[t]!);
            note(`recipe ${id}`, d);
            expect(d, t).toBeLessThanOrEqual(TOL);
          }
        });
      }
    });

    describe('(e) 16-bit recipes give mergekit\'s bytes here too (test/fixtures/mergekit-half)', () => {
      for (const c of HALF_CASES) {
        it(c, async () => {
          const before = tf.memory().numTensors;
          const [got, want] = await Promise.all([mergedTensors(c), expectedTensors(c)]);
          expect(tf.memory().numTensors).toBe(before);
          expect(byteDifferences(got, want, (t) => decodeToFloat32(t.dtype, t.bytes))).toEqual([]);
        });
      }
    });
  });
}
