/**
 * `merge-lab merge` on a 16-bit recipe from mergekit's tests: by default the file holds mergekit's
 * bytes; `--math float32` (or `math: float32` in the recipe) rounds once instead, and says so in
 * the recipe it writes; a wrong value is one line naming the option.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeToFloat32 } from '../../src/engine/io/dtypes.js';
import { HALF_FIXTURES, byteDifferences, expectedTensors, type WrittenTensor } from '../parity/half-fixtures.js';
import { mergeArgs, runCliAsync, withCheckpoint } from './helpers.js';

const decode = (t: WrittenTensor) => decodeToFloat32(t.dtype, t.bytes);
const tmp = mkdtempSync(path.join(tmpdir(), 'merge-lab-math-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function written(dir: string): Promise<Map<string, WrittenTensor>> {
  return withCheckpoint(path.join(dir, 'model.safetensors'), async (c) => {
    const out = new Map<string, WrittenTensor>();
    for (const t of c.tensorNames) out.set(t, { dtype: c.info(t)!.dtype, shape: c.info(t)!.shape, bytes: await c.readRaw(t) });
    return out;
  });
}

describe('merge --math', () => {
  const recipe = path.join(HALF_FIXTURES, 'basic_ties', 'recipe.yml');

  it('writes mergekit\'s bytes by default, and float32-once bytes with --math float32', { timeout: 120_000 }, async () => {
    const [byDefault, float32] = await Promise.all([
      runCliAsync(mergeArgs(recipe, path.join(tmp, 'default'))),
      runCliAsync(mergeArgs(recipe, path.join(tmp, 'float32'), '--math', 'float32')),
    ]);
    expect(byDefault.status, byDefault.stderr).toBe(0);
    expect(float32.status, float32.stderr).toBe(0);
    const want = await expectedTensors('basic_ties');
    expect(byteDifferences(await written(path.join(tmp, 'default')), want, decode)).toEqual([]);
    expect(byteDifferences(await written(path.join(tmp, 'float32')), want, decode).length).toBeGreaterThan(0);
    // The recipe written beside the model says which arithmetic made it.
    expect(readFileSync(path.join(tmp, 'float32', 'merge-recipe.yml'), 'utf8')).toMatch(/^math: float32$/m);
    expect(readFileSync(path.join(tmp, 'default', 'merge-recipe.yml'), 'utf8')).not.toMatch(/^math:/m);
  });

  it('refuses an unknown --math in one line', async () => {
    const r = await runCliAsync(mergeArgs(recipe, path.join(tmp, 'bad'), '--math', 'float64'));
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--math must be "mergekit" .* or "float32" .*got "float64"/);
  });
});
