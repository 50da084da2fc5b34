/**
 * WebGPU in Node, through Dawn (the `webgpu` npm package, a dev dependency): for `--backend
 * webgpu` and the backend parity tests. Dawn needs a Vulkan driver it accepts — on Debian 12, Mesa
 * ≥ 25 lavapipe from bookworm-backports (.ci/run installs it); Debian's own Mesa 22 gives none.
 */
import { accessSync, constants, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Probe = { readonly ok: true; readonly detail: string } | { readonly ok: false; readonly reason: string };

const VULKAN_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];

function vulkanDrivers(): string {
  const found = VULKAN_ICD_DIRS.filter((d) => existsSync(d)).flatMap((d) => readdirSync(d));
  return found.length ? found.join(', ') : 'none';
}

/** Dawn warns when XDG_RUNTIME_DIR is unset or unwritable; give it a private temp folder. */
function ensureXdgRuntimeDir(): void {
  const cur = process.env.XDG_RUNTIME_DIR;
  if (cur) {
    try {
      accessSync(cur, constants.W_OK);
      return;
    } catch {
      /* fall through: replace it */
    }
  }
  process.env.XDG_RUNTIME_DIR = mkdtempSync(path.join(os.tmpdir(), 'merge-lab-xdg-'));
}

interface GpuLike {
  requestAdapter(): Promise<{ readonly info?: { vendor?: string; architecture?: string; description?: string } } | null>;
}

type Nav = { gpu?: unknown };

/** Puts `gpu` on globalThis.navigator (Node 20 has no navigator; Node ≥ 21 has a getter-only one). */
function installNavigatorGpu(gpu: unknown): void {
  const g = globalThis as { navigator?: Nav };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
}

export function removeDawn(): void {
  const nav = (globalThis as { navigator?: Nav }).navigator;
  if (nav && 'gpu' in nav) delete nav.gpu;
}

/**
 * Loads Dawn (the `webgpu` npm package), puts navigator.gpu in place and asks for an adapter; never
 * throws for an absent GPU, it says why. Call before initBackend('webgpu') (tfjs' webgpu backend
 * registers only if navigator.gpu exists when it is imported) and removeDawn() at the end, or the
 * process never exits.
 */
export async function installDawn(): Promise<Probe> {
  ensureXdgRuntimeDir();
  let mod: { create(flags: string[]): unknown; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as typeof mod;
  } catch (e) {
    return { ok: false, reason: `the "webgpu" npm package (Dawn for Node) could not be loaded: ${(e as Error).message}` };
  }
  let gpu: GpuLike;
  try {
    Object.assign(globalThis, mod.globals);
    gpu = mod.create([]) as GpuLike;
  } catch (e) {
    return { ok: false, reason: `Dawn could not start: ${(e as Error).message}` };
  }
  installNavigatorGpu(gpu);
  let adapter: Awaited<ReturnType<GpuLike['requestAdapter']>> = null;
  let err = '';
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    err = ` (${(e as Error).message})`;
  }
  if (!adapter) {
    removeDawn();
    return {
      ok: false,
      reason:
        `Dawn found no WebGPU adapter${err}. It needs a Vulkan driver it accepts: on Debian 12, Mesa >= 25 lavapipe ` +
        `(mesa-vulkan-drivers from bookworm-backports, which .ci/run installs); Debian's own Mesa 22 gives none. ` +
        `Vulkan ICDs found: ${vulkanDrivers()}.`,
    };
  }
  const i = adapter.info;
  return { ok: true, detail: [i?.vendor, i?.architecture, i?.description].filter(Boolean).join(' / ') || 'adapter without info' };
}

