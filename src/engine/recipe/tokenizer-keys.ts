/**
 * A recipe's tokenizer keys (mergekit config.py): `tokenizer_source`, the `tokenizer:` section and
 * `chat_template`. What merge-lab writes for them is in output/tokenizer.ts (and the union
 * vocabulary with the section's `tokens` in output/union-tokenizer.ts); what it cannot do exactly as
 * mergekit does — padding the vocabulary, `tokens` with another source than union, the sources
 * mergekit itself fails on — is refused here, each with one line saying so, rather than ignored.
 */

import type { TokenEmbedding } from './types.js';

type Problem = (code: 'RECIPE_INVALID' | 'PARAMETER_INVALID', message: string) => void;

export interface TokenizerKeys {
  /** 'base', 'union' (every model's tokens in one vocabulary), or the model (path or id) whose tokenizer the output gets. */
  readonly tokenizerSource?: string;
  /** The `tokenizer:` section's `tokens`, with `source: union`. */
  readonly tokenizerTokens?: readonly TokenEmbedding[];
  /** A built-in template's name, 'auto', or a template. */
  readonly chatTemplate?: string;
}

const NOT_YET = 'merge-lab does not do this yet';

export function readTokenizerKeys(root: Readonly<Record<string, unknown>>, problem: Problem): TokenizerKeys {
  const out: { tokenizerSource?: string; tokenizerTokens?: TokenEmbedding[]; chatTemplate?: string } = {};
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
      if (section.pad_to_multiple_of !== undefined && section.pad_to_multiple_of !== null) problem('RECIPE_INVALID', `tokenizer.pad_to_multiple_of (padding the embeddings) is not supported: ${NOT_YET}.`);
      // mergekit's default source is union.
      source(section.source ?? 'union', 'tokenizer.source');
      if (section.tokens !== undefined && section.tokens !== null) {
        if ((section.source ?? 'union') !== 'union') problem('RECIPE_INVALID', `tokenizer.tokens is supported with source: union only (with another source mergekit re-maps the embeddings onto that tokenizer, which ${NOT_YET}).`);
        else {
          const tokens = readTokens(section.tokens, problem);
          if (tokens) out.tokenizerTokens = tokens;
        }
      }
    }
  }

  if (given('chat_template')) {
    if (typeof root.chat_template === 'string' && root.chat_template.trim() !== '') out.chatTemplate = root.chat_template;
    else problem('PARAMETER_INVALID', `chat_template must be a template's name (alpaca, chatml, exaone, llama3, mistral), auto or a template, got ${describe(root.chat_template)}.`);
  }
  return out;
}

/**
 * `tokens:` — token: {source, force}, source being a model, {kind: model_token, model, token_id |
 * token} or {kind: zero}. mergekit fails on zero (embed.py leaves the row unset) and on a missing
 * source, so both are refused.
 */
function readTokens(v: unknown, problem: Problem): TokenEmbedding[] | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problem('RECIPE_INVALID', `tokenizer.tokens must map each token to {source, force}, got ${describe(v)}.`);
    return undefined;
  }
  const out: TokenEmbedding[] = [];
  for (const [token, cfg] of Object.entries(v as Record<string, unknown>)) {
    const where = `tokenizer.tokens[${JSON.stringify(token)}]`;
    const c = (typeof cfg === 'object' && cfg !== null && !Array.isArray(cfg) ? cfg : {}) as Record<string, unknown>;
    const force = c.force ?? false;
    if (typeof force !== 'boolean') problem('RECIPE_INVALID', `${where}.force must be true or false, got ${describe(force)}.`);
    const src = c.source;
    if (typeof src === 'string' && src.trim() !== '') {
      out.push({ token, model: src.trim(), force: force === true });
    } else if (typeof src === 'object' && src !== null && !Array.isArray(src) && (src as Record<string, unknown>).kind === 'model_token') {
      const s = src as Record<string, unknown>;
      const hasId = s.token_id !== undefined && s.token_id !== null;
      const hasToken = s.token !== undefined && s.token !== null;
      if (typeof s.model !== 'string' || s.model.trim() === '') problem('RECIPE_INVALID', `${where}.source.model must be a model's path, got ${describe(s.model)}.`);
      else if (hasId === hasToken) problem('RECIPE_INVALID', `${where}.source needs token_id or token, one of them (as mergekit requires).`);
      else if (hasId && !(typeof s.token_id === 'number' && Number.isInteger(s.token_id) && s.token_id >= 0)) problem('RECIPE_INVALID', `${where}.source.token_id must be a row number, got ${describe(s.token_id)}.`);
      else if (hasToken && typeof s.token !== 'string') problem('RECIPE_INVALID', `${where}.source.token must be a token, got ${describe(s.token)}.`);
      else out.push({ token, model: s.model.trim(), ...(hasId ? { tokenId: s.token_id as number } : { sourceToken: s.token as string }), force: force === true });
    } else if (typeof src === 'object' && src !== null && (src as Record<string, unknown>).kind === 'zero') {
      problem('RECIPE_INVALID', `${where}: source {kind: zero} is refused: mergekit fails on it (embed.py never sets the row). Name a model, or a model's token.`);
    } else {
      problem('RECIPE_INVALID', `${where} needs a source: a model's path or {kind: model_token, model, token_id | token} (mergekit fails without one), got ${describe(src)}.`);
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
