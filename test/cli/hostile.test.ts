/**
 * Recipes written to hurt (issue 15's "every failure coded"): a YAML alias bomb, nesting deep
 * enough to exhaust a parser's stack, and control characters in names that would drive the
 * terminal. Each ends in one coded line; control characters reach the terminal as escapes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace, failureProblems, mergeArgs, runCliAsync } from './helpers.js';

let ws: Workspace;
beforeAll(async () => {
  ws = await Workspace.create('merge-lab-hostile-');
});
afterAll(() => ws?.dispose());

const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`), 'merge_method: ties', 'models: [{model: a}]', ''].join('\n');

describe('hostile recipes', () => {
  it('an alias bomb is refused in one coded line', async () => {
    await ws.file('bomb.yml', bomb);
    const r = await runCliAsync(mergeArgs(ws.path('bomb.yml'), ws.path('out-bomb')));
    expect(failureProblems(r, { code: 'RECIPE_INVALID_YAML', culprits: ['bomb.yml', 'aliases expand too far'], out: ws.path('out-bomb') })).toEqual([]);
  });

  it('nesting 20,000 deep is refused in one coded line', async () => {
    await ws.file('deep.yml', `merge_method: ties\nmodels: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
    const r = await runCliAsync(mergeArgs(ws.path('deep.yml'), ws.path('out-deep')));
    expect(failureProblems(r, { code: 'RECIPE_INVALID_YAML', culprits: ['deep.yml'], out: ws.path('out-deep') })).toEqual([]);
  });

  it('control characters in a recipe reach the terminal as escapes', async () => {
    await ws.file('ctrl.yml', 'merge_method: "ti\u001b[31mes"\nmodels: [{model: "a\u0007b\u202e"}]\n');
    const r = await runCliAsync(mergeArgs(ws.path('ctrl.yml'), ws.path('out-ctrl')));
    expect(r.status).not.toBe(0);
    // eslint-disable-next-line no-control-regex -- control characters are what must not get through
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
    expect(r.stderr).toContain('ti\\x1b[31mes');
    expect(r.stderr).toContain('a\\x07b\\u202e');
  });
});
