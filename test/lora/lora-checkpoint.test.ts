/**
 * PEFT LoRA adapters applied on load (src/engine/io/lora-checkpoint.ts), against the merged
 * models in test/fixtures/lora/expected/, which scripts/lora-fixture.py computed with torch the way
 * peft's merge_and_unload does under mergekit: every tensor's dtype and bytes must be equal. Then
 * the same through dropped files (lora-files.ts, the lab's path) and the lab's pairing of a dropped
 * adapter with its base; then a catalogue of broken adapters and the one-line error each gives.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pairAdapters } from '../../src/app/models/lora-pairing.js';
import { isMergeLabError, type ErrorCode } from '../../src/engine/errors.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { openLoraPaths } from '../../src/engine/io/node-lora-checkpoint.js';
import { loraLoadDtype, openLoraCheckpoint, parseAdapterConfig, type LoraAdapterConfig } from '../../src/engine/io/lora-checkpoint.js';
import { openModelFiles } from '../../src/engine/io/lora-files.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { serializeSafetensors } from '../../src/engine/io/safetensors-writer.js';
import { blobSource, memorySource } from '../../src/engine/io/sources.js';
import type { Checkpoint, DType } from '../../src/engine/io/types.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(REPO, 'test/fixtures/lora');
const BASE_F32 = path.join(REPO, 'test/fixtures/mergekit-recipes/models/base');
const BASE_BF16 = path.join(FIX, 'base-bf16');

/** Every case scripts/lora-fixture.py wrote: base, adapter, lora_merge_dtype. */
const CASES: readonly { name: string; base: string; adapter: string; mergeDtype?: string; dtype: DType }[] = [
  { name: 'f32-adapter', base: BASE_F32, adapter: 'adapter', dtype: 'F32' },
  { name: 'bf16-adapter', base: BASE_BF16, adapter: 'adapter', dtype: 'BF16' },
  { name: 'f32-adapter-f16', base: BASE_F32, adapter: 'adapter', mergeDtype: 'float16', dtype: 'F16' },
  { name: 'f32-extra', base: BASE_F32, adapter: 'adapter-extra', dtype: 'F32' },
  { name: 'bf16-extra', base: BASE_BF16, adapter: 'adapter-extra', dtype: 'BF16' },
];

async function expectSameTensors(got: Checkpoint, want: Checkpoint, dtype: DType): Promise<void> {
  expect([...got.tensorNames].sort()).toEqual([...want.tensorNames].sort());
  for (const n of want.tensorNames) {
    const w = want.info(n)!;
    const g = got.info(n)!;
    expect({ n, dtype: g.dtype, shape: g.shape }).toEqual({ n, dtype, shape: w.shape });
    expect(g.end - g.begin, n).toBe(w.end - w.begin);
    const [gb, wb] = await Promise.all([got.readRaw(n), want.readRaw(n)]);
    // Byte equality, reported as the first differing element.
    if (!Buffer.from(gb).equals(Buffer.from(wb))) {
      const [gf, wf] = await Promise.all([got.readFloat32(n), want.readFloat32(n)]);
      const i = gf.findIndex((v, k) => !Object.is(v, wf[k]));
      expect.fail(`${n}[${i}]: got ${gf[i]}, torch ${wf[i]}`);
    }
    expect(Array.from(await got.readFloat32(n)), n).toEqual(Array.from(await want.readFloat32(n)));
  }
}

describe('LoRA applied as peft merges it (torch reference)', () => {
  for (const c of CASES) {
    it(`${c.name}: every tensor equals the merged model's bytes`, async () => {
      const got = await openLoraPaths(c.base, path.join(FIX, c.adapter), c.mergeDtype ? { mergeDtype: c.mergeDtype } : {});
      const want = await openCheckpointPath(path.join(FIX, 'expected', c.name));
      try {
        await expectSameTensors(got, want, c.dtype);
      } finally {
        await Promise.all([got.close(), want.close()]);
      }
    });
  }

  it('adapter_model.bin (torch.save, read without running its pickle) gives the same model', async () => {
    const want = await openCheckpointPath(path.join(FIX, 'expected', 'f32-adapter'));
    const node = await openLoraPaths(BASE_F32, path.join(FIX, 'adapter-bin'));
    const dropped = await openModelFiles([...listed(BASE_F32, 'base'), ...listed(path.join(FIX, 'adapter-bin'), 'adapter-bin')]);
    try {
      await expectSameTensors(node, want, 'F32');
      await expectSameTensors(dropped, want, 'F32');
    } finally {
      await Promise.all([node.close(), dropped.close(), want.close()]);
    }
  });

  it('changes what the adapter targets and nothing else', async () => {
    const base = await openCheckpointPath(BASE_F32);
    const got = await openLoraPaths(BASE_F32, path.join(FIX, 'adapter'));
    try {
      const changed: string[] = [];
      for (const n of base.tensorNames) {
        const [a, b] = await Promise.all([base.readFloat32(n), got.readFloat32(n)]);
        if (a.some((v, i) => v !== b[i])) changed.push(n);
      }
      expect(changed.sort()).toEqual([0, 1, 2, 3].flatMap((i) => [`model.layers.${i}.self_attn.q_proj.weight`, `model.layers.${i}.self_attn.v_proj.weight`]).sort());
    } finally {
      await Promise.all([base.close(), got.close()]);
    }
  });
});

describe('the dtype the base is loaded in (transformers 5, dtype="auto")', () => {
  it('lora_merge_dtype, else config.json dtype / torch_dtype, else the first float tensor', async () => {
    const bf16 = await openCheckpointPath(BASE_BF16);
    try {
      expect(loraLoadDtype(bf16)).toBe('BF16');
      expect(loraLoadDtype(bf16, { torch_dtype: 'float32' })).toBe('F32');
      expect(loraLoadDtype(bf16, { dtype: 'float16', torch_dtype: 'float32' })).toBe('F16');
      expect(loraLoadDtype(bf16, { torch_dtype: 'float32' }, 'bfloat16')).toBe('BF16');
      // A config saying float32 over bfloat16 tensors: every float tensor comes out float32.
      const adapter = await openCheckpointPath(path.join(FIX, 'adapter', 'adapter_model.safetensors'));
      const c = openLoraCheckpoint(bf16, adapter, CONFIG, { baseConfig: { torch_dtype: 'float32' }, closeBase: false });
      expect(new Set(c.tensorNames.map((n) => c.info(n)!.dtype))).toEqual(new Set(['F32']));
      const n = 'model.norm.weight';
      expect(Array.from(await c.readFloat32(n))).toEqual(Array.from(await bf16.readFloat32(n)));
      expect((await c.readRaw(n)).byteLength).toBe(4 * 8);
      await c.close();
    } finally {
      await bf16.close();
    }
  });
});

/**
 * The files of a folder as dropped: paths relative to `prefix`'s parent. The bytes are copied out
 * of Node's Buffer, whose slice() is a view: memorySource's reads would alias the file's bytes.
 */
function listed(dir: string, prefix: string): { name: string; source: ReturnType<typeof memorySource> }[] {
  return readdirSync(dir).map((f) => ({ name: `${prefix}/${f}`, source: memorySource(`${prefix}/${f}`, new Uint8Array(readFileSync(path.join(dir, f)))) }));
}

function group(dir: string, name: string): { name: string; files: { path: string; blob: Blob }[] } {
  return { name, files: readdirSync(dir).map((f) => ({ path: f, blob: new Blob([readFileSync(path.join(dir, f))]) })) };
}

async function expectCode(p: Promise<unknown>, code: ErrorCode, ...mentions: string[]): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!isMergeLabError(e)) throw new Error(`expected ${code}, got ${e === undefined ? 'success' : String(e)}`);
  expect(e.code, e.message).toBe(code);
  for (const m of mentions) expect(e.message).toContain(m);
  expect(e.message).not.toContain("\n");
  return e.message;
}

describe('dropped files (the lab)', () => {
  it('a base folder and an adapter folder in one listing give the merged model', async () => {
    const got = await openModelFiles([...listed(BASE_BF16, 'base-bf16'), ...listed(path.join(FIX, 'adapter-extra'), 'adapter-extra')]);
    const want = await openCheckpointPath(path.join(FIX, 'expected', 'bf16-extra'));
    try {
      expect(got.name).toBe('base-bf16+adapter-extra');
      await expectSameTensors(got, want, 'BF16');
    } finally {
      await Promise.all([got.close(), want.close()]);
    }
  });

  it('an adapter alone says it needs its base and how to pair it', async () => {
    const msg = await expectCode(openModelFiles(listed(path.join(FIX, 'adapter'), 'adapter')), 'LORA_NEEDS_BASE', 'adapter', 'LoRA adapter', 'test/fixtures/mergekit-recipes/models/base', 'base model');
    expect(msg).toMatch(/drop/i);
  });

  it('pairs an adapter with the model dropped beside it, or with the list base', async () => {
    const base = group(BASE_F32, 'base');
    const adapter = group(path.join(FIX, 'adapter'), 'adapter');
    const together = await pairAdapters([adapter, base]);
    expect(together.map((g) => g.name)).toEqual(['base', 'base+adapter']);
    const later = await pairAdapters([adapter], base);
    expect(later.map((g) => g.name)).toEqual(['base+adapter']);
    expect((await pairAdapters([adapter])).map((g) => g.name)).toEqual(['adapter']);
    // Two models dropped with it: base_model_name_or_path's last segment picks one.
    const other = group(BASE_BF16, 'base-bf16');
    expect((await pairAdapters([other, adapter, base])).map((g) => g.name)).toEqual(['base-bf16', 'base', 'base+adapter']);

    const files = later[0]!.files.map((f) => ({ name: f.path, source: blobSource(f.blob, f.path) }));
    const got = await openModelFiles(files);
    const want = await openCheckpointPath(path.join(FIX, 'expected', 'f32-adapter'));
    try {
      await expectSameTensors(got, want, 'F32');
    } finally {
      await Promise.all([got.close(), want.close()]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Broken adapters

const CONFIG: LoraAdapterConfig = parseAdapterConfig(readFileSync(path.join(FIX, 'adapter', 'adapter_config.json'), 'utf8'), 'adapter_config.json');
const Q = 'base_model.model.model.layers.0.self_attn.q_proj';

function adapterBytes(tensors: Record<string, { shape: number[]; dtype?: DType }>): Uint8Array {
  return serializeSafetensors(
    Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype ?? 'F32', shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(0.25) })),
    { format: 'pt' },
  );
}

async function openWith(tensors: Record<string, { shape: number[]; dtype?: DType }>, config: LoraAdapterConfig = CONFIG): Promise<Checkpoint> {
  const base = await openCheckpointPath(BASE_F32);
  const adapter = await openSafetensors(memorySource('broken/adapter_model.safetensors', adapterBytes(tensors)));
  try {
    return openLoraCheckpoint(base, adapter, config);
  } catch (e) {
    await Promise.all([base.close(), adapter.close()]);
    throw e;
  }
}

const BROKEN: readonly { name: string; tensors: Record<string, { shape: number[]; dtype?: DType }>; mentions: string[]; config?: Partial<LoraAdapterConfig> }[] = [
  {
    name: 'a key naming no base tensor',
    tensors: { 'base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight': { shape: [2, 8] }, 'base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight': { shape: [8, 2] } },
    mentions: ['broken/adapter_model.safetensors', 'model.layers.9.self_attn.q_proj.weight', 'does not have'],
  },
  { name: 'lora_A of the wrong width', tensors: { [`${Q}.lora_A.weight`]: { shape: [2, 7] }, [`${Q}.lora_B.weight`]: { shape: [8, 2] } }, mentions: [`${Q}.lora_A.weight`, '[2, 7]', 'model.layers.0.self_attn.q_proj.weight [8, 8]'] },
  { name: 'a rank other than r', tensors: { [`${Q}.lora_A.weight`]: { shape: [3, 8] }, [`${Q}.lora_B.weight`]: { shape: [8, 3] } }, mentions: ['rank 3', 'r = 2'] },
  { name: 'lora_A without lora_B', tensors: { [`${Q}.lora_A.weight`]: { shape: [2, 8] } }, mentions: ['lora_A.weight', 'no lora_B.weight'] },
  { name: 'a key outside peft layout', tensors: { 'model.layers.0.self_attn.q_proj.lora_A.weight': { shape: [2, 8] } }, mentions: ['not in peft', 'model.layers.0.self_attn.q_proj.lora_A.weight'] },
  { name: 'a DoRA magnitude', tensors: { [`${Q}.lora_magnitude_vector`]: { shape: [8] } }, mentions: ['DoRA'] },
  { name: 'a modules_to_save tensor of another shape', tensors: { 'base_model.model.lm_head.weight': { shape: [16, 4] } }, mentions: ['base_model.model.lm_head.weight', '[16, 4]', '[16, 8]'] },
  { name: 'an integer LoRA weight', tensors: { [`${Q}.lora_A.weight`]: { shape: [2, 8], dtype: 'I32' }, [`${Q}.lora_B.weight`]: { shape: [8, 2] } }, mentions: ['I32'] },
];

describe('broken adapters: one line naming the file and tensor', () => {
  for (const c of BROKEN) {
    it(c.name, async () => {
      await expectCode(openWith(c.tensors, { ...CONFIG, ...c.config }), 'LORA_INVALID', ...c.mentions);
    });
  }

  const configs: readonly [string, unknown, string[]][] = [
    ['missing r', { peft_type: 'LORA', lora_alpha: 4 }, ['"r" is missing']],
    ['missing lora_alpha', { peft_type: 'LORA', r: 2 }, ['"lora_alpha" is missing']],
    ['another peft_type', { peft_type: 'IA3', r: 2, lora_alpha: 4 }, ['"IA3"', 'LORA']],
    ['missing peft_type', { r: 2, lora_alpha: 4 }, ['peft_type']],
    ['DoRA', { peft_type: 'LORA', r: 2, lora_alpha: 4, use_dora: true }, ['DoRA']],
    ['a bad rank_pattern', { peft_type: 'LORA', r: 2, lora_alpha: 4, rank_pattern: { q_proj: 0 } }, ['rank_pattern["q_proj"]']],
    ['target_parameters', { peft_type: 'LORA', r: 2, lora_alpha: 4, target_parameters: ['experts.w1'] }, ['target_parameters']],
  ];
  for (const [name, json, mentions] of configs) {
    it(`adapter_config.json: ${name}`, async () => {
      await expectCode(Promise.resolve().then(() => parseAdapterConfig(JSON.stringify(json), 'x/adapter_config.json')), 'LORA_INVALID', 'x/adapter_config.json', ...mentions);
    });
  }
  it('adapter_config.json: not JSON', async () => {
    await expectCode(Promise.resolve().then(() => parseAdapterConfig('{r: 2', 'x/adapter_config.json')), 'LORA_INVALID', 'x/adapter_config.json', 'not valid JSON');
  });
});
