/**
 * A router as safetensors tensors and back. Names follow torch: `fc1.weight` [hidden, features],
 * `fc1.bias`, `fc2.weight` [tasks, hidden], `fc2.bias`, plus `input.mean` / `input.std` for the
 * standardisation in front, so `nn.Sequential(Linear, ReLU, Linear)` loads fc1/fc2 as they are.
 */
import { MergeLabError } from '../errors.js';
import type { TensorWithData } from '../io/safetensors-writer.js';
import type { RouterWeights } from './types.js';

/** The layout a reader needs, as written into a package's JSON next to the file. */
export const ROUTER_LAYOUT = {
  normalize: { mean: 'input.mean', std: 'input.std', formula: '(x - mean) / std' },
  layers: [
    { weight: 'fc1.weight', bias: 'fc1.bias', activation: 'relu' },
    { weight: 'fc2.weight', bias: 'fc2.bias', activation: 'none' },
  ],
  output: 'logits over tasks; weights = softmax(logits / temperature), then top-k renormalised',
} as const;

/** The router's tensors (float32), `prefix` prepended to each name. */
export function routerTensors(r: RouterWeights, prefix = ''): TensorWithData[] {
  return [
    { name: `${prefix}input.mean`, dtype: 'F32', shape: [r.features], data: r.mean },
    { name: `${prefix}input.std`, dtype: 'F32', shape: [r.features], data: r.std },
    { name: `${prefix}fc1.weight`, dtype: 'F32', shape: [r.hidden, r.features], data: r.fc1Weight },
    { name: `${prefix}fc1.bias`, dtype: 'F32', shape: [r.hidden], data: r.fc1Bias },
    { name: `${prefix}fc2.weight`, dtype: 'F32', shape: [r.tasks, r.hidden], data: r.fc2Weight },
    { name: `${prefix}fc2.bias`, dtype: 'F32', shape: [r.tasks], data: r.fc2Bias },
  ];
}

/**
 * Rebuilds a router from tensors looked up by name (shapes checked against each other).
 * Throws TENSOR_MISSING / SHAPE_MISMATCH naming the tensor and `file`.
 */
export function routerFromTensors(get: (name: string) => { shape: readonly number[]; data: Float32Array } | undefined, file = 'router', prefix = ''): RouterWeights {
  const need = (name: string) => {
    const t = get(prefix + name);
    if (!t) throw new MergeLabError('TENSOR_MISSING', `${file} has no tensor "${prefix + name}", which a router needs; rebuild the package.`);
    return t;
  };
  const fc1 = need('fc1.weight');
  const fc2 = need('fc2.weight');
  if (fc1.shape.length !== 2 || fc2.shape.length !== 2) {
    throw new MergeLabError('SHAPE_MISMATCH', `${file}: "${prefix}fc1.weight" and "${prefix}fc2.weight" must be 2-D, got [${fc1.shape.join(', ')}] and [${fc2.shape.join(', ')}].`);
  }
  const [hidden, features] = fc1.shape as [number, number];
  const tasks = fc2.shape[0]!;
  const expect = (name: string, shape: number[]) => {
    const t = need(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new MergeLabError('SHAPE_MISMATCH', `${file}: "${prefix + name}" is [${t.shape.join(', ')}] but the router's layers need [${shape.join(', ')}].`);
    }
    return t.data;
  };
  // fc2 must read what fc1 writes.
  expect('fc2.weight', [tasks, hidden]);
  return {
    features,
    hidden,
    tasks,
    mean: expect('input.mean', [features]),
    std: expect('input.std', [features]),
    fc1Weight: fc1.data,
    fc1Bias: expect('fc1.bias', [hidden]),
    fc2Weight: fc2.data,
    fc2Bias: expect('fc2.bias', [tasks]),
  };
}
