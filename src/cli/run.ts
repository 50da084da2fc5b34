/**
 * The whole `merge-lab` command line as one call: `run(argv)` does what the binary does for those
 * arguments (its output on process.stdout and process.stderr) and answers the exit code, so tests
 * can run many cases in one process instead of starting Node and tsx for each (main.ts is the
 * binary). Every failure ends here as one line on stderr; no stack traces for users (set
 * MERGE_LAB_DEBUG=1 to see one).
 */
import { MergeLabError, isMergeLabError } from '../engine/errors.js';
import { COMMANDS, usage } from './commands/index.js';
import { printable } from './printable.js';

async function dispatch(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(await usage(topic));
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(await usage(command.name));
    return 0;
  }
  if (!command) {
    process.stderr.write(`merge-lab: unknown command "${name}". Commands: ${COMMANDS.map((c) => c.name).join(', ')}. See merge-lab --help.\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    // node:util parseArgs rejects unknown or malformed options with plain errors.
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new MergeLabError('PARAMETER_INVALID', `${(e as Error).message.split('\n')[0]} See merge-lab help ${name}.`);
    }
    throw e;
  }
}

function report(e: unknown): void {
  if (process.env.MERGE_LAB_DEBUG) console.error(e);
  if (isMergeLabError(e)) {
    // One line, always: several problems are listed inline, each with its own code.
    const text = e.problems.length > 1 ? `${e.problems.length} problems: ${e.problems.map((p, i) => `(${i + 1}) [${p.code}] ${p.message}`).join(' ')}` : e.message;
    process.stderr.write(`merge-lab: error [${e.code}]: ${printable(text.replace(/\s*\n\s*/g, ' '))}\n`);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof RangeError && /call stack|Invalid array length|Array buffer allocation/i.test(msg)) {
      // Out of stack or memory: an input too large or too deep for this process, not a bug in it.
      process.stderr.write(`merge-lab: error [BUDGET_EXCEEDED]: the input is too large or too deeply nested for this process (${printable(msg.split('\n')[0]!)}); check the recipe and files, or give Node more memory (NODE_OPTIONS=--max-old-space-size=…).\n`);
      return;
    }
    process.stderr.write(`merge-lab: internal error: ${printable(msg.split('\n')[0]!)} (this is a bug; rerun with MERGE_LAB_DEBUG=1 and report it)\n`);
  }
}

/** Runs `merge-lab <argv>` and answers its exit code; a failure is reported on stderr, never thrown. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (e) {
    report(e);
    // diff answers 1 for "they differ", so its failures are 2, as cmp and diff do.
    return argv[0] === 'diff' ? 2 : 1;
  }
}
