/**
 * The built page carries a Content-Security-Policy (vite.config.ts: its own origin only, wasm
 * compilation allowed) and still works under it on every backend: the engine starts on wasm and
 * cpu, the demo loads and a slider move is scored, with no policy violation reported. On webgpu
 * the same is checked in test/e2e/engine.test.ts, on its merge there (SwiftShader takes ~20 s to
 * start, once is enough).
 */
import { expect } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../vite.config.js';
import { describeE2E, test } from './harness.js';

describeE2E('Content-Security-Policy', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    test(`the page works under its policy on ${backend}`, async ({ lab }) => {
      await lab.page.addInitScript(() => {
        (globalThis as { violations?: string[] }).violations = [];
        document.addEventListener('securitypolicyviolation', (e) => (globalThis as unknown as { violations: string[] }).violations.push(`${e.violatedDirective} ${e.blockedURI}`));
      });
      // The charts (recharts' style attributes) are checked under the policy on wasm; on cpu, where the
      // sweep's ten merges and scores took seconds of CPU, the backend's own path is what is new.
      await lab.open('', { backend, charts: backend !== 'cpu' });
      expect(await lab.page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')).toBe(CONTENT_SECURITY_POLICY);
      expect(await lab.waitForDemo()).toBe('loaded');
      expect(await lab.waitForEngine()).toBe(backend);
      await lab.densitySlider().fill('0.5');
      await lab.waitForLiveScore(0.5);
      expect(await lab.page.evaluate(() => (globalThis as { violations?: string[] }).violations)).toEqual([]);
      expect(lab.diagnostics.consoleErrors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
    });
  }
});
