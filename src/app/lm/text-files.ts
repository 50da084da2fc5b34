/**
 * Text files dropped beside the models: each becomes a task of the language-model lab. Which files
 * count as text is decided by their extension (prose and markup: .txt, .md, .rst, .tex; program
 * code in the common languages), and only loose files (a folder is a model: its merges.txt and
 * vocab.txt belong to the tokenizer). A file is read here, on the page, as UTF-8: an empty, binary
 * (a NUL byte) or non-UTF-8 file, or one too large to score, is refused with a message naming it.
 */
import type { AppError, DroppedGroup } from '../store/types.js';

/** Extensions read as a task's text. JSON and YAML are left out: they are configs and recipes. */
export const TEXT_EXTENSIONS = [
  'txt', 'text', 'md', 'markdown', 'rst', 'tex', 'csv', 'tsv', 'log',
  'py', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'c', 'h', 'cc', 'cpp', 'hpp', 'cs', 'java', 'kt', 'go', 'rs', 'rb', 'php', 'swift', 'scala',
  'sh', 'sql', 'html', 'css', 'lua', 'r', 'jl', 'hs', 'ml', 'pl',
] as const;

const TEXT = new RegExp(`\\.(${TEXT_EXTENSIONS.join('|')})$`, 'i');

/** The `accept` list of a file picker that takes checkpoints and texts. */
export const TEXT_ACCEPT = TEXT_EXTENSIONS.map((e) => `.${e}`).join(',');

/** Texts larger than this are refused: scoring them would take minutes per slider move. */
export const MAX_TEXT_BYTES = 16 * 2 ** 20;

export function isTextFileName(name: string): boolean {
  return TEXT.test(name);
}

export interface DroppedText {
  readonly name: string;
  readonly blob: Blob;
}

/** Splits a drop into loose text files (tasks) and the rest (models). */
export function splitTexts(groups: readonly DroppedGroup[]): { texts: DroppedText[]; models: DroppedGroup[] } {
  const texts: DroppedText[] = [];
  const models: DroppedGroup[] = [];
  for (const g of groups) {
    const only = g.files.length === 1 ? g.files[0]! : undefined;
    // A loose file is one group whose single file is the group itself (its path is its name).
    if (only && only.path === g.name && isTextFileName(g.name)) texts.push({ name: g.name, blob: only.blob });
    else models.push(g);
  }
  return { texts, models };
}

const refused = (message: string): { readonly error: AppError } => ({ error: { code: 'READ_FAILED', message } });

/** The file's text, or why it cannot be a task's text (the message names the file). */
export async function readTaskText(name: string, blob: Blob): Promise<{ readonly text: string } | { readonly error: AppError }> {
  if (blob.size > MAX_TEXT_BYTES) return refused(`${name} is ${(blob.size / 2 ** 20).toFixed(1)} MiB; a task's text may be at most ${MAX_TEXT_BYTES / 2 ** 20} MiB (scoring it would take minutes per slider move). Drop a shorter excerpt.`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await blob.arrayBuffer());
  } catch (e) {
    return refused(`${name} could not be read (${(e as Error).message}); drop it again.`);
  }
  if (bytes.length === 0) return refused(`${name} is empty; a task's text file needs some text to score.`);
  if (bytes.includes(0)) return refused(`${name} looks binary (it holds NUL bytes); drop a UTF-8 text file (.txt, .md or source code).`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return refused(`${name} is not UTF-8 text; save it as UTF-8 and drop it again.`);
  }
  if (text.trim() === '') return refused(`${name} holds only white space; a task's text file needs some text to score.`);
  return { text };
}
