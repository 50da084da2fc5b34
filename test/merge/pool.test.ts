/**
 * The merge pool (src/engine/merge/pool.ts) against one worker (runMerge): the same tensors, bytes,
 * warnings and progress, in plan order, for every method family and the 16-bit path, whatever order
 * the workers finish in and whatever the budget; failures and cancellation stop it as they stop
 * runMerge; the tensors in flight stay within the budget. Workers here run in this thread (the job
 * runner behind a delay that shuffles their finishing order); test/merge/pool-threads.test.ts runs
 * the CLI's worker threads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { isMergeLabError, MergeLabError } from '../../src/engine/errors.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { createJobRunner, poolBudget, runMergePool, tensorCost, type JobEvents, type MergeWorker } from '../../src/engine/merge/pool.js';
import type { MergeProgress } from '../../src/engine/merge/progress.js';
import { nonFinite, runMerge, type MergePlanToRun, type TensorOutput } from '../../src/engine/merge/run-merge.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { LAYOUT, toyCheckpoint, type ToyTensor } from './helpers.js';

/**
 * LAYOUT, with a NaN and an ∞ in model a's norm, and where asked a tensor of 2^18 + 1,024 entries
 * (over the 16-bit path's block: merged and written in two parts there). The float32 path is run
 * with blocks of 12 values, so its tensors come in parts without a large one.
 */
const BIG: ToyTensor = { name: 'model.layers.1.mlp.down_proj.weight', shape: [514, 512] };
const BLOCK_BYTES = 48;
const layout = (model: number, big: boolean): ToyTensor[] => [
  ...LAYOUT.slice(0, 3),
  ...(big ? [BIG] : []),
  ...LAYOUT.slice(3).map((t) =>
    t.name === 'model.norm.weight' && model === 1 ? { ...t, data: Float32Array.from({ length: 4 }, (_, i) => (i === 1 ? Number.NaN : i === 2 ? Infinity : 0.5)) } : t,
  ),
];

async function checkpoints(dtype: 'BF16' | undefined, big: boolean): Promise<Map<string, Checkpoint>> {
  const names = ['base', 'a', 'b', 'c'];
  const out = new Map<string, Checkpoint>();
  for (const [i, name] of names.entries()) out.set(name, await toyCheckpoint(name, layout(i, big).map((t) => (dtype ? { ...t, dtype } : t)), i));
  return out;
}

const three = (params: (i: number) => string) => `models:\n${['a', 'b', 'c'].map((m, i) => `  - model: ${m}\n    parameters: {${params(i)}}`).join('\n')}\n`;
const RECIPES: Record<string, string> = {
  linear: `${three((i) => `weight: ${i + 1}`)}merge_method: linear\n`,
  task_arithmetic: `${three((i) => `weight: ${0.3 + i / 10}`)}merge_method: task_arithmetic\nbase_model: base\n`,
  ties: `${three((i) => `weight: ${0.5 + i / 4}, density: ${0.3 + i / 5}`)}merge_method: ties\nbase_model: base\n`,
  dare_ties: `${three((i) => `weight: 0.5, density: ${0.4 + i / 10}`)}merge_method: dare_ties\nbase_model: base\nrandom_seed: 7\n`,
  dare_linear: `${three(() => 'weight: 0.5, density: 0.6')}merge_method: dare_linear\nbase_model: base\n`,
  della: `${three(() => 'weight: 0.5, density: 0.5, epsilon: 0.1')}merge_method: della\nbase_model: base\n`,
  della_linear: `${three(() => 'weight: 0.5, density: 0.5, epsilon: 0.1')}merge_method: della_linear\nbase_model: base\n`,
  breadcrumbs: `${three(() => 'weight: 0.5, density: 0.8, gamma: 0.05')}merge_method: breadcrumbs\nbase_model: base\n`,
  breadcrumbs_ties: `${three(() => 'weight: 0.5, density: 0.8, gamma: 0.05')}merge_method: breadcrumbs_ties\nbase_model: base\n`,
  slerp: `models:\n  - model: a\nmerge_method: slerp\nbase_model: base\nparameters: {t: 0.3}\n`,
  model_stock: `models:\n  - model: a\n  - model: b\n  - model: c\nmerge_method: model_stock\nbase_model: base\n`,
};
/** mergekit's 16-bit arithmetic (the op-by-op path, its own parts), on bfloat16 checkpoints. */
const HALF: Record<string, string> = {
  'ties in bfloat16': `${RECIPES.ties}dtype: bfloat16\n`,
  'linear in bfloat16': `${RECIPES.linear}dtype: bfloat16\n`,
  'model_stock in bfloat16': `${RECIPES.model_stock}dtype: bfloat16\n`,
};

/** Everything a merge shows: the tensors (in the calls the output got), the warnings, the progress. */
interface Run {
  readonly calls: string[];
  readonly tensors: Map<string, Float32Array>;
  readonly warnings: string[];
  readonly progress: MergeProgress[];
}

function recorder(): { run: Run; output: TensorOutput } {
  const run: Run = { calls: [], tensors: new Map(), warnings: [], progress: [] };
  const output: TensorOutput = {
    writeTensor: async (name, data) => {
      run.calls.push(`whole ${name}`);
      run.tensors.set(name, data.slice());
    },
    writeTensorParts: async (name, parts) => {
      const got: Float32Array[] = [];
      for await (const p of parts) got.push(p.slice());
      run.calls.push(`${got.length} parts ${name}`);
      const all = new Float32Array(got.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of got) all.set(p, (at += p.length) - p.length);
      run.tensors.set(name, all);
    },
  };
  return { run, output };
}

/** A worker in this thread: the job runner after a random delay, with pauses between parts (so workers finish out of order). */
function localWorker(plan: MergePlanToRun, random: () => number, seen?: (index: number) => void): MergeWorker {
  const run = createJobRunner(plan, { maxBlockBytes: BLOCK_BYTES });
  const pause = () => new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
  return {
    async merge(index, values, events) {
      seen?.(index);
      await pause();
      const parts: [Float32Array, boolean][] = [];
      const bad = await run(index, values, { ...events, part: (p, whole) => void parts.push([p, whole]) });
      for (const [p, whole] of parts) {
        await pause();
        events.part(p, whole);
      }
      return bad;
    },
  };
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

async function setup(yaml: string, big = false) {
  const recipe = parseRecipe(yaml);
  const ckpts = await checkpoints(recipe.dtype === 'bfloat16' ? 'BF16' : undefined, big);
  const { plan, problems } = planMerge({ recipe, methods: METHODS, checkpoints: ckpts });
  expect(problems).toEqual([]);
  return { plan: plan!, checkpoints: ckpts };
}

async function single(plan: MergePlanToRun, ckpts: Map<string, Checkpoint>): Promise<Run> {
  const { run, output } = recorder();
  await runMerge({ plan, checkpoints: ckpts, output, freshReads: true, maxBlockBytes: BLOCK_BYTES, onWarning: (w) => run.warnings.push(w), onProgress: (p) => run.progress.push(p) });
  return run;
}

async function pooled(plan: MergePlanToRun, ckpts: Map<string, Checkpoint>, workers: number, seed: number, budgetBytes?: number, anyOrder = false): Promise<Run> {
  const { run, output: ordered } = recorder();
  // An output that takes tensors in any order gets each as it is merged (placed-output.ts).
  const output = anyOrder ? { ...ordered, anyOrder: true } : ordered;
  const random = seeded(seed);
  await runMergePool({
    plan,
    checkpoints: ckpts,
    output,
    freshReads: true,
    workers: Array.from({ length: workers }, () => localWorker(plan, random)),
    ...(budgetBytes !== undefined ? { budgetBytes } : {}),
    onWarning: (w) => run.warnings.push(w),
    onProgress: (p) => run.progress.push(p),
  });
  return run;
}

function expectSameRun(got: Run, want: Run, anyOrder = false): void {
  if (anyOrder) expect([...got.calls].sort()).toEqual([...want.calls].sort());
  else expect(got.calls).toEqual(want.calls);
  expect(got.warnings).toEqual(want.warnings);
  expect(got.progress.map(({ elapsedMs: _, ...p }) => p)).toEqual(want.progress.map(({ elapsedMs: _, ...p }) => p));
  for (const [name, data] of want.tensors) expect(Buffer.from(got.tensors.get(name)!.buffer).equals(Buffer.from(data.buffer)), name).toBe(true);
}

describe('a pool of workers merges what one worker merges', () => {
  for (const [label, yaml] of Object.entries({ ...RECIPES, ...HALF })) {
    it(`${label}: the same bytes, warnings and progress on 2 workers, in any finishing order, into an output in order or in any order`, async () => {
      const streams = label === 'ties in bfloat16';
      const { plan, checkpoints: ckpts } = await setup(yaml, streams);
      const before = tf.memory().numTensors;
      const want = await single(plan, ckpts);
      // Tensors go in parts (but where the 16-bit method works a tensor out whole) and the NaN
      // warnings are there: the comparison covers both paths.
      if (streams) expect(want.calls).toContain(`2 parts ${BIG.name}`);
      else if (label in HALF) expect(want.calls.filter((c) => c.includes('parts'))).toEqual([]);
      else expect(want.calls).toContain('3 parts model.embed_tokens.weight');
      expect(want.warnings.some((w) => w.includes('NaN'))).toBe(true);
      expectSameRun(await pooled(plan, ckpts, 2, label.length), want);
      expectSameRun(await pooled(plan, ckpts, 2, label.length + 1, undefined, true), want, true);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('scheduling', () => {
  it('the tensors in flight stay within the budget (one alone may pass it), and a larger budget keeps more in flight', async () => {
    const { plan, checkpoints: ckpts } = await setup(RECIPES.ties!);
    const want = await single(plan, ckpts);
    const inFlight = async (budgetBytes: number) => {
      let bytes = 0;
      let peak = 0;
      let most = 0;
      const live = new Set<number>();
      const random = seeded(3);
      const { run, output } = recorder();
      const done = (name: string) => {
        const i = plan.tensors.findIndex((t) => t.name === name);
        live.delete(i);
        bytes -= tensorCost(plan.tensors[i]!);
      };
      await runMergePool({
        plan,
        checkpoints: ckpts,
        freshReads: true,
        budgetBytes,
        output: {
          writeTensor: async (n, d) => (await output.writeTensor(n, d), done(n)),
          writeTensorParts: async (n, p) => (await output.writeTensorParts!(n, p), done(n)),
        },
        workers: [1, 2, 3].map(() =>
          localWorker(plan, random, (i) => {
            live.add(i);
            bytes += tensorCost(plan.tensors[i]!);
            if (live.size > 1) peak = Math.max(peak, bytes);
            most = Math.max(most, live.size);
          }),
        ),
      });
      expect(run.calls).toEqual(want.calls);
      return { peak, most };
    };
    expect((await inFlight(1)).most).toBe(1);
    const largest = Math.max(...plan.tensors.map(tensorCost));
    expect((await inFlight(largest)).peak).toBeLessThanOrEqual(largest);
    expect((await inFlight(poolBudget(plan, 3))).most).toBeGreaterThan(1);
  });

  it('poolBudget: (models + 2) × the sum of the `workers` largest tensors', async () => {
    const { plan } = await setup(RECIPES.ties!);
    const sizes = plan.tensors.map((t) => t.shape.reduce((a, b) => a * b, 1) * 4).sort((a, b) => b - a);
    expect(poolBudget(plan, 1)).toBe(6 * sizes[0]!);
    expect(poolBudget(plan, 2)).toBe(6 * (sizes[0]! + sizes[1]!));
  });
});

describe('failures', () => {
  it("a worker's failure stops the merge at that tensor, the ones before it written, with runMerge's warnings", async () => {
    const { plan, checkpoints: ckpts } = await setup(RECIPES.task_arithmetic!);
    const failAt = plan.tensors.findIndex((t) => t.name === 'model.norm.weight');
    const random = seeded(5);
    const failing = (w: MergeWorker): MergeWorker => ({
      merge: (i, v, e: JobEvents) => (i === failAt ? w.merge(i, v, e).then(() => Promise.reject(new MergeLabError('EMPTY_TRIM', 'no entries left'))) : w.merge(i, v, e)),
    });
    const { run, output } = recorder();
    const merge = runMergePool({ plan, checkpoints: ckpts, output, freshReads: true, workers: [failing(localWorker(plan, random)), failing(localWorker(plan, random))], onWarning: (w) => run.warnings.push(w) });
    await expect(merge).rejects.toSatisfy((e: unknown) => isMergeLabError(e) && e.code === 'EMPTY_TRIM');
    expect(run.calls.map((c) => c.split(' ').pop())).toEqual(plan.tensors.slice(0, failAt).map((t) => t.name));
    // The failing tensor's input warning is still shown, as runMerge shows it before merging.
    expect(run.warnings).toEqual(['Model "a" holds 2 NaN or infinite value(s) in model.norm.weight; they reach the merge as they are.']);
  });

  it('into an output that takes any order, the first failure in plan order is the one reported', async () => {
    const { plan, checkpoints: ckpts } = await setup(RECIPES.task_arithmetic!);
    const random = seeded(8);
    // Tensor 4 fails at once, tensor 2 after the others have had time: 2's error is runMerge's.
    const failing = (w: MergeWorker): MergeWorker => ({
      merge: (i, v, e: JobEvents) =>
        i === 4 ? Promise.reject(new MergeLabError('READ_FAILED', 'tensor 4')) : i === 2 ? new Promise((_, reject) => setTimeout(() => reject(new MergeLabError('EMPTY_TRIM', 'tensor 2')), 20)) : w.merge(i, v, e),
    });
    const { output } = recorder();
    const merge = runMergePool({ plan, checkpoints: ckpts, output: { ...output, anyOrder: true }, freshReads: true, workers: [failing(localWorker(plan, random)), failing(localWorker(plan, random)), failing(localWorker(plan, random))] });
    await expect(merge).rejects.toThrow('tensor 2');
  });

  it('a failed read stops it at that tensor, after the ones before it', async () => {
    const { plan, checkpoints: ckpts } = await setup(RECIPES.linear!);
    const failing = plan.tensors[3]!.name;
    const broken = new Map(ckpts);
    const b = ckpts.get('b')!;
    broken.set('b', { ...b, info: (n) => b.info(n), readFloat32: async (n) => (n === failing ? Promise.reject(new MergeLabError('READ_FAILED', 'b is truncated')) : b.readFloat32(n)) });
    const { run, output } = recorder();
    const random = seeded(6);
    await expect(runMergePool({ plan, checkpoints: broken, output, freshReads: true, workers: [localWorker(plan, random), localWorker(plan, random)] })).rejects.toThrow('b is truncated');
    expect(run.calls.map((c) => c.split(' ').pop())).toEqual(plan.tensors.slice(0, 3).map((t) => t.name));
  });

  it('stops with CANCELLED once the token is set, writing nothing further', async () => {
    const { plan, checkpoints: ckpts } = await setup(RECIPES.ties!);
    const token = { cancelled: false };
    const written: string[] = [];
    const random = seeded(7);
    const run = runMergePool({
      plan,
      checkpoints: ckpts,
      freshReads: true,
      cancel: token,
      workers: [localWorker(plan, random), localWorker(plan, random)],
      output: {
        writeTensor: async (n) => {
          written.push(n);
          if (written.length === 2) token.cancelled = true;
        },
      },
    });
    await expect(run).rejects.toSatisfy((e: unknown) => isMergeLabError(e) && e.code === 'CANCELLED');
    expect(written).toHaveLength(2);
  });
});

describe('nonFinite', () => {
  it('counts NaN and ±∞ wherever they fall in its blocks, and nothing else (−0, the largest and smallest floats)', () => {
    const a = new Float32Array(3000).map((_, i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 3.4028234663852886e38 : 1e-45));
    for (const [at, v] of [[0, NaN], [1023, Infinity], [1024, -Infinity], [2047, NaN], [2999, Infinity]] as const) a[at] = v;
    expect(nonFinite(a)).toBe(5);
    expect(nonFinite(a.subarray(1, 1023))).toBe(0);
    expect(nonFinite(new Float32Array(0))).toBe(0);
  });
});
