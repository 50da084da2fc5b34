/**
 * The Twin-Merging package: bytes → read → the same shared expert, factors, router and settings,
 * and the dynamic forward from the read package gives identical logits. Then the files as a
 * PyTorch user sees them (names, shapes, twin.json), and a catalogue of broken packages with the
 * error each gives.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { architectureTensors, type Architecture } from '../../src/engine/demo/manifest.js';
import { memorySource, openSafetensors, serializeSafetensors } from '../../src/engine/io/index.js';
import {
  TWIN_FILES,
  buildTwinPackage,
  compressExclusive,
  dynamicLogits,
  excludedTensors,
  materializeMerge,
  readTwinPackage,
  sharedFeatures,
  taskArithmeticRecipe,
  type TwinManifest,
  type TwinModel,
} from '../../src/engine/methods/twin/index.js';
import { createRandom } from '../../src/engine/random.js';
import { routerLogits, routingWeights, trainRouter } from '../../src/engine/router/index.js';
import { expectCode } from '../io/helpers.js';

const arch: Architecture = {
  input: { height: 2, width: 3, scale: 0.25 },
  classes: 4,
  layers: [
    { type: 'dense', weight: 'hidden.weight', bias: 'hidden.bias', inputs: 6, outputs: 10, activation: 'relu' },
    { type: 'dense', weight: 'head.weight', bias: 'head.bias', inputs: 10, outputs: 4, activation: 'none' },
  ],
};
const tasks = ['task.one', 'two', 'three-3'];

async function toyTwin(): Promise<{ model: TwinModel; inputs: Float32Array; count: number }> {
  const random = createRandom(5);
  const fill = (n: number, s = 1) => Float32Array.from({ length: n }, () => (2 * random() - 1) * s);
  const tensors = architectureTensors(arch);
  const shared = Object.fromEntries(tensors.map((t) => [t.name, fill(t.shape.reduce((a, b) => a * b, 1))]));
  const experts = Object.fromEntries(tasks.map((task) => [task, Object.fromEntries(Object.entries(shared).map(([n, v]) => [n, v.map((x) => x + (2 * random() - 1) * 0.3)]))]));
  const count = 30;
  const inputs = fill(count * 6, 8);
  const features = await sharedFeatures(arch, shared, inputs, count);
  const { router, curve, options } = await trainRouter({ features, featureSize: 10, labels: Int32Array.from({ length: count }, (_, i) => i % 3), tasks: 3 }, { epochs: 2, hidden: 5 });
  return {
    model: {
      tasks,
      hardTasks: ['three-3'],
      tensors,
      shared,
      exclusive: compressExclusive(shared, experts, tensors, { rank: 3 }),
      router,
      temperature: 0.5,
      topK: 2,
      sharedRecipe: taskArithmeticRecipe('base', tasks, 0.4),
      architecture: arch,
      routerTraining: { options, curve, split: 'validation' },
    },
    inputs,
    count,
  };
}

/** The toy architecture's logits for plain weights, in float64. */
function forward(w: Record<string, Float32Array>, inputs: Float32Array, count: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < count; s++) {
    const x = Array.from(inputs.subarray(s * 6, s * 6 + 6), (v) => v * arch.input.scale);
    const h = Array.from({ length: 10 }, (_, i) => Math.max(0, w['hidden.bias']![i]! + x.reduce((a, v, j) => a + v * w['hidden.weight']![i * 6 + j]!, 0)));
    for (let k = 0; k < 4; k++) out.push(w['head.bias']![k]! + h.reduce((a, v, j) => a + v * w['head.weight']![k * 10 + j]!, 0));
  }
  return out;
}

async function twinLogits(m: TwinModel, inputs: Float32Array, count: number): Promise<Float32Array> {
  const f = await sharedFeatures(m.architecture!, m.shared, inputs, count);
  const w = routingWeights(await routerLogits(m.router!, f, count), m.tasks.length, { temperature: m.temperature, topK: m.topK });
  return dynamicLogits(m.architecture!, m.shared, m.exclusive, inputs, count, w);
}

describe('Twin-Merging package', () => {
  it('round trips: equal tensors, factors, router and settings; identical logits from the read package', async () => {
    const { model, inputs, count } = await toyTwin();
    const before = tf.memory().numTensors;
    const { files, manifest } = buildTwinPackage(model);
    expect(Object.keys(files).sort()).toEqual(['exclusive.safetensors', 'router.safetensors', 'shared.safetensors', 'twin.json']);
    const read = await readTwinPackage(files);
    expect(read.tasks).toEqual(tasks);
    expect(read.hardTasks).toEqual(['three-3']);
    expect(read.tensors).toEqual(model.tensors);
    expect(read.shared).toEqual(model.shared);
    expect(read.exclusive.parts).toEqual(model.exclusive.parts);
    expect(read.exclusive.tensors).toEqual(model.exclusive.tensors);
    expect(read.router).toEqual(model.router);
    expect([read.temperature, read.topK]).toEqual([0.5, 2]);
    expect(read.architecture).toEqual(arch);
    expect(read.sharedRecipe).toMatchObject({ mergeMethod: 'task_arithmetic', baseModel: 'base', parameters: { lambda: 0.4 } });
    expect(read.routerTraining).toEqual(model.routerTraining);
    expect(read.manifest).toEqual(manifest);
    const a = await twinLogits(model, inputs, count);
    const b = await twinLogits(read, inputs, count);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('holds what a PyTorch user needs: torch-layout names and shapes, and a twin.json that names every tensor', async () => {
    const { model } = await toyTwin();
    const { files } = buildTwinPackage(model);
    const json = JSON.parse(new TextDecoder().decode(files['twin.json'])) as TwinManifest;
    expect(json).toMatchObject({ format: 'merge-lab-twin', version: 2, method: 'twin_merging', tasks, hard_tasks: ['three-3'], routing: { temperature: 0.5, top_k: 2 } });
    expect(json.files).toEqual({ shared: 'shared.safetensors', exclusive: 'exclusive.safetensors', router: 'router.safetensors' });
    expect(json.shared.recipe).toMatchObject({ merge_method: 'task_arithmetic', base_model: 'base', parameters: { lambda: 0.4 } });
    expect(json.tensors.map((t) => [t.name, t.shape])).toEqual([
      ['hidden.weight', [10, 6]],
      ['hidden.bias', [10]],
      ['head.weight', [4, 10]],
      ['head.bias', [4]],
    ]);
    expect(json.tensors[0]!.parts['task.one']).toMatchObject({ kind: 'lowrank', rank: 3, us: 'task.one.hidden.weight.us', v: 'task.one.hidden.weight.v' });
    expect(json.tensors[1]!.parts['two']).toEqual({ kind: 'dense', delta: 'two.hidden.bias.delta' });
    // The paper's router: two Linear + BatchNorm1d + LeakyReLU layers (dropout while training), then the logits.
    const bn = (i: number) => ({ weight: `bn${i}.weight`, bias: `bn${i}.bias`, running_mean: `bn${i}.running_mean`, running_var: `bn${i}.running_var`, eps: 1e-5 });
    expect(json.router).toMatchObject({
      architecture: 'paper',
      features: { layer: 0, width: 10 },
      normalize: { mean: 'input.mean', std: 'input.std' },
      layers: [
        { weight: 'fc1.weight', bias: 'fc1.bias', norm: bn(1), activation: 'leaky_relu(0.01)', dropout_while_training: true, shape: [5, 10] },
        { weight: 'fc2.weight', bias: 'fc2.bias', norm: bn(2), activation: 'leaky_relu(0.01)', dropout_while_training: true, shape: [5, 5] },
        { weight: 'fc3.weight', bias: 'fc3.bias', activation: 'none', shape: [3, 5] },
      ],
    });
    // head.weight (4 × 10) at rank 3 would take 3 · 14 = 42 values: it is kept whole (40).
    expect(json.storage).toMatchObject({ shared: 60 + 10 + 40 + 4, factors: 3 * 3 * (10 + 6), dense: 3 * (10 + 40 + 4), router: 20 + (50 + 5 + 20) + (25 + 5 + 20) + (15 + 3), dtype: 'F32' });
    const ex = await openSafetensors(memorySource('exclusive.safetensors', files['exclusive.safetensors']!));
    expect(ex.info('two.hidden.weight.us')?.shape).toEqual([10, 3]);
    expect(ex.info('two.hidden.weight.v')?.shape).toEqual([6, 3]);
    expect(ex.info('two.head.weight.delta')?.shape).toEqual([4, 10]);
    expect(ex.metadata).toMatchObject({ format: 'merge-lab-twin', role: 'exclusive knowledge' });
    const shared = await openSafetensors(memorySource('shared.safetensors', files['shared.safetensors']!));
    expect(shared.tensorNames).toEqual(['hidden.weight', 'hidden.bias', 'head.weight', 'head.bias']);
    expect(shared.info('hidden.weight')?.dtype).toBe('F32');
  });

  it('with exclude [head, bias]: θ* lacks them, each task stores its own, rebuilt exactly; inputs use the routed task\'s', async () => {
    const { model, inputs, count } = await toyTwin();
    const random = createRandom(9);
    const experts = Object.fromEntries(tasks.map((task) => [task, Object.fromEntries(Object.entries(model.shared).map(([n, v]) => [n, v.map((x) => x + (2 * random() - 1) * 0.3)]))]));
    const excluded = excludedTensors(model.tensors.map((t) => t.name), ['head', 'bias']);
    expect(excluded).toEqual(['hidden.bias', 'head.weight', 'head.bias']);
    const exclusive = compressExclusive(model.shared, experts, model.tensors, { rankRatio: 0.5 }, { excluded });
    const shared = { 'hidden.weight': model.shared['hidden.weight']! };
    const twin: TwinModel = { ...model, shared, exclusive, exclude: ['head', 'bias'] };
    const { files, manifest } = buildTwinPackage(twin);
    expect(manifest.shared.tensors).toEqual(['hidden.weight']);
    expect(manifest.exclude).toEqual({ patterns: ['head', 'bias'], tensors: excluded, rule: expect.stringMatching(/contains one of the patterns/) });
    expect(manifest.tensors[0]!.parts['two']).toMatchObject({ kind: 'lowrank', rank: 3 });
    expect(manifest.tensors[2]!.parts['two']).toEqual({ kind: 'own', values: 'two.head.weight.own' });
    // Storage: θ*'s hidden.weight, factors at rank ⌊0.5 · 6⌋ = 3, and 3 × (10 + 40 + 4) own values.
    expect(manifest.storage).toMatchObject({ shared: 60, factors: 3 * 3 * 16, dense: 0, own: 3 * 54 });
    const read = await readTwinPackage(files);
    for (const [ti, task] of tasks.entries()) {
      for (const name of excluded) {
        const j = read.exclusive.tensors.findIndex((t) => t.name === name);
        const p = read.exclusive.parts[ti]![j]!;
        expect(p.kind === 'own' && Array.from(p.values), `${task} ${name}`).toEqual(Array.from(experts[task]![name]!));
      }
    }
    expect(read.tensors.map((t) => t.name)).toEqual(['hidden.weight', ...excluded]);
    // Soft weights with task "two" largest: hidden.weight mixes every task's factors, while the
    // excluded head and biases are two's own — what materializeMerge builds, run by hand.
    const w = [0.3, 0.4, 0.3];
    const logits = await dynamicLogits(arch, read.shared, read.exclusive, inputs, count, Float32Array.from({ length: count * 3 }, (_, i) => w[i % 3]!));
    const merged = materializeMerge(read.shared, read.exclusive, w);
    expect(Array.from(merged['head.weight']!)).toEqual(Array.from(experts['two']!['head.weight']!));
    const want = forward(merged, inputs, count);
    for (let i = 0; i < want.length; i++) expect(logits[i]).toBeCloseTo(want[i]!, 4);
  });

  it('a twin without a router (built without data) has no router file and round trips', async () => {
    const { model } = await toyTwin();
    const { files, manifest } = buildTwinPackage({ ...model, router: undefined, routerTraining: undefined });
    expect(files['router.safetensors']).toBeUndefined();
    expect(manifest.router).toBeUndefined();
    expect(manifest.storage.router).toBe(0);
    const read = await readTwinPackage(files);
    expect(read.router).toBeUndefined();
    expect(read.exclusive.parts).toEqual(model.exclusive.parts);
  });

  describe('broken packages', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form edits of a JSON header
    const edit = async (change: (json: Record<string, any>, files: Record<string, Uint8Array>) => void) => {
      const { model } = await toyTwin();
      const { files } = buildTwinPackage(model);
      const json = JSON.parse(new TextDecoder().decode(files['twin.json']));
      change(json, files);
      files['twin.json'] = new TextEncoder().encode(JSON.stringify(json));
      return files;
    };
    it('no twin.json, or one that is not JSON or not this format', async () => {
      await expectCode(readTwinPackage({}), 'PATH_NOT_FOUND', 'twin.json');
      await expectCode(readTwinPackage({ 'twin.json': new TextEncoder().encode('{nope') }), 'INDEX_INVALID', 'twin.json', 'not valid JSON');
      await expectCode(readTwinPackage(await edit((j) => (j.version = 3))), 'INDEX_INVALID', 'merge-lab-twin manifest of a version this merge-lab reads (1, 2)');
    });
    it('a missing file or tensor, a factor of the wrong shape, a part missing for a task', async () => {
      await expectCode(readTwinPackage(await edit((_, f) => delete f['exclusive.safetensors'])), 'PATH_NOT_FOUND', 'exclusive.safetensors');
      await expectCode(readTwinPackage(await edit((j) => (j.tensors[0].parts.two.us = 'two.nothing.us'))), 'TENSOR_MISSING', 'exclusive.safetensors', 'two.nothing.us');
      await expectCode(readTwinPackage(await edit((j) => (j.tensors[0].parts.two.rank = 2))), 'SHAPE_MISMATCH', 'two.hidden.weight.us', '[10, 3]', '[10, 2]');
      await expectCode(readTwinPackage(await edit((j) => delete j.tensors[2].parts['three-3'])), 'INDEX_INVALID', 'head.weight', 'three-3');
      await expectCode(readTwinPackage(await edit((j) => j.shared.tensors.push('extra.weight'))), 'TENSOR_MISSING', 'shared.safetensors', 'extra.weight');
    });
    it('a router for another number of tasks, an architecture the shared expert does not fit', async () => {
      await expectCode(readTwinPackage(await edit((j) => (j.tasks = ['a', 'b']))), 'INDEX_INVALID', 'no part for task "a"');
      await expectCode(
        readTwinPackage(
          await edit((j, f) => {
            const r = createRandom(1);
            const t = (shape: number[]) => ({ name: '', dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, r) });
            f['router.safetensors'] = serializeSafetensors(
              (
                [
                  ['input.mean', [10]],
                  ['input.std', [10]],
                  ['fc1.weight', [5, 10]],
                  ['fc1.bias', [5]],
                  ['fc2.weight', [2, 5]],
                  ['fc2.bias', [2]],
                ] as const
              ).map(([name, shape]) => ({ ...t([...shape]), name })),
            );
            void j;
          }),
        ),
        'SHAPE_MISMATCH',
        'router.safetensors',
        '2 tasks',
      );
      await expectCode(readTwinPackage(await edit((j) => (j.architecture.layers[0].outputs = 11))), 'INDEX_INVALID', 'layers[1] reads 10');
      await expectCode(readTwinPackage(await edit((j) => (j.routing.top_k = 9))), 'PARAMETER_OUT_OF_RANGE', 'topK');
    });
    it('building refuses a router for other tasks and exclusive knowledge of other tasks', async () => {
      const { model } = await toyTwin();
      await expectCode(() => buildTwinPackage({ ...model, tasks: ['x', 'y', 'z'] }), 'PARAMETER_INVALID', 'task.one, two, three-3');
      await expectCode(() => buildTwinPackage({ ...model, router: { ...model.router!, tasks: 2 } }), 'SHAPE_MISMATCH', 'retrain');
    });
  });
  it('file names are the documented ones', () => {
    expect(TWIN_FILES).toEqual({ manifest: 'twin.json', shared: 'shared.safetensors', exclusive: 'exclusive.safetensors', router: 'router.safetensors' });
  });
});
