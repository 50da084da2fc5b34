/**
 * Everything of a merged model's folder but its weights, as mergekit writes it (merge.py,
 * `run_merge`): config.json, the tokenizer's files, mergekit_config.yml (the recipe text) and a
 * README.md model card. Worked out before any tensor is read, so a problem here (a chat template
 * that is no template, a tokenizer_source whose vocabulary would re-map the embeddings) stops
 * the merge with the plan's problems. Shared by the CLI (written beside the weights) and the
 * engine (handed to the lab with the weights). No tensor code here.
 */
import { isMergeLabError, type MergeLabError } from '../errors.js';
import type { Recipe } from '../recipe/types.js';
import type { VocabularyRemap } from '../merge/embedding-rows.js';
import { modelCard } from './card.js';
import { configJson, outputConfig } from './config.js';
import { readJsonObject, type ModelFiles } from './model-files.js';
import { donorModel, planTokenizer, type OutputFile, type TensorShapes } from './tokenizer.js';

export type { OutputFile, TensorShapes } from './tokenizer.js';
export type { ModelFiles } from './model-files.js';

/** The recipe's file in the output folder, under mergekit's name. */
export const RECIPE_FILE = 'mergekit_config.yml';

export interface ModelFolderInput {
  readonly recipe: Recipe;
  /** mergekit_config.yml: the recipe as the user wrote it (the CLI's file), or as written back (the lab). */
  readonly recipeText: string;
  /** The recipe as the card names its models (the lab's, renamed to the files: recipe/rename.ts); default `recipe`. */
  readonly shownRecipe?: Recipe;
  /** The output folder's name: the model card's title (mergekit: the folder's base name). */
  readonly name: string;
  /** The method's human name and reference, for the card. */
  readonly method?: { readonly label: string; readonly reference?: string };
  /** Side files of every model the recipe names, and of a tokenizer_source model, by the recipe's name. */
  readonly files: ReadonlyMap<string, ModelFiles>;
  /** The opened checkpoints by the recipe's name (their headers only). */
  readonly checkpoints: ReadonlyMap<string, TensorShapes>;
}

export interface ModelFolder {
  /** In the order written: config.json, the tokenizer's files, mergekit_config.yml, README.md. */
  readonly files: OutputFile[];
  readonly warnings: string[];
  readonly problems: MergeLabError[];
  /** `tokenizer_source: union`: the new vocabulary, which planMerge must be given (its embeddings are re-ordered onto it). */
  readonly vocabulary?: VocabularyRemap;
}

const encoder = new TextEncoder();

export async function prepareModelFolder(input: ModelFolderInput): Promise<ModelFolder> {
  const { recipe } = input;
  const warnings: string[] = [];
  const problems: MergeLabError[] = [];
  const files: OutputFile[] = [];

  // A file that cannot be read or parsed is a problem of the merge; anything else is a bug.
  const asProblem = (e: unknown): MergeLabError => {
    if (!isMergeLabError(e)) throw e;
    return e;
  };
  const tokenizer = await planTokenizer(input).catch((e: unknown) => ({ files: [], warnings: [], problems: [asProblem(e)], vocabSize: undefined, vocabulary: undefined }));
  problems.push(...tokenizer.problems);
  warnings.push(...tokenizer.warnings);

  const donor = donorModel(recipe);
  const donorFiles = donor !== undefined ? input.files.get(donor) : undefined;
  if (donorFiles?.names.includes('config.json')) {
    try {
      const config = await readJsonObject(donorFiles, 'config.json');
      files.push({ name: 'config.json', bytes: encoder.encode(configJson(outputConfig(config, recipe, { vocabSize: tokenizer.vocabSize }))) });
    } catch (e) {
      problems.push(asProblem(e));
    }
  } else if (donor !== undefined) {
    warnings.push(`${donorFiles?.label ?? donor} has no config.json, so the merged model has none (transformers needs one to load it).`);
  }
  files.push(...tokenizer.files);
  files.push({ name: RECIPE_FILE, bytes: encoder.encode(input.recipeText) });
  files.push({ name: 'README.md', bytes: encoder.encode(modelCard({ ...input, recipe: input.shownRecipe ?? input.recipe })) });
  return { files, warnings, problems, ...(tokenizer.vocabulary ? { vocabulary: tokenizer.vocabulary } : {}) };
}
