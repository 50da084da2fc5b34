/**
 * The LM demo's manifest.json (public/demo/lm/): a byte-level Llama base, one expert per text
 * domain, the domains' validation and test texts, the mixed test windows and the losses the
 * trainer measured. parseLmManifest checks all of it in one pass and reports every problem at
 * once, each with its JSON path, as the digits demo's parseManifest does.
 */
import { MergeLabError } from '../errors.js';
import { Checker, describe, isObj } from './manifest.js';

export const LM_DEMO_FORMAT = 'merge-lab-lm-demo';
export const LM_DEMO_VERSION = 1;
/** What the mixed windows are called in the loss tables, beside the domain ids. */
export const MIXED = 'mixed';

export interface LmDemoDomain {
  /** Stable key: loss tables, URLs, file names. */
  readonly id: string;
  readonly label: string;
  /** What the domain holds (languages, packages). */
  readonly description: string;
  /** The expert fine-tuned on this domain, relative to the manifest. */
  readonly expert: string;
  /** The domain's held-out documents, each followed by a blank line; scored in windows of `context` bytes. */
  readonly texts: { readonly validation: string; readonly test: string };
}

export interface LmMixedPart {
  readonly domain: string;
  readonly bytes: number;
}

/** A test window (at most `context` bytes) cut from the test texts of more than one domain. */
export interface LmMixedText {
  readonly id: string;
  readonly text: string;
  /** Which domain each stretch of the window's bytes is from, in order; the bytes add up to the text's. */
  readonly parts: readonly LmMixedPart[];
}

/** Model → text set (a domain id or "mixed") → value, on the test split. */
export type LmLossTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

export interface LmMeasured {
  readonly split: 'test';
  /** Mean nats per predicted byte (src/engine/lm's textMetrics); rows "base" and each domain's expert. */
  readonly loss: LmLossTable;
  /** textMetrics' bits per byte: the summed loss in bits over the text's UTF-8 bytes. */
  readonly bitsPerByte: LmLossTable;
}

export interface LmDemoManifest {
  readonly format: typeof LM_DEMO_FORMAT;
  readonly version: typeof LM_DEMO_VERSION;
  /** Token ids are the text's UTF-8 bytes (vocabulary 256, no special tokens). */
  readonly tokenizer: 'bytes';
  /** The window the models were trained on and the texts are scored in (bytes). */
  readonly context: number;
  /** The models' Hugging Face config.json, relative to the manifest. */
  readonly config: string;
  readonly parameters: number;
  readonly base: string;
  readonly domains: readonly LmDemoDomain[];
  readonly mixed: readonly LmMixedText[];
  /** Where the text came from and under which licenses. */
  readonly data: { readonly corpus: string; readonly licenses: string; readonly attribution: string };
  /** How the checkpoints were made (seed, backend, schedules, time); informational only. */
  readonly training: Readonly<Record<string, unknown>>;
  readonly measured: LmMeasured;
}

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

function parseDomains(c: Checker, v: unknown): LmDemoDomain[] {
  const domains = c.arr(v, 'domains').map((d, i): LmDemoDomain => {
    const p = `domains[${i}]`;
    const o = c.obj(d, p);
    const t = c.obj(o['texts'], `${p}.texts`);
    return {
      id: c.str(o, 'id', p),
      label: c.str(o, 'label', p),
      description: c.str(o, 'description', p),
      expert: c.str(o, 'expert', p),
      texts: { validation: c.str(t, 'validation', `${p}.texts`), test: c.str(t, 'test', `${p}.texts`) },
    };
  });
  if (domains.length === 0) c.fail('domains', 'expected at least one domain');
  for (const key of ['id', 'expert'] as const) {
    const seen = new Set<string>();
    domains.forEach((d, i) => {
      if (d[key] !== '' && seen.has(d[key])) c.fail(`domains[${i}].${key}`, `"${d[key]}" is used by an earlier domain`);
      seen.add(d[key]);
    });
  }
  domains.forEach((d, i) => {
    if (d.id === MIXED) c.fail(`domains[${i}].id`, `"${MIXED}" names the mixed windows; a domain needs another id`);
  });
  return domains;
}

function parseMixed(c: Checker, v: unknown, ids: readonly string[], context: number): LmMixedText[] {
  const mixed = c.arr(v, 'mixed').map((m, i): LmMixedText => {
    const p = `mixed[${i}]`;
    const o = c.obj(m, p);
    const text = c.str(o, 'text', p);
    const parts = c.arr(o['parts'], `${p}.parts`).map((x, k) => {
      const q = `${p}.parts[${k}]`;
      const po = c.obj(x, q);
      const domain = c.str(po, 'domain', q);
      if (domain !== '' && !ids.includes(domain)) c.fail(`${q}.domain`, `"${domain}" is not one of the domains (${ids.join(', ')})`);
      return { domain, bytes: c.num(po, 'bytes', q, { int: true, min: 1 }) };
    });
    const bytes = utf8Length(text);
    const sum = parts.reduce((s, x) => s + x.bytes, 0);
    if (!Number.isNaN(sum) && sum !== bytes) c.fail(`${p}.parts`, `cover ${sum} bytes but the text has ${bytes}`);
    if (!Number.isNaN(context) && bytes > context) c.fail(`${p}.text`, `has ${bytes} bytes, more than one window (context ${context})`);
    if (new Set(parts.map((x) => x.domain)).size < 2) c.fail(`${p}.parts`, 'a mixed window needs bytes from at least two domains');
    return { id: c.str(o, 'id', p), text, parts };
  });
  if (mixed.length === 0) c.fail('mixed', 'expected at least one mixed window');
  return mixed;
}

function parseMeasured(c: Checker, v: unknown, ids: readonly string[]): LmMeasured {
  const o = c.obj(v, 'measured');
  if (o['split'] !== 'test') c.fail('measured.split', `expected "test", got ${describe(o['split'])}`);
  const columns = [...ids, MIXED];
  const rows = ['base', ...ids];
  const table = (key: 'loss' | 'bitsPerByte'): LmLossTable => {
    const t = c.obj(o[key], `measured.${key}`);
    const extra = Object.keys(t).filter((k) => !rows.includes(k));
    if (extra.length > 0) c.fail(`measured.${key}`, `unknown model ${extra.map((k) => `"${k}"`).join(', ')} (rows are base and the domains' ids)`);
    return Object.fromEntries(
      rows.map((r) => {
        const path = `measured.${key}.${r}`;
        const row = c.obj(t[r], path);
        const bad = Object.keys(row).filter((k) => !columns.includes(k));
        if (bad.length > 0) c.fail(path, `unknown text set ${bad.map((k) => `"${k}"`).join(', ')} (columns are the domains' ids and "${MIXED}")`);
        return [r, Object.fromEntries(columns.map((col) => [col, c.num(row, col, path, { min: 0 })]))];
      }),
    );
  };
  return { split: 'test', loss: table('loss'), bitsPerByte: table('bitsPerByte') };
}

/**
 * Validates a parsed manifest.json (or its text). Throws one DEMO_MANIFEST_INVALID error whose
 * message lists every problem with its JSON path; `problems` holds them one by one.
 */
export function parseLmManifest(input: unknown, fileName = 'lm/manifest.json'): LmDemoManifest {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName} is not valid JSON (${(e as Error).message}). Re-run npm run demo:train:lm.`);
    }
  }
  if (!isObj(json)) throw new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName} must hold a JSON object, got ${describe(json)}. Re-run npm run demo:train:lm.`);
  const o = json;
  if (o['format'] !== LM_DEMO_FORMAT || o['version'] !== LM_DEMO_VERSION) {
    throw new MergeLabError(
      'DEMO_MANIFEST_INVALID',
      `${fileName} is not a ${LM_DEMO_FORMAT} manifest version ${LM_DEMO_VERSION} (format ${describe(o['format'])}, version ${describe(o['version'])}).`,
    );
  }
  const c = new Checker();
  if (o['tokenizer'] !== 'bytes') c.fail('tokenizer', `expected "bytes" (the only tokenizer the LM demo has), got ${describe(o['tokenizer'])}`);
  const context = c.num(o, 'context', '(root)', { int: true, min: 2 });
  const config = c.str(o, 'config', '(root)');
  const parameters = c.num(o, 'parameters', '(root)', { int: true, min: 1 });
  const base = c.str(o, 'base', '(root)');
  const domains = parseDomains(c, o['domains']);
  if (domains.some((d) => d.expert === base)) c.fail('base', `"${base}" is also a domain's expert file`);
  const ids = domains.map((d) => d.id);
  const mixed = parseMixed(c, o['mixed'], ids, context);
  const d = c.obj(o['data'], 'data');
  const data = { corpus: c.str(d, 'corpus', 'data'), licenses: c.str(d, 'licenses', 'data'), attribution: c.str(d, 'attribution', 'data') };
  const training = c.obj(o['training'], 'training');
  const measured = parseMeasured(c, o['measured'], ids);
  if (c.problems.length > 0) {
    const problems = c.problems.map((p) => new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName}: ${p}`));
    const list = c.problems.map((p) => `  - ${p}`).join('\n');
    throw new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName} has ${c.problems.length} problem${c.problems.length > 1 ? 's' : ''} (re-run npm run demo:train:lm):\n${list}`, problems);
  }
  return { format: LM_DEMO_FORMAT, version: LM_DEMO_VERSION, tokenizer: 'bytes', context, config, parameters, base, domains, mixed, data, training, measured };
}

/** The checkpoint of each model by key: "base", then each domain's id (its expert). */
export function lmDemoModels(manifest: LmDemoManifest): [string, string][] {
  return [['base', manifest.base], ...manifest.domains.map((d): [string, string] => [d.id, d.expert])];
}
