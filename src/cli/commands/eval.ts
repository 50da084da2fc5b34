/**
 * `merge-lab eval <model> --text <file>…`: a language model's loss on text files — tokens, mean
 * loss (nats/token), perplexity and bits per byte per file — scored by the engine's forward
 * (src/engine/lm) in non-overlapping windows of --context tokens.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MergeLabError } from '../../engine/errors.js';
import { openCheckpointPath } from '../../engine/io/node-checkpoint.js';
import { checkLmSequence } from '../../engine/lm/config.js';
import { defaultContext, describeLm, openLanguageModel, type TextScore, type TokenizerChoice } from '../../engine/lm/model.js';
import { folderModelFiles } from '../../engine/output/node-model-files.js';
import { initNodeBackend, parseBackend } from '../node-backend.js';
import { usageError } from './inspect.js';
import type { Command } from './types.js';

/** What `eval --json` prints. */
export interface EvalOutput {
  readonly model: string;
  readonly modelType: string;
  readonly parameters: number;
  readonly tokenizer: string;
  readonly context: number;
  readonly backend: string;
  readonly texts: readonly EvalText[];
}

export interface EvalText {
  readonly file: string;
  /** Tokens predicted (the text's tokens but the first). */
  readonly tokens: number;
  readonly bytes: number;
  /** Summed loss, nats. */
  readonly nll: number;
  /** Mean loss, nats per token. */
  readonly loss: number;
  readonly perplexity: number;
  readonly bitsPerByte: number;
  readonly windows: number;
}

async function readText(file: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new MergeLabError('PATH_NOT_FOUND', `The text file ${file} does not exist; check the path given to --text.`);
    throw new MergeLabError('READ_FAILED', `The text file ${file} cannot be read (${(e as Error).message}); give a readable UTF-8 text file to --text.`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MergeLabError('READ_FAILED', `The text file ${file} is not valid UTF-8; give a UTF-8 text file to --text.`);
  }
}

/** --tokenizer: 'bytes', a tokenizer.json, or a folder holding one (with its tokenizer_config.json if there). */
async function readTokenizerChoice(given: string): Promise<TokenizerChoice> {
  if (given === 'bytes') return 'bytes';
  let file = given;
  try {
    if ((await stat(given)).isDirectory()) file = path.join(given, 'tokenizer.json');
  } catch {
    throw new MergeLabError('PATH_NOT_FOUND', `--tokenizer ${given} does not exist; give a tokenizer.json, a folder holding one, or the word bytes.`);
  }
  let json: string;
  try {
    json = await readFile(file, 'utf8');
  } catch (e) {
    throw new MergeLabError('READ_FAILED', `The tokenizer ${file} cannot be read (${(e as Error).message}).`);
  }
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const config = await readFile(configFile, 'utf8').catch(() => undefined);
  return { json, where: file, ...(config !== undefined ? { config } : {}) };
}

function parseContext(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new MergeLabError('PARAMETER_INVALID', `--context "${value}" must be a whole number of tokens ≥ 1.`);
  return n;
}

function row(file: string, s: TextScore): EvalText {
  return { file, tokens: s.tokens, bytes: s.bytes, nll: s.nll, loss: s.loss, perplexity: s.perplexity, bitsPerByte: s.bitsPerByte, windows: s.windows.length };
}

function format(out: EvalOutput): string {
  const head = ['text', 'tokens', 'loss (nats/token)', 'perplexity', 'bits/byte'];
  const rows = out.texts.map((t) => [t.file, String(t.tokens), t.loss.toFixed(4), t.perplexity.toPrecision(5), t.bitsPerByte.toFixed(4)]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  return [
    `${out.model}: ${out.modelType}, ${out.parameters.toLocaleString('en-US')} parameters; tokenizer ${out.tokenizer}; context ${out.context}; backend ${out.backend}`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}

export const evalCommand: Command = {
  name: 'eval',
  summary:
    "Score text files with a language model (Llama, Mistral, Qwen2 or GPT-2 folder: config.json and safetensors): per file the tokens, mean loss (nats/token), perplexity and bits per byte, in non-overlapping windows of --context tokens (default the model's positions, at most 2048). The tokenizer is the folder's tokenizer.json, --tokenizer's, or UTF-8 bytes (--tokenizer bytes, or a 256-entry vocabulary).",
  usage: 'merge-lab eval <model folder> --text <file>… [--tokenizer <tokenizer.json | folder | bytes>] [--context N] [--backend wasm|cpu|webgpu] [--json]',
  async run(argv) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { text: { type: 'string', multiple: true }, tokenizer: { type: 'string' }, context: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (positionals.length !== 1 || !values.text?.length) throw usageError(this.usage);
    const backend = parseBackend(values.backend);
    const context = parseContext(values.context);
    const modelPath = positionals[0]!;
    const where = path.resolve(modelPath);
    const exists = await stat(where).then(() => true, () => false);
    if (!exists) throw new MergeLabError('PATH_NOT_FOUND', `${modelPath} does not exist; give a model folder (config.json and its safetensors).`);
    // Every text is read before any weight: a typo in a path fails at once.
    const texts = await Promise.all(values.text.map(async (file) => ({ file, text: await readText(file) })));
    const description = await describeLm(await folderModelFiles(modelPath, where), values.tokenizer === undefined ? undefined : await readTokenizerChoice(values.tokenizer));
    const windowTokens = context ?? defaultContext(description.config);
    checkLmSequence(description.config, windowTokens, `${modelPath}/config.json`);
    const checkpoint = await openCheckpointPath(modelPath);
    try {
      const started = await initNodeBackend(backend);
      const model = await openLanguageModel(description, checkpoint);
      try {
        const scored: EvalText[] = [];
        for (const { file, text } of texts) {
          const s = await model.scoreText(text, { context: windowTokens });
          if (s.tokens === 0) throw new MergeLabError('PARAMETER_INVALID', `The text file ${file} has fewer than two tokens; there is nothing to score.`);
          scored.push(row(file, s));
        }
        const out: EvalOutput = { model: modelPath, modelType: description.config.modelType, parameters: model.parameters, tokenizer: description.tokenizer.name, context: windowTokens, backend: started, texts: scored };
        process.stdout.write((values.json ? JSON.stringify(out, null, 2) : format(out)) + '\n');
        return 0;
      } finally {
        model.dispose();
      }
    } finally {
      await checkpoint.close();
    }
  },
};
