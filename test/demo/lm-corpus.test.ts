/**
 * data/lm-demo/corpus.jsonl.gz: the split is by document and disjoint, every translation of an
 * article is on the same side, and the mixed windows are cut from test documents only.
 */
import { describe, expect, it } from 'vitest';
import { CONTEXT, DOMAINS, mixedTexts, readCorpus, splitText, type CorpusDocument } from '../../scripts/lm-demo/corpus.js';

const corpus = readCorpus();
const docs = corpus.filter((d) => d.domain !== 'mixed');
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
/** A language domain's training text as the mixed windows quote it: lines run on with spaces. */
const proseOf = (domain: string) => splitText(corpus, domain as (typeof DOMAINS)[number], 'train').replace(/\n/g, ' ');

describe('LM demo corpus', () => {
  it('has five domains with training, validation and test documents, and each document once', () => {
    expect([...new Set(docs.map((d) => d.domain))]).toEqual([...DOMAINS]);
    for (const domain of DOMAINS) {
      for (const split of ['train', 'validation', 'test'] as const) expect(docs.some((d) => d.domain === domain && d.split === split), `${domain} ${split}`).toBe(true);
    }
    const keys = docs.map((d) => `${d.source} ${d.unit}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('splits by document: a unit (article or file) is on one side for every language, and no test text is in training', () => {
    const side = new Map<string, string>();
    for (const d of docs) {
      // A translation's unit is shared by all 24 languages; a file's is its own.
      const key = d.source.startsWith('udhr:') ? d.unit : `${d.source} ${d.unit}`;
      expect(side.get(key) ?? d.split, key).toBe(d.split);
      side.set(key, d.split);
    }
    expect([...side.values()].filter((s) => s === 'test').length).toBeGreaterThan(0);
    for (const domain of DOMAINS) {
      const train = splitText(corpus, domain, 'train');
      for (const d of docs.filter((x) => x.domain === domain && x.split !== 'train' && bytes(x.text) >= 200)) expect(train.includes(d.text), `${d.source} ${d.unit}`).toBe(false);
    }
  });

  it('holds mixed test windows cut from test documents of at least two domains, none of them training text', () => {
    const mixed = mixedTexts(corpus);
    expect(mixed.length).toBeGreaterThanOrEqual(40);
    const bySource = new Map(docs.map((d): [string, CorpusDocument] => [`${d.source} ${d.unit}`, d]));
    const training = DOMAINS.map((d) => splitText(corpus, d, 'train'));
    for (const m of mixed) {
      expect(m.split).toBe('test');
      expect(bytes(m.text)).toBeLessThanOrEqual(CONTEXT);
      const parts = m.parts ?? [];
      expect(parts.reduce((s, p) => s + p.bytes, 0)).toBe(bytes(m.text));
      expect(new Set(parts.map((p) => p.domain)).size, m.unit).toBeGreaterThanOrEqual(2);
      const sources = parts.filter((p) => p.from !== 'joiner').map((p) => bySource.get(p.from));
      expect(sources.length).toBeGreaterThanOrEqual(2);
      for (const s of sources) expect(s?.split, m.unit).toBe('test');
      // The window is not training text, nor is any stretch of prose in it (code shares its
      // boilerplate — a require line — between files, so only its source file is checked).
      for (const t of training) expect(t.includes(m.text), m.unit).toBe(false);
      const buf = Buffer.from(m.text, 'utf8');
      let at = 0;
      for (const p of parts) {
        const piece = buf.subarray(at, at + p.bytes).toString('utf8');
        at += p.bytes;
        if (p.domain === 'code' || p.from === 'joiner' || p.bytes < 32) continue;
        expect(proseOf(p.domain).includes(piece), `${m.unit}: "${piece}"`).toBe(false);
      }
    }
  });
});
