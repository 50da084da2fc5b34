/**
 * `merge-lab merge <recipe.yaml> --out <dir>`: validate the whole recipe against the checkpoints'
 * headers, then stream the merge tensor by tensor into <dir>, beside the rest of a model folder as
 * mergekit writes it (config.json, tokenizer files, mergekit_config.yml, README.md: output/). Nothing
 * is left behind on failure: files are written under temporary names and renamed at the end. A
 * routed method (twin_merging, channel_merging) writes its package instead (merge-routed.ts).
 */
import { printable } from '../printable.js';
import { readFile, readdir, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MergeLabError, combineProblems, isMergeLabError } from '../../engine/errors.js';
import { nodeFileSink, nodePlacedSink, readJsonFile, requireRegularFile } from '../../engine/io/node-file.js';
import { createShardedWriter } from '../../engine/io/sharded.js';
import type { Checkpoint } from '../../engine/io/types.js';
import { METHODS, closest, findMethod } from '../../engine/methods/registry.js';
import { mergeOutputBytes, mergeTensorSpecs, planModelMerge, routedIgnores, writeMerge } from '../../engine/api/services/merge-plan.js';
import type { ModelFiles } from '../../engine/output/model-folder.js';
import { folderModelFiles } from '../../engine/output/node-model-files.js';
import { createStagedOutput } from '../staged-output.js';
import { collectGarbage } from '../collect-garbage.js';
import { parseRecipe } from '../../engine/recipe/parse.js';
import { RECIPE_MATHS, type Recipe, type RecipeMath } from '../../engine/recipe/types.js';
import { recipeToYaml } from '../../engine/recipe/write.js';
import { ROUTED_METHODS, findRoutedMethod } from '../../engine/routed/index.js';
import { initNodeBackend, parseBackend } from '../node-backend.js';
import { createProgressBar, formatBytes } from '../progress.js';
import { openModelRef, resolveModelRef, type ModelRef } from '../model-ref.js';
import { parseByteSize } from '../size.js';
import { startMergePool, workerCount, type MergePool } from '../pool.js';
import { createPlacedOutput } from '../../engine/merge/placed-output.js';
import { usageError } from './inspect.js';
import { mergeRouted } from './merge-routed.js';
import type { Command } from './types.js';

/** mergekit's default output shard size ("5B"). */
const DEFAULT_SHARD_SIZE = 5e9;

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'Merge the checkpoints a mergekit YAML recipe names, exactly as mergekit would (twin_merging and channel_merging write their package).',
  usage: 'merge-lab merge <recipe.yaml> --out <dir> [--backend wasm|cpu|webgpu] [--workers N|auto] [--max-shard-size 5GB] [--progress | --no-progress] [--stats] [--random-seed N] [--math mergekit|float32] [--lora-merge-dtype float32|float16|bfloat16]',
  async run(argv) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        backend: { type: 'string' },
        'max-shard-size': { type: 'string' },
        'no-progress': { type: 'boolean' },
        progress: { type: 'boolean' },
        stats: { type: 'boolean' },
        'random-seed': { type: 'string' },
        math: { type: 'string' },
        'lora-merge-dtype': { type: 'string' },
        workers: { type: 'string' },
      },
    });
    if (positionals.length !== 1 || !values.out) throw usageError(this.usage);
    const started = Date.now();
    const recipePath = path.resolve(positionals[0]!);
    const outDir = path.resolve(values.out);
    const backend = parseBackend(values.backend);
    const maxShard = values['max-shard-size'] ? parseByteSize(values['max-shard-size'], '--max-shard-size') : DEFAULT_SHARD_SIZE;
    const seed = parseRandomSeed(values['random-seed']);
    const math = parseMath(values.math);
    const loraMergeDtype = parseLoraMergeDtype(values['lora-merge-dtype']);

    let text: string;
    try {
      await requireRegularFile(recipePath);
      text = await readFile(recipePath, 'utf8');
    } catch (e) {
      if (isMergeLabError(e) && e.code === 'NOT_A_FILE') throw new MergeLabError('NOT_A_FILE', `Recipe ${positionals[0]}: ${e.message}`);
      throw new MergeLabError('PATH_NOT_FOUND', `Recipe ${positionals[0]} cannot be read. Check the path.`);
    }
    // --random-seed overrides the recipe's random_seed, as mergekit's option seeds its run.
    const parsed = withRandomSeed(parseRecipe(text, path.basename(recipePath)), seed);
    // --math overrides the recipe's math: key (16-bit recipes: mergekit's rounding, or float32).
    const recipe = math ? { ...parsed, math } : parsed;
    // Warnings are shown once the recipe is known to be mergeable: a failure prints its one line only.
    const pending = [...(recipe.warnings ?? [])];
    const routed = findRoutedMethod(recipe.mergeMethod);
    if (routed && values['max-shard-size']) pending.push(`--max-shard-size is ignored: a ${routed.label} package is written as whole files.`);
    if (routed && values.workers !== undefined) pending.push(`--workers is ignored: a ${routed.label} package is made on one thread.`);
    if (!routed && findMethod(recipe.mergeMethod)) {
      for (const name of Object.keys(recipe.options ?? {})) {
        const owner = ROUTED_METHODS.find((m) => m.options.some((x) => x.name === name));
        pending.push(`parameters: "${name}" is not a parameter of ${recipe.mergeMethod} and is ignored${owner ? ` (it chooses the inner method of ${owner.id})` : ''}.`);
      }
    }

    const checkpoints = new Map<string, Checkpoint>();
    const failures = new Map<string, MergeLabError>();
    const names = [...new Set([...recipe.models.map((m) => m.model), ...(recipe.baseModel ? [recipe.baseModel] : [])])];
    let baseConfig: Record<string, unknown> | undefined;
    let baseDir: string | undefined;
    // The files beside each model's weights (config.json, tokenizer), for the output folder.
    const sideFiles = new Map<string, ModelFiles>();
    // Real path → the recipe's name for it.
    const seen = new Map<string, string>();
    try {
      for (const name of names) {
        // "base+adapter" (or an adapter folder alone) opens the base with the PEFT LoRA applied.
        let ref: ModelRef | undefined;
        try {
          ref = await resolveModelRef(name, path.dirname(recipePath));
        } catch (e) {
          if (!isMergeLabError(e)) throw e;
          failures.set(name, e);
          continue;
        }
        if (!ref) {
          failures.set(name, new MergeLabError('PATH_NOT_FOUND', `Model "${name}" was not found (looked in ${process.cwd()} and ${path.dirname(recipePath)}). Check the path in the recipe.`));
          continue;
        }
        const where = ref.path;
        // One checkpoint under two spellings (a symlink, "./a" and "a") would be merged as two models.
        const real = `${await realpath(where).catch(() => where)}${ref.adapter ? `+${await realpath(ref.adapter).catch(() => ref.adapter)}` : ''}`;
        const twin = seen.get(real);
        if (twin !== undefined) {
          failures.set(name, new MergeLabError('RECIPE_INVALID', `Model "${name}" is the same checkpoint as "${twin}" (${real}); a model listed twice would be merged twice. Spell it one way everywhere in the recipe.`));
          continue;
        }
        seen.set(real, name);
        try {
          checkpoints.set(name, await openModelRef(ref, loraMergeDtype !== undefined ? { loraMergeDtype } : {}));
        } catch (e) {
          if (!isMergeLabError(e)) throw e;
          failures.set(name, new MergeLabError(e.code, `Model "${name}": ${e.message}`));
        }
        sideFiles.set(name, await folderModelFiles(name, where));
        if (name === (recipe.baseModel ?? recipe.models[0]?.model)) {
          baseDir = (await isDir(where)) ? where : path.dirname(where);
          baseConfig = await readJsonFile(path.join(baseDir, 'config.json'));
        }
      }
      // tokenizer_source may name a model that is not merged: only its tokenizer is read.
      const tokenizerModel = recipe.tokenizerSource;
      if (tokenizerModel !== undefined && tokenizerModel !== 'base' && tokenizerModel !== 'union' && !sideFiles.has(tokenizerModel)) {
        const ref = await resolveModelRef(tokenizerModel, path.dirname(recipePath)).catch(() => undefined);
        if (ref) sideFiles.set(tokenizerModel, await folderModelFiles(tokenizerModel, ref.path));
      }

      if (routed) {
        pending.push(...routedIgnores(recipe, routed.label));
        return await mergeRouted({
          method: routed,
          recipe,
          checkpoints,
          failures,
          config: baseConfig,
          baseDir,
          outDir,
          backend,
          pending,
          progress: values.progress ?? (!values['no-progress'] && Boolean(process.stderr.isTTY)),
          stats: Boolean(values.stats),
          started,
        });
      }
      // The rest of the model folder and the plan, as the page's merges service makes them (merge-plan.ts),
      // worked out before any tensor is read: the folder's problems stop the merge too.
      const planned = await planModelMerge({ recipe, recipeText: text, name: path.basename(outDir), files: sideFiles, checkpoints, failures, config: baseConfig });
      const { plan, warnings, folder } = planned;
      // The registry names only per-tensor methods; an unknown name is checked against the routed ones too.
      const problems = [...planned.problems.map((p) => (p.code === 'UNKNOWN_METHOD' ? new MergeLabError('UNKNOWN_METHOD', unknownMethod(recipe.mergeMethod)) : p)), ...folder.problems];
      if (problems.length || !plan) throw combineProblems(problems.length ? problems : [new MergeLabError('INTERNAL', 'No merge plan was made.')]);
      for (const w of [...pending, ...warnings]) process.stderr.write(`merge-lab: warning: ${printable(w)}\n`);

      const workers = workerCount(values.workers, plan, backend);
      // With workers, this thread only reads and writes: the backend starts in each of them instead.
      let pool: MergePool | undefined;
      if (workers > 1) pool = await startMergePool(workers, plan, backend);
      else await initNodeBackend(backend);
      const recipeYaml = recipeToYaml(recipe);
      const staged = await createStagedOutput(outDir);
      for (const n of staged.notes) process.stderr.write(`merge-lab: warning: ${printable(n)}\n`);
      // A bar on a terminal; in logs (no TTY) only with --progress.
      const bar = createProgressBar(values.progress ?? (!values['no-progress'] && Boolean(process.stderr.isTTY)));
      try {
        const shards = { maxShardSize: maxShard, metadata: { format: 'pt', merge_recipe: recipeYaml } };
        // Workers write each tensor at its place the moment it is merged; one thread streams them in order.
        const writer = pool
          ? await createPlacedOutput((file) => nodePlacedSink(path.join(staged.dir, file)), mergeTensorSpecs(plan), shards)
          : createShardedWriter((file) => nodeFileSink(path.join(staged.dir, file)), mergeTensorSpecs(plan), shards);
        await writeMerge({
          plan,
          checkpoints,
          writer,
          onProgress: (p) => bar.update(p),
          onWarning: (m) => process.stderr.write(`${bar.active() ? '\n' : ''}merge-lab: warning: ${printable(m)}\n`),
          collectGarbage,
          ...(pool ? { workers: pool.workers } : {}),
        });
        bar.stop();
        for (const f of [{ name: 'merge-recipe.yml', bytes: recipeYaml }, ...folder.files]) {
          await writeFile(path.join(staged.dir, f.name), f.bytes).catch((e: Error) => {
            throw new MergeLabError('WRITE_FAILED', `Cannot write ${f.name} (${e.message}).`);
          });
        }
        await staged.commit();
      } catch (e) {
        bar.stop();
        await staged.discard();
        throw e;
      } finally {
        await pool?.close();
      }
      // What the folder lacks (no config.json, no tokenizer) is said once it is written: a failure prints its one line only.
      for (const w of folder.warnings) process.stderr.write(`merge-lab: warning: ${printable(w)}\n`);
      const bytes = mergeOutputBytes(plan);
      process.stderr.write(`merge-lab: wrote ${plan.tensors.length} tensors (${formatBytes(bytes)}) to ${printable(outDir)} on ${backend}\n`);
      if (values.stats) {
        const rss = process.resourceUsage().maxRSS * 1024;
        process.stdout.write(JSON.stringify({ seconds: (Date.now() - started) / 1000, peakRssBytes: rss, backend, workers, tensors: plan.tensors.length, outputBytes: bytes }) + '\n');
      }
      return 0;
    } finally {
      for (const c of checkpoints.values()) await c.close().catch(() => undefined);
    }
  },
};

/** `--random-seed N`: a non-negative integer, or undefined when not given. */
function parseRandomSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new MergeLabError('PARAMETER_INVALID', `--random-seed must be a non-negative integer, got "${text}".`);
  return n;
}

function parseMath(text: string | undefined): RecipeMath | undefined {
  if (text === undefined) return undefined;
  if (!RECIPE_MATHS.includes(text as RecipeMath)) {
    throw new MergeLabError('PARAMETER_INVALID', `--math must be "mergekit" (16-bit recipes computed op by op in their dtype, mergekit's bytes; the default) or "float32" (float32 math rounded once at the output), got "${text}".`);
  }
  return text as RecipeMath;
}

function withRandomSeed(recipe: Recipe, seed: number | undefined): Recipe {
  return seed === undefined ? recipe : { ...recipe, randomSeed: seed };
}

/** `--lora-merge-dtype`: mergekit's lora_merge_dtype, the dtype LoRA adapters are applied in. */
function parseLoraMergeDtype(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!['float32', 'float16', 'bfloat16'].includes(text)) throw new MergeLabError('PARAMETER_INVALID', `--lora-merge-dtype must be float32, float16 or bfloat16, got "${text}".`);
  return text;
}

/** UNKNOWN_METHOD's message over every method a recipe may name, the routed ones included. */
function unknownMethod(id: string): string {
  const ids = [...METHODS.map((m) => m.id), ...ROUTED_METHODS.map((m) => m.id)];
  const near = closest(id, ids);
  return `merge_method "${id}" is not a method merge-lab knows.${near ? ` Did you mean "${near}"?` : ''} Known methods: ${ids.join(', ')}.`;
}

async function isDir(p: string): Promise<boolean> {
  try {
    await readdir(p);
    return true;
  } catch {
    return false;
  }
}



