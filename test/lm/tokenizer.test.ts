/** Tokenizers: tokenizer.json through @huggingface/tokenizers against transformers' ids, bytes, and which one a model gets. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { byteTokenizer, chooseTokenizer, jsonTokenizer, parseTokenizerFile } from '../../src/engine/lm/tokenizer.js';
import { expected, fixtureConfig, LM_FIXTURES } from './fixtures.js';

async function fixtureTokenizer() {
  const dir = path.join(LM_FIXTURES, 'llama-tied');
  const json = JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')) as unknown;
  const config = JSON.parse(await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8')) as unknown;
  return jsonTokenizer(json, config, 'llama-tied/tokenizer.json');
}

describe('tokenizers', () => {
  it("gives transformers' ids for the byte-level BPE fixture (spaces, tabs, accents, emoji, code)", async () => {
    const tokenizer = await fixtureTokenizer();
    const { strings } = (await expected()).tokenizer;
    expect(strings.length).toBeGreaterThan(3);
    for (const { text, ids } of strings) expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(ids);
  });

  it('byte-level: UTF-8 bytes as ids', () => {
    expect(byteTokenizer().encode('aé✓')).toEqual([97, 0xc3, 0xa9, 0xe2, 0x9c, 0x93]);
  });

  it('chooses the tokenizer.json, else bytes for a 256 vocabulary, else asks for one', async () => {
    const tied = await fixtureConfig('llama-tied');
    const bytes = await fixtureConfig('llama-bytes');
    const json = JSON.parse(await readFile(path.join(LM_FIXTURES, 'llama-tied/tokenizer.json'), 'utf8')) as unknown;
    expect(chooseTokenizer(tied, { tokenizerJson: json, where: 't.json' }, 'm').name).toBe('t.json');
    expect(chooseTokenizer(bytes, {}, 'm').name).toBe('bytes');
    expect(chooseTokenizer(tied, { tokenizerJson: json, bytes: true }, 'm').name).toBe('bytes');
    expect(() => chooseTokenizer(tied, {}, 'models/llama-tied')).toThrow(/models\/llama-tied has no tokenizer.json and its vocab_size \(320\)/);
  });

  it('refuses a file that is not a tokenizer, naming it', () => {
    expect(() => parseTokenizerFile('{', 'x/tokenizer.json')).toThrow(/x\/tokenizer.json is not valid JSON/);
    expect(() => jsonTokenizer({ version: '1.0' }, {}, 'x/tokenizer.json')).toThrow(/x\/tokenizer.json is not a tokenizer.json/);
  });
});
