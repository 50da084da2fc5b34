/**
 * The model card (README.md) of a merged model, carrying what mergekit's card carries (card.py):
 * Hugging Face front matter (`library_name: transformers`, tags `merge` and `mergekit`), the
 * method with its paper, the base model, the models merged and the recipe. In our own words.
 * The front matter's `base_model` lists Hugging Face repository ids; every model merge-lab reads
 * is a local path, so it lists none.
 */
import type { Recipe } from '../recipe/types.js';

export interface CardInput {
  /** The output folder's name: the card's title. */
  readonly name: string;
  readonly recipe: Recipe;
  /** The recipe as written into mergekit_config.yml. */
  readonly recipeText: string;
  /** The method's human name and reference (the method registry's `label` and `reference`). */
  readonly method?: { readonly label: string; readonly reference?: string };
}

/** "… arXiv:2306.01708" → the same with the arXiv id linked. */
function linkArxiv(text: string): string {
  return text.replace(/arXiv:(\d{4}\.\d{4,5})/g, '[arXiv:$1](https://arxiv.org/abs/$1)');
}

/** A code fence longer than any run of backticks in `text`, so the recipe cannot close it. */
function fence(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  return '`'.repeat(Math.max(3, longest + 1));
}

export function modelCard(input: CardInput): string {
  const { recipe } = input;
  const method = input.method ? `${input.method.label} (\`${recipe.mergeMethod}\`${input.method.reference ? `; ${linkArxiv(input.method.reference)}` : ''})` : `\`${recipe.mergeMethod}\``;
  // As mergekit's card does, slerp names no base: it interpolates between its two models.
  const base = recipe.mergeMethod === 'slerp' ? undefined : recipe.baseModel;
  const merged = [...new Set(recipe.models.map((m) => m.model).filter((m) => m !== base))];
  if (recipe.mergeMethod === 'slerp' && recipe.baseModel !== undefined && !merged.includes(recipe.baseModel)) merged.unshift(recipe.baseModel);
  const text = input.recipeText.endsWith('\n') ? input.recipeText : `${input.recipeText}\n`;
  const f = fence(text);
  return [
    '---',
    'library_name: transformers',
    'tags:',
    '- merge',
    '- mergekit',
    '- merge-lab',
    '---',
    `# ${input.name}`,
    '',
    'A model made by merging the weights of pre-trained language models, without further training,',
    'with merge-lab from a [mergekit](https://github.com/arcee-ai/mergekit) recipe.',
    '',
    '## How it was merged',
    '',
    `- Method: ${method}`,
    ...(base !== undefined ? [`- Base model: ${base}`] : []),
    `- Merged into it:`,
    ...merged.map((m) => `  - ${m}`),
    ...(recipe.tokenizerSource !== undefined ? [`- Tokenizer: from ${recipe.tokenizerSource === 'base' ? 'the base model' : recipe.tokenizerSource}`] : []),
    '',
    '## Recipe',
    '',
    'The recipe below is also in `mergekit_config.yml`; `mergekit-yaml` or `merge-lab merge` reads it.',
    '',
    `${f}yaml`,
    `${text}${f}`,
    '',
  ].join('\n');
}
