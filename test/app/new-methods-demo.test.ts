/**
 * The methods issue 18 added, on the digits demo (issue 18, item 4): each one's recipe from the
 * lab's controls, as the engine's parser reads it back, is merged and scored by the engine's demo
 * in Node (the same code the worker runs) without error, and each control reaches the recipe and,
 * where the demo can show it, the score. Before this, passthrough and nuslerp were refused on the
 * demo (the lab listed all five experts: "passthrough merges exactly one model", "nuslerp merges
 * exactly two models"), and nuslerp's, multislerp's and karcher's base came in as Linear's (a
 * weighted member of the models). Each method's recipe imports back unchanged, and on the LM demo
 * the recipes the lab hands out merge beside its files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary, EngineApi } from '../../src/engine/api/engine-api.js';
import { demoBaseRole, demoModelChoice } from '../../src/app/recipe/demo-recipe.js';
import { applyRecipe } from '../../src/app/recipe/import-recipe.js';
import { useLabStore } from '../../src/app/store/index.js';
import { handedOutRecipe, mergeRecipe } from '../../src/app/store/engine-slice.js';
import type { LmDemoInfo } from '../../src/app/store/lm-demo-types.js';
import { runCliAsync } from '../cli/helpers.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';
import { ROOT, openDemoEngine } from '../helpers/demo-engine.js';

const initial = useLabStore.getState();
let engine: EngineApi;
let summary: DemoSummary;
beforeAll(async () => ({ engine, summary } = await openDemoEngine()), 60_000);
afterEach(() => useLabStore.setState(initial, true));

const st = () => useLabStore.getState();
function onDemo(method: string): void {
  useLabStore.setState(initial, true);
  useLabStore.setState({ source: 'demo', engine: { ...initial.engine, demo: { status: 'ready', tasks: summary.tasks } } });
  st().setMethod(method);
}
/** The recipe the lab merges and scores, read back by the engine's parser, and its YAML. */
const yaml = () => recipeToYaml(mergeRecipe(st()));
const recipe = () => parseRecipe(yaml(), 'lab.yml');
/** The demo's normalized score of the lab's current recipe, as the worker computes it. */
const score = async () => (await engine.demo.liveDemo(yaml())).normalized;

describe('the new methods’ demo recipes imported back', () => {
  const CASES: Record<string, () => void> = {
    passthrough: () => {
      st().setPair({ base: 'shift-left', other: 'invert' });
      st().setGlobal('scale', 0.5);
    },
    nuslerp: () => {
      st().setPair({ base: 'permute', other: 'shift-right' });
      st().setBaseWeight(1);
      st().setDemoModelParam('shift-right', 'weight', 1.5);
      st().setGlobal('nuslerp_flatten', false);
      st().setGlobal('nuslerp_row_wise', true);
    },
    multislerp: () => {
      st().setBaseWeight(1);
      st().setDemoModelParam('invert', 'weight', 0.5);
      st().setGlobal('normalize_weights', false);
    },
    karcher: () => {
      st().setBaseWeight(1);
      st().setGlobal('max_iter', 3);
      st().setGlobal('tol', 0.0002);
    },
    sce: () => st().setGlobal('select_topk', 0.4),
    nearswap: () => {
      st().setPair({ base: 'base', other: 'occlude-top' });
      st().setGlobal('t', 0.002);
    },
    arcee_fusion: () => st().setPair({ base: 'shift-left', other: 'base' }),
    ram: () => st().setGlobal('epsilon', 0.0003),
    ramplus_tl: () => {
      st().setGlobal('r', 0.5);
      st().setGlobal('alpha', 1);
    },
  };
  for (const [method, move] of Object.entries(CASES)) {
    it(`${method}: every setting of the lab's recipe is applied, and the lab's recipe afterwards is the same`, () => {
      onDemo(method);
      move();
      const text = yaml();
      onDemo('ties');
      const out = applyRecipe(parseRecipe(text, 'r.yml'), st());
      expect(out.notApplied).toEqual([]);
      expect(yaml()).toBe(text);
    });
  }
});

describe('the new methods on the digits demo', () => {
  it('says which models each method takes where it cannot take every expert, and what its base means', () => {
    expect(['passthrough', 'nuslerp', 'slerp', 'nearswap', 'arcee_fusion', 'multislerp', 'karcher', 'sce', 'ram', 'ramplus_tl'].map(demoModelChoice)).toEqual([
      'one',
      'pair',
      'base-pair',
      'base-pair',
      'base-pair',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(['linear', 'nuslerp', 'multislerp', 'karcher', 'passthrough', 'ties'].map(demoBaseRole)).toEqual(['member', 'origin', 'origin', 'mean', undefined, undefined]);
  });

  it('passthrough copies the one model picked, times scale', async () => {
    onDemo('passthrough');
    expect(recipe().models).toEqual([{ model: summary.tasks[0] }]);
    expect(recipe().baseModel).toBeUndefined();
    const first = await score();
    st().setPair({ base: 'shift-left', other: summary.tasks[1]! });
    expect(recipe().models).toEqual([{ model: 'shift-left' }]);
    const copied = await score();
    expect(copied).not.toBeCloseTo(first, 3);
    st().setGlobal('scale', 0.5);
    expect(recipe().models).toEqual([{ model: 'shift-left', parameters: { scale: 0.5 } }]);
    expect(await score()).not.toBeCloseTo(copied, 3);
  });

  it('nuslerp interpolates the two models picked at t = w2/(w1+w2), flattened or per row or column, and with the base on their task vectors', async () => {
    onDemo('nuslerp');
    expect(recipe().models.map((m) => m.model)).toEqual(summary.tasks.slice(0, 2));
    expect(recipe().baseModel).toBeUndefined();
    const even = await score();
    st().setDemoModelParam(summary.tasks[1]!, 'weight', 3);
    expect(recipe().models.map((m) => m.parameters?.['weight'])).toEqual([1, 3]);
    const weighted = await score();
    expect(weighted).not.toBeCloseTo(even, 3);
    st().setGlobal('nuslerp_flatten', false);
    expect(recipe().parameters).toEqual({ nuslerp_flatten: false });
    const rows = await score();
    expect(rows).not.toBeCloseTo(weighted, 3);
    st().setGlobal('nuslerp_row_wise', true);
    expect(recipe().parameters).toEqual({ nuslerp_flatten: false, nuslerp_row_wise: true });
    expect(await score()).not.toBeCloseTo(rows, 3);
    // With the base on it is base_model and not one of the two: a pair naming it falls back to the first two experts.
    st().setPair({ base: 'base', other: 'shift-left' });
    st().setBaseWeight(1);
    expect(recipe().baseModel).toBe('base');
    expect(recipe().models.map((m) => m.model)).toEqual(summary.tasks.slice(0, 2));
    await expect(score()).resolves.toBeGreaterThan(0);
  });

  it('multislerp weighs the experts, and with the base on merges their task vectors from it (base_model only, no weight)', async () => {
    onDemo('multislerp');
    expect(recipe().models.map((m) => m.model)).toEqual(summary.tasks);
    const even = await score();
    st().setDemoModelParam(summary.tasks[0]!, 'weight', 3);
    const weighted = await score();
    expect(weighted).not.toBeCloseTo(even, 3);
    st().setGlobal('normalize_weights', false);
    expect(recipe().parameters).toEqual({ normalize_weights: false });
    expect(await score()).not.toBeCloseTo(weighted, 3);
    st().setBaseWeight(1);
    const r = recipe();
    expect(r.baseModel).toBe('base');
    expect(r.models.map((m) => m.model)).toEqual(summary.tasks);
  });

  it('karcher: max_iter and tol reach the recipe (on the demo the mean lies within 3e-5 of where the iteration starts, so the score stays), and the base joins the mean', async () => {
    onDemo('karcher');
    expect(recipe().models).toEqual(summary.tasks.map((model) => ({ model })));
    const five = await score();
    st().setGlobal('max_iter', 0);
    st().setGlobal('tol', 0.0005);
    expect(recipe().parameters).toEqual({ max_iter: 0, tol: 0.0005 });
    expect(await score()).toBeCloseTo(five, 10);
    st().setGlobal('max_iter', 2.4);
    expect(recipe().parameters?.['max_iter'], 'a whole number only').toBe(2);
    st().setBaseWeight(1);
    expect(recipe().baseModel).toBe('base');
    expect(recipe().models.some((m) => m.model === 'base'), 'base_model only: mergekit appends it to the mean').toBe(false);
    expect(await score()).not.toBeCloseTo(five, 3);
  });

  it('sce, ram and ramplus_tl merge every expert onto the base, their parameters moving the score', async () => {
    onDemo('sce');
    expect(recipe().baseModel).toBe('base');
    const all = await score();
    st().setGlobal('select_topk', 0.1);
    expect(recipe().parameters).toEqual({ select_topk: 0.1 });
    expect(await score()).not.toBeCloseTo(all, 3);

    onDemo('ram');
    const ram = await score();
    st().setGlobal('epsilon', 0.001);
    expect(recipe().parameters).toEqual({ epsilon: 0.001 });
    expect(await score()).not.toBeCloseTo(ram, 3);

    onDemo('ramplus_tl');
    // ramplus_tl's defaults give RAM's answer here; a larger r and alpha scale the unique entries up.
    expect(await score()).toBeCloseTo(ram, 3);
    st().setGlobal('r', 1);
    st().setGlobal('alpha', 2);
    expect(recipe().parameters).toEqual({ r: 1, alpha: 2 });
    expect(await score()).not.toBeCloseTo(ram, 3);
  });

  it('nearswap and arcee_fusion merge the pair picked, the first being base_model; nearswap’s t moves the score', async () => {
    onDemo('nearswap');
    expect(recipe().baseModel).toBe(summary.tasks[0]);
    expect(recipe().parameters).toEqual({ t: 0.005 });
    const mid = await score();
    st().setGlobal('t', 0.001);
    expect(await score()).not.toBeCloseTo(mid, 3);

    onDemo('arcee_fusion');
    const experts = await score();
    st().setPair({ base: 'base', other: 'invert' });
    const r = recipe();
    expect([r.baseModel, r.models.map((m) => m.model)]).toEqual(['base', ['base', 'invert']]);
    expect(await score()).not.toBeCloseTo(experts, 3);
  });
});

describe('the new methods on the language-model demo', () => {
  it("their recipes, handed out with the LM demo's files' names, merge with merge-lab merge beside them", async () => {
    const dir = path.join(ROOT, 'public/demo/lm');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { base: string; domains: { id: string; expert: string }[] };
    const row = (id: string, file: string, role: 'base' | 'expert') => ({ id, file, role, status: 'ready' as const, received: 0 });
    const lmDemo = {
      ...initial.lmDemo,
      status: 'loaded' as const,
      models: [row('lm-base', manifest.base, 'base'), ...manifest.domains.map((d) => row(d.id, d.expert, 'expert'))],
      domains: manifest.domains.map((d) => ({ id: d.id, label: d.id, description: '', validationBytes: 0, testBytes: 0, baseBitsPerByte: 0, expertBitsPerByte: 0 })),
    } satisfies LmDemoInfo;
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-lm-new-'));
    try {
      // One of each way the demo's recipe picks its models (one; two; base_model and one; every expert onto the base):
      // the others share these recipes' shapes, and the digits demo's e2e merges all nine through merge-lab merge.
      for (const method of ['passthrough', 'nuslerp', 'nearswap', 'sce']) {
        useLabStore.setState(initial, true);
        useLabStore.setState({ source: 'lm', lmDemo });
        st().setMethod(method);
        const file = path.join(out, `${method}.yml`);
        fs.writeFileSync(file, recipeToYaml(handedOutRecipe(st())));
        const res = await runCliAsync(['merge', file, '--out', path.join(out, method), '--backend', 'wasm', '--no-progress'], { cwd: dir });
        expect(res.status, `${method}: ${res.stderr}`).toBe(0);
        expect(fs.existsSync(path.join(out, method, 'model.safetensors'))).toBe(true);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
