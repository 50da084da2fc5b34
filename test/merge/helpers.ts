/** In-memory checkpoints for planner and runner tests. */
import { memorySource, openSafetensors, writeSafetensorsToMemory, type Checkpoint, type DType } from '../../src/engine/io/index.js';

export interface ToyTensor {
  name: string;
  shape: number[];
  data?: Float32Array;
  dtype?: DType;
}

export async function toyCheckpoint(name: string, tensors: ToyTensor[], fill = 0): Promise<Checkpoint> {
  const bytes = await writeSafetensorsToMemory(
    tensors.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return { name: t.name, dtype: t.dtype ?? 'F32', shape: t.shape, data: t.data ?? Float32Array.from({ length: n }, (_, i) => Math.sin(i + fill) * (1 + fill)) };
    }),
  );
  return openSafetensors(memorySource(name, bytes));
}

/** A small llama-like layout: embeddings, two layers, a final norm. */
export const LAYOUT: ToyTensor[] = [
  { name: 'model.embed_tokens.weight', shape: [8, 4] },
  { name: 'model.layers.0.self_attn.q_proj.weight', shape: [4, 4] },
  { name: 'model.layers.0.mlp.up_proj.weight', shape: [8, 4] },
  { name: 'model.layers.1.self_attn.q_proj.weight', shape: [4, 4] },
  { name: 'model.layers.1.mlp.up_proj.weight', shape: [8, 4] },
  { name: 'model.norm.weight', shape: [4] },
];
