/**
 * The language-model lab's time per slider move (src/engine/api/services/lm-lab.ts) on a
 * byte-level Llama made here with random weights (nothing downloaded): a base and `--experts`
 * experts (the base plus seeded noise), opened as dropped folders through the models service, two
 * texts of `--bytes` each (this repository's README, cut). It times the first full evaluation
 * (base and experts scored, then the merge), then `--moves` TIES density moves as the lab asks for
 * them — a probe each, then the full texts at the last — and reports the engine's own breakdown
 * (merge into memory, weights laid out and scored), the tensor count before and after (it must not
 * grow) and, apart, what laying the merged weights out for inference costs (prepareLmWeights).
 *
 *   npx tsx bench/lm-lab-bench.ts [--backend wasm|cpu|webgpu] [--hidden 320] [--layers 8] [--intermediate 864]
 *                                 [--positions 512] [--experts 2] [--bytes 4096] [--moves 5]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend, parseBackend } from '../src/cli/node-backend.js';
import type { LmLabRequest, ModelFile } from '../src/engine/api/engine-api.js';
import { createEngine } from '../src/engine/api/engine.js';
import { serializeSafetensors } from '../src/engine/io/safetensors-writer.js';
import { lmTensorShapes, readLmConfig } from '../src/engine/lm/config.js';
import { prepareLmWeights } from '../src/engine/lm/weights.js';
import { createRandom } from '../src/engine/random.js';
import type { Recipe } from '../src/engine/recipe/types.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    hidden: { type: 'string', default: '320' },
    layers: { type: 'string', default: '8' },
    intermediate: { type: 'string', default: '864' },
    positions: { type: 'string', default: '512' },
    experts: { type: 'string', default: '2' },
    bytes: { type: 'string', default: '4096' },
    moves: { type: 'string', default: '5' },
  },
});

const backend = await initNodeBackend(parseBackend(values.backend));
const hidden = Number(values.hidden);
const configJson = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 256,
  hidden_size: hidden,
  intermediate_size: Number(values.intermediate),
  num_hidden_layers: Number(values.layers),
  num_attention_heads: hidden / 64,
  num_key_value_heads: (hidden / 64) % 2 === 0 ? hidden / 128 : hidden / 64,
  max_position_embeddings: Number(values.positions),
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  torch_dtype: 'float32',
};
const config = readLmConfig(configJson, 'bench config');
const shapes = lmTensorShapes(config);
const parameters = [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

/** A model folder: config.json and one safetensors file, weights N(0, 0.02) (norms 1), plus `noise` of the seed's. */
function folder(name: string, seed: number, noise: number): ModelFile[] {
  const base = createRandom(1);
  const extra = createRandom(seed);
  const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const tensors = [...shapes].map(([n, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = (shape.length === 1 ? 1 : 0.02 * gauss(base)) + (noise > 0 ? noise * gauss(extra) : 0);
    return { name: n, dtype: 'F32' as const, shape, data };
  });
  return [
    { path: `${name}/config.json`, blob: new Blob([JSON.stringify(configJson)]) },
    { path: `${name}/model.safetensors`, blob: new Blob([serializeSafetensors(tensors) as Uint8Array<ArrayBuffer>]) },
  ];
}

const engine = createEngine();
const experts = Array.from({ length: Number(values.experts) }, (_, i) => `expert${i + 1}`);
const made = performance.now();
await engine.models.openModel('base', folder('base', 0, 0));
for (const [i, e] of experts.entries()) await engine.models.openModel(e, folder(e, 10 + i, 0.004));
console.log(`llama ${parameters.toLocaleString('en-US')} parameters (byte-level, random), base + ${experts.length} experts, backend ${backend}; made and opened in ${((performance.now() - made) / 1000).toFixed(1)} s`);

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const bytes = Number(values.bytes);
const tasks = experts.slice(0, 2).map((e, i) => ({ name: `${e}.txt`, text: readme.slice(i * bytes, (i + 1) * bytes), expert: e }));
const ties = (density: number): Recipe => ({ mergeMethod: 'ties', baseModel: 'base', models: experts.map((model) => ({ model, parameters: { weight: 1, density } })), parameters: { lambda: 1 } });
const request = (density: number, mode: LmLabRequest['mode']): LmLabRequest => ({ recipe: ties(density), base: 'base', experts, tasks, mode });
const summary = await engine.lmLab.describeLab('base');
console.log(`context ${summary.context}, probe ${summary.probeTokens} tokens per text; texts ${tasks.map((t) => `${t.name} ${t.text.length} chars`).join(', ')}`);

const before = tf.memory().numTensors;
const time = async (density: number, mode: LmLabRequest['mode']) => {
  const started = performance.now();
  const a = await engine.lmLab.evaluate(request(density, mode));
  const ms = performance.now() - started;
  const m = a.milliseconds;
  console.log(
    `${mode.padEnd(5)} density ${density.toFixed(2)}: ${ms.toFixed(0).padStart(6)} ms (references ${m.references.toFixed(0)}, merge ${m.merge.toFixed(0)}, merged model laid out and scored ${m.merged.toFixed(0)}); ` +
      `${a.tasks.map((t) => `${t.name} ${t.tokens} tokens, loss ${t.merged.loss.toFixed(4)}, gain ${t.gain === null ? '—' : (100 * t.gain).toFixed(1) + '%'}`).join('; ')}`,
  );
  return ms;
};
await time(0.3, 'full');
const probes: number[] = [];
for (let i = 1; i <= Number(values.moves); i++) probes.push(await time(0.3 + 0.1 * i, 'probe'));
const fulls = [await time(0.3 + 0.1 * Number(values.moves), 'full'), await time(0.35, 'full')];
probes.sort((a, b) => a - b);
console.log(`probe per move: median ${probes[Math.floor(probes.length / 2)]!.toFixed(0)} ms, max ${probes.at(-1)!.toFixed(0)} ms; full texts after a move: ${fulls.map((f) => f.toFixed(0)).join(', ')} ms; tensors ${before} → ${tf.memory().numTensors}`);

// Apart: what laying the merged weights out costs per request (tensors made from arrays, projections transposed).
const arrays = [...shapes].map(([n, s]) => [n, s, new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.01)] as const);
for (let run = 0; run < 2; run++) {
  const started = performance.now();
  const raw = new Map(arrays.map(([n, s, d]) => [n, tf.tensor(d, s, 'float32')]));
  const prepared = prepareLmWeights(config, raw);
  for (const t of raw.values()) t.dispose();
  await prepared.tensors.get('lm_head.weight')!.data();
  const ms = performance.now() - started;
  for (const t of prepared.tensors.values()) t.dispose();
  console.log(`prepareLmWeights (tensors made, projections transposed): ${ms.toFixed(0)} ms`);
}
