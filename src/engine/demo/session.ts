/**
 * Opening the embedded demo from its bytes: manifest, checkpoints (as engine checkpoints for
 * merging and as float32 weights for evaluation), data split per task, and a scorer. The host
 * supplies the bytes (fetch in the browser, fs in Node).
 */
import { memorySource, openSafetensors } from '../io/index.js';
import type { Checkpoint } from '../io/types.js';
import { createDemoScorer } from '../eval/score.js';
import { decodeDigitsCsv, gunzip } from './dataset.js';
import { buildTaskSets, readDemoWeights, type Weights } from './load.js';
import { parseManifest, scoredTasks } from './manifest.js';
import type { DemoSession } from './method-table.js';

export interface DemoFiles {
  /** manifest.json's text. */
  readonly manifest: string;
  /** A file named in the manifest (checkpoints), relative to the manifest. */
  read(file: string): Promise<Uint8Array>;
  /** The gzipped digits CSV. */
  readonly digitsGz: Uint8Array;
}

export async function openDemoSession(files: DemoFiles): Promise<DemoSession> {
  const manifest = parseManifest(files.manifest);
  const tasks = scoredTasks(manifest).map((t) => t.id);
  const sources: [string, string][] = [['base', manifest.base], ...manifest.tasks.filter((t) => tasks.includes(t.id)).map((t): [string, string] => [t.id, t.expert])];
  const checkpoints = new Map<string, Checkpoint>();
  const weights: Record<string, Weights> = {};
  await Promise.all(
    sources.map(async ([key, file]) => {
      const bytes = await files.read(file);
      checkpoints.set(key, await openSafetensors(memorySource(file, bytes)));
      weights[key] = await readDemoWeights(manifest.architecture, bytes, file);
    }),
  );
  const digits = decodeDigitsCsv(await gunzip(files.digitsGz), { name: manifest.dataset.file });
  const scored = manifest.tasks.filter((t) => tasks.includes(t.id));
  const sets = { validation: buildTaskSets(manifest, digits, 'validation', scored), test: buildTaskSets(manifest, digits, 'test', scored) };
  const scorer = await createDemoScorer(manifest.architecture, sets, Object.fromEntries(tasks.map((t) => [t, weights[t]!])), tasks);
  // Map insertion order follows the manifest, not the order the reads finished in.
  const ordered = new Map(sources.map(([key]) => [key, checkpoints.get(key)!]));
  return { manifest, tasks, checkpoints: ordered, weights, sets, scorer };
}
