/**
 * The digits data set as the engine sees it: parsed from the already-decompressed CSV text (the
 * host gunzips: DecompressionStream in a browser, zlib in Node), then cut into the manifest's
 * split and turned into one labelled set per task.
 */
import { MergeLabError } from '../errors.js';
import { applyTransform, type ImageShape, type Transform } from './transforms.js';

/** Raw samples: `pixels` holds count × features values as stored (0..16 for the digits). */
export interface Digits {
  readonly count: number;
  readonly features: number;
  readonly pixels: Float32Array;
  readonly labels: Uint8Array;
}

/** Inputs and labels ready for a forward pass: one task's view of one split. */
export interface LabeledSet {
  readonly count: number;
  readonly features: number;
  /** count × features raw pixel values; the architecture's input scale is applied in the forward pass. */
  readonly inputs: Float32Array;
  readonly labels: Uint8Array;
}

/**
 * Parses CSV text with `features` integer pixel columns then the class label on each line.
 * Rejects anything else with DEMO_DATA_INVALID naming the line, so a corrupted download is caught
 * here rather than showing up as a mysteriously bad accuracy.
 */
export function parseDigitsCsv(text: string, options: { features?: number; classes?: number; maxValue?: number; name?: string } = {}): Digits {
  const { features = 64, classes = 10, maxValue = 16, name = 'digits.csv' } = options;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const pixels = new Float32Array(lines.length * features);
  const labels = new Uint8Array(lines.length);
  lines.forEach((line, row) => {
    const cells = line.trimEnd().split(',');
    const bad = (why: string) => new MergeLabError('DEMO_DATA_INVALID', `${name} line ${row + 1}: ${why}. Restore the file from the repository (data/digits/).`);
    if (cells.length !== features + 1) throw bad(`expected ${features + 1} comma-separated values, found ${cells.length}`);
    cells.forEach((cell, col) => {
      const v = Number(cell);
      const max = col < features ? maxValue : classes - 1;
      if (cell === '' || !Number.isInteger(v) || v < 0 || v > max) throw bad(`value ${col + 1} is "${cell}", expected an integer 0..${max}`);
      if (col < features) pixels[row * features + col] = v;
      else labels[row] = v;
    });
  });
  if (lines.length === 0) throw new MergeLabError('DEMO_DATA_INVALID', `${name} holds no samples.`);
  return { count: lines.length, features, pixels, labels };
}

/** Parses the CSV from UTF-8 bytes. */
export function decodeDigitsCsv(bytes: Uint8Array, options?: Parameters<typeof parseDigitsCsv>[1]): Digits {
  return parseDigitsCsv(new TextDecoder().decode(bytes), options);
}

/**
 * Gunzips with the platform's DecompressionStream (browsers, workers and Node ≥ 18 all have it),
 * so the engine needs neither zlib nor a bundled inflater.
 */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  // A server that sends .gz with Content-Encoding: gzip has the browser inflate it already.
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The samples at `indices`, in that order. */
export function selectRows(data: Digits, indices: readonly number[]): Digits {
  const { features } = data;
  const pixels = new Float32Array(indices.length * features);
  const labels = new Uint8Array(indices.length);
  indices.forEach((idx, k) => {
    if (!Number.isInteger(idx) || idx < 0 || idx >= data.count) {
      throw new MergeLabError('DEMO_DATA_INVALID', `Sample index ${idx} is outside the data set's ${data.count} rows; the manifest does not match the data.`);
    }
    pixels.set(data.pixels.subarray(idx * features, (idx + 1) * features), k * features);
    labels[k] = data.labels[idx]!;
  });
  return { count: indices.length, features, pixels, labels };
}

/** What a task does to a sample: transform the image, and optionally relabel (y + labelShift) mod classes. */
export interface TaskDefinition {
  readonly transform: Transform;
  readonly labelShift: number;
}

/** One task's inputs and labels for a set of samples. */
export function taskSet(data: Digits, task: TaskDefinition, shape: ImageShape, classes: number): LabeledSet {
  const labels = new Uint8Array(data.count);
  for (let i = 0; i < data.count; i++) labels[i] = (((data.labels[i]! + task.labelShift) % classes) + classes) % classes;
  return { count: data.count, features: data.features, inputs: applyTransform(task.transform, data.pixels, shape), labels };
}
