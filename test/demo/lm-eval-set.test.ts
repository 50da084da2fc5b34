/**
 * The LM demo's evaluation set (src/engine/demo/lm-eval-set.ts) on the shipped manifest: per domain
 * three windows of one split's text, spread from its start to its end, none over the context, cut on
 * character boundaries; the mixed task from the validation texts alone on validation (half one
 * domain, half the next) and the manifest's own mixed windows on test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LM_EVAL_WINDOWS, lmEvalTasks, spreadExcerpts } from '../../src/engine/demo/lm-eval-set.js';
import { MIXED, parseLmManifest } from '../../src/engine/demo/lm-manifest.js';

const manifest = parseLmManifest(fs.readFileSync(path.resolve(import.meta.dirname, '../../public/demo/lm/manifest.json'), 'utf8'));
const bytes = (s: string) => new TextEncoder().encode(s).length;
const windowsOf = (t: { text: string; windows?: readonly (readonly [number, number])[] }) => t.windows!.map(([a, b]) => t.text.slice(a, b));

describe('the LM demo evaluation set', () => {
  it('cuts excerpts on character boundaries, each at most the bytes asked, spread from the start to the end', () => {
    const text = 'ab€cdéf𝄞gh'.repeat(20);
    const cuts = spreadExcerpts(text, 4, 10);
    expect(cuts).toHaveLength(4);
    for (const c of cuts) {
      expect(bytes(c)).toBeLessThanOrEqual(10);
      expect(bytes(c)).toBeGreaterThanOrEqual(7);
      expect(text.includes(c)).toBe(true);
      // No half of a surrogate pair at either end.
      expect(c).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/);
    }
    expect(text.startsWith(cuts[0]!)).toBe(true);
    expect(bytes(text) - bytes(text.slice(text.lastIndexOf(cuts[3]!)))).toBeGreaterThan(bytes(text) - 14);
    expect(spreadExcerpts('short', 3, 128)).toEqual(['short', 'short', 'short']);
  });

  for (const split of ['validation', 'test'] as const) {
    it(`on ${split}: each domain's windows are its ${split} text's, one context at most, its expert its own`, () => {
      const tasks = lmEvalTasks(manifest, split);
      expect(tasks.map((t) => t.name)).toEqual([...manifest.domains.map((d) => d.id), MIXED]);
      for (const [i, d] of manifest.domains.entries()) {
        const t = tasks[i]!;
        expect(t.expert).toBe(d.id);
        const w = windowsOf(t);
        expect(w).toHaveLength(LM_EVAL_WINDOWS);
        expect(w.join('')).toBe(t.text);
        for (const x of w) {
          expect(d.texts[split].includes(x), `${d.id}: ${x}`).toBe(true);
          expect(bytes(x)).toBeLessThanOrEqual(manifest.context);
          expect(bytes(x)).toBeGreaterThan(manifest.context - 4);
        }
        // Spread: from the text's start to its last window, none twice.
        expect(d.texts[split].startsWith(w[0]!)).toBe(true);
        expect(d.texts[split].indexOf(w.at(-1)!)).toBeGreaterThan(d.texts[split].length - 2 * manifest.context);
        expect(new Set(w).size).toBe(w.length);
      }
      expect(tasks.at(-1)!.expert).toBeUndefined();
    });
  }

  it('mixes validation text only on validation (half a window of a domain, a space, half of the next), and picks the manifest’s mixed windows on test', () => {
    const validation = windowsOf(lmEvalTasks(manifest, 'validation').at(-1)!);
    const test = windowsOf(lmEvalTasks(manifest, 'test').at(-1)!);
    const n = manifest.domains.length;
    expect(validation).toHaveLength(LM_EVAL_WINDOWS);
    for (const [k, w] of validation.entries()) {
      expect(bytes(w)).toBeLessThanOrEqual(manifest.context);
      const a = manifest.domains[k % n]!.texts.validation;
      const b = manifest.domains[(k + 1) % n]!.texts.validation;
      const split = [...w.matchAll(/ /g)].map((m) => m.index).find((i) => a.includes(w.slice(0, i)) && b.includes(w.slice(i + 1)) && bytes(w.slice(0, i)) > manifest.context / 2 - 8);
      expect(split, w).toBeDefined();
      for (const d of manifest.domains) expect(d.texts.test.includes(w.slice(0, 40)), `${w} is no test text`).toBe(false);
    }
    const all = manifest.mixed.map((m) => m.text);
    expect(test).toEqual([0, 20, 39].map((i) => all[i]));
  });
});
