/**
 * Our chat templates for mergekit's template names render the prompts mergekit's own templates
 * render (test/fixtures/chat-template-renderings.json, made from mergekit's files with Python's
 * jinja2 as transformers sets it up), for ChatML, Llama 3, Mistral and Alpaca. Rendered here with
 * @huggingface/jinja, the JavaScript port of the Jinja that transformers uses for chat templates.
 */
import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import { BUILTIN_CHAT_TEMPLATES } from '../../src/engine/output/chat-templates.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/chat-template-renderings.json', import.meta.url), 'utf8')) as {
  conversations: { role: string; content: string }[][];
  rendered: Record<string, string[]>;
};

describe('chat templates by name', () => {
  for (const [name, want] of Object.entries(fixture.rendered)) {
    it(`${name}: the prompts mergekit's template renders`, () => {
      const t = new Template(BUILTIN_CHAT_TEMPLATES[name]!);
      const got = fixture.conversations.map((messages) => t.render({ messages, add_generation_prompt: true, bos_token: '<s>', eos_token: '</s>' }));
      expect(got).toEqual(want);
    });
  }

  it('exaone renders its format (mergekit\'s template leaves indentation in the prompt; ours does not)', () => {
    const t = new Template(BUILTIN_CHAT_TEMPLATES.exaone!);
    expect(t.render({ messages: fixture.conversations[1], add_generation_prompt: true })).toBe('[|system|][|endofturn|]\n[|user|]Hi\n[|assistant|]Yo[|endofturn|]\n[|assistant|]');
  });
});
