/**
 * Happy paths of the `merge-lab` command line, end to end on tiny checkpoints: what `merge`
 * writes (model, recipe, config, model card, metadata, shards; the folder's tokenizer and config
 * rules are in model-folder.test.ts), `inspect` and `diff` on the results,
 * `--help`, byte-for-byte determinism (also for seeded DARE masks, and across backends), model
 * paths relative to the recipe's folder from another cwd, and a shape mismatch that ties skips
 * with a warning. CLI runs are started once and shared through memoized promises; they run in
 * this process, except `tiesAgain`, the real binary in its own process (so a whole process's exit
 * status and clean stderr are checked too, and its bytes against the in-process run's).
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { METHODS } from '../../src/engine/methods/registry.js';
import { TIES_RECIPE, TINY_CONFIG, TINY_TENSORS, Workspace, listFiles, memo, mergeArgs, runCliAsync, spawnCliAsync, withCheckpoint, type CliResult, type TinyTensor } from './helpers.js';

let ws: Workspace;

/** Tensors of 128 float32 (512 bytes) each, so that 1KB shards hold one or two of them. */
const BIG_TENSORS: readonly TinyTensor[] = [
  { name: 'model.embed_tokens.weight', shape: [8, 16] },
  { name: 'model.layers.0.mlp.weight', shape: [8, 16] },
  { name: 'model.layers.1.mlp.weight', shape: [8, 16] },
  { name: 'model.norm.weight', shape: [128] },
];

const TIES = TIES_RECIPE;
const DARE = { ...TIES, merge_method: 'dare_ties' };

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-cli-happy-');
  await ws.model('base', 1, { config: TINY_CONFIG });
  await ws.model('ft-a', 2);
  await ws.model('ft-b', 3);
  await ws.model('ft-wide', 4, { tensors: TINY_TENSORS.map((t) => (t.name === 'model.layers.0.mlp.weight' ? { ...t, shape: [2, 8] } : t)) });
  await ws.model('big/base', 11, { tensors: BIG_TENSORS, config: TINY_CONFIG });
  await ws.model('big/ft-a', 12, { tensors: BIG_TENSORS });
  await ws.model('big/ft-b', 13, { tensors: BIG_TENSORS });
  await ws.recipe('ties.yaml', TIES);
  await ws.recipe('dare.yaml', DARE);
  await ws.recipe('dare-seed7.yaml', { ...DARE, random_seed: 7 });
  await ws.recipe('linear.yaml', { merge_method: 'linear', models: [{ model: 'base', parameters: { weight: 1 } }, { model: 'ft-a', parameters: { weight: 1 } }] });
  await ws.recipe('big/ties.yaml', TIES);
  await ws.recipe('ties-wide.yaml', { ...TIES, models: [...TIES.models, { model: 'ft-wide', parameters: { weight: 0.3, density: 0.5 } }] });
});

afterAll(async () => {
  await ws?.dispose();
});

const merge = (recipe: string, out: string, ...extra: string[]) => memo(() => runCliAsync(mergeArgs(ws.path(recipe), ws.path(out), ...extra)));

const runs = {
  ties: merge('ties.yaml', 'out/ties'),
  tiesAgain: memo(() => spawnCliAsync(mergeArgs(ws.path('ties.yaml'), ws.path('out/ties-again')))),
  dare: merge('dare.yaml', 'out/dare'),
  dareAgain: merge('dare.yaml', 'out/dare-again'),
  dareSeed7: merge('dare-seed7.yaml', 'out/dare-seed7'),
  dareWasm: memo(() => runCliAsync(['merge', ws.path('dare.yaml'), '--out', ws.path('out/dare-wasm'), '--backend', 'wasm', '--no-progress'])),
  linear: merge('linear.yaml', 'out/linear'),
  bigSharded: merge('big/ties.yaml', 'out/big-sharded', '--max-shard-size', '1KB'),
  bigSingle: merge('big/ties.yaml', 'out/big-single'),
  wide: merge('ties-wide.yaml', 'out/ties-wide'),
};

function expectOk(expect: ExpectStatic, r: CliResult): void {
  expect(r.status, `${r.args.join(' ')}\n--- stderr ---\n${r.stderr}--- stdout ---\n${r.stdout}`).toBe(0);
  expect(r.stderr).not.toMatch(/^\s+at \S/m);
  expect(r.stderr).not.toMatch(/error/i);
}


const bytes = (rel: string) => readFileSync(ws.path(rel));
/** What a merge of the tiny models (a config.json, no tokenizer) writes, sorted. */
const FOLDER = ['README.md', 'config.json', 'merge-recipe.yml', 'mergekit_config.yml', 'model.safetensors'];

describe.concurrent('merge-lab merge', () => {
  it('ties of three tiny models writes model.safetensors, merge-recipe.yml, mergekit_config.yml, a model card and the base config.json', async ({ expect }) => {
    const r = await runs.ties();
    expectOk(expect, r);
    expect(r.stderr).toContain(`merge-lab: wrote ${TINY_TENSORS.length} tensors`);
    expect(listFiles(ws.path('out/ties'))).toEqual(FOLDER);
    // The base's config with the recipe's dtype, keys sorted as transformers writes them.
    expect(JSON.parse(readFileSync(ws.path('out/ties/config.json'), 'utf8'))).toEqual({ ...TINY_CONFIG, dtype: 'float32' });
    expect(readFileSync(ws.path('out/ties/mergekit_config.yml'), 'utf8')).toBe(readFileSync(ws.path('ties.yaml'), 'utf8'));
    expect(readFileSync(ws.path('out/ties/README.md'), 'utf8')).toContain('- Method: TIES (`ties`');
    // The tiny base has no tokenizer: said once.
    expect(r.stderr.match(/has no tokenizer files/g)).toHaveLength(1);
    const recipeText = readFileSync(ws.path('out/ties/merge-recipe.yml'), 'utf8');
    expect(recipeText).toMatch(/merge_method: ties/);
    await withCheckpoint(ws.path('out/ties/model.safetensors'), async (c) => {
      expect(c.metadata.merge_recipe).toBe(recipeText);
      expect(c.metadata.format).toBe('pt');
      expect(c.tensorNames).toEqual(TINY_TENSORS.map((t) => t.name));
      for (const t of TINY_TENSORS) {
        expect(c.info(t.name)!.shape).toEqual(t.shape);
        expect(c.info(t.name)!.dtype).toBe('F32');
        const v = await c.readFloat32(t.name);
        expect(v.every(Number.isFinite)).toBe(true);
      }
      // The merge moved away from the base.
      const base = await withCheckpoint(ws.path('base'), (b) => b.readFloat32(TINY_TENSORS[0]!.name));
      expect(Array.from(await c.readFloat32(TINY_TENSORS[0]!.name))).not.toEqual(Array.from(base));
    });
  });

  it('a clean merge prints nothing on stderr but merge-lab lines (no tfjs banner)', async ({ expect }) => {
    const r = await runs.ties();
    expectOk(expect, r);
    const foreign = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('merge-lab: '));
    expect(foreign, r.stderr).toEqual([]);
  });

  it('linear of base and ft-a with weights 1 and 1 is their float32 mean', async ({ expect }) => {
    const r = await runs.linear();
    expectOk(expect, r);
    for (const t of TINY_TENSORS) {
      const a = await withCheckpoint(ws.path('base'), (c) => c.readFloat32(t.name));
      const b = await withCheckpoint(ws.path('ft-a'), (c) => c.readFloat32(t.name));
      const got = await withCheckpoint(ws.path('out/linear'), (c) => c.readFloat32(t.name));
      const want = a.map((x, i) => Math.fround(Math.fround(x + b[i]!) / 2));
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!), `${t.name}[${i}]`).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -22);
    }
  });

  it('--max-shard-size 1KB writes shards and model.safetensors.index.json', async ({ expect }) => {
    const r = await runs.bigSharded();
    expectOk(expect, r);
    const files = listFiles(ws.path('out/big-sharded'));
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    expect(shards.every((f) => f.endsWith(`-of-${String(shards.length).padStart(5, '0')}.safetensors`))).toBe(true);
    expect(files.sort()).toEqual([...FOLDER.filter((f) => f !== 'model.safetensors'), ...shards, 'model.safetensors.index.json'].sort());
    const index = JSON.parse(readFileSync(ws.path('out/big-sharded/model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string>; metadata: { total_size: number } };
    expect(Object.keys(index.weight_map)).toEqual(BIG_TENSORS.map((t) => t.name));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    expect(index.metadata.total_size).toBe(BIG_TENSORS.length * 512);
    const recipeText = readFileSync(ws.path('out/big-sharded/merge-recipe.yml'), 'utf8');
    for (const s of shards) {
      expect(readFileSync(ws.path('out/big-sharded', s)).byteLength, s).toBeLessThan(8 + 4096 + 1024);
      await withCheckpoint(ws.path('out/big-sharded', s), async (c) => expect(c.metadata.merge_recipe).toBe(recipeText));
    }
  });

  it('inspect reads the sharded output and lists every tensor', async ({ expect }) => {
    expectOk(expect, await runs.bigSharded());
    const [text, json] = await Promise.all([
      runCliAsync(['inspect', ws.path('out/big-sharded')]),
      runCliAsync(['inspect', ws.path('out/big-sharded/model.safetensors.index.json'), '--json']),
    ]);
    expectOk(expect, text);
    for (const t of BIG_TENSORS) expect(text.stdout).toContain(t.name);
    expect(text.stdout).toContain(`${BIG_TENSORS.length} tensors`);
    expect(text.stdout).toContain('merge_recipe');
    expectOk(expect, json);
    const parsed = JSON.parse(json.stdout) as { tensors: { name: string; dtype: string; shape: number[] }[]; metadata: Record<string, string> };
    expect(parsed.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(BIG_TENSORS.map((t) => [t.name, 'F32', t.shape]));
    expect(parsed.metadata.merge_recipe).toBe(readFileSync(ws.path('out/big-sharded/merge-recipe.yml'), 'utf8'));
  });

  it('diff of the sharded and the single-file output of one recipe finds them identical', async ({ expect }) => {
    const [a, b] = await Promise.all([runs.bigSharded(), runs.bigSingle()]);
    expectOk(expect, a);
    expectOk(expect, b);
    expect(listFiles(ws.path('out/big-single'))).toEqual(FOLDER);
    const r = await runCliAsync(['diff', ws.path('out/big-sharded'), ws.path('out/big-single/model.safetensors'), '--tolerance', '0']);
    expectOk(expect, r);
    expect(r.stdout).toContain('overall max |a-b| = 0.000e+0');
    for (const t of BIG_TENSORS) expect(r.stdout).toContain(t.name);
  });

  it('diff of two different outputs reports their max difference (and exits 1 with --tolerance 0)', async ({ expect }) => {
    const [t, l] = await Promise.all([runs.ties(), runs.linear()]);
    expectOk(expect, t);
    expectOk(expect, l);
    let worst = 0;
    for (const x of TINY_TENSORS) {
      const a = await withCheckpoint(ws.path('out/ties'), (c) => c.readFloat32(x.name));
      const b = await withCheckpoint(ws.path('out/linear'), (c) => c.readFloat32(x.name));
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    }
    expect(worst).toBeGreaterThan(0);
    const [json, strict] = await Promise.all([
      runCliAsync(['diff', ws.path('out/ties'), ws.path('out/linear'), '--json']),
      runCliAsync(['diff', ws.path('out/ties'), ws.path('out/linear'), '--tolerance', '0']),
    ]);
    expect(json.status, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { maxAbs: number }).maxAbs).toBeCloseTo(worst, 6);
    expect(strict.status, strict.stderr).toBe(1);
    expect(strict.stdout).toContain(`overall max |a-b| = ${worst.toExponential(3)}`);
    expect(strict.stderr).not.toMatch(/error/i);
  });

  it('diff of two identical outputs exits 0', async ({ expect }) => {
    const [a, b] = await Promise.all([runs.ties(), runs.tiesAgain()]);
    expectOk(expect, a);
    expectOk(expect, b);
    const r = await runCliAsync(['diff', ws.path('out/ties'), ws.path('out/ties-again')]);
    expectOk(expect, r);
    expect(r.stdout).toContain('overall max |a-b| = 0.000e+0');
    // An error is 2, not 1 ("they differ"), as cmp and diff answer.
    const missing = await runCliAsync(['diff', ws.path('out/ties'), ws.path('out/no-such-model')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^merge-lab: error \[PATH_NOT_FOUND\]: .*no-such-model/);
  });

  it('the same ties recipe twice gives identical bytes', async ({ expect }) => {
    const [a, b] = await Promise.all([runs.ties(), runs.tiesAgain()]);
    expectOk(expect, a);
    expectOk(expect, b);
    expect(bytes('out/ties-again/model.safetensors').equals(bytes('out/ties/model.safetensors'))).toBe(true);
    expect(bytes('out/ties-again/merge-recipe.yml').equals(bytes('out/ties/merge-recipe.yml'))).toBe(true);
  });

  it('dare_ties: the same recipe twice gives identical bytes; another random_seed gives other masks', async ({ expect }) => {
    const [a, b, c] = await Promise.all([runs.dare(), runs.dareAgain(), runs.dareSeed7()]);
    for (const r of [a, b, c]) expectOk(expect, r);
    const one = bytes('out/dare/model.safetensors');
    expect(bytes('out/dare-again/model.safetensors').equals(one)).toBe(true);
    // Compare the data only (the recipes, stored in the metadata, differ by random_seed).
    const data = async (rel: string) => withCheckpoint(ws.path(rel), async (ck) => Promise.all(TINY_TENSORS.map((t) => ck.readRaw(t.name))));
    const [d42, d7] = await Promise.all([data('out/dare/model.safetensors'), data('out/dare-seed7/model.safetensors')]);
    expect(d42.some((x, i) => !Buffer.from(x).equals(Buffer.from(d7[i]!)))).toBe(true);
  });

  it('dare_ties gives the same bytes on the wasm backend as on cpu', async ({ expect }) => {
    const [cpu, wasm] = await Promise.all([runs.dare(), runs.dareWasm()]);
    expectOk(expect, cpu);
    expectOk(expect, wasm);
    expect(bytes('out/dare-wasm/model.safetensors').equals(bytes('out/dare/model.safetensors'))).toBe(true);
  });

  it('runs from another cwd with model paths relative to the recipe folder', async ({ expect }) => {
    const cwd = ws.path('elsewhere', 'deep');
    await mkdir(cwd, { recursive: true });
    const recipe = path.relative(cwd, ws.path('ties.yaml'));
    expect(recipe.startsWith('..')).toBe(true);
    const r = await runCliAsync(['merge', recipe, '--out', 'merged', '--backend', 'cpu', '--no-progress'], { cwd });
    expectOk(expect, r);
    expect(listFiles(path.join(cwd, 'merged'))).toEqual(FOLDER);
    const first = await runs.ties();
    expectOk(expect, first);
    expect(readFileSync(path.join(cwd, 'merged', 'model.safetensors')).equals(bytes('out/ties/model.safetensors'))).toBe(true);
  });

  it('ties skips a model whose tensor has another shape, with a warning naming both', async ({ expect }) => {
    const r = await runs.wide();
    expect(r.status, r.stderr).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('merge-lab: warning:'));
    expect(warnings.some((w) => w.includes('model.layers.0.mlp.weight') && w.includes('"ft-wide"')), r.stderr).toBe(true);
    expect(r.stderr).not.toMatch(/error/i);
    await withCheckpoint(ws.path('out/ties-wide'), async (c) => {
      expect(c.tensorNames).toEqual(TINY_TENSORS.map((t) => t.name));
      expect(c.info('model.layers.0.mlp.weight')!.shape).toEqual([4, 4]);
    });
  });
});

describe('merge-lab --help', () => {
  it('lists every method with its parameters', async ({ expect }) => {
    const r = await runCliAsync(['--help']);
    expectOk(expect, r);
    const lines = r.stdout.split('\n');
    for (const cmd of ['merge', 'inspect', 'diff']) expect(r.stdout).toContain(`merge-lab ${cmd}`);
    for (const m of METHODS) {
      const at = lines.findIndex((l) => l.startsWith(`  ${m.id} `));
      expect(at, `method ${m.id}`).toBeGreaterThanOrEqual(0);
      const next = lines.findIndex((l, i) => i > at && /^ {2}\S/.test(l));
      const section = lines.slice(at + 1, next < 0 ? undefined : next);
      for (const p of m.params) expect(section.some((l) => l.trim().startsWith(`${p.name} `)), `${m.id}: parameter ${p.name}`).toBe(true);
    }
  });
});
