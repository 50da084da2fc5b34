/**
 * Turning the demo's files into what evaluation needs: checkpoint bytes into float32 weights
 * (checked against the manifest's architecture), and the digits into one labelled set per task
 * and split. The host fetches the bytes (fetch in a worker, fs in Node).
 */
import { MergeLabError } from '../errors.js';
import { memorySource, openSafetensors } from '../io/index.js';
import { selectRows, taskSet, type Digits, type LabeledSet } from './dataset.js';
import { architectureTensors, type Architecture, type DemoManifest, type DemoTask } from './manifest.js';

/** Float32 values by tensor name, row-major; what a merge produces and a forward pass reads. */
export type Weights = Readonly<Record<string, Float32Array>>;

/** Throws SHAPE_MISMATCH / TENSOR_MISSING unless `weights` has every tensor the architecture reads. */
export function checkWeights(arch: Architecture, weights: Weights, name = 'weights'): void {
  for (const t of architectureTensors(arch)) {
    const w = weights[t.name];
    if (!w) throw new MergeLabError('TENSOR_MISSING', `${name} has no tensor "${t.name}", which the demo architecture needs.`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (w.length !== size) {
      throw new MergeLabError('SHAPE_MISMATCH', `${name}: "${t.name}" has ${w.length} values but the architecture needs [${t.shape.join(', ')}] = ${size}.`);
    }
  }
}

/** Reads the architecture's tensors (any float dtype, converted to float32) from a safetensors file in memory. */
export async function readDemoWeights(arch: Architecture, bytes: Uint8Array, name: string): Promise<Weights> {
  const file = await openSafetensors(memorySource(name, bytes));
  try {
    const out: Record<string, Float32Array> = {};
    for (const t of architectureTensors(arch)) {
      const info = file.info(t.name);
      if (!info) throw new MergeLabError('TENSOR_MISSING', `${name} has no tensor "${t.name}", which the demo architecture needs.`);
      if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
        throw new MergeLabError('SHAPE_MISMATCH', `${name}: "${t.name}" is [${info.shape.join(', ')}] but the architecture needs [${t.shape.join(', ')}].`);
      }
      out[t.name] = await file.readFloat32(t.name);
    }
    return out;
  } finally {
    await file.close();
  }
}

export type SplitName = 'train' | 'validation' | 'test';

/** Task id → that task's inputs and labels on one split. */
export type TaskSets = Readonly<Record<string, LabeledSet>>;

/** Every task's view of one split of the digits. */
export function buildTaskSets(manifest: DemoManifest, digits: Digits, split: SplitName, tasks: readonly DemoTask[] = manifest.tasks): TaskSets {
  if (digits.count !== manifest.dataset.rows || digits.features !== manifest.dataset.features) {
    throw new MergeLabError(
      'DEMO_DATA_INVALID',
      `The digits data has ${digits.count} rows of ${digits.features} values but the manifest expects ${manifest.dataset.rows} of ${manifest.dataset.features}; use the data that shipped with it.`,
    );
  }
  const rows = selectRows(digits, manifest.split[split]);
  const { input, classes } = manifest.architecture;
  return Object.fromEntries(tasks.map((t) => [t.id, taskSet(rows, t, input, classes)]));
}
