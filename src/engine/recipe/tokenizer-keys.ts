/**
 * A recipe's tokenizer keys (mergekit config.py): `tokenizer_source`, the `tokenizer:` section and
 * `chat_template`. What merge-lab writes for them is in output/tokenizer.ts (and the union
 * vocabulary in output/union-tokenizer.ts); what it cannot do exactly as mergekit does — per-token
 * embedding rules, padding the vocabulary — is refused here, each with one line saying so, rather
 * than ignored.
 */

type Problem = (code: 'RECIPE_INVALID' | 'PARAMETER_INVALID', message: string) => void;

export interface TokenizerKeys {
  /** 'base', 'union' (every model's tokens in one vocabulary), or the model (path or id) whose tokenizer the output gets. */
  readonly tokenizerSource?: string;
  /** A built-in template's name, 'auto', or a template. */
  readonly chatTemplate?: string;
}

const NOT_YET = 'merge-lab does not do this yet';

export function readTokenizerKeys(root: Readonly<Record<string, unknown>>, problem: Problem): TokenizerKeys {
  const out: { tokenizerSource?: string; chatTemplate?: string } = {};
  const given = (k: string) => root[k] !== undefined && root[k] !== null;

  const source = (v: unknown, key: string) => {
    if (typeof v !== 'string' || v.trim() === '') {
      problem('RECIPE_INVALID', `${key} must be "base", "union" or a model's path, got ${describe(v)}.`);
    } else {
      out.tokenizerSource = v.trim();
    }
  };

  if (given('tokenizer_source') && given('tokenizer')) {
    problem('RECIPE_INVALID', 'give tokenizer_source or a tokenizer section, not both (mergekit refuses both too).');
  } else if (given('tokenizer_source')) {
    source(root.tokenizer_source, 'tokenizer_source');
  } else if (given('tokenizer')) {
    const t = root.tokenizer;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) {
      problem('RECIPE_INVALID', `tokenizer must be a mapping (source, tokens, pad_to_multiple_of), got ${describe(t)}.`);
    } else {
      const section = t as Record<string, unknown>;
      if (section.tokens !== undefined && section.tokens !== null) problem('RECIPE_INVALID', `tokenizer.tokens (where each token's embedding comes from) is not supported: ${NOT_YET}.`);
      if (section.pad_to_multiple_of !== undefined && section.pad_to_multiple_of !== null) problem('RECIPE_INVALID', `tokenizer.pad_to_multiple_of (padding the embeddings) is not supported: ${NOT_YET}.`);
      // mergekit's default source is union.
      source(section.source ?? 'union', 'tokenizer.source');
    }
  }

  if (given('chat_template')) {
    if (typeof root.chat_template === 'string' && root.chat_template.trim() !== '') out.chatTemplate = root.chat_template;
    else problem('PARAMETER_INVALID', `chat_template must be a template's name (alpaca, chatml, exaone, llama3, mistral), auto or a template, got ${describe(root.chat_template)}.`);
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
