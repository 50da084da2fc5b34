/** `merge-lab diff <a> <b>`: per-tensor max and mean absolute difference, one tensor in memory at a time. */
import { parseArgs } from 'node:util';
import { MergeLabError } from '../../engine/errors.js';
import { openCheckpointPath } from '../../engine/io/node-checkpoint.js';
import { compareTensors, type TensorDiff } from '../../engine/diagnostics/tensor-diff.js';
import { usageError } from './inspect.js';
import type { Command } from './types.js';

export const diffCommand: Command = {
  name: 'diff',
  summary: 'Compare two checkpoints tensor by tensor (max and mean absolute difference); exit 0 same, 1 different, 2 error.',
  usage: 'merge-lab diff <a> <b> [--json] [--tolerance 1e-5]',
  async run(argv) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, tolerance: { type: 'string' } },
    });
    if (positionals.length !== 2) throw usageError(this.usage);
    const tol = values.tolerance === undefined ? undefined : Number(values.tolerance);
    if (tol !== undefined && !(tol >= 0)) throw new MergeLabError('PARAMETER_INVALID', `--tolerance "${values.tolerance}" must be a non-negative number.`);
    const a = await openCheckpointPath(positionals[0]!);
    try {
      const b = await openCheckpointPath(positionals[1]!);
      try {
        const rows: TensorDiff[] = [];
        const onlyA = a.tensorNames.filter((n) => !b.info(n));
        const onlyB = b.tensorNames.filter((n) => !a.info(n));
        for (const name of a.tensorNames) {
          const ib = b.info(name);
          if (!ib) continue;
          const ia = a.info(name)!;
          if (ia.shape.join(',') !== ib.shape.join(',')) {
            rows.push({ name, shapeA: [...ia.shape], shapeB: [...ib.shape], maxAbs: NaN, meanAbs: NaN, maxRel: NaN });
            continue;
          }
          rows.push({ name, shapeA: [...ia.shape], shapeB: [...ib.shape], ...compareTensors(await a.readFloat32(name), await b.readFloat32(name)) });
        }
        const worst = rows.reduce((m, r) => Math.max(m, Number.isNaN(r.maxAbs) ? Infinity : r.maxAbs), 0);
        const differs = onlyA.length > 0 || onlyB.length > 0 || (tol !== undefined && rows.some((r) => !(r.maxRel <= tol)));
        if (values.json) {
          process.stdout.write(JSON.stringify({ tensors: rows, onlyInA: onlyA, onlyInB: onlyB, maxAbs: worst }, null, 2) + '\n');
        } else {
          const w = Math.max(6, ...rows.map((r) => r.name.length));
          const out = [`${'tensor'.padEnd(w)}  ${'max |a-b|'.padStart(12)}  ${'mean |a-b|'.padStart(12)}  ${'max rel'.padStart(12)}`];
          for (const r of rows) {
            if (Number.isNaN(r.maxAbs)) out.push(`${r.name.padEnd(w)}  shape [${r.shapeA.join(', ')}] vs [${r.shapeB.join(', ')}]`);
            else out.push(`${r.name.padEnd(w)}  ${r.maxAbs.toExponential(3).padStart(12)}  ${r.meanAbs.toExponential(3).padStart(12)}  ${r.maxRel.toExponential(3).padStart(12)}`);
          }
          if (onlyA.length) out.push(`only in ${a.name}: ${onlyA.join(', ')}`);
          if (onlyB.length) out.push(`only in ${b.name}: ${onlyB.join(', ')}`);
          out.push(`overall max |a-b| = ${worst.toExponential(3)}`);
          process.stdout.write(out.join('\n') + '\n');
        }
        return differs ? 1 : 0;
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
    }
  },
};
