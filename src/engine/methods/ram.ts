/**
 * Reinforced Agent Merging (mergekit's ram, arXiv:2601.13572): a task-vector entry counts as
 * changed where |τ| > epsilon; an entry only one model changed is added as it is, one several
 * changed gets their average. Elementwise: on the backend in float32; in a 16-bit dtype each step
 * is rounded as torch rounds it. ramplus_tl (ramplus-tl.ts) scales the unique entries.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { RAM } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps } from './half/dtype-ops.js';
import { numberParam } from './params.js';
import type { ModelValues, PrepareInput, PreparedMerge } from './types.js';
import type { HalfDType } from '../half/half-math.js';

export const ram = defineMethod({
  ...RAM,
  prepare: (input) => prepareRam(input),
  mergeHalf: (input, dtype) => ramHalf(input, dtype),
});

/** The base and the other models of a tensor (mergekit's base_tensor and tensors). */
export function ramModels({ tensorName, models }: PrepareInput, id: string): { base: ModelValues; others: ModelValues[] } {
  const base = models.find((m) => m.isBase);
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', `${id} needs a base_model (tensor ${tensorName}).`);
  return { base, others: models.filter((m) => !m.isBase) };
}

/**
 * The RAM combination on the backend: Σ_k τz_k·[n = 1]·λ_k + τz_k·[n > 1] / max(n, 1), τz = τ·[|τ| > ε],
 * added to the base. `lambdas` are ramplus_tl's per-model factors on the unique part (RAM: none).
 */
export function prepareRam(input: PrepareInput, lambdas?: readonly number[]): PreparedMerge {
  const { base, others } = ramModels(input, lambdas ? 'ramplus_tl' : 'ram');
  const baseIndex = input.models.indexOf(base);
  const indices = others.map((m) => input.models.indexOf(m));
  const eps = Math.fround(numberParam(input.global.epsilon, 1e-5));
  return {
    granularity: 1,
    block(inputs) {
      if (indices.length === 0) return tf.clone(inputs[baseIndex]!);
      return tf.tidy(() => {
        const b = inputs[baseIndex]!;
        const taus = indices.map((i) => tf.sub(inputs[i]!, b));
        // |τ| − ε > 0 exactly where |τ| > ε (two distinct float32 values never subtract to 0).
        const changed = taus.map((t) => tf.step(tf.sub(tf.abs(t), tf.scalar(eps))));
        const count = tf.addN(changed);
        const unique = tf.cast(tf.equal(count, 1), 'float32');
        const overlap = tf.cast(tf.greater(count, 1), 'float32');
        const share = tf.div(overlap, tf.maximum(count, 1));
        const terms = taus.map((t, k) => {
          const tz = tf.mul(t, changed[k]!);
          const own = tf.mul(tz, unique);
          return tf.add(lambdas ? tf.mul(own, tf.scalar(lambdas[k]!)) : own, tf.mul(tz, share));
        });
        return tf.add(b, tf.addN(terms));
      });
    },
  };
}

/**
 * RAM in a 16-bit dtype, op by op. For ramplus_tl the unique part is multiplied by float32 factors,
 * which makes it — and everything added to it — float32, and so the result (torch's type
 * promotion: a float32 tensor beside a 16-bit one; RAMPLUS_TL.float32Result).
 */
export function ramHalf(input: PrepareInput, dtype: HalfDType, lambdas?: readonly number[]): Float32Array {
  const { base, others } = ramModels(input, lambdas ? 'ramplus_tl' : 'ram');
  if (others.length === 0) return base.values.slice();
  const d = dtypeOps(dtype);
  const eps = d.round(numberParam(input.global.epsilon, 1e-5));
  const taus = others.map((m) => d.zip(m.values, base.values, (a, b) => a - b));
  const n = base.values.length;
  const out = new Float32Array(n);
  const terms = new Float64Array(taus.length);
  for (let i = 0; i < n; i++) {
    let count = 0;
    for (const t of taus) if (Math.abs(t[i]!) > eps) count++;
    const unique = count === 1 ? 1 : 0;
    const overlap = count > 1 ? 1 : 0;
    taus.forEach((t, k) => {
      const tz = t[i]! * (Math.abs(t[i]!) > eps ? 1 : 0);
      const shared = d.round((tz * overlap) / Math.max(count, 1));
      terms[k] = lambdas ? Math.fround(Math.fround(tz * unique * lambdas[k]!) + shared) : d.round(tz * unique + shared);
    });
    let s = terms[0]!;
    for (let k = 1; k < terms.length; k++) s = Math.fround(s + terms[k]!);
    out[i] = lambdas ? Math.fround(base.values[i]! + s) : d.round(base.values[i]! + d.round(s));
  }
  return out;
}
