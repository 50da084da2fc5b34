/**
 * The memory bound's mechanism, on a small tensor (the bound itself, peak RSS on a 192 MiB tensor,
 * is a memory target: `npm run bench` checks it, bench/memory-bench.ts). What keeps a merge within
 * (models + 2) × the largest tensor: the result goes to the file block by block as it is computed
 * (never held whole beside the inputs), and the inputs, read fresh, are worked on in place. Here,
 * for the recipes the bench measures (TIES, DARE-TIES, DELLA, TIES in bfloat16), on the same kind
 * of checkpoints (quantized task vectors, so the trims take torch's sort order): the largest tensor
 * reaches the output only as parts no larger than the block, and those parts, and every other
 * tensor, equal a merge that copies its inputs and makes each tensor in one block.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMORY_MODELS, MEMORY_RECIPES, memoryRecipe, writeMemoryModels } from '../../bench/memory-models.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { runMerge, type TensorOutput } from '../../src/engine/merge/run-merge.js';
import { HALF_BLOCK } from '../../src/engine/methods/half/gta-half.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { Workspace } from '../cli/helpers.js';

// 294,912 values: more than one 16-bit block (HALF_BLOCK) too.
const ROWS = 72;
const COLS = 4096;
const LARGEST = 'model.embed_tokens.weight';
/** The block limit per input for the float32 path: 16 KiB, 4,096 values, so 72 blocks. */
const BLOCK_BYTES = 16 << 10;

let ws: Workspace;
let checkpoints: Map<string, Checkpoint>;
beforeAll(async () => {
  ws = await Workspace.create('merge-lab-memory-');
  await writeMemoryModels(ws.root, ROWS, COLS);
  checkpoints = new Map(await Promise.all(MEMORY_MODELS.map(async (m) => [m, await openCheckpointPath(ws.path(m))] as const)));
});
afterAll(async () => {
  for (const c of checkpoints?.values() ?? []) await c.close();
  await ws?.dispose();
});

interface Written {
  readonly whole: Map<string, Float32Array>;
  readonly parts: Map<string, Float32Array[]>;
  /** The arrays each model's checkpoint handed out for the largest tensor, as they are after the merge. */
  readonly inputs: Map<string, Float32Array>;
}

async function merge(body: string, options: { streamed: boolean }): Promise<Written> {
  const { plan, problems } = planMerge({ recipe: parseRecipe(memoryRecipe(body)), methods: METHODS, checkpoints });
  expect(problems).toEqual([]);
  const written: Written = { whole: new Map(), parts: new Map(), inputs: new Map() };
  const output: TensorOutput = {
    writeTensor: async (name, data) => void written.whole.set(name, data.slice()),
    ...(options.streamed
      ? {
          writeTensorParts: async (name: string, parts: AsyncIterable<Float32Array>) => {
            const got: Float32Array[] = [];
            for await (const p of parts) got.push(p.slice());
            written.parts.set(name, got);
          },
        }
      : {}),
  };
  const reads = new Map<string, Checkpoint['readFloat32']>();
  for (const [model, c] of checkpoints) {
    const read = c.readFloat32;
    reads.set(model, read);
    c.readFloat32 = async (name) => {
      const a = await read.call(c, name);
      if (name === LARGEST) written.inputs.set(model, a);
      return a;
    };
  }
  try {
    // As the CLI merges (fresh reads worked on in place, results streamed), or copying and whole.
    await runMerge({ plan: plan!, checkpoints, output, ...(options.streamed ? { freshReads: true, maxBlockBytes: BLOCK_BYTES } : {}) });
  } finally {
    for (const [model, c] of checkpoints) c.readFloat32 = reads.get(model)!;
  }
  return written;
}

const concat = (parts: readonly Float32Array[]) => {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/**
 * Where two arrays first differ (Object.is, as toEqual compares numbers), or -1; their lengths when
 * those differ. toEqual walks 300,000 values as object keys, most of this file's time.
 */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number | string {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('a merge streams its largest tensor to the output and works in its fresh inputs', () => {
  for (const [label, body] of Object.entries(MEMORY_RECIPES)) {
    it(label, async () => {
      const reference = await merge(body, { streamed: false });
      const streamed = await merge(body, { streamed: true });
      expect([...reference.whole.keys()]).toContain(LARGEST);

      const parts = streamed.parts.get(LARGEST);
      expect(streamed.whole.has(LARGEST), 'the largest tensor is never handed over whole').toBe(false);
      expect(parts).toBeDefined();
      const limit = body.includes('bfloat16') ? HALF_BLOCK : BLOCK_BYTES / 4;
      expect(parts!.length).toBe(Math.ceil((ROWS * COLS) / limit));
      for (const p of parts!) expect(p.length).toBeLessThanOrEqual(limit);

      expect(firstDifference(concat(parts!), reference.whole.get(LARGEST)!), 'the streamed parts are the whole tensor').toBe(-1);
      // In place: a fine-tune's own array now holds its task vector (or its values rounded to
      // bfloat16), where the copying merge left the arrays it read as they were.
      const read = await checkpoints.get('ft1')!.readFloat32(LARGEST);
      expect(firstDifference(reference.inputs.get('ft1')!, read)).toBe(-1);
      expect(firstDifference(streamed.inputs.get('ft1')!, read)).not.toBe(-1);
      for (const [name, data] of reference.whole) {
        if (name === LARGEST) continue;
        const got = streamed.whole.get(name) ?? concat(streamed.parts.get(name) ?? []);
        expect(firstDifference(got, data), name).toBe(-1);
      }
    });
  }
});
