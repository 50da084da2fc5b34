/**
 * `slices:` and `modules:` recipes against mergekit's real pipeline (test/fixtures/mergekit-slices/,
 * scripts/mergekit-slices-fixtures.py), each run through `merge-lab merge` as a user runs it: every
 * case mergekit merged gives the same tensor names, float32 recipes within 1e-5 and 16-bit ones
 * the same bytes, and config.json the layer counts mergekit's has (and the architecture); every case
 * where mergekit stopped, we refuse before writing anything, with the error OUR_ERRORS names.
 * Among them mergekit's own test_gpt2_stack and examples/orcamini-platy-44layer.yml.
 * MERGEKIT_SLICES_REPORT=1 prints each case's largest |Δ|.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeToFloat32 } from '../../src/engine/io/dtypes.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { runCliAsync } from '../cli/helpers.js';
import { expectedTensors, fixtureCases, type WrittenTensor } from './half-fixtures.js';

const ROOT = fileURLToPath(new URL('../fixtures/mergekit-slices/', import.meta.url));
const CASES = fixtureCases(ROOT);
const failing = (c: string) => existsSync(path.join(ROOT, c, 'expected-error.txt'));
const recipeOf = (c: string) => readFileSync(path.join(ROOT, c, 'recipe.yml'), 'utf8');
const F32_TOL = 1e-5;

/** What we must say where mergekit stopped: the code, and what the message must name. */
const OUR_ERRORS: Record<string, { code: string; names: RegExp }> = {
  error_range_outside: { code: 'RECIPE_INVALID', names: /slices\[1\]\.sources\[0\]: layer_range \[4, 10\] reaches past the 8 layers of model "\.\.\/models\/ft_b" \(layers 0 to 7/ },
  error_lengths_differ: { code: 'RECIPE_INVALID', names: /slices\[0\]: its sources give different numbers of layers \("\.\.\/models\/ft_a" \[0, 4\]: 4, "\.\.\/models\/ft_b" \[0, 3\]: 3\)/ },
  error_no_base: { code: 'BASE_MODEL_REQUIRED', names: /slices\[0\]: task_arithmetic needs a base_model/ },
  error_base_not_in_slice: { code: 'BASE_MODEL_REQUIRED', names: /slices\[1\]: task_arithmetic reads every source against the base_model "\.\.\/models\/base", which is not among the slice's sources/ },
  error_unknown_model: { code: 'PATH_NOT_FOUND', names: /Model "\.\.\/models\/nope" was not found/ },
  error_slices_on_modules: { code: 'RECIPE_INVALID', names: /Mistral3ForConditionalGeneration architecture \(as mergekit defines it\) has 3 modules \("text_decoder", "multi_modal_projector", "vision_tower"\); "slices:" stacks the layers of one\. Give each module its slices or models under "modules:"/ },
  error_unknown_module: { code: 'RECIPE_INVALID', names: /modules\.text_tower: the Mistral3ForConditionalGeneration architecture \(as mergekit defines it\) has no module "text_tower"; its modules are "text_decoder", "multi_modal_projector", "vision_tower"/ },
};

/**
 * Cases that differ from mergekit's, with the most elements and the largest |Δ| allowed, and why.
 * mixed_slerp_bf16: slerp's angle comes from a float32 dot product in mergekit (numpy's pairwise sum
 * over vectors normalized with BLAS's sdot); ours is exact, so a coefficient can differ in its last
 * float32 bits and one product round to the neighbouring bfloat16 (layer 1's o_proj, one ulp): a
 * matter of slerp's arithmetic, not of slices (with mergekit's float32 dot the coefficients agree).
 */
const ALLOWED: Record<string, { elements: number; delta: number }> = {
  mixed_slerp_bf16: { elements: 1, delta: 3.9e-6 },
};

/** Elements that differ (bytes for 16-bit recipes, beyond F32_TOL for float32 ones), the largest |Δ|, and tensors missing or misshapen. */
function compare(got: Map<string, WrittenTensor>, want: Map<string, WrittenTensor>, bytes: boolean): { differ: number; delta: number; problems: string[] } {
  let differ = 0;
  let delta = 0;
  const problems: string[] = [];
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g || g.dtype !== w.dtype || g.shape.join() !== w.shape.join()) {
      problems.push(`${name}: ${g ? `${g.dtype} [${g.shape.join(', ')}]` : 'missing'}, mergekit wrote ${w.dtype} [${w.shape.join(', ')}]`);
      continue;
    }
    const a = decodeToFloat32(g.dtype, g.bytes);
    const b = decodeToFloat32(w.dtype, w.bytes);
    for (let i = 0; i < a.length; i++) delta = Math.max(delta, Math.abs(a[i]! - b[i]!));
    if (bytes) for (let i = 0; i < g.bytes.length; i++) differ += g.bytes[i] !== w.bytes[i] ? 1 : 0;
    else for (let i = 0; i < a.length; i++) differ += Math.abs(a[i]! - b[i]!) <= F32_TOL ? 0 : 1;
  }
  for (const name of got.keys()) if (!want.has(name)) problems.push(`${name}: not written by mergekit`);
  return { differ, delta, problems };
}

async function writtenTensors(file: string): Promise<Map<string, WrittenTensor>> {
  const ckpt = await openCheckpointPath(file);
  try {
    const out = new Map<string, WrittenTensor>();
    for (const t of ckpt.tensorNames) {
      const info = ckpt.info(t)!;
      out.set(t, { dtype: info.dtype, shape: info.shape, bytes: await ckpt.readRaw(t) });
    }
    return out;
  } finally {
    await ckpt.close();
  }
}

/** The layer counts and architecture of a config, as expected-config.json keeps them. */
function layerKeys(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['architectures', 'num_hidden_layers', 'n_layer']) if (k in config) out[k] = config[k];
  for (const sub of ['text_config', 'vision_config']) {
    const c = config[sub] as Record<string, unknown> | undefined;
    if (c) out[sub] = { num_hidden_layers: c.num_hidden_layers };
  }
  return out;
}

const seen = new Map<string, number>();

describe('slices and modules: the same tensors and layer counts as mergekit', () => {
  it('covers stacked and mixed slices in float32 and bfloat16, mergekit test_gpt2_stack and orcamini-platy-44layer, modules, and an expectation for every refusal', () => {
    const ok = CASES.filter((c) => !failing(c));
    for (const prefix of ['stack_', 'mixed_']) {
      expect(ok.some((c) => c.startsWith(prefix) && /^dtype: float32$/m.test(recipeOf(c))), `${prefix} float32`).toBe(true);
      expect(ok.some((c) => c.startsWith(prefix) && /^dtype: bfloat16$/m.test(recipeOf(c))), `${prefix} bfloat16`).toBe(true);
    }
    expect(ok).toEqual(expect.arrayContaining(['basic_gpt2_stack', 'example_orcamini_platy_44layer', 'modules_mistral3_bf16']));
    for (const c of CASES.filter(failing)) expect(Object.keys(OUR_ERRORS), `an expectation for ${c}`).toContain(c);
    // The README's counts.
    expect(ok).toHaveLength(32);
    expect(CASES.filter(failing)).toHaveLength(7);
  });

  for (const name of CASES.filter((c) => !failing(c))) {
    it(`${name}: mergekit's tensors and layer count`, { timeout: 30_000 }, async () => {
      const tmp = await mkdtemp(path.join(tmpdir(), `merge-lab-slices-${name}-`));
      try {
        const out = path.join(tmp, 'out');
        const r = await runCliAsync(['merge', path.join(ROOT, name, 'recipe.yml'), '--out', out, '--backend', 'cpu', '--no-progress']);
        expect(r.status, r.stderr).toBe(0);
        const [got, want] = await Promise.all([writtenTensors(path.join(out, 'model.safetensors')), expectedTensors(name, ROOT)]);
        expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
        const sixteen = /^dtype: (bfloat16|float16)$/m.test(recipeOf(name));
        const { differ, delta, problems } = compare(got, want, sixteen);
        expect(problems).toEqual([]);
        seen.set(name, delta);
        const allowed = ALLOWED[name] ?? { elements: 0, delta: sixteen ? 0 : F32_TOL };
        expect(differ, `elements that differ (largest |Δ| ${delta})`).toBeLessThanOrEqual(allowed.elements);
        expect(delta).toBeLessThanOrEqual(allowed.delta);
        const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        expect(layerKeys(config)).toEqual(JSON.parse(readFileSync(path.join(ROOT, name, 'expected-config.json'), 'utf8')));
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });
  }

  for (const name of CASES.filter(failing)) {
    const said = readFileSync(path.join(ROOT, name, 'expected-error.txt'), 'utf8').trim();
    it(`${name}: mergekit stops (${said.slice(0, 70)}), and so do we, writing nothing`, async () => {
      const tmp = await mkdtemp(path.join(tmpdir(), `merge-lab-slices-${name}-`));
      try {
        const out = path.join(tmp, 'out');
        const r = await runCliAsync(['merge', path.join(ROOT, name, 'recipe.yml'), '--out', out, '--backend', 'cpu', '--no-progress']);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain(OUR_ERRORS[name]!.code);
        expect(r.stderr).toMatch(OUR_ERRORS[name]!.names);
        expect(existsSync(out)).toBe(false);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });
  }

  afterAll(() => {
    if (!process.env.MERGEKIT_SLICES_REPORT) return;
    console.log([...seen].map(([name, d]) => `${name}\tmax|Δ| ${d.toExponential(2)}`).join('\n'));
  });
});
