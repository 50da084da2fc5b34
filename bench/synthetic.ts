/**
 * Synthetic checkpoints for benchmarks: a base and N fine-tunes (base + small noise) with
 * transformer-like tensor names, written tensor by tensor so generating 100M-parameter models
 * never holds a whole model in memory.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createSafetensorsWriter } from '../src/engine/io/safetensors-writer.js';
import { nodeFileSink } from '../src/engine/io/node-file.js';
import { createRandom as rng } from '../src/engine/random.js';

export interface SyntheticSpec {
  /** Approximate parameter count per model. */
  readonly params: number;
  /** Number of fine-tuned models besides the base. */
  readonly models: number;
  readonly dir: string;
  /** 'layers': [rows, 1024] matrices and biases; 'gpt2': GPT-2 small's tensors (50257-row embedding), as many blocks as fit. */
  readonly shape?: SyntheticShape;
}

export type SyntheticShape = 'layers' | 'gpt2';

/** The tensors of a synthetic model of about `params` parameters, in file order. */
export function syntheticLayout(params: number, shape: SyntheticShape = 'layers'): { name: string; shape: number[] }[] {
  return shape === 'gpt2' ? gpt2Layout(params) : layerLayout(params);
}

/** Layer tensors of [rows, 1024] float32 and a bias each, until about `params` parameters. */
function layerLayout(params: number): { name: string; shape: number[] }[] {
  const width = 1024;
  const rows = params >= 50_000_000 ? 4096 : 1024;
  const per = rows * width + rows;
  const layers = Math.max(1, Math.round(params / per));
  const out: { name: string; shape: number[] }[] = [];
  for (let l = 0; l < layers; l++) {
    out.push({ name: `model.layers.${l}.mlp.weight`, shape: [rows, width] });
    out.push({ name: `model.layers.${l}.mlp.bias`, shape: [rows] });
  }
  return out;
}

/** GPT-2 small's names and shapes (Conv1D weights [in, out]); 12 blocks make its 124M parameters. */
const GPT2 = { vocab: 50257, positions: 1024, width: 768 };

function gpt2Layout(params: number): { name: string; shape: number[] }[] {
  const d = GPT2.width;
  const embed = (GPT2.vocab + GPT2.positions) * d + 2 * d;
  const block = [
    ['ln_1.weight', [d]], ['ln_1.bias', [d]],
    ['attn.c_attn.weight', [d, 3 * d]], ['attn.c_attn.bias', [3 * d]],
    ['attn.c_proj.weight', [d, d]], ['attn.c_proj.bias', [d]],
    ['ln_2.weight', [d]], ['ln_2.bias', [d]],
    ['mlp.c_fc.weight', [d, 4 * d]], ['mlp.c_fc.bias', [4 * d]],
    ['mlp.c_proj.weight', [4 * d, d]], ['mlp.c_proj.bias', [d]],
  ] as const;
  const perBlock = block.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
  const blocks = Math.max(1, Math.round((params - embed) / perBlock));
  return [
    { name: 'transformer.wte.weight', shape: [GPT2.vocab, d] },
    { name: 'transformer.wpe.weight', shape: [GPT2.positions, d] },
    ...Array.from({ length: blocks }, (_, l) => block.map(([n, shape]) => ({ name: `transformer.h.${l}.${n}`, shape: [...shape] }))).flat(),
    { name: 'transformer.ln_f.weight', shape: [d] },
    { name: 'transformer.ln_f.bias', shape: [d] },
  ];
}

/** config.json for the layout: GPT-2's (mergekit needs a known architecture), else a layer count. */
function syntheticConfig(layout: { name: string }[], shape: SyntheticShape): Record<string, unknown> {
  if (shape === 'layers') return { num_hidden_layers: layout.length / 2 };
  const blocks = layout.filter((t) => t.name.endsWith('.ln_1.weight')).length;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: GPT2.vocab,
    n_positions: GPT2.positions,
    n_embd: GPT2.width,
    n_layer: blocks,
    n_head: 12,
    torch_dtype: 'float32',
  };
}

export async function writeSyntheticModels(spec: SyntheticSpec): Promise<string[]> {
  await mkdir(spec.dir, { recursive: true });
  const layout = syntheticLayout(spec.params, spec.shape);
  const names = ['base', ...Array.from({ length: spec.models }, (_, i) => `ft${i + 1}`)];
  for (let m = 0; m < names.length; m++) {
    const dir = path.join(spec.dir, names[m]!);
    await mkdir(dir, { recursive: true });
    const w = await createSafetensorsWriter(
      await nodeFileSink(path.join(dir, "model.safetensors")),
      layout.map((t) => ({ ...t, dtype: 'F32' as const })),
      { format: 'pt' },
    );
    for (let t = 0; t < layout.length; t++) {
      const n = layout[t]!.shape.reduce((a, b) => a * b, 1);
      const baseRand = rng(1000 + t);
      const ftRand = rng(7919 * (m + 1) + t);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const b = baseRand() - 0.5;
        data[i] = m === 0 ? b : b + 0.02 * (ftRand() - 0.5);
      }
      await w.writeTensor(layout[t]!.name, data);
    }
    await w.finish();
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(syntheticConfig(layout, spec.shape ?? 'layers'), null, 2) + '\n');
  }
  return names.map((n) => path.join(spec.dir, n));
}
