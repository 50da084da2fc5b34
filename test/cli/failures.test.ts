/**
 * The acceptance catalogue of broken recipes and checkpoints, run through the real `merge-lab`
 * command line. Every case must fail cleanly (see failureProblems in helpers.ts): a non-zero exit;
 * stderr exactly one line, `merge-lab: error [CODE]: <reason>` with the expected code, naming the
 * culprit (file, tensor, model or setting); no stack trace and no "internal error"; and no merged
 * or partial file left in --out (which, when it did not exist before, must not exist after, and
 * whose files, when it did, must be untouched).
 *
 * Several problems found in one pass are one line too:
 * `merge-lab: error [RECIPE_PROBLEMS]: N problems: (1) [CODE] ... (2) [CODE] ...`, naming them all.
 *
 * Each case gets its own folder with copies of the good tiny models (`base`, `ft-a`, `ft-b`,
 * `ft-c`), its own broken ones, `recipe.yaml` and `out/`; the CLI runs with the repository root
 * as its cwd, so model names resolve relative to the recipe's folder. The cases run the CLI in
 * this process (runCliAsync), one after another; a few marked `spawned` run the real binary, so
 * the one-line promise is also checked on a whole process's stderr and exit status (a failure
 * before the backend starts, one after a whole merge, and diff's exit status 2).
 */
import { readFileSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { ErrorCode } from '../../src/engine/errors.js';
import { CATALOGUE } from '../io/catalogue.js';
import {
  REPO,
  TINY_CONFIG,
  TINY_TENSORS,
  Workspace,
  failureProblems,
  listFiles,
  mergeArgs,
  runCliAsync,
  snapshot,
  spawnCliAsync,
  tinyCheckpointBytes,
  type CliResult,
} from './helpers.js';

let ws: Workspace;

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-cli-failures-');
  await ws.model('models/base', 1, { config: TINY_CONFIG });
  await ws.model('models/ft-a', 2);
  await ws.model('models/ft-b', 3);
  await ws.model('models/ft-c', 4);
});

afterAll(async () => {
  await ws?.dispose();
});

/** One case's folder: the good models copied in, plus whatever the case adds. */
class CaseDir {
  constructor(readonly dir: string) {}
  get recipePath(): string {
    return path.join(this.dir, 'recipe.yaml');
  }
  get out(): string {
    return path.join(this.dir, 'out');
  }
  p(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }
  async file(rel: string, content: string | Uint8Array): Promise<string> {
    await mkdir(path.dirname(this.p(rel)), { recursive: true });
    await writeFile(this.p(rel), content);
    return this.p(rel);
  }
  /** A model folder `name` whose model.safetensors holds `bytes`. */
  async brokenModel(name: string, bytes: Uint8Array): Promise<string> {
    return this.file(path.join(name, 'model.safetensors'), bytes);
  }
  async model(name: string, seed: number, tensors = TINY_TENSORS): Promise<void> {
    await this.file(path.join(name, 'model.safetensors'), await tinyCheckpointBytes(seed, tensors));
  }
  async recipe(r: object | string): Promise<void> {
    const { stringify } = await import('yaml');
    await this.file('recipe.yaml', typeof r === 'string' ? r : stringify(r));
  }
}

interface Case {
  readonly name: string;
  readonly code: ErrorCode;
  /** What the error line must name. */
  readonly culprits: readonly string[];
  /** What stderr must contain somewhere. */
  readonly mentions?: readonly string[];
  /** Creates `out/` with unrelated files before the run (and, given a function, whatever else it adds). */
  readonly outExists?: true | ((c: CaseDir) => Promise<unknown>);
  /** Writes the recipe and broken files; returns the CLI arguments (default: merge recipe.yaml --out out). */
  build(c: CaseDir): Promise<string[] | void>;
  /** Run as the real `merge-lab` binary in a process of its own instead of in this one. */
  readonly spawned?: true;
}

type ModelEntry = { model: string; parameters?: Record<string, unknown> };
const tiesModels = (extra: ModelEntry[] = []): ModelEntry[] => [
  { model: 'ft-a', parameters: { weight: 0.5, density: 0.5 } },
  { model: 'ft-b', parameters: { weight: 0.5, density: 0.5 } },
  ...extra,
];
const ties = (models: ModelEntry[] = tiesModels(), extra: object = {}) => ({ merge_method: 'ties', base_model: 'base', models, dtype: 'float32', ...extra });
/** A twin_merging recipe over ft-a and ft-b (rank 2), with `parameters` merged in (undefined removes one). */
const twin = (parameters: Record<string, unknown> = {}) => ({
  merge_method: 'twin_merging',
  base_model: 'base',
  models: [{ model: 'ft-a' }, { model: 'ft-b' }],
  parameters: Object.fromEntries(Object.entries({ shared_method: 'task_arithmetic', lambda: 0.3, rank: 2, ...parameters }).filter(([, v]) => v !== undefined)),
});
/** A channel_merging recipe over ft-a, ft-b and ft-c (K 2, average), with `parameters` merged in. */
const channel = (parameters: Record<string, unknown> = {}) => ({
  merge_method: 'channel_merging',
  base_model: 'base',
  models: [{ model: 'ft-a' }, { model: 'ft-b' }, { model: 'ft-c' }],
  parameters: { groups: 2, ...parameters },
});
const catalogueBytes = (name: string): Uint8Array => {
  const c = CATALOGUE.find((x) => x.name === name);
  if (!c) throw new Error(`no catalogue case "${name}"`);
  return c.bytes();
};
/** A ties recipe with `name` as a third model, whose model.safetensors is catalogue case `entry`. */
const brokenCheckpoint = (name: string, entry: string, code: ErrorCode, mentions: string[] = [], outExists?: true): Case => ({
  name: `checkpoint: ${entry} (${code})${outExists ? ' (a pre-existing --out is left alone)' : ''}`,
  code,
  outExists,
  culprits: [`"${name}"`, `${name}/model.safetensors`],
  mentions,
  async build(c) {
    await c.brokenModel(name, catalogueBytes(entry));
    await c.recipe(ties(tiesModels([{ model: name, parameters: { weight: 0.5, density: 0.5 } }])));
  },
});

const CASES: Case[] = [
  // ---- recipes
  {
    name: 'recipe: invalid YAML',
    code: 'RECIPE_INVALID_YAML',
    spawned: true,
    culprits: ['recipe.yaml', 'line'],
    build: (c) => c.recipe('merge_method: ties\nbase_model: base\nmodels: [\n  - model: ft-a\n    parameters: {weight: 0.5\n'),
  },
  {
    name: 'recipe: not a mapping',
    code: 'RECIPE_INVALID',
    culprits: ['recipe.yaml', 'mapping'],
    build: (c) => c.recipe('- merge_method: ties\n- base_model: base\n'),
  },
  {
    name: 'recipe: missing merge_method',
    code: 'RECIPE_INVALID',
    culprits: ['recipe.yaml', 'merge_method'],
    build: (c) => c.recipe({ base_model: 'base', models: tiesModels() }),
  },
  {
    name: 'recipe: unknown method "tie" suggests "ties"',
    code: 'UNKNOWN_METHOD',
    culprits: ['"tie"', 'Did you mean "ties"?'],
    build: (c) => c.recipe(ties(undefined, { merge_method: 'tie' })),
  },
  {
    name: 'recipe: unknown method with no near name',
    code: 'UNKNOWN_METHOD',
    culprits: ['"frankenmerge"'],
    mentions: ['ties', 'slerp', 'model_stock'],
    build: (c) => c.recipe(ties(undefined, { merge_method: 'frankenmerge' })),
  },
  {
    name: 'recipe: ties without a weight for one model',
    code: 'MISSING_PARAMETER',
    culprits: ['"ft-b"', 'weight'],
    build: (c) => c.recipe(ties([{ model: 'ft-a', parameters: { weight: 0.5, density: 0.5 } }, { model: 'ft-b', parameters: { density: 0.5 } }])),
  },
  {
    name: 'recipe: density 1.5 is out of range (a pre-existing --out is left alone)',
    code: 'PARAMETER_OUT_OF_RANGE',
    culprits: ['density', '"ft-b"', '1.5'],
    outExists: true,
    build: (c) => c.recipe(ties([{ model: 'ft-a', parameters: { weight: 0.5, density: 0.5 } }, { model: 'ft-b', parameters: { weight: 0.5, density: 1.5 } }])),
  },
  {
    name: 'recipe: density -0.1 is out of range',
    code: 'PARAMETER_OUT_OF_RANGE',
    culprits: ['density', '"ft-b"', '-0.1'],
    build: (c) => c.recipe(ties([{ model: 'ft-a', parameters: { weight: 0.5, density: 0.5 } }, { model: 'ft-b', parameters: { weight: 0.5, density: -0.1 } }])),
  },
  {
    name: 'recipe: a global density out of range',
    code: 'PARAMETER_OUT_OF_RANGE',
    culprits: ['density', '2'],
    build: (c) => c.recipe(ties([{ model: 'ft-a', parameters: { weight: 0.5 } }, { model: 'ft-b', parameters: { weight: 0.5 } }], { parameters: { density: 2 } })),
  },
  {
    name: 'recipe: slerp without t',
    code: 'MISSING_PARAMETER',
    culprits: ['slerp', ' t'],
    build: (c) => c.recipe({ merge_method: 'slerp', base_model: 'base', models: [{ model: 'base' }, { model: 'ft-a' }], dtype: 'float32' }),
  },
  {
    name: 'recipe: slerp with three models',
    code: 'TOO_MANY_MODELS',
    culprits: ['slerp', '3'],
    build: (c) =>
      c.recipe({ merge_method: 'slerp', base_model: 'base', models: [{ model: 'base' }, { model: 'ft-a' }, { model: 'ft-b' }], parameters: { t: 0.5 } }),
  },
  {
    name: 'recipe: model_stock with one model besides the base',
    code: 'TOO_FEW_MODELS',
    culprits: ['model_stock'],
    build: (c) => c.recipe({ merge_method: 'model_stock', base_model: 'base', models: [{ model: 'ft-a' }] }),
  },
  {
    name: 'recipe: model_stock with one model and no base_model reports both',
    code: 'RECIPE_PROBLEMS',
    culprits: ['model_stock', 'base_model', '[BASE_MODEL_REQUIRED]', '[TOO_FEW_MODELS]'],
    build: (c) => c.recipe({ merge_method: 'model_stock', models: [{ model: 'ft-a' }] }),
  },
  {
    name: 'recipe: ties without base_model',
    code: 'BASE_MODEL_REQUIRED',
    culprits: ['ties', 'base_model'],
    build: (c) => c.recipe({ merge_method: 'ties', models: tiesModels([{ model: 'ft-c', parameters: { weight: 0.5 } }]) }),
  },
  {
    name: 'recipe: dtype "float8"',
    code: 'PARAMETER_INVALID',
    culprits: ['dtype', 'float8'],
    build: (c) => c.recipe(ties(undefined, { dtype: 'float8' })),
  },
  {
    name: 'recipe: random_seed -1',
    code: 'PARAMETER_INVALID',
    culprits: ['random_seed', '-1'],
    build: (c) => c.recipe(ties(undefined, { merge_method: 'dare_ties', random_seed: -1 })),
  },
  {
    name: 'recipe: a model path that does not exist',
    code: 'PATH_NOT_FOUND',
    culprits: ['"ft-gone"'],
    build: (c) => c.recipe(ties(tiesModels([{ model: 'ft-gone', parameters: { weight: 0.5, density: 0.5 } }]))),
  },
  {
    name: 'recipe: a base_model path that does not exist',
    code: 'PATH_NOT_FOUND',
    culprits: ['"base-gone"'],
    build: (c) => c.recipe(ties(undefined, { base_model: 'base-gone' })),
  },
  {
    name: 'recipe: a model folder that holds no checkpoint',
    code: 'NO_CHECKPOINT',
    culprits: ['"ft-empty"', 'ft-empty'],
    async build(c) {
      await c.file('ft-empty/README.md', '# nothing here\n');
      await c.recipe(ties(tiesModels([{ model: 'ft-empty', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },
  {
    name: 'recipe: a model folder whose pytorch_model.bin is a pickle torch.save did not write',
    code: 'PICKLE_INVALID',
    culprits: ['"ft-pickle"', 'pytorch_model.bin'],
    mentions: ['magic number'],
    async build(c) {
      await c.file('ft-pickle/pytorch_model.bin', new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
      await c.file('ft-pickle/config.json', JSON.stringify(TINY_CONFIG));
      await c.recipe(ties(tiesModels([{ model: 'ft-pickle', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },
  {
    name: 'recipe: a model given as a .bin file that is not a checkpoint',
    code: 'PICKLE_INVALID',
    culprits: ['"ft-pickle.bin"'],
    async build(c) {
      await c.file('ft-pickle.bin', new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
      await c.recipe(ties(tiesModels([{ model: 'ft-pickle.bin', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },
  {
    name: 'recipe: a model whose pytorch_model.bin would run os.system',
    code: 'UNSAFE_PICKLE',
    culprits: ['"ft-evil"', 'pytorch_model.bin', 'posix.system'],
    mentions: ['not a plain state dict', 'safetensors'],
    async build(c) {
      await c.file('ft-evil/pytorch_model.bin', readFileSync(path.join(REPO, 'test/fixtures/torch/evil-system.bin')));
      await c.recipe(ties(tiesModels([{ model: 'ft-evil', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },
  {
    name: 'recipe: tensors missing from one model',
    code: 'TENSOR_MISSING',
    culprits: ['"ft-short"', 'model.layers.1.mlp.weight'],
    async build(c) {
      await c.model('ft-short', 5, TINY_TENSORS.filter((t) => t.name !== 'model.layers.1.mlp.weight'));
      await c.recipe(ties(tiesModels([{ model: 'ft-short', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },
  {
    name: 'recipe: a tensor with another shape in linear',
    code: 'SHAPE_MISMATCH',
    culprits: ['"ft-wide"', 'model.layers.0.mlp.weight', '[2, 8]'],
    async build(c) {
      await c.model('ft-wide', 5, TINY_TENSORS.map((t) => (t.name === 'model.layers.0.mlp.weight' ? { ...t, shape: [2, 8] } : t)));
      await c.recipe({ merge_method: 'linear', models: [{ model: 'base', parameters: { weight: 1 } }, { model: 'ft-wide', parameters: { weight: 1 } }] });
    },
  },
  {
    name: 'recipe: a ties trim that keeps 0 entries (density 0.001 of 16)',
    code: 'EMPTY_TRIM',
    culprits: ['model.embed_tokens.weight', '"ft-b"', '0.001'],
    build: (c) => c.recipe(ties([{ model: 'ft-a', parameters: { weight: 0.5, density: 0.5 } }, { model: 'ft-b', parameters: { weight: 0.5, density: 0.001 } }])),
  },
  {
    name: 'recipe: several structural problems are all reported',
    code: 'RECIPE_PROBLEMS',
    culprits: ['merge_method', 'dtype "float8"', 'random_seed'],
    mentions: ['3 problems', '[RECIPE_INVALID]', '[PARAMETER_INVALID]'],
    build: (c) => c.recipe({ base_model: 'base', models: tiesModels(), dtype: 'float8', random_seed: -3 }),
  },
  {
    name: 'recipe: several planning problems are all reported',
    code: 'RECIPE_PROBLEMS',
    culprits: ['"ft-a"', 'weight', '"ft-b"', 'density', '1.5', '"ft-c"', 'model.layers.1.mlp.weight'],
    mentions: ['3 problems', '[MISSING_PARAMETER]', '[PARAMETER_OUT_OF_RANGE]', '[TENSOR_MISSING]'],
    async build(c) {
      await c.model('ft-c', 6, TINY_TENSORS.filter((t) => t.name !== 'model.layers.1.mlp.weight'));
      await c.recipe(
        ties([
          { model: 'ft-a', parameters: { density: 0.5 } },
          { model: 'ft-b', parameters: { weight: 0.5, density: 1.5 } },
          { model: 'ft-c', parameters: { weight: 0.5, density: 0.5 } },
        ]),
      );
    },
  },
  {
    name: 'recipe: a missing model and parameter problems of the others are reported together',
    code: 'RECIPE_PROBLEMS',
    culprits: ['"ft-a"', 'weight', '"ft-b"', 'density', '"ft-gone"'],
    mentions: ['3 problems', '[MISSING_PARAMETER]', '[PARAMETER_OUT_OF_RANGE]', '[PATH_NOT_FOUND]'],
    build: (c) =>
      c.recipe(
        ties([
          { model: 'ft-a', parameters: { density: 0.5 } },
          { model: 'ft-b', parameters: { weight: 0.5, density: 1.5 } },
          { model: 'ft-gone', parameters: { weight: 0.5, density: 0.5 } },
        ]),
      ),
  },
  {
    name: 'recipe file that does not exist',
    code: 'PATH_NOT_FOUND',
    culprits: ['no-such-recipe.yaml'],
    build: async (c) => mergeArgs(c.p('no-such-recipe.yaml'), c.out),
  },

  // ---- routed methods (twin_merging, channel_merging): checked up front like any recipe
  {
    name: 'routed: strings in the wrong places (lambda: "high"; shared_method under a model), both reported',
    code: 'RECIPE_PROBLEMS',
    culprits: ['recipe.yaml', '"lambda"', 'the string "high"', 'shared_method, group_method and clustering', '"ft-a"', 'shared_method" chooses a method for the whole merge'],
    mentions: ['2 problems', '[PARAMETER_INVALID]'],
    build: (c) => c.recipe({ ...twin({ lambda: 'high' }), models: [{ model: 'ft-a', parameters: { shared_method: 'ties' } }, { model: 'ft-b' }] }),
  },
  {
    name: 'routed: twin_merging with an unknown shared_method suggests the closest',
    code: 'UNKNOWN_METHOD',
    culprits: ['shared_method', '"task_arithmatic"', 'Did you mean "task_arithmetic"?'],
    build: (c) => c.recipe(twin({ shared_method: 'task_arithmatic' })),
  },
  {
    name: 'routed: twin_merging with rank 0 (a pre-existing --out is left alone)',
    code: 'PARAMETER_OUT_OF_RANGE',
    culprits: ['rank', ' 0', '[1, ∞]'],
    outExists: true,
    build: (c) => c.recipe(twin({ rank: 0 })),
  },
  {
    name: 'routed: twin_merging reports every problem at once (rank and energy, a misspelt parameter, topK above the experts, no base)',
    code: 'RECIPE_PROBLEMS',
    culprits: ['[BASE_MODEL_REQUIRED]', '[PARAMETER_INVALID]', 'rank', 'energy', '[UNKNOWN_PARAMETER]', '"lamda"', 'did you mean "lambda"?', '[PARAMETER_OUT_OF_RANGE]', 'topK'],
    mentions: ['4 problems'],
    build: (c) => c.recipe({ ...twin({ energy: 0.9, lamda: 0.3, topK: 3 }), base_model: undefined }),
  },
  {
    name: 'routed: twin_merging with one expert and energy 1.5',
    code: 'RECIPE_PROBLEMS',
    culprits: ['[TOO_FEW_MODELS]', 'twin_merging needs the base_model and at least 2 other models', 'has 1', '[PARAMETER_OUT_OF_RANGE]', 'energy', '1.5', '(0, 1]'],
    build: (c) => c.recipe({ ...twin({ rank: undefined, energy: 1.5 }), models: [{ model: 'ft-a' }] }),
  },
  {
    name: "routed: the shared expert's own problems come from the planner, named as such",
    code: 'PARAMETER_OUT_OF_RANGE',
    culprits: ['shared expert (shared_method ties)', 'density', '"ft-b"', '1.5'],
    build: (c) => c.recipe({ ...twin({ shared_method: 'ties' }), models: [{ model: 'ft-a', parameters: { density: 0.5 } }, { model: 'ft-b', parameters: { density: 1.5 } }] }),
  },
  {
    name: 'routed: twin_merging with an expert that lacks a tensor',
    code: 'TENSOR_MISSING',
    culprits: ['"ft-short"', 'model.layers.1.mlp.weight', 'twin_merging'],
    async build(c) {
      await c.model('ft-short', 5, TINY_TENSORS.filter((t) => t.name !== 'model.layers.1.mlp.weight'));
      await c.recipe({ ...twin(), models: [{ model: 'ft-a' }, { model: 'ft-short' }] });
    },
  },
  {
    name: 'routed: channel_merging with more groups than experts',
    code: 'PARAMETER_OUT_OF_RANGE',
    culprits: ['groups', ' 4', '[1, 3]', '3 experts'],
    build: (c) => c.recipe(channel({ groups: 4 })),
  },
  {
    name: 'routed: channel_merging with a group method that merges no task vectors',
    code: 'PARAMETER_INVALID',
    culprits: ['group_method', '"slerp"', 'average, linear, task_arithmetic, ties'],
    build: (c) => c.recipe(channel({ group_method: 'slerp' })),
  },
  {
    name: 'routed: channel_merging reports every problem at once (unknown group method, dtype float64)',
    code: 'RECIPE_PROBLEMS',
    culprits: ['[UNKNOWN_METHOD]', '"tiez"', 'Did you mean "ties"?', '[PARAMETER_INVALID]', 'dtype float64'],
    mentions: ['2 problems'],
    build: (c) => c.recipe({ ...channel({ group_method: 'tiez' }), dtype: 'float64' }),
  },
  {
    name: 'routed: channel_merging with a density that differs between experts and a gradient lambda',
    code: 'RECIPE_PROBLEMS',
    culprits: ['"density" is 0.3 for "ft-a"', '0.5 for "ft-b", "ft-c"', 'lambda (top-level parameters) must be one number'],
    mentions: ['2 problems', '[PARAMETER_INVALID]'],
    build: (c) =>
      c.recipe({
        ...channel({ group_method: 'ties', lambda: [0.5, 1] }),
        models: [
          { model: 'ft-a', parameters: { density: 0.3 } },
          { model: 'ft-b', parameters: { density: 0.5 } },
          { model: 'ft-c', parameters: { density: 0.5 } },
        ],
      }),
  },
  {
    name: 'routed: channel_merging with an expert of another shape',
    code: 'SHAPE_MISMATCH',
    culprits: ['"ft-wide"', 'model.layers.0.mlp.weight', '[2, 8]'],
    async build(c) {
      await c.model('ft-wide', 5, TINY_TENSORS.map((t) => (t.name === 'model.layers.0.mlp.weight' ? { ...t, shape: [2, 8] } : t)));
      await c.recipe({ ...channel(), models: [{ model: 'ft-a' }, { model: 'ft-b' }, { model: 'ft-wide' }] });
    },
  },
  {
    name: 'routed: a misspelt routed method is suggested',
    code: 'UNKNOWN_METHOD',
    culprits: ['"twin_merge"', 'Did you mean "twin_merging"?'],
    build: (c) => c.recipe({ ...twin(), merge_method: 'twin_merge' }),
  },
  {
    name: 'routed: twin.json cannot be written; shared and exclusive safetensors are not left behind',
    code: 'WRITE_FAILED',
    culprits: ['twin.json'],
    outExists: (c) => c.file('out/twin.json/keep.txt', 'in the way\n'),
    build: (c) => c.recipe(twin()),
  },

  // ---- command-line options
  {
    name: 'option: --backend foo',
    code: 'PARAMETER_INVALID',
    culprits: ['--backend', 'foo'],
    async build(c) {
      await c.recipe(ties());
      return ['merge', c.recipePath, '--out', c.out, '--backend', 'foo', '--no-progress'];
    },
  },
  {
    name: 'option: --max-shard-size abc',
    code: 'PARAMETER_INVALID',
    culprits: ['--max-shard-size', 'abc'],
    async build(c) {
      await c.recipe(ties());
      return mergeArgs(c.recipePath, c.out, '--max-shard-size', 'abc');
    },
  },
  {
    name: 'option: merge without --out',
    code: 'PARAMETER_INVALID',
    culprits: ['--out'],
    async build(c) {
      await c.recipe(ties());
      return ['merge', c.recipePath, '--backend', 'cpu', '--no-progress'];
    },
  },
  {
    name: 'option: an unknown option (--bogus)',
    code: 'PARAMETER_INVALID',
    culprits: ['--bogus'],
    async build(c) {
      await c.recipe(ties());
      return mergeArgs(c.recipePath, c.out, '--bogus');
    },
  },

  // ---- broken checkpoints (bytes from the reader's catalogue, test/io/catalogue.ts)
  brokenCheckpoint('ft-truncated', 'truncated data', 'FILE_TRUNCATED', ['truncated'], true),
  brokenCheckpoint('ft-empty-file', 'empty file', 'FILE_TOO_SMALL'),
  brokenCheckpoint('ft-huge-header', 'huge header length (2^40)', 'HEADER_TOO_LARGE'),
  brokenCheckpoint('ft-bad-json', 'invalid JSON', 'HEADER_INVALID_JSON'),
  brokenCheckpoint('ft-overlap', 'overlapping offsets', 'OFFSETS_OVERLAP'),
  brokenCheckpoint('ft-size', 'shape/size mismatch', 'SIZE_MISMATCH', ['[2, 3]', '24']),
  brokenCheckpoint('ft-dtype', 'unknown dtype (F128)', 'UNKNOWN_DTYPE', ['F128']),
  brokenCheckpoint('ft-dup', 'duplicate tensor names', 'DUPLICATE_TENSOR', ['"a"']),
  brokenCheckpoint('ft-trailing', 'trailing bytes after the last tensor', 'TRAILING_BYTES'),
  {
    name: 'checkpoint: a truncated real checkpoint as the base model',
    code: 'FILE_TRUNCATED',
    culprits: ['"base-cut"', 'base-cut/model.safetensors'],
    async build(c) {
      const good = await tinyCheckpointBytes(7);
      await c.brokenModel('base-cut', good.subarray(0, good.byteLength - 10));
      await c.recipe(ties(undefined, { base_model: 'base-cut' }));
    },
  },
  {
    name: 'checkpoint: a broken .safetensors file named directly',
    code: 'HEADER_INVALID_JSON',
    culprits: ['"ft-direct.safetensors"', 'ft-direct.safetensors'],
    async build(c) {
      await c.file('ft-direct.safetensors', catalogueBytes('invalid JSON'));
      await c.recipe(ties(tiesModels([{ model: 'ft-direct.safetensors', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },
  {
    name: 'checkpoint: a sharded folder whose index names a missing shard',
    code: 'SHARD_MISSING',
    culprits: ['"ft-sharded"', 'model-00002-of-00002.safetensors'],
    async build(c) {
      const [first, second] = [TINY_TENSORS.slice(0, 2), TINY_TENSORS.slice(2)];
      await c.file('ft-sharded/model-00001-of-00002.safetensors', await tinyCheckpointBytes(8, first));
      const weight_map = Object.fromEntries([
        ...first!.map((t) => [t.name, 'model-00001-of-00002.safetensors']),
        ...second!.map((t) => [t.name, 'model-00002-of-00002.safetensors']),
      ]);
      await c.file('ft-sharded/model.safetensors.index.json', JSON.stringify({ metadata: { total_size: 256 }, weight_map }, null, 2));
      await c.recipe(ties(tiesModels([{ model: 'ft-sharded', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },
  {
    name: 'checkpoint: a sharded folder with an invalid index',
    code: 'INDEX_INVALID',
    culprits: ['"ft-bad-index"', 'model.safetensors.index.json'],
    async build(c) {
      await c.file('ft-bad-index/model-00001-of-00001.safetensors', await tinyCheckpointBytes(8));
      await c.file('ft-bad-index/model.safetensors.index.json', '{"weight_map": [1, 2]}');
      await c.recipe(ties(tiesModels([{ model: 'ft-bad-index', parameters: { weight: 0.5, density: 0.5 } }])));
    },
  },

  // ---- --out: a pre-existing folder keeps its files; nothing half-written is left
  {
    name: 'out: --out is an existing file',
    code: 'WRITE_FAILED',
    culprits: ['out.txt'],
    async build(c) {
      await c.recipe(ties());
      await c.file('out.txt', 'not a folder\n');
      return mergeArgs(c.recipePath, c.p('out.txt'));
    },
  },
  {
    name: 'out: --out inside a file',
    code: 'WRITE_FAILED',
    culprits: ['out.txt'],
    async build(c) {
      await c.recipe(ties());
      await c.file('out.txt', 'not a folder\n');
      return mergeArgs(c.recipePath, c.p('out.txt', 'merged'));
    },
  },
  {
    name: 'out: model.safetensors cannot be written (a folder of that name is in --out)',
    code: 'WRITE_FAILED',
    culprits: ['model.safetensors'],
    outExists: (c) => c.file('out/model.safetensors/keep.txt', 'in the way\n'),
    build: (c) => c.recipe(ties()),
  },
  {
    name: 'out: the second shard cannot be written; the first is not left behind',
    code: 'WRITE_FAILED',
    culprits: ['model-00002-of-00004.safetensors'],
    outExists: (c) => c.file('out/model-00002-of-00004.safetensors/keep.txt', 'in the way\n'),
    async build(c) {
      await c.recipe(ties());
      // 64-byte tensors, at most 100 bytes a shard: one tensor a shard.
      return mergeArgs(c.recipePath, c.out, '--max-shard-size', '100');
    },
  },
  {
    name: 'out: merge-recipe.yml cannot be written; the model is not left behind',
    code: 'WRITE_FAILED',
    culprits: ['merge-recipe.yml'],
    outExists: (c) => c.file('out/merge-recipe.yml/keep.txt', 'in the way\n'),
    build: (c) => c.recipe(ties()),
  },
  {
    name: 'out: config.json cannot be copied; the model is not left behind',
    code: 'WRITE_FAILED',
    spawned: true,
    culprits: ['config.json'],
    outExists: (c) => c.file('out/config.json/keep.txt', 'in the way\n'),
    build: (c) => c.recipe(ties()),
  },

  // ---- the other commands
  {
    name: 'inspect: a truncated file',
    code: 'FILE_TRUNCATED',
    culprits: ['ft-truncated.safetensors'],
    async build(c) {
      return ['inspect', await c.file('ft-truncated.safetensors', catalogueBytes('truncated data'))];
    },
  },
  {
    name: 'diff: a path that does not exist',
    code: 'PATH_NOT_FOUND',
    spawned: true,
    culprits: ['nowhere.safetensors'],
    build: async (c) => ['diff', c.p('base'), c.p('nowhere.safetensors')],
  },
  {
    name: 'diff: --tolerance abc',
    code: 'PARAMETER_INVALID',
    culprits: ['--tolerance', 'abc'],
    build: async (c) => ['diff', c.p('base'), c.p('ft-a'), '--tolerance', 'abc'],
  },
];

const slug = (s: string) => s.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase().slice(0, 80);

async function prepare(name: string): Promise<CaseDir> {
  const dir = ws.path('cases', slug(name));
  await cp(ws.path('models'), dir, { recursive: true });
  return new CaseDir(dir);
}

describe.concurrent('merge-lab fails cleanly', () => {
  for (const k of CASES) {
    it(k.name, async ({ expect }) => {
      const c = await prepare(k.name);
      let outBefore: Map<string, string> | undefined;
      const args = (await k.build(c)) ?? mergeArgs(c.recipePath, c.out);
      if (k.outExists) {
        await c.file('out/notes.txt', 'keep me\n');
        await c.file('out/sub/keep.bin', new Uint8Array([1, 2, 3]));
        if (typeof k.outExists === 'function') await k.outExists(c);
        outBefore = snapshot(c.out);
      }
      const r = await (k.spawned ? spawnCliAsync : runCliAsync)(args);
      if (k.name.startsWith('diff:')) expect(r.status, 'diff fails with 2 (1 means "they differ")').toBe(2);
      const out = args.includes('--out') ? c.out : undefined;
      expect(
        failureProblems(r, { code: k.code, culprits: k.culprits, mentions: k.mentions, out, outBefore, scratch: c.dir }),
      ).toEqual([]);
    });
  }

  it('every other broken file of the reader catalogue, as models of one recipe, is reported by name', async ({ expect }) => {
    const c = await prepare('reader-catalogue');
    const named = new Set(CASES.map((k) => k.name));
    const broken = CATALOGUE.filter((x) => x.code !== undefined && ![...named].some((n) => n.includes(x.name)));
    const models: ModelEntry[] = [];
    for (const [i, x] of broken.entries()) {
      const name = `bad-${String(i).padStart(2, '0')}`;
      await c.brokenModel(name, x.bytes());
      models.push({ model: name, parameters: { weight: 1 } });
    }
    await c.recipe({ merge_method: 'linear', models: [{ model: 'base', parameters: { weight: 1 } }, ...models] });
    const r: CliResult = await runCliAsync(mergeArgs(c.recipePath, c.out));
    // Only the reader's part here: the format of several problems is checked by the cases above.
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.stderr).not.toMatch(/^\s+at \S/m);
    expect(r.stderr).not.toMatch(/internal error/i);
    expect(listFiles(c.out)).toEqual([]);
    const lines = r.stderr.split('\n');
    for (const [i, x] of broken.entries()) {
      const name = `bad-${String(i).padStart(2, '0')}`;
      const line = lines.find((l) => l.includes(`Model "${name}"`));
      expect(line, `${x.name} (${x.code}) is reported on its own line`).toBeDefined();
      expect(line).toContain(`${name}/model.safetensors`);
      for (const m of x.mentions ?? []) expect(line, x.name).toContain(m);
    }
  });
});
