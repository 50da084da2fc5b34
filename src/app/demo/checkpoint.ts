/**
 * A checkpoint's row from its safetensors header alone (the engine's reader over blobSource reads
 * only the first 8 + N bytes): dtypes, parameter count, size, and whether it has every tensor the
 * demo architecture needs, with the right shape. No tensor data is decoded here.
 */
import { architectureTensors, type Architecture } from '../../engine/demo/manifest.js';
import { MergeLabError } from '../../engine/errors.js';
import { blobSource, numel, openSafetensors } from '../../engine/io/index.js';

export interface CheckpointSummary {
  readonly dtypes: string[];
  readonly parameters: number;
  readonly tensors: number;
  readonly bytes: number;
}

export async function summarizeCheckpoint(blob: Blob, name: string, arch: Architecture): Promise<CheckpointSummary> {
  const file = await openSafetensors(blobSource(blob, name));
  try {
    // The same checks readDemoWeights makes, but on the header: a wrong file is reported now,
    // on its row, rather than when the first evaluation reads it.
    for (const t of architectureTensors(arch)) {
      const info = file.info(t.name);
      if (!info) throw new MergeLabError('TENSOR_MISSING', `${name} has no tensor "${t.name}", which the demo architecture needs.`);
      if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
        throw new MergeLabError('SHAPE_MISMATCH', `${name}: "${t.name}" is [${info.shape.join(', ')}] but the architecture needs [${t.shape.join(', ')}].`);
      }
    }
    return {
      dtypes: [...new Set(file.tensors.map((t) => t.dtype))],
      parameters: file.tensors.reduce((n, t) => n + numel(t.shape), 0),
      tensors: file.tensors.length,
      bytes: blob.size,
    };
  } finally {
    await file.close();
  }
}
