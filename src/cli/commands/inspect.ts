/** `merge-lab inspect <checkpoint>`: tensors, dtypes, shapes and bytes, without reading tensor data. */
import { parseArgs } from 'node:util';
import { MergeLabError } from '../../engine/errors.js';
import { openCheckpointPath } from '../../engine/io/node-checkpoint.js';
import { formatBytes } from '../progress.js';
import type { Command } from './types.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'List a checkpoint\'s tensors (dtype, shape, bytes) and metadata.',
  usage: 'merge-lab inspect <file.safetensors | file.bin | folder> [--json]',
  async run(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
    if (positionals.length !== 1) throw usageError(this.usage);
    const ckpt = await openCheckpointPath(positionals[0]!);
    try {
      const rows = ckpt.tensorNames.map((name) => {
        const info = ckpt.info(name)!;
        return { name, dtype: info.dtype, shape: [...info.shape], bytes: info.end - info.begin };
      });
      const params = rows.reduce((s, r) => s + r.shape.reduce((a, b) => a * b, 1), 0);
      const bytes = rows.reduce((s, r) => s + r.bytes, 0);
      if (values.json) {
        process.stdout.write(JSON.stringify({ name: ckpt.name, tensors: rows, parameters: params, bytes, metadata: ckpt.metadata }, null, 2) + '\n');
        return 0;
      }
      const w = rows.reduce((m, r) => Math.max(m, r.name.length), 6);
      const out: string[] = [`${ckpt.name}: ${rows.length} tensors, ${params.toLocaleString('en-US')} parameters, ${formatBytes(bytes)}`];
      out.push(`${'tensor'.padEnd(w)}  dtype  ${'shape'.padEnd(16)}  bytes`);
      for (const r of rows) out.push(`${r.name.padEnd(w)}  ${r.dtype.padEnd(5)}  ${('[' + r.shape.join(', ') + ']').padEnd(16)}  ${r.bytes}`);
      const meta = Object.entries(ckpt.metadata);
      if (meta.length) {
        out.push('metadata:');
        for (const [k, v] of meta) out.push(`  ${k}: ${v.length > 120 ? v.slice(0, 117) + '...' : v.replace(/\n/g, '\\n')}`);
      }
      process.stdout.write(out.join('\n') + '\n');
      return 0;
    } finally {
      await ckpt.close();
    }
  },
};

export function usageError(usage: string): MergeLabError {
  return new MergeLabError('PARAMETER_INVALID', `missing or extra arguments; usage: ${usage}`);
}
