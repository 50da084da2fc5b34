/**
 * The LM demo's corpus (data/lm-demo/corpus.jsonl.gz): one JSON document per line, each already
 * assigned to its split by scripts/lm-demo/make-corpus.ts. Shared by the corpus script, the
 * trainer and the tests, so all three read the same documents the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CORPUS_FILE = 'data/lm-demo/corpus.jsonl.gz';

/** The five training domains, in the order the manifest lists them; 'mixed' is test-only. */
export const DOMAINS = ['romance', 'germanic', 'slavic', 'uralic', 'code'] as const;
export type Domain = (typeof DOMAINS)[number];
export const SPLITS = ['train', 'validation', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** The byte window the models are trained and scored on; a mixed text is at most one window. */
export const CONTEXT = 128;

/** Where a mixed text's bytes come from, in order. */
export interface MixedPart {
  readonly domain: Domain;
  /** "<source> <unit>" of the test document the bytes were cut from. */
  readonly from: string;
  readonly bytes: number;
}

export interface CorpusDocument {
  readonly domain: Domain | 'mixed';
  /** udhr:<code> for a translation, npm:<package>@<version> for source code, mixed for the mixed texts. */
  readonly source: string;
  /** What the split is decided on: the article (or preamble) for a translation, the file for code. */
  readonly unit: string;
  readonly split: Split;
  readonly text: string;
  /** Only for mixed texts. */
  readonly parts?: readonly MixedPart[];
}

export function readCorpus(file = path.join(ROOT, CORPUS_FILE)): CorpusDocument[] {
  const lines = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== '');
  return lines.map((l, i) => {
    const d = JSON.parse(l) as CorpusDocument;
    if (typeof d.text !== 'string' || !(SPLITS as readonly string[]).includes(d.split)) throw new Error(`${CORPUS_FILE} line ${i + 1}: not a corpus document`);
    return d;
  });
}

/** Documents are joined with a blank line, so a window may run from one document into the next of the same split. */
export const DOCUMENT_SEPARATOR = '\n\n';

/** A domain's text on one split: its documents in corpus order, each followed by a blank line. */
export function splitText(corpus: readonly CorpusDocument[], domain: Domain, split: Split): string {
  return corpus
    .filter((d) => d.domain === domain && d.split === split)
    .map((d) => d.text + DOCUMENT_SEPARATOR)
    .join('');
}

/** The mixed test texts, each at most CONTEXT bytes. */
export function mixedTexts(corpus: readonly CorpusDocument[]): CorpusDocument[] {
  return corpus.filter((d) => d.domain === 'mixed');
}
