/**
 * The task router's vocabulary, shared by Twin-Merging and Channel Merging: an MLP that reads a
 * model's features of one input and says which of T tasks the input belongs to. It knows task
 * indices only; the caller keeps the task names.
 *
 * Two architectures:
 * - 'paper' (the default): Twin-Merging's router as its public code builds it (SimpleMLP in
 *   discriminative/router.py): d → 2d → 2d → T, each hidden layer Linear → BatchNorm1d →
 *   LeakyReLU(0.01) → Dropout(0.5), Adam at 5e-4, at most 50 epochs, the best epoch on held-out
 *   data kept. Ours: the input standardisation in front; a held-out quarter of the validation split
 *   for that choice (the code evaluates on its test split); the epoch with the lowest held-out loss
 *   kept (the code keeps the best accuracy — see train.ts) and training stopped after `patience`
 *   epochs without one lower by 1e-3 (the code runs all 50); batches of 128 (the code's 1024 gives
 *   two steps an epoch on the demo's 1,350 training samples, where GLUE gave it dozens); a constant
 *   step size (the code's Trainer decays it linearly).
 * - 'small': our first router, d → 32 → T with a ReLU, no normalisation or dropout.
 */

export type RouterArchitecture = 'paper' | 'small';
export const ROUTER_ARCHITECTURES: readonly RouterArchitecture[] = ['paper', 'small'];

/** How the router is trained. Absent fields take the architecture's defaults (ROUTER_DEFAULTS). */
export interface RouterOptions {
  readonly architecture?: RouterArchitecture;
  /** Units in each hidden layer (default: twice the feature width for 'paper', 32 for 'small'). */
  readonly hidden?: number;
  /** Passes over the training features at most (early stopping may end sooner). */
  readonly epochs?: number;
  /** Adam's step size. */
  readonly learningRate?: number;
  readonly batchSize?: number;
  /** Epochs without a better held-out accuracy before training stops (needs a held-out set). */
  readonly patience?: number;
  /** Dropout after each hidden layer's activation, while training. */
  readonly dropout?: number;
  /** Seeds the initial weights, the batch order and the dropout masks: the same seed gives the same bits on one backend. */
  readonly seed?: number;
}

/** Options with every field filled; `hidden` is resolved against the feature width when training. */
export type ResolvedRouterOptions = Required<Omit<RouterOptions, 'hidden'>> & { readonly hidden: number | 'twice the features' };

export const ROUTER_DEFAULTS: Readonly<Record<RouterArchitecture, ResolvedRouterOptions>> = {
  paper: { architecture: 'paper', hidden: 'twice the features', epochs: 50, learningRate: 0.0005, batchSize: 128, patience: 3, dropout: 0.5, seed: 0 },
  small: { architecture: 'small', hidden: 32, epochs: 30, learningRate: 0.005, batchSize: 64, patience: 3, dropout: 0, seed: 0 },
};

/** torch's BatchNorm1d eps and LeakyReLU slope, which the paper's code keeps at their defaults. */
export const BATCH_NORM_EPS = 1e-5;
export const LEAKY_SLOPE = 0.01;

/** How router logits become per-sample weights over the tasks. */
export interface RoutingOptions {
  /** softmax(logits / temperature): below 1 sharpens towards one task, above 1 blends. Default 1. */
  readonly temperature?: number;
  /** Keep only the k largest weights per sample and renormalise them to sum 1. Default: all tasks. */
  readonly topK?: number;
}

/** Batch normalisation at inference: (z − mean) / sqrt(variance + eps) · weight + bias, per unit. */
export interface RouterNorm {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  readonly eps: number;
}

/** One Linear layer in torch's nn.Linear layout, with what follows it. */
export interface RouterLayer {
  readonly inputs: number;
  readonly outputs: number;
  /** outputs × inputs. */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly norm?: RouterNorm;
  readonly activation: 'relu' | 'leaky_relu' | 'none';
}

/**
 * A trained router as plain arrays (serialisable, no tensors). The forward pass is: standardise
 * the input, (x − mean) / std, then each layer: Linear, its norm (running statistics), its
 * activation. The last layer gives the logits. Dropout is training only.
 */
export interface RouterWeights {
  readonly architecture: RouterArchitecture;
  /** Input features per sample. */
  readonly features: number;
  /** Units per hidden layer. */
  readonly hidden: number;
  /** Number of tasks routed between (the logits' width). */
  readonly tasks: number;
  /** Per-feature standardisation learnt from the training features. */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly layers: readonly RouterLayer[];
}

/**
 * One epoch of training. `loss` and `accuracy` on that epoch's batches as they were trained (as
 * Keras reports them); the validation numbers on the held-out samples after the epoch, in
 * inference mode (running statistics, no dropout).
 */
export interface EpochStats {
  /** 1-based. */
  readonly epoch: number;
  /** Mean cross-entropy over the epoch's samples. */
  readonly loss: number;
  /** Fraction of the epoch's samples whose largest logit was their task. */
  readonly accuracy: number;
  readonly validationLoss?: number;
  readonly validationAccuracy?: number;
}

export interface TrainedRouter {
  readonly router: RouterWeights;
  /** The training curve, one entry per epoch run. */
  readonly curve: readonly EpochStats[];
  /** The options used, defaults filled (hidden resolved). */
  readonly options: Required<RouterOptions>;
  /** The epoch whose weights were kept: the lowest held-out loss (train.ts' rule), or the last without a held-out set. */
  readonly bestEpoch: number;
  /** Samples trained on and held out. */
  readonly samples: { readonly training: number; readonly heldOut: number };
}
