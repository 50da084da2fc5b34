/**
 * Recipe fixtures made with mergekit's real pipeline (a folder per case: recipe.yml and
 * expected.safetensors, or expected-error.txt): 16-bit recipes (test/fixtures/mergekit-half/,
 * scripts/mergekit-half-fixtures.py) and which tensors get written when checkpoints differ
 * (test/fixtures/mergekit-tensors/, scripts/mergekit-tensor-fixtures.py). Our merge of the same
 * recipe runs in this process, on whatever tfjs backend is current, as the bytes `merge` writes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { combineProblems } from '../../src/engine/errors.js';
import { encodeFromFloat32 } from '../../src/engine/io/dtypes.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import type { Checkpoint, DType } from '../../src/engine/io/types.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { runMerge } from '../../src/engine/merge/run-merge.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';

export const HALF_FIXTURES = fileURLToPath(new URL('../fixtures/mergekit-half/', import.meta.url));
export const TENSOR_FIXTURES = fileURLToPath(new URL('../fixtures/mergekit-tensors/', import.meta.url));

/** The case folders under a fixture root. */
export function fixtureCases(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'models')
    .map((d) => d.name)
    .sort();
}

export const HALF_CASES: readonly string[] = fixtureCases(HALF_FIXTURES);

export interface WrittenTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** What mergekit wrote for case `name` (under `root`). */
export async function expectedTensors(name: string, root = HALF_FIXTURES): Promise<Map<string, WrittenTensor>> {
  const ckpt = await openCheckpointPath(path.join(root, name, 'expected.safetensors'));
  try {
    const out = new Map<string, WrittenTensor>();
    for (const t of ckpt.tensorNames) {
      const info = ckpt.info(t)!;
      out.set(t, { dtype: info.dtype, shape: info.shape, bytes: await ckpt.readRaw(t) });
    }
    return out;
  } finally {
    await ckpt.close();
  }
}

/** Our merge of `name`'s recipe (optionally edited first), as the bytes `merge` would write. */
export async function mergedTensors(name: string, edit: (recipe: string) => string = (r) => r, root = HALF_FIXTURES): Promise<Map<string, WrittenTensor>> {
  const dir = path.join(root, name);
  const text = edit(readFileSync(path.join(dir, 'recipe.yml'), 'utf8'));
  const recipe = parseRecipe(text, `${name}/recipe.yml`);
  const checkpoints = new Map<string, Checkpoint>();
  try {
    for (const m of [...recipe.models.map((x) => x.model), ...(recipe.baseModel ? [recipe.baseModel] : [])]) {
      if (!checkpoints.has(m)) checkpoints.set(m, await openCheckpointPath(path.resolve(dir, m)));
    }
    const configPath = path.resolve(dir, recipe.baseModel ?? recipe.models[0]!.model, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    const { plan, problems } = planMerge({ recipe, methods: METHODS, checkpoints, config });
    if (!plan) throw problems.length === 1 ? problems[0]! : combineProblems(problems);
    const out = new Map<string, WrittenTensor>();
    await runMerge({
      plan,
      checkpoints,
      output: {
        writeTensor: async (t, data) => {
          const spec = plan.tensors.find((s) => s.name === t)!;
          out.set(t, { dtype: spec.outDtype, shape: spec.shape, bytes: encodeFromFloat32(spec.outDtype, data) });
        },
      },
    });
    return out;
  } finally {
    for (const c of checkpoints.values()) await c.close();
  }
}

/** Per tensor that differs: how many elements' bytes differ and the largest |Δ| (empty: same bytes). */
export function byteDifferences(got: Map<string, WrittenTensor>, want: Map<string, WrittenTensor>, decode: (t: WrittenTensor) => Float32Array): string[] {
  const out: string[] = [];
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) {
      out.push(`${name}: missing`);
      continue;
    }
    if (g.dtype !== w.dtype || g.shape.join() !== w.shape.join()) {
      out.push(`${name}: ${g.dtype} [${g.shape.join(', ')}], mergekit wrote ${w.dtype} [${w.shape.join(', ')}]`);
      continue;
    }
    const size = g.bytes.length / Math.max(1, g.shape.reduce((a, b) => a * b, 1));
    let differ = 0;
    for (let i = 0; i < g.bytes.length; i += size) {
      for (let k = 0; k < size; k++) {
        if (g.bytes[i + k] !== w.bytes[i + k]) {
          differ++;
          break;
        }
      }
    }
    if (differ > 0) {
      const a = decode(g);
      const b = decode(w);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      out.push(`${name}: ${differ} of ${a.length} elements differ, max |Δ| ${worst.toExponential(2)}`);
    }
  }
  for (const name of got.keys()) if (!want.has(name)) out.push(`${name}: not written by mergekit`);
  return out;
}
