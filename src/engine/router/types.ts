/**
 * The task router's vocabulary, shared by Twin-Merging and Channel Merging: a small MLP that reads
 * a model's features of one input and says which of T tasks the input belongs to. It knows task
 * indices only; the caller keeps the task names.
 */

/** How the router is trained. Every field has a default chosen for the demo (see DEFAULT_ROUTER_OPTIONS). */
export interface RouterOptions {
  /** Units in the hidden ReLU layer. */
  readonly hidden?: number;
  /** Passes over the training features. */
  readonly epochs?: number;
  /** Adam's step size. */
  readonly learningRate?: number;
  readonly batchSize?: number;
  /** Seeds the initial weights and the batch order: the same seed gives the same bits on one backend. */
  readonly seed?: number;
}

/**
 * On the demo (1024 ReLU features, five tasks) the router fits its training split within two
 * epochs; six leave a margin and keep retraining under about a second on wasm, which the lab does
 * in a worker whenever the shared expert changes.
 */
export const DEFAULT_ROUTER_OPTIONS: Required<RouterOptions> = {
  hidden: 32,
  epochs: 6,
  learningRate: 0.005,
  batchSize: 64,
  seed: 0,
};

/** How router logits become per-sample weights over the tasks. */
export interface RoutingOptions {
  /** softmax(logits / temperature): below 1 sharpens towards one task, above 1 blends. Default 1. */
  readonly temperature?: number;
  /** Keep only the k largest weights per sample and renormalise them to sum 1. Default: all tasks. */
  readonly topK?: number;
}

/**
 * A trained router as plain arrays (serialisable, no tensors). The forward pass is
 * `logits = fc2(relu(fc1((x − mean) / std)))`, with fc weights in torch's nn.Linear layout
 * [outputs, inputs], so a PyTorch user can load them into nn.Linear as they are.
 */
export interface RouterWeights {
  /** Input features per sample. */
  readonly features: number;
  readonly hidden: number;
  /** Number of tasks routed between (the logits' width). */
  readonly tasks: number;
  /** Per-feature standardisation learnt from the training features. */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  /** hidden × features. */
  readonly fc1Weight: Float32Array;
  readonly fc1Bias: Float32Array;
  /** tasks × hidden. */
  readonly fc2Weight: Float32Array;
  readonly fc2Bias: Float32Array;
}

/** One epoch of training, measured on that epoch's batches as they were trained (as Keras reports). */
export interface EpochStats {
  /** 1-based. */
  readonly epoch: number;
  /** Mean cross-entropy over the epoch's samples. */
  readonly loss: number;
  /** Fraction of the epoch's samples whose largest logit was their task. */
  readonly accuracy: number;
}

export interface TrainedRouter {
  readonly router: RouterWeights;
  /** The training curve, one entry per epoch. */
  readonly curve: readonly EpochStats[];
  /** The options used, defaults filled. */
  readonly options: Required<RouterOptions>;
}
