/**
 * Experts for routed-method tests on the tiny Llama fixture (test/fixtures/lm/llama-bytes): the
 * base's weights plus seeded uniform noise, as an opened checkpoint or as the model folder's files
 * the engine's models service opens.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { EngineApi, ModelFile } from '../../src/engine/api/engine-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { memorySource, openSafetensors } from '../../src/engine/io/index.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { serializeSafetensors } from '../../src/engine/io/safetensors-writer.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { createRandom } from '../../src/engine/random.js';
import { LM_FIXTURES } from './fixtures.js';

export const LLAMA_BYTES = path.join(LM_FIXTURES, 'llama-bytes');

/** Every tensor of `base` plus scale · U(−1, 1) noise drawn from `seed`, float32. */
async function noisyTensors(base: Checkpoint, seed: number, scale: number) {
  const random = createRandom(seed);
  const tensors = [];
  for (const t of base.tensorNames) tensors.push({ name: t, dtype: 'F32' as const, shape: [...base.info(t)!.shape], data: Float32Array.from(await base.readFloat32(t), (v) => v + scale * (2 * random() - 1)) });
  return serializeSafetensors(tensors);
}

/** An expert in memory: `base` plus seeded noise. */
export async function noisyExpert(base: Checkpoint, seed: number, scale: number): Promise<Checkpoint> {
  return openSafetensors(memorySource(`${seed}.safetensors`, await noisyTensors(base, seed, scale)));
}

/** The fixture's folder under `name` (config, tokenizer files, weights); with a seed, its weights plus 0.05 · noise. */
export async function fixtureFolder(name: string, seed?: number): Promise<ModelFile[]> {
  const files: ModelFile[] = [];
  for (const f of await readdir(LLAMA_BYTES)) {
    if (f.endsWith('.safetensors') && seed !== undefined) continue;
    files.push({ path: `${name}/${f}`, blob: new Blob([await readFile(path.join(LLAMA_BYTES, f))]) });
  }
  if (seed === undefined) return files;
  const c = await openCheckpointPath(LLAMA_BYTES);
  try {
    return [...files, { path: `${name}/model.safetensors`, blob: new Blob([(await noisyTensors(c, seed, 0.05)) as Uint8Array<ArrayBuffer>]) }];
  } finally {
    await c.close();
  }
}

/** Two texts of different kinds (prose, code) for routers to tell apart. */
export const PROSE = 'the quick brown fox jumps over the lazy dog; '.repeat(12);
export const CODE = 'function f(x) { return x + 1; } '.repeat(12);

/** An engine on cpu with the fixture as "base" and two noisy experts "a" (seed 1) and "b" (seed 2). */
export async function engineWithNoisyExperts(): Promise<EngineApi> {
  const engine = createEngine();
  await engine.system.setBackend('cpu');
  await engine.models.openModel('base', await fixtureFolder('base'));
  await engine.models.openModel('a', await fixtureFolder('a', 1));
  await engine.models.openModel('b', await fixtureFolder('b', 2));
  return engine;
}
