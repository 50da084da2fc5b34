/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The built page's Content-Security-Policy: everything from its own origin, nothing remote. wasm
 * needs 'wasm-unsafe-eval' (tfjs compiles its kernels), React and recharts set style attributes,
 * charts export through data: and blob: URLs. Only in the build: the dev server injects inline
 * scripts of its own.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' data: blob:",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const contentSecurityPolicy = {
  name: 'merge-lab-csp',
  apply: 'build' as const,
  transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' as const }],
};

/** Test files that start WebGPU through Dawn in Node (the `gpu` project below). */
const DAWN_FILES = ['test/backends/webgpu.test.ts', 'test/lm/webgpu.test.ts'];

export default defineConfig({
  plugins: [react(), contentSecurityPolicy],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Forks, not threads: the CLI suites run merge-lab in the test process and change its cwd
    // (test/cli/helpers.ts), which worker threads cannot.
    pool: 'forks',
    // Two projects so the browser tests get their own global setup (one build, one preview
    // server, one Chromium for every e2e file) and the engine tests keep theirs (tfjs on cpu).
    // Either runs only when one of its files is selected: `vitest run test/e2e` starts no engine setup.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'test/e2e/**', ...DAWN_FILES],
          setupFiles: ['test/setup.ts'],
          // A worker keeps its modules from one file to the next instead of importing tfjs and the
          // engine again for each (about a second per file); test/setup.ts still runs per file.
          isolate: false,
          // Two files at a time even on two cores (vitest's default there is one).
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        // The files that bring up Dawn, each in a fresh module graph: tfjs-backend-webgpu registers
        // itself once, when first imported, and a file's teardown removes it (or the process would
        // not exit), so a second such file in a shared worker found no 'webgpu' backend.
        test: { name: 'gpu', include: DAWN_FILES, setupFiles: ['test/setup.ts'], isolate: true, maxWorkers: 2 },
      },
      {
        extends: true,
        // Two files at a time, after the unit files (a project with its own maxWorkers needs its own group):
        // they share one preview server and one Chromium. A worker keeps playwright and the harness
        // from one file to the next (about 0.3 s of CPU a file); the files set no globals.
        // expect.poll every 100 ms, not 50: each poll is a protocol round trip through Node, the browser
        // and the page (~0.13 CPU-s per second waited for four calls a poll); the long waits run in the page (lab-page's waitInPage).
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          maxWorkers: 2,
          isolate: false,
          sequence: { groupOrder: 1 },
          expect: { poll: { interval: 100 } },
        },
      },
    ],
  },
});
