/**
 * The page's main script as `npm start` serves it (issue 16): at most 650 kB before gzip, and none
 * of the worker's libraries in it. The charts (recharts) load in a chunk of their own.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { describeE2E, e2e, test } from './harness.js';

const LIMIT_BYTES = 650_000;

describeE2E('the built page', () => {
  test('its main chunk stays under 650 kB and holds no tfjs or YAML library', () => {
    const html = readFileSync(path.join(e2e.distDir, 'index.html'), 'utf8');
    const src = /<script type="module" crossorigin src="\/?([^"]+\.js)"/.exec(html)?.[1];
    expect(src, 'index.html names its main script').toBeDefined();
    const file = path.join(e2e.distDir, src!);
    const bytes = statSync(file).size;
    expect(bytes).toBeLessThanOrEqual(LIMIT_BYTES);
    const code = readFileSync(file, 'utf8');
    const assets = path.join(e2e.distDir, 'assets');
    // Strings the libraries keep after minification: a tfjs-core error, the yaml library's error class.
    for (const marker of ['Tensor is disposed', 'YAMLParseError']) {
      const holders = readdirSync(assets).filter((f) => f.endsWith('.js') && readFileSync(path.join(assets, f), 'utf8').includes(marker));
      // The worker's chunks do hold them: the markers are real.
      expect(holders.length, marker).toBeGreaterThan(0);
      expect(code.includes(marker), `${src} holds "${marker}"`).toBe(false);
      // Nor does the main chunk import a chunk that holds them (it names the worker's entry only to start it).
      for (const h of holders.filter((f) => !f.startsWith('engine.worker'))) expect(code.includes(h), `${src} imports ${h}`).toBe(false);
    }
  });
});
