/**
 * tfjs-wasm multiplies with a transposed operand 10–20× slower than a plain one (its fast XNNPACK
 * path takes plain operands only), and training is mostly such products: every nn.Linear forward
 * is x·Wᵀ and the registered gradients of a product are dy·Bᵀ and Aᵀ·dy. While training, the wasm
 * BatchMatMul kernel is wrapped so a transposed operand is first transposed explicitly (the wasm
 * Transpose kernel) and the plain product runs. The gradients stay tfjs-core's; only the kernel
 * that computes the products changes (a training step takes ~2.6× less time here). Summation
 * order differs from the naive kernel's, so the wrapper is removed after training: other code in
 * the process gets tfjs' own kernel back.
 */
import * as tf from '@tensorflow/tfjs-core';

interface TensorInfoLike {
  readonly dataId: object;
  readonly shape: number[];
}
type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Installs the wrapper (when the backend is wasm) and returns the function that removes it. */
export function plainWasmMatMul(): () => void {
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (tf.getBackend() !== 'wasm' || !original || !transpose) return () => {};
  const swapLast = (x: TensorInfoLike, backend: KernelArgs['backend']): TensorInfoLike => {
    const perm = x.shape.map((_, i) => i);
    perm.splice(-2, 2, perm.length - 1, perm.length - 2);
    return transpose.kernelFunc({ inputs: { x } as unknown as tf.NamedTensorInfoMap, backend, attrs: { perm } }) as TensorInfoLike;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return original.kernelFunc({ inputs, backend, attrs });
      const a = transposeA ? swapLast(inputs['a'] as TensorInfoLike, backend) : inputs['a'];
      const b = transposeB ? swapLast(inputs['b'] as TensorInfoLike, backend) : inputs['b'];
      try {
        return original.kernelFunc({ inputs: { a, b } as tf.NamedTensorInfoMap, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      } finally {
        const data = backend as unknown as { disposeData(id: object): void };
        if (transposeA) data.disposeData((a as TensorInfoLike).dataId);
        if (transposeB) data.disposeData((b as TensorInfoLike).dataId);
      }
    },
  });
  return () => {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel(original);
  };
}
