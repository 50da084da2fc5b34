/**
 * Merging within groups on small checkpoints built here: with K = 1 the result is the registry
 * method's own merge of all experts (through mergeToMemory, as a recipe would run it), bit for bit;
 * every group's row equals that method run on the group's members only; K = T gives back the
 * experts; a hand-worked average; the errors; no tensor left behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { channelMerge, type ChannelModel } from '../../src/engine/methods/channel/channel-merge.js';
import { groupMembers } from '../../src/engine/methods/channel/cluster.js';
import type { GroupMethodSpec } from '../../src/engine/methods/channel/group-method.js';
import { mergeGroups } from '../../src/engine/methods/channel/group-merge.js';
import { resolveGroupMethod } from '../../src/engine/methods/channel/group-method.js';
import { lookupTensor, taskWeights } from '../../src/engine/methods/channel/lookup.js';
import { checkpointSource } from '../../src/engine/methods/channel/source.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { toyCheckpoint } from '../merge/helpers.js';

const TASKS = ['a', 'b', 'c', 'd', 'e'];
const LAYOUT = [
  { name: 'layers.0.weight', shape: [6, 5] },
  { name: 'layers.0.bias', shape: [6] },
  { name: 'conv.weight', shape: [4, 2, 3] },
];

/**
 * A base and five experts whose task vectors come in two families (a, c, e and b, d) that disagree
 * in sign on some channels, plus noise and exact zeros, so groups vary from channel to channel.
 */
async function toyModels(): Promise<Map<string, Checkpoint>> {
  const out = new Map<string, Checkpoint>();
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const base = LAYOUT.map((t) => ({ ...t, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand()) }));
  out.set('base', await toyCheckpoint('base', base));
  const family = LAYOUT.map((t) => Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand()));
  for (const [k, task] of TASKS.entries()) {
    const tensors = base.map((t, i) => ({
      ...t,
      data: Float32Array.from(t.data, (v, j) => {
        const flip = (j % 7 < 3 ? -1 : 1) * (k % 2 ? -1 : 1);
        const tau = 0.3 * flip * family[i]![j]! + 0.2 * rand();
        return Math.abs(tau) < 0.04 ? v : v + tau;
      }),
    }));
    out.set(task, await toyCheckpoint(task, tensors));
  }
  return out;
}

function recipe(method: string, models: readonly string[], params: Record<string, number | boolean>): Recipe {
  const spec = METHODS.find((m) => m.id === method)!;
  const perModel = Object.fromEntries(Object.entries(params).filter(([k]) => spec.params.find((p) => p.name === k)?.scope === 'model'));
  const global = Object.fromEntries(Object.entries(params).filter(([k]) => spec.params.find((p) => p.name === k)?.scope === 'global'));
  if (method === 'linear') return { mergeMethod: 'linear', models: models.map((m) => ({ model: m, parameters: { weight: 1 } })) };
  return { mergeMethod: method, baseModel: 'base', models: models.map((m) => ({ model: m, parameters: { weight: 1, ...perModel } })), parameters: global };
}

const CASES: { spec: GroupMethodSpec; reference: string }[] = [
  { spec: { id: 'average' }, reference: 'linear' },
  { spec: { id: 'ties', params: { density: 0.5 } }, reference: 'ties' },
  { spec: { id: 'ties', params: { density: 0.3, lambda: 0.7 } }, reference: 'ties' },
  { spec: { id: 'task_arithmetic', params: { lambda: 0.5 } }, reference: 'task_arithmetic' },
  { spec: { id: 'task_arithmetic', params: { lambda: 1.3, normalize: true } }, reference: 'task_arithmetic' },
  { spec: { id: 'dare_ties', params: { density: 0.6 } }, reference: 'dare_ties' },
  { spec: { id: 'breadcrumbs_ties', params: { density: 0.8, gamma: 0.1 } }, reference: 'breadcrumbs_ties' },
];

describe('K = 1 is the method applied to all experts', () => {
  for (const { spec, reference } of CASES) {
    it(`${spec.id} ${JSON.stringify(spec.params ?? {})} equals ${reference} through mergeToMemory, bit for bit`, async () => {
      const ckpts = await toyModels();
      const model = await channelMerge(checkpointSource(ckpts, 'base', TASKS), { K: 1, method: spec });
      const expected = await mergeToMemory({ recipe: recipe(reference, TASKS, spec.params ?? {}), methods: METHODS, checkpoints: ckpts });
      for (const t of model.tensors) {
        expect(Array.from(t.index)).toEqual(new Array(TASKS.length * t.channels).fill(0));
        for (let task = 0; task < TASKS.length; task++) expect(lookupTensor(t, task, TASKS.length)).toEqual(expected[t.name]);
      }
    });
  }
});

describe('within a group, the method runs on the members only', () => {
  // Trims are over each expert's whole tensor, so they do not depend on the group; the election
  // and the means see only members. A mergekit run over the members alone must give each row.
  const deterministic = CASES.filter((c) => c.spec.id !== 'dare_ties');
  for (const { spec, reference } of deterministic) {
    for (const similarity of ['raw', 'trimmed'] as const) {
      it(`${spec.id} ${JSON.stringify(spec.params ?? {})}, K = 2 and 3, clustering on ${similarity} rows`, async () => {
        const ckpts = await toyModels();
        const memo = new Map<string, Promise<Record<string, Float32Array>>>();
        const reference_ = (members: string[]) => {
          const key = members.join();
          if (!memo.has(key)) memo.set(key, mergeToMemory({ recipe: recipe(reference, members, spec.params ?? {}), methods: METHODS, checkpoints: ckpts }));
          return memo.get(key)!;
        };
        const groupSizes = new Set<number>();
        for (const K of [2, 3]) {
          const model = await channelMerge(checkpointSource(ckpts, 'base', TASKS), { K, similarity, method: { ...spec, singletons: 'method' } });
          for (const t of model.tensors) {
            const n = t.shape.reduce((a, b) => a * b, 1);
            const width = n / t.channels;
            for (let c = 0; c < t.channels; c++) {
              for (let g = 0; g < K; g++) {
                const members = groupMembers(t.index, TASKS.length, t.channels, c, g);
                groupSizes.add(members.length);
                const want = (await reference_(members.map((m) => TASKS[m]!)))[t.name]!.subarray(c * width, (c + 1) * width);
                const got = t.groups.subarray(g * n + c * width, g * n + (c + 1) * width);
                // normalize without an election is rescaled per row afterwards (group-merge.ts): float rounding.
                if (spec.params?.normalize === true && spec.id === 'task_arithmetic') expectClose(got, want, 1e-6);
                else expect(got, `${t.name} channel ${c} group ${g} = {${members}}`).toEqual(want);
              }
            }
          }
        }
        // The toy data must exercise groups of one, two and three (at least).
        for (const size of [1, 2, 3]) expect(groupSizes.has(size), `a group of ${size}`).toBe(true);
      });
    }
  }
});

describe('K = T reproduces the experts', () => {
  for (const spec of [{ id: 'average' }, { id: 'ties', params: { density: 0.3 } }, { id: 'task_arithmetic', params: { lambda: 0.4 } }] as GroupMethodSpec[]) {
    it(`exactly, with ${spec.id} (a group of one keeps its expert)`, async () => {
      const ckpts = await toyModels();
      const model = await channelMerge(checkpointSource(ckpts, 'base', TASKS), { K: TASKS.length, method: spec });
      for (const [t, task] of TASKS.entries()) {
        const w = taskWeights(model, task);
        expect(taskWeights(model, t)).toEqual(w);
        for (const spec_ of LAYOUT) expect(w[spec_.name]).toEqual(await ckpts.get(task)!.readFloat32(spec_.name));
      }
    });
  }

  it("with singletons: 'method', a TIES group of one is that expert trimmed, as ties on it alone", async () => {
    const ckpts = await toyModels();
    const model = await channelMerge(checkpointSource(ckpts, 'base', TASKS), { K: TASKS.length, method: { id: 'ties', params: { density: 0.3 }, singletons: 'method' } });
    const alone = await mergeToMemory({ recipe: recipe('ties', ['c'], { density: 0.3 }), methods: METHODS, checkpoints: ckpts });
    for (const s of LAYOUT) expect(taskWeights(model, 'c')[s.name]).toEqual(alone[s.name]);
  });
});

describe('average by hand', () => {
  it('is the mean of the members’ rows', async () => {
    // 3 tasks, 2 channels of 2: channel 0 groups {0, 2} and {1}, channel 1 groups {0} and {1, 2}.
    const base = Float32Array.from([0, 0, 0, 0]);
    const experts = [Float32Array.from([1, 2, 3, 4]), Float32Array.from([5, 6, 7, 8]), Float32Array.from([3, 4, 9, 10])];
    const table = Uint8Array.from([0, 0, 1, 1, 0, 1]);
    const groups = await mergeGroups({ tensorName: 'w', shape: [2, 2], base, experts, taskNames: ['x', 'y', 'z'], table, K: 2, method: resolveGroupMethod() });
    expect(Array.from(groups)).toEqual([2, 3, 3, 4, 5, 6, 8, 9]);
  });
});

describe('errors and resources', () => {
  it('names what is wrong', async () => {
    const ckpts = await toyModels();
    const src = checkpointSource(ckpts, 'base', TASKS);
    const fails = async (o: Parameters<typeof channelMerge>[1], code: string, text: RegExp) => {
      const e = await channelMerge(src, o).catch((x: unknown) => x);
      expect(e).toMatchObject({ name: 'MergeLabError', code });
      expect((e as Error).message).toMatch(text);
    };
    await fails({ K: 0 }, 'PARAMETER_OUT_OF_RANGE', /from 1 to the number of experts \(5\)/);
    await fails({ K: 6 }, 'PARAMETER_OUT_OF_RANGE', /got 6/);
    await fails({ K: 2, method: { id: 'tise' } }, 'UNKNOWN_METHOD', /Did you mean "ties"/);
    await fails({ K: 2, method: { id: 'slerp' } }, 'PARAMETER_INVALID', /does not.*ties/);
    await fails({ K: 2, method: { id: 'ties', params: { densty: 0.3 } } }, 'UNKNOWN_PARAMETER', /"densty" is not a parameter of ties/);
    await fails({ K: 2, method: { id: 'ties', params: { density: 1.5 } } }, 'PARAMETER_OUT_OF_RANGE', /density.*at most 1/);
    await fails({ K: 2, method: { id: 'average', params: { lambda: 2 } } }, 'UNKNOWN_PARAMETER', /takes no parameters/);
    await fails({ K: 2, method: { id: 'ties', params: { density: 0.01 } } }, 'EMPTY_TRIM', /entries of tensor layers\.0\.weight/);
    expect(() => checkpointSource(ckpts, 'base', ['a', 'a'])).toThrow(/listed twice/);
    expect(() => checkpointSource(ckpts, 'base', ['a', 'zz'])).toThrow(expect.objectContaining({ code: 'NO_CHECKPOINT' }));
    const odd = new Map(ckpts);
    odd.set('b', await toyCheckpoint('b', [{ name: 'layers.0.weight', shape: [5, 6] }, ...LAYOUT.slice(1)]));
    expect(() => checkpointSource(odd, 'base', TASKS)).toThrow(/layers\.0\.weight of expert "b" is \[5, 6\]/);
    odd.set('b', await toyCheckpoint('b', LAYOUT.slice(1)));
    expect(() => checkpointSource(odd, 'base', TASKS)).toThrow(expect.objectContaining({ code: 'TENSOR_MISSING' }));
  });

  it('leaves no tensor behind, also when a method fails mid-way', async () => {
    const ckpts = await toyModels();
    const src = checkpointSource(ckpts, 'base', TASKS);
    const before = tf.memory().numTensors;
    let model: ChannelModel | undefined;
    for (const spec of CASES.map((c) => c.spec)) model = await channelMerge(src, { K: 2, method: spec });
    expect(model!.tensors).toHaveLength(3);
    await channelMerge(src, { K: 2, method: { id: 'ties', params: { density: 0.01 } } }).catch(() => undefined);
    expect(tf.memory().numTensors).toBe(before);
  });
});

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    expect(Math.abs(actual[i]! - e), `element ${i}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  }
}
