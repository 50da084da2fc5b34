/**
 * `merge` for a routed method (twin_merging, channel_merging): the whole recipe is checked against
 * the checkpoints' headers first (every problem at once), then the package is built from the
 * checkpoints alone — no data, so no router — and written with merge-recipe.yml and the base's
 * config.json through the same staged output as a merge: all files or none.
 */
import { printable } from '../printable.js';
import { copyFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BackendName } from '../../engine/backend.js';
import { MergeLabError, combineProblems } from '../../engine/errors.js';
import type { Checkpoint } from '../../engine/io/types.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { recipeToYaml } from '../../engine/recipe/write.js';
import type { RoutedMethod, RoutedReport } from '../../engine/routed/index.js';
import { initNodeBackend } from '../node-backend.js';
import { createProgressBar, formatBytes } from '../progress.js';
import { createStagedOutput } from '../staged-output.js';

export interface RoutedMergeInput {
  readonly method: RoutedMethod;
  readonly recipe: Recipe;
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly failures: ReadonlyMap<string, MergeLabError>;
  readonly config?: Readonly<Record<string, unknown>>;
  /** The base model's folder (its config.json is copied). */
  readonly baseDir?: string;
  readonly outDir: string;
  readonly backend: BackendName;
  /** Warnings from reading the recipe, shown once it is known to be buildable. */
  readonly pending: readonly string[];
  readonly progress: boolean;
  readonly stats: boolean;
  readonly started: number;
}

export async function mergeRouted(o: RoutedMergeInput): Promise<number> {
  const { method, recipe } = o;
  const { problems, warnings } = method.validate({ recipe, checkpoints: o.checkpoints, failures: o.failures, config: o.config });
  if (problems.length) throw combineProblems(problems);
  for (const w of [...o.pending, ...warnings]) process.stderr.write(`merge-lab: warning: ${printable(w)}\n`);

  await initNodeBackend(o.backend);
  const recipeYaml = recipeToYaml(recipe);
  const staged = await createStagedOutput(o.outDir);
  for (const n of staged.notes) process.stderr.write(`merge-lab: warning: ${printable(n)}\n`);
  const bar = createProgressBar(o.progress);
  let files: Record<string, Uint8Array>;
  let report: RoutedReport;
  try {
    ({ files, report } = await method.buildPackage(recipe, o.checkpoints, {
      config: o.config,
      onProgress: (p) => bar.update(p),
      onWarning: (m) => process.stderr.write(`${bar.active() ? '\n' : ''}merge-lab: warning: ${printable(m)}\n`),
    }));
    bar.stop();
    const write = async (name: string, bytes: Uint8Array | string) =>
      writeFile(path.join(staged.dir, name), bytes).catch((e: Error) => {
        throw new MergeLabError('WRITE_FAILED', `Cannot write ${name} (${e.message}).`);
      });
    for (const [name, bytes] of Object.entries(files)) await write(name, bytes);
    await write('merge-recipe.yml', recipeYaml);
    if (o.baseDir && existsSync(path.join(o.baseDir, 'config.json'))) {
      await copyFile(path.join(o.baseDir, 'config.json'), path.join(staged.dir, 'config.json')).catch((e: Error) => {
        throw new MergeLabError('WRITE_FAILED', `Cannot copy config.json from ${o.baseDir} (${e.message}).`);
      });
    }
    await staged.commit();
  } catch (e) {
    bar.stop();
    await staged.discard();
    throw e;
  }

  const bytes = Object.values(files).reduce((s, f) => s + f.byteLength, 0);
  const names = Object.keys(files);
  process.stderr.write(
    [
      `merge-lab: wrote a ${method.label} package (${names.join(', ')}; ${formatBytes(bytes)}) with merge-recipe.yml to ${printable(o.outDir)} on ${o.backend}`,
      ...method.describe(report).map((l) => `  ${l}`),
    ].join('\n') + '\n',
  );
  if (o.stats) {
    const rss = process.resourceUsage().maxRSS * 1024;
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    const errors = report.tensors.flatMap((t) => t.errors);
    process.stdout.write(
      JSON.stringify({
        seconds: (Date.now() - o.started) / 1000,
        peakRssBytes: rss,
        backend: o.backend,
        method: method.id,
        tensors: report.tensors.length,
        outputBytes: bytes,
        files: Object.fromEntries(Object.entries(files).map(([n, f]) => [n, f.byteLength])),
        setting: report.setting,
        storage: report.storage,
        error: { mean: finite(errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length)), max: finite(Math.max(0, ...errors)) },
      }) + '\n',
    );
  }
  return 0;
}
