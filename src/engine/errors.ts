/**
 * Errors the engine raises on purpose. Each carries a stable `code` (tests, the CLI and the UI key
 * on it) and a message that names the file, tensor or setting at fault and says what to do.
 * Anything that is not a MergeLabError reaching a user is a bug.
 */
export type ErrorCode =
  // safetensors / checkpoint files
  | 'FILE_TOO_SMALL'
  | 'HEADER_TOO_LARGE'
  | 'HEADER_OUT_OF_BOUNDS'
  | 'HEADER_NOT_UTF8'
  | 'HEADER_INVALID_JSON'
  | 'HEADER_NOT_OBJECT'
  | 'TENSOR_ENTRY_INVALID'
  | 'UNKNOWN_DTYPE'
  | 'SIZE_MISMATCH'
  | 'OFFSETS_OVERLAP'
  | 'OFFSETS_GAP'
  | 'TRAILING_BYTES'
  | 'FILE_TRUNCATED'
  | 'DUPLICATE_TENSOR'
  | 'METADATA_INVALID'
  | 'TENSOR_NOT_FOUND'
  | 'INDEX_INVALID'
  | 'SHARD_MISSING'
  | 'NO_CHECKPOINT'
  // PyTorch .bin/.pt pickles
  | 'UNSAFE_PICKLE'
  | 'PICKLE_INVALID'
  | 'NOT_A_STATE_DICT'
  | 'PATH_NOT_FOUND'
  | 'NOT_A_FILE'
  | 'READ_FAILED'
  | 'WRITE_FAILED'
  | 'OUT_LOCKED'
  // PEFT LoRA adapters (io/lora-checkpoint.ts)
  | 'LORA_INVALID'
  | 'LORA_NEEDS_BASE'
  // recipes and parameters
  | 'RECIPE_INVALID_YAML'
  | 'RECIPE_INVALID'
  | 'UNKNOWN_METHOD'
  | 'MISSING_PARAMETER'
  | 'PARAMETER_OUT_OF_RANGE'
  | 'PARAMETER_INVALID'
  | 'UNKNOWN_PARAMETER'
  | 'BASE_MODEL_REQUIRED'
  | 'TOO_FEW_MODELS'
  | 'TOO_MANY_MODELS'
  | 'TENSOR_MISSING'
  | 'SHAPE_MISMATCH'
  | 'EMPTY_TRIM'
  | 'DTYPE_UNSUPPORTED'
  | 'RECIPE_PROBLEMS'
  // the embedded demo (manifest.json, digits data)
  | 'DEMO_MANIFEST_INVALID'
  | 'DEMO_DATA_INVALID'
  // routed packages (Twin-Merging's twin.json)
  | 'TWIN_PACKAGE_INVALID'
  // language models (src/engine/lm: config.json, tokenizer, texts)
  | 'LM_CONFIG_INVALID'
  | 'LM_UNSUPPORTED'
  | 'TOKENIZER_INVALID'
  // running
  | 'BACKEND_UNAVAILABLE'
  | 'CANCELLED'
  | 'BUDGET_EXCEEDED'
  | 'INTERNAL';

export class MergeLabError extends Error {
  readonly code: ErrorCode;
  /** Further problems found in the same pass (a recipe validation reports all of them at once). */
  readonly problems: MergeLabError[];

  constructor(code: ErrorCode, message: string, problems: MergeLabError[] = []) {
    super(message);
    this.name = 'MergeLabError';
    this.code = code;
    this.problems = problems;
  }
}

export function isMergeLabError(e: unknown): e is MergeLabError {
  return e instanceof MergeLabError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'MergeLabError');
}

/** Several problems found in one pass, reported together. */
export function combineProblems(problems: MergeLabError[]): MergeLabError {
  if (problems.length === 1) return problems[0]!;
  const lines = problems.map((p) => `  - ${p.message}`).join('\n');
  return new MergeLabError('RECIPE_PROBLEMS', `${problems.length} problems found:\n${lines}`, problems);
}
