/**
 * A router as safetensors tensors and back. Names follow torch: `fc1.weight` [outputs, inputs],
 * `fc1.bias`, then `fc2.…` and so on, each hidden layer's batch norm as `bn1.weight`, `bn1.bias`,
 * `bn1.running_mean`, `bn1.running_var` (BatchNorm1d's own names), plus `input.mean` /
 * `input.std` for the standardisation in front. The paper's router loads into
 * `nn.Sequential(Linear, BatchNorm1d, LeakyReLU, Dropout, Linear, BatchNorm1d, LeakyReLU, Dropout,
 * Linear)` as it is; the small one into `nn.Sequential(Linear, ReLU, Linear)`.
 */
import { MergeLabError } from '../errors.js';
import type { TensorWithData } from '../io/safetensors-writer.js';
import { BATCH_NORM_EPS, type RouterArchitecture, type RouterLayer, type RouterWeights } from './types.js';

/** The layout a reader needs, as written into a package's JSON next to the file. */
export function routerLayout(r: RouterWeights): {
  architecture: RouterArchitecture;
  normalize: { mean: string; std: string; formula: string };
  layers: { weight: string; bias: string; shape: number[]; norm?: { weight: string; bias: string; running_mean: string; running_var: string; eps: number }; activation: string; dropout_while_training?: boolean }[];
  output: string;
} {
  return {
    architecture: r.architecture,
    normalize: { mean: 'input.mean', std: 'input.std', formula: '(x - mean) / std' },
    layers: r.layers.map((l, i) => ({
      weight: `fc${i + 1}.weight`,
      bias: `fc${i + 1}.bias`,
      shape: [l.outputs, l.inputs],
      ...(l.norm ? { norm: { weight: `bn${i + 1}.weight`, bias: `bn${i + 1}.bias`, running_mean: `bn${i + 1}.running_mean`, running_var: `bn${i + 1}.running_var`, eps: l.norm.eps } } : {}),
      activation: l.activation === 'leaky_relu' ? 'leaky_relu(0.01)' : l.activation,
      ...(r.architecture === 'paper' && l.activation !== 'none' ? { dropout_while_training: true } : {}),
    })),
    output: 'logits over tasks; weights = softmax(logits / temperature), then top-k renormalised',
  };
}

/** The router's tensors (float32), `prefix` prepended to each name. */
export function routerTensors(r: RouterWeights, prefix = ''): TensorWithData[] {
  const out: TensorWithData[] = [
    { name: `${prefix}input.mean`, dtype: 'F32', shape: [r.features], data: r.mean },
    { name: `${prefix}input.std`, dtype: 'F32', shape: [r.features], data: r.std },
  ];
  r.layers.forEach((l, i) => {
    out.push({ name: `${prefix}fc${i + 1}.weight`, dtype: 'F32', shape: [l.outputs, l.inputs], data: l.weight }, { name: `${prefix}fc${i + 1}.bias`, dtype: 'F32', shape: [l.outputs], data: l.bias });
    if (l.norm) {
      for (const [k, v] of [
        ['weight', l.norm.weight],
        ['bias', l.norm.bias],
        ['running_mean', l.norm.runningMean],
        ['running_var', l.norm.runningVar],
      ] as const) {
        out.push({ name: `${prefix}bn${i + 1}.${k}`, dtype: 'F32', shape: [l.outputs], data: v });
      }
    }
  });
  return out;
}

/**
 * Rebuilds a router from tensors looked up by name: fc1, fc2, … until one is missing, a layer with
 * a `bnN` norm being a hidden layer of the paper's router (LeakyReLU), one without a ReLU one, the
 * last layer giving the logits. Shapes are checked against each other. Throws TENSOR_MISSING /
 * SHAPE_MISMATCH naming the tensor and `file`.
 */
export function routerFromTensors(get: (name: string) => { shape: readonly number[]; data: Float32Array } | undefined, file = 'router', prefix = ''): RouterWeights {
  const need = (name: string) => {
    const t = get(prefix + name);
    if (!t) throw new MergeLabError('TENSOR_MISSING', `${file} has no tensor "${prefix + name}", which a router needs; rebuild the package.`);
    return t;
  };
  const expect = (name: string, shape: number[]) => {
    const t = need(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new MergeLabError('SHAPE_MISMATCH', `${file}: "${prefix + name}" is [${t.shape.join(', ')}] but the router's layers need [${shape.join(', ')}].`);
    }
    return t.data;
  };
  const weights: { shape: readonly number[]; data: Float32Array }[] = [];
  for (let i = 1; get(`${prefix}fc${i}.weight`); i++) weights.push(need(`fc${i}.weight`));
  if (weights.length < 2) throw new MergeLabError('TENSOR_MISSING', `${file} has no tensor "${prefix}fc${weights.length + 1}.weight", which a router needs; rebuild the package.`);
  const layers: RouterLayer[] = [];
  weights.forEach((w, k) => {
    const i = k + 1;
    if (w.shape.length !== 2) throw new MergeLabError('SHAPE_MISMATCH', `${file}: "${prefix}fc${i}.weight" must be 2-D, got [${w.shape.join(', ')}].`);
    const [outputs, inputs] = w.shape as [number, number];
    // Each layer reads what the one before writes.
    if (k > 0 && inputs !== layers[k - 1]!.outputs) expect(`fc${i}.weight`, [outputs, layers[k - 1]!.outputs]);
    const last = k === weights.length - 1;
    const hasNorm = !last && get(`${prefix}bn${i}.weight`) !== undefined;
    layers.push({
      inputs,
      outputs,
      weight: w.data,
      bias: expect(`fc${i}.bias`, [outputs]),
      ...(hasNorm
        ? {
            norm: {
              weight: expect(`bn${i}.weight`, [outputs]),
              bias: expect(`bn${i}.bias`, [outputs]),
              runningMean: expect(`bn${i}.running_mean`, [outputs]),
              runningVar: expect(`bn${i}.running_var`, [outputs]),
              eps: BATCH_NORM_EPS,
            },
          }
        : {}),
      activation: last ? 'none' : hasNorm ? 'leaky_relu' : 'relu',
    });
  });
  const features = layers[0]!.inputs;
  return {
    architecture: layers.some((l) => l.norm) ? 'paper' : 'small',
    features,
    hidden: layers[0]!.outputs,
    tasks: layers.at(-1)!.outputs,
    mean: expect('input.mean', [features]),
    std: expect('input.std', [features]),
    layers,
  };
}
