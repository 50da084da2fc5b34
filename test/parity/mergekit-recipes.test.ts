/**
 * Recipe-level parity with mergekit: every folder under test/fixtures/mergekit-recipes/ (except
 * models/) holds a recipe.yml and the expected.safetensors that mergekit's own `mergekit-yaml`
 * pipeline wrote for it (see test/fixtures/README.md). Each recipe is run through the CLI's
 * `merge` (in this process: runCliAsync) and the output is compared tensor by tensor: same names,
 * shapes and dtypes, and max|a − b| ≤ 1e-5 · max(1, |b|) per element. For float16/bfloat16 outputs the bound is widened to
 * one unit in the last place of that dtype at |b| (the float32 results may round to neighbouring
 * half-precision values when they differ by less than the tolerance).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/engine/io/types.js';
import { runCliAsync, withCheckpoint } from '../cli/helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/mergekit-recipes/', import.meta.url));
const CASES = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'models' && existsSync(join(FIXTURES, d.name, 'recipe.yml')))
  .map((d) => d.name)
  .sort();

/** Runs `merge-lab <args>`; a failure is this test's error, with the CLI's stderr. */
async function runCli(args: string[]): Promise<void> {
  const r = await runCliAsync(args);
  if (r.status !== 0) throw new Error(`merge-lab ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
}

/** Spacing of representable values of `dtype` around |b| (0 for float32: no extra allowance). */
function ulp(dtype: DType, b: number): number {
  const mant = dtype === 'F16' ? 10 : dtype === 'BF16' ? 7 : undefined;
  if (mant === undefined) return 0;
  const minExp = dtype === 'F16' ? -14 : -126; // smallest normal exponent; below it the spacing is fixed
  const a = Math.abs(b);
  const e = a === 0 ? minExp : Math.max(minExp, Math.floor(Math.log2(a)));
  return 2 ** (e - mant);
}


describe('recipe parity with mergekit (CLI end to end)', () => {
  it('has fixtures', () => {
    expect(CASES.length).toBeGreaterThan(0);
  });

  for (const name of CASES) {
    it(name, { timeout: 180_000 }, async () => {
      const dir = join(FIXTURES, name);
      const tmp = await mkdtemp(join(tmpdir(), `merge-lab-recipe-${name}-`));
      const out = join(tmp, 'out');
      try {
        await runCli(['merge', join(dir, 'recipe.yml'), '--out', out, '--backend', 'cpu', '--no-progress']);
        await withCheckpoint(join(dir, 'expected.safetensors'), (want) =>
          withCheckpoint(out, async (got) => {
            expect([...got.tensorNames].sort()).toEqual([...want.tensorNames].sort());
            const failures: string[] = [];
            for (const t of want.tensorNames) {
              const wi = want.info(t)!;
              const gi = got.info(t)!;
              expect(gi.shape, `shape of ${t}`).toEqual(wi.shape);
              expect(gi.dtype, `dtype of ${t}`).toBe(wi.dtype);
              const [a, b] = await Promise.all([got.readFloat32(t), want.readFloat32(t)]);
              expect(a.length, `length of ${t}`).toBe(b.length);
              let worst = 0;
              let at = 0;
              for (let k = 0; k < b.length; k++) {
                const tol = Math.max(1e-5 * Math.max(1, Math.abs(b[k]!)), ulp(wi.dtype, b[k]!));
                const excess = Math.abs(a[k]! - b[k]!) / tol;
                if (Number.isNaN(excess) || excess > worst) {
                  worst = excess;
                  at = k;
                }
              }
              if (!(worst <= 1)) failures.push(`${t} [${wi.dtype}]: element ${at} got ${a[at]} want ${b[at]} (${worst.toFixed(2)}× the tolerance)`);
            }
            expect(failures, failures.join('\n')).toEqual([]);
          }),
        );
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });
  }
});
