/**
 * `merge-lab` as the e2e files run it beside the page's downloads: in this process (src/cli/run.ts,
 * what the binary calls, through test/cli/helpers.ts' runCliAsync, which also sets the cwd for the
 * run) instead of a tsx child process per call, which cost ~1.7 s of CPU each, mostly start-up. A
 * failed run throws with the CLI's own output, as a failed child did.
 */
import { runCliAsync } from '../cli/helpers.js';

export async function mergeLab(args: readonly string[], cwd: string): Promise<void> {
  const r = await runCliAsync(args, { cwd });
  if (r.status !== 0) throw new Error(`merge-lab ${args.join(' ')} exited with ${r.status} in ${cwd}:\n${r.stderr}${r.stdout}`);
}
