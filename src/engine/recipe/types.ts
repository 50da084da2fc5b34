/**
 * A mergekit recipe as the engine sees it, independent of YAML. Parameter settings keep mergekit's
 * three shapes — a scalar, a gradient over layers, or a list of filter/value entries — and are
 * evaluated per tensor by resolve.ts.
 */

export type Scalar = number | boolean;

/** One `{filter, value}` entry; no filter (or "*") matches every tensor. */
export interface Conditional {
  readonly filter?: string;
  readonly value: Scalar | readonly number[];
}

/** A scalar, a gradient (numbers interpolated over the layer stack), or filter/value entries. */
export type ParameterSetting = Scalar | readonly number[] | readonly Conditional[];

export type ParameterMap = Readonly<Record<string, ParameterSetting>>;

export interface RecipeModel {
  /** The model as written in the recipe: a path or an id. */
  readonly model: string;
  readonly parameters?: ParameterMap;
}

/**
 * The only parameter names whose value may be a string, and only in the top-level `parameters`:
 * they name a merge method that a routed method (src/engine/routed/) runs inside itself, or (for
 * `clustering`) how Channel Merging groups rows.
 */
export const STRING_OPTION_KEYS: readonly string[] = ['shared_method', 'group_method', 'clustering'];

/** Parameter names whose value is a list of strings, top level only: Twin-Merging's `exclude` (tensor-name patterns). */
export const STRING_LIST_OPTION_KEYS: readonly string[] = ['exclude'];

/** One source of a slice: a model's layers [start, end) (mergekit's InputSliceDefinition). */
export interface RecipeSliceSource {
  readonly model: string;
  readonly layerRange: readonly [number, number];
  readonly parameters?: ParameterMap;
}

/**
 * One entry of `slices:` (mergekit's OutputSliceDefinition): its sources, all of one length, are
 * merged layer by layer into that many output layers, after the previous slices' layers.
 */
export interface RecipeSlice {
  readonly sources: readonly RecipeSliceSource[];
  /** The base of this slice's merges; default the recipe's base_model. */
  readonly baseModel?: string;
  /** Looked up after a source's own parameters and before the module's and the top level's. */
  readonly parameters?: ParameterMap;
}

/** One entry of `modules:` (mergekit's OutputModuleDefinition): a module's slices or models. */
export interface RecipeModule {
  /** Exactly one of `slices` and `models`. */
  readonly slices?: readonly RecipeSlice[];
  readonly models?: readonly RecipeModel[];
  /** Looked up after a slice's and before the top level's. */
  readonly parameters?: ParameterMap;
}

export type RecipeMath = 'mergekit' | 'float32';
export const RECIPE_MATHS: readonly RecipeMath[] = ['mergekit', 'float32'];

export type RecipeDtype = 'float32' | 'float16' | 'bfloat16' | 'float64';
export const RECIPE_DTYPES: readonly RecipeDtype[] = ['float32', 'float16', 'bfloat16', 'float64'];

export interface Recipe {
  readonly mergeMethod: string;
  readonly baseModel?: string;
  /**
   * In recipe order. A `slices:` recipe of one slice whose sources share one layer range is read
   * into this too (with `layerRange` and `sliceParameters`); for any other `slices:` or `modules:`
   * recipe, every model they name, once, in order of first mention, without parameters.
   */
  readonly models: readonly RecipeModel[];
  /** A `slices:` recipe other than one slice whose sources share one range (see `models`): the slices in order. */
  readonly slices?: readonly RecipeSlice[];
  /** A `modules:` recipe: each module of the architecture it merges, by name, in recipe order. */
  readonly modules?: Readonly<Record<string, RecipeModule>>;
  /** Top-level `parameters`. */
  readonly parameters?: ParameterMap;
  /** A one-slice recipe's own `parameters`: looked up after a model's and before the top level. */
  readonly sliceParameters?: ParameterMap;
  /** A one-slice recipe's `layer_range`: the output's layers are these layers of every model. */
  readonly layerRange?: readonly [number, number];
  readonly dtype?: RecipeDtype;
  readonly outDtype?: RecipeDtype;
  readonly randomSeed?: number;
  /**
   * How 16-bit recipes are computed: 'mergekit' (the default) op by op in `dtype`, rounded as torch
   * rounds on the CPU, giving mergekit's bytes; 'float32' in float32 and rounded once at the output
   * (more precise, not mergekit's bytes). Our key (`math:`), not mergekit's.
   */
  readonly math?: RecipeMath;
  /**
   * Method-choosing names given as strings in the top-level `parameters` (see STRING_OPTION_KEYS):
   * `shared_method` (Twin-Merging's shared expert) and `group_method` (Channel Merging's merge
   * inside a group). Kept apart from `parameters`, whose values are numbers and booleans; written
   * back into `parameters` by write.ts.
   */
  readonly options?: Readonly<Record<string, string>>;
  /** Lists of strings from the top-level `parameters` (STRING_LIST_OPTION_KEYS), written back there by write.ts. */
  readonly listOptions?: Readonly<Record<string, readonly string[]>>;
  /** `tokenizer_source` (or the `tokenizer:` section's source): 'base', or the model whose tokenizer the output gets. */
  readonly tokenizerSource?: string;
  /** The `tokenizer:` section's `tokens` (with `source: union`): where listed tokens' embeddings come from, in the recipe's order. */
  readonly tokenizerTokens?: readonly TokenEmbedding[];
  /** `chat_template`: one of mergekit's templates by name, 'auto', or a template. */
  readonly chatTemplate?: string;
  /** Things worth telling the user that do not stop the merge (ignored keys, for example). */
  readonly warnings?: readonly string[];
}

/**
 * One entry of the `tokenizer:` section's `tokens` (mergekit tokenizer/config.py): the token is
 * added to the output vocabulary, and a model lacking it (every model with `force`) gets the row of
 * `model` for it, or that model's row `tokenId`, or of its token `token`.
 */
export interface TokenEmbedding {
  readonly token: string;
  readonly model: string;
  /** `kind: model_token`: the model's own row, by id or by its token (else the model's row for this token). */
  readonly tokenId?: number;
  readonly sourceToken?: string;
  readonly force: boolean;
}
