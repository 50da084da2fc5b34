/**
 * Global setup of the e2e project (see vite.config.ts): builds the app once into a temporary
 * folder and serves it with `vite preview` on a free port; each test worker launches its own
 * headless Chromium on a profile kept for the run (harness.ts). Teardown stops the server, any
 * Chromium a worker left running, and removes the build and the profiles.
 *
 * Where /usr/bin/chromium is missing (override with MERGE_LAB_CHROMIUM), nothing is built and
 * every e2e test is skipped with the reason printed. MERGE_LAB_E2E_URL=http://host:port points
 * the tests at an already running server instead of building one (for debugging).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import type { E2EContext } from './context.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const VITE = path.join(ROOT, 'node_modules/.bin/vite');
const CHROMIUM = process.env['MERGE_LAB_CHROMIUM'] ?? '/usr/bin/chromium';
const RESULTS = path.join(ROOT, 'test-results');

const log = (msg: string) => console.log(`[e2e] ${msg}`);

/** The Chromium flags these machines need (see shared/spec/platform-notes.md). */
export function chromiumArgs(): string[] {
  const root = process.getuid?.() === 0;
  return ['--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', ...(root ? ['--no-sandbox'] : [])];
}

async function build(outDir: string): Promise<void> {
  try {
    // vitest sets NODE_ENV=test, which a child `vite build` would inherit and bake in: React's
    // development build (StrictMode's double renders included). The tests drive what `npm start` serves.
    const env = { ...process.env, NODE_ENV: 'production' };
    await promisify(execFile)(VITE, ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, maxBuffer: 16 << 20, env });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`vite build failed:\n${err.stderr || err.stdout || err.message}`, { cause: e });
  }
}

/** A port nothing listens on right now (the OS picks it); --strictPort catches the rare race. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface Preview {
  readonly url: string;
  readonly child: ChildProcess;
}

/**
 * Starts `vite preview` itself (not through npx, whose wrapper would survive a kill while vite
 * keeps serving) and resolves once the server answers.
 */
async function startPreview(outDir: string): Promise<Preview> {
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(VITE, ['preview', '--outDir', outDir, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d));
    child.stderr!.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let up = false;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && child.exitCode === null; ) {
      try {
        if ((await fetch(`${url}/`)).ok) {
          up = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
    }
    if (up) return { url, child };
    await stop(child);
    lastError = `vite preview on port ${port} did not start:\n${output}`;
  }
  throw new Error(lastError);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  fs.mkdirSync(RESULTS, { recursive: true });
  const skip = (reason: string) => {
    // Printed here once, and again by every e2e file: a skipped browser suite must never look like a pass.
    console.warn(`[e2e] SKIPPED: ${reason}`);
    const ctx: E2EContext = { skipReason: reason, baseURL: '', chromium: { executablePath: CHROMIUM, args: [] }, profilesDir: '', distDir: '', resultsDir: RESULTS };
    project.provide('e2e', ctx);
    return async () => undefined;
  };
  if (!fs.existsSync(CHROMIUM)) {
    return skip(`${CHROMIUM} is missing, so the browser tests cannot run (install Debian's chromium package, or set MERGE_LAB_CHROMIUM).`);
  }

  const cleanups: (() => Promise<void>)[] = [];
  const teardown = async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.warn(`[e2e] teardown: ${(e as Error).message}`));
  };
  try {
    let baseURL = process.env['MERGE_LAB_E2E_URL']?.replace(/\/$/, '');
    let distDir = '';
    if (baseURL) {
      log(`using the server at ${baseURL} (MERGE_LAB_E2E_URL); nothing built`);
    } else {
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-e2e-'));
      const removeWork = () => fs.rmSync(work, { recursive: true, force: true });
      process.once('exit', removeWork); // also when vitest dies before teardown
      cleanups.push(async () => {
        process.off('exit', removeWork);
        removeWork();
      });
      distDir = path.join(work, 'dist');
      let t = performance.now();
      await build(distDir);
      log(`built the app in ${Math.round(performance.now() - t)} ms`);
      t = performance.now();
      const preview = await startPreview(distDir);
      // If vitest dies before teardown, do not leave the server running.
      const onExit = () => preview.child.kill('SIGKILL');
      process.once('exit', onExit);
      cleanups.push(async () => {
        process.off('exit', onExit);
        await stop(preview.child);
      });
      baseURL = preview.url;
      log(`vite preview (pid ${preview.child.pid}) serving ${baseURL} after ${Math.round(performance.now() - t)} ms`);
    }
    const profilesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-e2e-profiles-'));
    const removeProfiles = () => {
      // A worker that was killed leaves its Chromium running: stop every one on these profiles.
      spawnSync('pkill', ['-KILL', '-f', `user-data-dir=${profilesDir}`]);
      fs.rmSync(profilesDir, { recursive: true, force: true });
    };
    process.once('exit', removeProfiles);
    cleanups.push(async () => {
      process.off('exit', removeProfiles);
      removeProfiles();
    });
    const ctx: E2EContext = { skipReason: null, baseURL, chromium: { executablePath: CHROMIUM, args: chromiumArgs() }, profilesDir, distDir, resultsDir: RESULTS };
    project.provide('e2e', ctx);
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}
