/**
 * passthrough, nuslerp, multislerp, karcher, sce, nearswap, arcee_fusion, ram and ramplus_tl against
 * mergekit's real pipeline (test/fixtures/mergekit-more/, scripts/mergekit-more-fixtures.py): every
 * case mergekit merged gives the same tensor names, float32 recipes within 1e-5 and 16-bit recipes
 * the same bytes (ALLOWED lists where not, and by how much); every case where mergekit
 * stopped, we refuse too, with the error OUR_ERRORS names. The `basic_*` cases are mergekit's
 * tests/test_basic_merges.py cases for these methods, run through `merge-lab merge`; one case of each
 * method also goes through the merges service, as the lab's worker runs it.
 * MERGEKIT_MORE_REPORT=1 prints each method's fixture count and largest difference.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/api/engine.js';
import { decodeToFloat32 } from '../../src/engine/io/dtypes.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { runCliAsync } from '../cli/helpers.js';
import { expectedTensors, fixtureCases, mergedTensors, type WrittenTensor } from './half-fixtures.js';

const ROOT = fileURLToPath(new URL('../fixtures/mergekit-more/', import.meta.url));
const CASES = fixtureCases(ROOT);
const failing = (c: string) => existsSync(path.join(ROOT, c, 'expected-error.txt'));
const recipeOf = (c: string) => readFileSync(path.join(ROOT, c, 'recipe.yml'), 'utf8');
const methodOf = (c: string) => /^merge_method: (\S+)/m.exec(recipeOf(c))![1]!;

/** What we must say where mergekit stopped: the code, and what the message must name. */
const OUR_ERRORS: Record<string, { code: string; names: RegExp }> = {
  passthrough_two_models: { code: 'TOO_MANY_MODELS', names: /passthrough merges exactly one model .*the recipe has 2 models/ },
  passthrough_unlisted_base: { code: 'TOO_MANY_MODELS', names: /passthrough merges exactly one model .*the recipe has 2 models, the base_model included/ },
  nuslerp_fp16: { code: 'DTYPE_UNSUPPORTED', names: /nuslerp cannot run in float16 .*tensor model\./ },
  nuslerp_base_is_one_of_two: { code: 'TOO_MANY_MODELS', names: /base_model "\.\.\/models\/base" cannot be one of them \(tensor model\..* has 1 other\)/ },
  nuslerp_three_models: { code: 'TOO_MANY_MODELS', names: /nuslerp interpolates exactly two models \(plus an optional base_model\); tensor model\..* has 3/ },
  multislerp_antipodal_four: { code: 'PARAMETER_INVALID', names: /multislerp: the weighted sum of the models' directions is zero for tensor model\./ },
  multislerp_fp16: { code: 'DTYPE_UNSUPPORTED', names: /multislerp cannot run in float16 .*no float16 cos .*tensor model\./ },
  karcher_fp16: { code: 'DTYPE_UNSUPPORTED', names: /karcher cannot run in float16 .*no float16 dot .*tensor model\./ },
  karcher_float_max_iter: { code: 'PARAMETER_INVALID', names: /max_iter \(top-level parameters\) must be a whole number, got 2\.5/ },
  sce_fp16: { code: 'DTYPE_UNSUPPORTED', names: /sce cannot run in float16 .*tensor model\./ },
  sce_no_base: { code: 'BASE_MODEL_REQUIRED', names: /sce needs base_model/ },
  nearswap_fp16: { code: 'DTYPE_UNSUPPORTED', names: /nearswap cannot run in float16 .*tensor model\./ },
  nearswap_two_models: { code: 'TOO_MANY_MODELS', names: /nearswap merges exactly 2 models \(the base_model and one other\); the recipe has 3/ },
  nearswap_no_t: { code: 'MISSING_PARAMETER', names: /nearswap needs the parameter t for tensor model\./ },
  arcee_fusion_fp16: { code: 'DTYPE_UNSUPPORTED', names: /arcee_fusion cannot run in float16 .*no float16 softmax .*tensor model\./ },
  arcee_fusion_unlisted_base: { code: 'TOO_MANY_MODELS', names: /arcee_fusion merges exactly two models, one of them the base_model; the recipe has 3 models, the base_model included/ },
  arcee_fusion_no_base: { code: 'BASE_MODEL_REQUIRED', names: /arcee_fusion needs base_model/ },
  karcher_vocab: { code: 'SHAPE_MISMATCH', names: /tensor model\.embed_tokens\.weight of model "\.\.\/models\/ft_vocab_20" has shape \[20, 8\].*karcher takes every model's tensor as it is/ },
  multislerp_vocab: { code: 'SHAPE_MISMATCH', names: /"\.\.\/models\/ft_vocab_20" has shape \[20, 8\].*multislerp takes every model's tensor as it is/ },
  sce_vocab: { code: 'SHAPE_MISMATCH', names: /"\.\.\/models\/ft_vocab_20" has shape \[20, 8\].*sce takes every model's tensor as it is/ },
  nearswap_vocab: { code: 'SHAPE_MISMATCH', names: /"\.\.\/models\/ft_vocab_20" has shape \[20, 8\].*nearswap takes every model's tensor as it is/ },
  ram_vocab: { code: 'SHAPE_MISMATCH', names: /"\.\.\/models\/ft_vocab_20" has shape \[20, 8\].*ram takes every model's tensor as it is/ },
  nuslerp_missing_weight: { code: 'MISSING_PARAMETER', names: /Model "\.\.\/models\/ft_b" has no weight for tensor model\./ },
};

/**
 * Cases where mergekit writes some tensors with an extra leading dimension (sce's empty selection:
 * its zero mask keeps the models' dimension, which broadcasts into the result), each slice the
 * base's tensor; we write that slice in the tensor's own shape, with a warning. How many tensors.
 */
const EXTRA_DIMENSION: Record<string, number> = {
  basic_sce: 5,
  sce_sparse_bf16: 1,
  sce_one_model_f32: 21,
  sce_one_model_bf16: 21,
  sce_topk_zero_f32: 21,
  sce_topk_zero_bf16: 21,
};

/** Cases that differ from mergekit's, with the most elements and the largest |Δ| allowed, and why (none now). */
const ALLOWED: Record<string, { elements: number; delta: number }> = {};

const F32_TOL = 1e-5;
const decode = (t: WrittenTensor) => decodeToFloat32(t.dtype, t.bytes);

interface Seen {
  readonly elements: number;
  readonly delta: number;
}

/** Elements that differ (in bytes, for 16-bit recipes; beyond F32_TOL, for float32 ones) and the largest |Δ|, over all tensors. */
function compare(got: Map<string, WrittenTensor>, want: Map<string, WrittenTensor>, bytes: boolean): { differ: number; delta: number; sliced: number; problems: string[] } {
  let differ = 0;
  let delta = 0;
  let sliced = 0;
  const problems: string[] = [];
  for (const [name, w] of want) {
    const g = got.get(name);
    // mergekit's [k, …shape] tensor: every slice against ours.
    const extra = g !== undefined && w.shape.length === g.shape.length + 1 && w.shape.slice(1).join() === g.shape.join();
    const slices = extra ? w.shape[0]! : 1;
    if (extra) sliced++;
    if (!g || g.dtype !== w.dtype || (!extra && g.shape.join() !== w.shape.join())) {
      problems.push(`${name}: ${g ? `${g.dtype} [${g.shape.join(', ')}]` : 'missing'}, mergekit wrote ${w.dtype} [${w.shape.join(', ')}]`);
      continue;
    }
    const one = decode(g);
    const a = slices === 1 ? one : Float32Array.from({ length: one.length * slices }, (_, i) => one[i % one.length]!);
    const gBytes = slices === 1 ? g.bytes : Uint8Array.from({ length: g.bytes.length * slices }, (_, i) => g.bytes[i % g.bytes.length]!);
    const b = decode(w);
    const size = g.bytes.length / Math.max(1, a.length);
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      const same = Number.isNaN(a[i]!) && Number.isNaN(b[i]!);
      if (!same) delta = Math.max(delta, Number.isNaN(d) ? Infinity : d);
      if (!bytes) {
        if (!same && !(d <= F32_TOL)) differ++;
      } else {
        for (let k = 0; k < size; k++) {
          if (gBytes[i * size + k] !== w.bytes[i * size + k]) {
            differ++;
            break;
          }
        }
      }
    }
  }
  for (const name of got.keys()) if (!want.has(name)) problems.push(`${name}: not written by mergekit`);
  return { differ, delta, sliced, problems };
}

const seen = new Map<string, Seen>();

/** The tensors of a safetensors file as written. */
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

/** What merge-lab merge printed on stderr, for the cases run through it. */
const stderrOf = new Map<string, string>();

async function ourMerge(name: string): Promise<Map<string, WrittenTensor>> {
  if (!name.startsWith('basic_')) return mergedTensors(name, undefined, ROOT);
  // mergekit's own test cases go through the command line, as a user runs them.
  const tmp = await mkdtemp(path.join(tmpdir(), `merge-lab-more-${name}-`));
  try {
    const out = path.join(tmp, 'out.safetensors');
    const r = await runCliAsync(['merge', path.join(ROOT, name, 'recipe.yml'), '--out', out, '--backend', 'cpu', '--no-progress']);
    if (r.status !== 0) throw new Error(`merge-lab merge ${name} failed (exit ${r.status}):\n${r.stderr}`);
    stderrOf.set(name, r.stderr);
    return await writtenTensors(out);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

describe('more mergekit methods: the same tensors as mergekit', () => {
  it('has fixtures for every new method, float32 and bfloat16, and an expectation for every case mergekit refused', () => {
    for (const m of ['passthrough', 'nuslerp', 'multislerp', 'karcher', 'sce', 'nearswap', 'arcee_fusion', 'ram', 'ramplus_tl']) {
      const ok = CASES.filter((c) => !failing(c) && methodOf(c) === m);
      expect(ok.some((c) => /dtype: float32/.test(recipeOf(c))), `${m} float32`).toBe(true);
      expect(ok.some((c) => /dtype: bfloat16/.test(recipeOf(c))), `${m} bfloat16`).toBe(true);
    }
    for (const c of CASES.filter(failing)) expect(Object.keys(OUR_ERRORS), `an expectation for ${c}`).toContain(c);
    // The README's counts.
    expect(CASES.filter((c) => !failing(c))).toHaveLength(113);
    expect(CASES.filter(failing)).toHaveLength(23);
    expect(CASES.filter((c) => !failing(c) && /^dtype: float16$/m.test(recipeOf(c))).length).toBeGreaterThan(0);
  });

  for (const name of CASES.filter((c) => !failing(c))) {
    it(`${name}: mergekit's tensors`, { timeout: 30_000 }, async () => {
      const [got, want] = await Promise.all([ourMerge(name), expectedTensors(name, ROOT)]);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      const sixteen = /^dtype: (bfloat16|float16)$/m.test(recipeOf(name));
      const { differ, delta, sliced, problems } = compare(got, want, sixteen);
      expect(problems).toEqual([]);
      expect(sliced, 'tensors mergekit wrote with an extra leading dimension').toBe(EXTRA_DIMENSION[name] ?? 0);
      if (sliced && stderrOf.has(name)) expect(stderrOf.get(name)).toMatch(/sce keeps no entry of tensor model\.\S+ .*mergekit writes it with an extra leading dimension of 2/);
      seen.set(name, { elements: differ, delta });
      const allowed = ALLOWED[name] ?? { elements: 0, delta: sixteen ? 0 : F32_TOL };
      expect(differ, `elements that differ (largest |Δ| ${delta})`).toBeLessThanOrEqual(allowed.elements);
      expect(delta, 'largest |Δ|').toBeLessThanOrEqual(allowed.delta);
    });
  }

  for (const name of CASES.filter(failing)) {
    const said = readFileSync(path.join(ROOT, name, 'expected-error.txt'), 'utf8').trim();
    it(`${name}: mergekit stops (${said.slice(0, 70)}), and so do we`, async () => {
      const want = OUR_ERRORS[name]!;
      await expect(mergedTensors(name, undefined, ROOT)).rejects.toMatchObject({ code: want.code, message: expect.stringMatching(want.names) });
    });
  }

  it("the merges service (the lab's worker) gives the same bytes as merge-lab merge, one case of each method", { timeout: 30_000 }, async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    const cases = ['passthrough_scale_bf16', 'nuslerp_task_vectors_row_wise_bf16', 'multislerp_fts_bf16', 'karcher_fts_bf16', 'sce_topk_bf16', 'nearswap_bf16', 'arcee_fusion_bf16', 'ram_fts_bf16', 'ramplus_tl_fts_bf16'];
    for (const name of cases) {
      const recipe = recipeOf(name);
      // Each model opened under the name the recipe gives it.
      for (const model of new Set(recipe.match(/\.\.\/models\/\w+/g))) {
        const dir = path.join(ROOT, name, model);
        await engine.models.openModel(model, ['model.safetensors', 'config.json'].map((f) => ({ path: `${model}/${f}`, blob: new Blob([readFileSync(path.join(dir, f))]) })));
      }
      const result = await engine.merges.merge(name, recipe);
      const tmp = await mkdtemp(path.join(tmpdir(), `merge-lab-more-service-${name}-`));
      try {
        await writeFile(path.join(tmp, 'model.safetensors'), result.bytes);
        const { differ, problems } = compare(await writtenTensors(path.join(tmp, 'model.safetensors')), await expectedTensors(name, ROOT), true);
        expect(problems, name).toEqual([]);
        expect(differ, name).toBe(0);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
  });

  afterAll(() => {
    if (!process.env.MERGEKIT_MORE_REPORT) return;
    const rows = new Map<string, { cases: number; f32: number; bf16: number; bf16Elements: number }>();
    for (const [name, s] of seen) {
      const m = methodOf(name);
      const r = rows.get(m) ?? { cases: 0, f32: 0, bf16: 0, bf16Elements: 0 };
      r.cases++;
      if (/dtype: float32|^(?![\s\S]*dtype:)/.test(recipeOf(name))) r.f32 = Math.max(r.f32, s.delta);
      else {
        r.bf16 = Math.max(r.bf16, s.delta);
        r.bf16Elements += s.elements;
      }
      rows.set(m, r);
    }
    console.log([...rows].map(([m, r]) => `${m}\t${r.cases} fixtures\tf32 max|Δ| ${r.f32.toExponential(2)}\t16-bit max|Δ| ${r.bf16.toExponential(2)} (${r.bf16Elements} elements differ)`).join('\n'));
  });
});
