/**
 * A method's schema lists the parameters it reads, and only those: the lab builds its controls and
 * `--help` its text from it, so a parameter listed but never read is a control that changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { usage } from '../../src/cli/commands/index.js';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { METHODS, findMethod } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { LAYOUT, toyCheckpoint } from '../merge/helpers.js';

describe('parameters a method reads', () => {
  it('task arithmetic (no sparsification) lists neither density nor rescale; every trimming method lists both', () => {
    expect(findMethod('task_arithmetic')!.params.map((p) => p.name)).toEqual(['weight', 'lambda', 'normalize', 'int8_mask']);
    for (const id of ['ties', 'dare_ties', 'dare_linear', 'breadcrumbs', 'breadcrumbs_ties', 'della', 'della_linear']) {
      const names = findMethod(id)!.params.map((p) => p.name);
      expect(names, id).toContain('density');
      expect(names, id).toContain('rescale');
    }
    expect(METHODS.length).toBeGreaterThan(8);
  });

  it("--help gives task arithmetic no density line, and TIES one", async () => {
    const text = await usage();
    // A method's lines: its "  id — Label" header, then its parameters, each indented six spaces.
    const section = (id: string) => {
      const lines = text.split('\n');
      const at = lines.findIndex((l) => l.startsWith(`  ${id} — `));
      expect(at, id).toBeGreaterThanOrEqual(0);
      const rest = lines.slice(at + 1);
      const end = rest.findIndex((l) => !l.startsWith('      '));
      return rest.slice(0, end < 0 ? rest.length : end).map((l) => l.trim().split(/\s+/)[0]);
    };
    expect(section('task_arithmetic')).toEqual(['weight', 'lambda', 'normalize', 'int8_mask']);
    expect(section('ties')).toContain('density');
  });

  it('a task arithmetic recipe that names density is merged with a warning that it is ignored', async () => {
    const checkpoints = new Map([
      ['base', await toyCheckpoint('base', LAYOUT, 0)],
      ['a', await toyCheckpoint('a', LAYOUT, 1)],
    ]);
    const { plan, problems, warnings } = planMerge({
      recipe: parseRecipe('merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n'),
      methods: METHODS,
      checkpoints,
    });
    expect(problems).toEqual([]);
    expect(plan).toBeDefined();
    expect(warnings.join('\n')).toMatch(/"density" is not a parameter of task_arithmetic and is ignored/);
  });
});
