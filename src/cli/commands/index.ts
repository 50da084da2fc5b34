/** The CLI's sub-commands and its --help text, built from the method registry's and the routed methods' parameter schemas. */
import { METHODS } from '../../engine/methods/registry.js';
import { ROUTED_METHODS, type OptionSpec } from '../../engine/routed/index.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import { demoCommand } from './demo.js';
import { demoLmCommand } from './demo-lm.js';
import { diffCommand } from './diff.js';
import { evalCommand } from './eval.js';
import { inspectCommand } from './inspect.js';
import { mergeCommand } from './merge.js';
import type { Command } from './types.js';

export const COMMANDS: readonly Command[] = [mergeCommand, inspectCommand, diffCommand, demoCommand, demoLmCommand, evalCommand];

function describeParam(p: ParamSpec): string {
  const bits: string[] = [p.scope === 'model' ? 'per model' : 'global', p.type];
  if (p.required) bits.push('required');
  else if (p.default !== undefined) bits.push(`default ${p.default}`);
  if (p.min !== undefined || p.max !== undefined) {
    bits.push(`${p.minExclusive ? '(' : '['}${p.min ?? '-inf'}, ${p.max ?? 'inf'}${p.maxExclusive ? ')' : ']'}`);
  }
  return `      ${p.name.padEnd(12)} ${p.help} (${bits.join(', ')})`;
}

function describeOption(o: OptionSpec): string {
  if (o.kind === 'list') return `      ${o.name.padEnd(12)} ${o.help} (global, a list of names or patterns; default none)`;
  return `      ${o.name.padEnd(12)} ${o.help} (global, ${o.kind === 'method' ? 'method name' : 'a name'}, default ${o.default}; one of ${o.choices.join(', ')})`;
}

/** Every method a recipe may name, with its parameters: the registry's, then the routed ones. */
function methodHelp(): string[] {
  const lines = ['methods (merge_method in the recipe) and their parameters:'];
  for (const m of METHODS) {
    const base = m.base === 'required' ? 'needs base_model' : m.base === 'optional' ? 'base_model optional' : 'no base_model';
    lines.push(`  ${m.id} — ${m.label}: ${m.summary} [${base}]`);
    for (const p of m.params) lines.push(describeParam(p));
  }
  lines.push('', 'routed methods (merge_method in the recipe; merge writes a package: the files listed, and no router without data):');
  for (const m of ROUTED_METHODS) {
    lines.push(`  ${m.id} — ${m.label}: ${m.summary} [needs base_model; writes ${m.files.slice(0, -1).join(', ')}]`);
    for (const o of m.options) lines.push(describeOption(o));
    for (const p of m.params) lines.push(describeParam(p));
    lines.push(`      ${'…'.padEnd(12)} and ${m.innerParams}`);
  }
  return lines;
}

/** `merge-lab --help`, or one command's (`merge-lab help merge`, `merge-lab merge --help`). */
export async function usage(topic?: string): Promise<string> {
  const cmd = COMMANDS.find((c) => c.name === topic);
  if (cmd) return [`${cmd.summary}`, `usage: ${cmd.usage}`, ...(cmd.name === 'merge' ? ['', ...methodHelp()] : []), ''].join('\n');
  const lines = [
    'merge-lab: merge fine-tuned checkpoints of one base model, exactly as mergekit does.',
    '',
    'usage: npm run merge-lab -- <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.usage}\n      ${c.summary}`),
    '',
    ...methodHelp(),
    '',
    'Set MERGE_LAB_DEBUG=1 to print stack traces of internal errors.',
    '',
  ];
  return lines.join('\n');
}
