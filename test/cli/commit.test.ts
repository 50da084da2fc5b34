/**
 * What `merge` leaves in --out (issue 15's commit rules): exactly one output, whatever was there
 * before (shards after a single file and back: no stale weights for a loader to pick first); one
 * merge at a time per --out; a lock or staging folder left by a process that died is cleaned up
 * and said; Ctrl-C in the middle of a merge leaves nothing behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Workspace, failureProblems, listFiles, mergeArgs, runCliAsync } from './helpers.js';

let ws: Workspace;
const ties = (out = 'base') => ({
  merge_method: 'ties',
  base_model: out,
  models: [
    { model: 'ft-a', parameters: { weight: 0.5, density: 0.5 } },
    { model: 'ft-b', parameters: { weight: 0.5, density: 0.5 } },
  ],
});
/** A pid that is certainly not running: a child that has exited. */
const deadPid = () => spawnSync('true').pid!;

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-commit-');
  await ws.model('base', 1);
  await ws.model('ft-a', 2);
  await ws.model('ft-b', 3);
  await ws.recipe('ties.yml', ties());
});
afterAll(() => ws?.dispose());

const hidden = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('.'));

describe('one output per --out', () => {
  it('a single file after shards, and shards after a single file, leave no stale weights', async () => {
    const out = ws.path('swap');
    let r = await runCliAsync(mergeArgs(ws.path('ties.yml'), out, '--max-shard-size', '100'));
    expect(r.status, r.stderr).toBe(0);
    const shards = listFiles(out).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    expect(listFiles(out)).toContain('model.safetensors.index.json');

    r = await runCliAsync(mergeArgs(ws.path('ties.yml'), out));
    expect(r.status, r.stderr).toBe(0);
    expect(listFiles(out).filter((f) => f.endsWith('.safetensors') || f.endsWith('.index.json'))).toEqual(['model.safetensors']);

    r = await runCliAsync(mergeArgs(ws.path('ties.yml'), out, '--max-shard-size', '100'));
    expect(r.status, r.stderr).toBe(0);
    expect(listFiles(out)).not.toContain('model.safetensors');
    expect(listFiles(out).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f))).toEqual(shards);
    expect(hidden(out)).toEqual([]);
  });

  it('refuses a second merge into an --out another running merge holds, and leaves it alone', async () => {
    const out = ws.path('locked');
    expect((await runCliAsync(mergeArgs(ws.path('ties.yml'), out))).status).toBe(0);
    // A live process other than the CLI's (which runs in this one) stands for a merge in progress.
    const holder = spawn('sleep', ['60']);
    try {
      writeFileSync(path.join(out, '.merge-lab.lock'), `${holder.pid}\n`);
      const before = listFiles(out);
      const r = await runCliAsync(mergeArgs(ws.path('ties.yml'), out));
      expect(failureProblems(r, { code: 'OUT_LOCKED', culprits: [out, String(holder.pid)] })).toEqual([]);
      expect(listFiles(out)).toEqual(before);
      expect(hidden(out)).toEqual(['.merge-lab.lock']);
    } finally {
      holder.kill();
    }
  });

  it('a lock and a staging folder left by a dead process are removed, and said', async () => {
    const out = ws.path('dead');
    await ws.dir('dead');
    const pid = deadPid();
    writeFileSync(path.join(out, '.merge-lab.lock'), `${pid}\n`);
    await ws.file(`dead/.merge-lab-partial-${pid}-abc123/model.safetensors.partial-0`, 'half a tensor');
    const r = await runCliAsync(mergeArgs(ws.path('ties.yml'), out));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`lock left by process ${pid}, which is no longer running`));
    expect(r.stderr).toMatch(new RegExp(`Removed \\.merge-lab-partial-${pid}-abc123`));
    expect(hidden(out)).toEqual([]);
    expect(listFiles(out)).toContain('model.safetensors');
  });
});

describe('interrupted', () => {
  /**
   * Three models of one 3M-element tensor (12 MB each, sparse on disk): the trims take over a second
   * after the staging folder appears, time to signal the merge or start a second one (which is
   * refused within 0.1 s), while the merge that finishes costs ~2 CPU-s, not the ~5 of 8M elements.
   */
  const bigRecipe = async () => {
    const n = 3_000_000;
    for (const name of ['big-base', 'big-a', 'big-b']) {
      if (existsSync(ws.path(`${name}.safetensors`))) continue;
      const prefix = headerBytes(n);
      const file = ws.path(`${name}.safetensors`);
      writeFileSync(file, prefix);
      const fd = openSync(file, 'r+');
      ftruncateSync(fd, prefix.byteLength + n * 4);
      closeSync(fd);
    }
    await ws.recipe('big.yml', { ...ties('big-base.safetensors'), models: ['big-a', 'big-b'].map((m) => ({ model: `${m}.safetensors`, parameters: { weight: 0.5, density: 0.5 } })) });
    return ws.path('big.yml');
  };
  /** Starts the merge as one Node process (no tsx wrapper, so a signal reaches the merge itself) and waits for its staging folder. */
  const startMerge = async (recipe: string, out: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/main.ts'), ...mergeArgs(recipe, out)], { cwd: REPO });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const t0 = Date.now();
    while (!(existsSync(out) && readdirSync(out).some((f) => f.startsWith('.merge-lab-partial-')))) {
      if (Date.now() - t0 > 60_000) throw new Error(`no staging folder appeared: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { child, exited, stderr: () => stderr };
  };

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} in the middle of a merge removes the staging folder and the --out it created (exit ${code})`, { timeout: 120_000 }, async () => {
      const out = ws.path(`interrupted-${signal}`);
      const run = await startMerge(await bigRecipe(), out);
      run.child.kill(signal);
      const end = await run.exited;
      expect(end.code, run.stderr()).toBe(code);
      expect(run.stderr()).toMatch(new RegExp(`stopped by ${signal}; nothing was written`));
      expect(existsSync(out)).toBe(false);
    });
  }

  it('a second merge started while one runs into the same --out is refused, naming the first, which then finishes', { timeout: 120_000 }, async () => {
    const out = ws.path('concurrent');
    const first = await startMerge(await bigRecipe(), out);
    const second = await runCliAsync(mergeArgs(ws.path('ties.yml'), out));
    expect(failureProblems(second, { code: 'OUT_LOCKED', culprits: [out, String(first.child.pid)] })).toEqual([]);
    const end = await first.exited;
    expect(end.code, first.stderr()).toBe(0);
    expect(hidden(out)).toEqual([]);
    expect(listFiles(out)).toContain('model.safetensors');
  });

  it('kill -9 in the middle of a merge leaves its staging folder and lock; the next merge into that --out removes both, says so, and writes its output', { timeout: 120_000 }, async () => {
    const out = ws.path('killed');
    const run = await startMerge(await bigRecipe(), out);
    run.child.kill('SIGKILL');
    expect((await run.exited).signal).toBe('SIGKILL');
    const left = hidden(out);
    expect(left).toContain('.merge-lab.lock');
    expect(left.some((f) => f.startsWith('.merge-lab-partial-'))).toBe(true);
    // Nothing of the killed merge is presented as output.
    expect(listFiles(out).filter((f) => !f.startsWith('.'))).toEqual([]);

    const r = await runCliAsync(mergeArgs(ws.path('ties.yml'), out));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`lock left by process ${run.child.pid}, which is no longer running`));
    expect(r.stderr).toMatch(new RegExp(`Removed \\.merge-lab-partial-${run.child.pid}-`));
    expect(hidden(out)).toEqual([]);
    expect(listFiles(out)).toContain('model.safetensors');
  });
});

/** A safetensors header for one F32 tensor "w" of n elements (the data follows, all zeros). */
function headerBytes(n: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'F32', shape: [n], data_offsets: [0, n * 4] } }));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}
