/**
 * Checkpoints split over several files: reading through a `model.safetensors.index.json` (or
 * `pytorch_model.bin.index.json`, or a plain set of files), and planning and writing safetensors
 * shards with the Hugging Face naming convention. Browser-safe: files arrive through resolver
 * callbacks.
 */
import { MergeLabError, isMergeLabError } from '../errors.js';
import { DTYPE_SIZES, isDType, numel } from './dtypes.js';
import { firstDuplicateKey, scanObjectMembers } from './json-keys.js';
import { openSafetensors } from './safetensors-reader.js';
import { createSafetensorsWriter, type SafetensorsWriter, type TensorSpec } from './safetensors-writer.js';
import { readChecked } from './sources.js';
import { openTorchCheckpoint, TORCH_FILE } from './torch-checkpoint.js';
import type { ByteSink, ByteSource, Checkpoint, TensorInfo } from './types.js';

/** The conventional name of the index of a sharded checkpoint. */
export const INDEX_FILE_NAME = 'model.safetensors.index.json';
/** The same for PyTorch `.bin` shards (transformers reads it when there are no safetensors). */
export const TORCH_INDEX_FILE_NAME = 'pytorch_model.bin.index.json';

/**
 * Opens one weights file by its name (`fileName`, by default the source's): `.bin`/`.pt`/`.pth`
 * as a PyTorch checkpoint, anything else as safetensors. The source is closed if opening fails.
 */
export function openWeightsFile(source: ByteSource, fileName = source.name): Promise<Checkpoint> {
  return TORCH_FILE.test(fileName) ? openTorchCheckpoint(source, { closeOnError: true }) : openSafetensors(source, { closeOnError: true });
}

/** Contents of a `*.safetensors.index.json`. */
export interface ShardIndex {
  /** Hugging Face writes `{"total_size": bytes}`; other keys are kept as found. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Tensor name → shard file name (relative to the index's folder). */
  readonly weight_map: Readonly<Record<string, string>>;
}

/**
 * Finds a shard by the file name the index gives. Resolve to undefined, or reject with
 * PATH_NOT_FOUND, when the file does not exist; that becomes SHARD_MISSING.
 */
export type ShardResolver = (fileName: string) => Promise<ByteSource | undefined>;

/** A checkpoint made of several files. `info()` offsets are within the tensor's own file. */
export interface MultiFileCheckpoint extends Checkpoint {
  /** The opened files, in the order they were given (index order of first mention). */
  readonly files: readonly Checkpoint[];
  /** The file holding `name`, or undefined. */
  fileOf(name: string): Checkpoint | undefined;
  /** The parsed index, when opened from one. */
  readonly index?: ShardIndex;
}

class MultiFile implements MultiFileCheckpoint {
  readonly tensorNames: readonly string[];
  private readonly where: Map<string, Checkpoint>;

  constructor(
    readonly name: string,
    readonly files: readonly Checkpoint[],
    order: readonly string[],
    where: Map<string, Checkpoint>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly index?: ShardIndex,
  ) {
    this.tensorNames = Object.freeze([...order]);
    this.where = where;
  }

  fileOf(name: string): Checkpoint | undefined {
    return this.where.get(name);
  }

  info(name: string): TensorInfo | undefined {
    return this.where.get(name)?.info(name);
  }

  private fileFor(name: string): Checkpoint {
    const f = this.where.get(name);
    if (!f) throw new MergeLabError('TENSOR_NOT_FOUND', `${this.name} has no tensor "${name}".`);
    return f;
  }

  async readRaw(name: string): Promise<Uint8Array> {
    return this.fileFor(name).readRaw(name);
  }

  async readFloat32(name: string): Promise<Float32Array> {
    return this.fileFor(name).readFloat32(name);
  }

  async close(): Promise<void> {
    await closeAll(this.files);
  }
}

async function closeAll(files: readonly { close(): Promise<void> }[]): Promise<void> {
  await Promise.allSettled(files.map((f) => f.close()));
}

/** Where each tensor lives across `files`; DUPLICATE_TENSOR if two files hold the same name. */
function locate(label: string, files: readonly Checkpoint[]): Map<string, Checkpoint> {
  const where = new Map<string, Checkpoint>();
  for (const f of files) {
    for (const n of f.tensorNames) {
      const other = where.get(n);
      if (other) {
        throw new MergeLabError('DUPLICATE_TENSOR', `Tensor "${n}" of ${label} is in both ${other.name} and ${f.name}; remove the stray file or fix the export.`);
      }
      where.set(n, f);
    }
  }
  return where;
}

/**
 * Combines already-opened files into one checkpoint (several `*.safetensors`, or `.bin` files,
 * with no index): tensors in file order, files in the given order. DUPLICATE_TENSOR when a name
 * repeats; the files are closed on failure. Metadata is the first file's.
 */
export function combineSafetensorsFiles(name: string, files: readonly Checkpoint[]): MultiFileCheckpoint {
  const where = locate(name, files);
  return new MultiFile(name, files, files.flatMap((f) => f.tensorNames), where, files[0]?.metadata ?? {});
}

/**
 * Parses and validates index JSON text (INDEX_INVALID): an object with a `weight_map` object of
 * string file names and unique tensor names, and an optional `metadata` object.
 * Returns the index and the tensor names in the order written.
 */
export function parseShardIndex(text: string, label: string): { index: ShardIndex; order: string[] } {
  const bad = (why: string): never => {
    throw new MergeLabError('INDEX_INVALID', `${label} is not a valid shard index: ${why}. Re-download it or open the shard files directly.`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return bad(`invalid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return bad('it is not a JSON object');
  const { weight_map: map, metadata = {} } = json as { weight_map?: unknown; metadata?: unknown };
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return bad('"weight_map" is missing or not an object');
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return bad('"metadata" is not an object');
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string' || v === '') bad(`"weight_map" maps "${k}" to ${JSON.stringify(v)} instead of a file name`);
    // Shards sit beside their index: an absolute path or a ".." step would read files outside it.
    if (/^[\\/]|^[A-Za-z]:|(^|[\\/])\.\.([\\/]|$)/.test(v)) bad(`"weight_map" maps "${k}" to ${JSON.stringify(v)}, outside the index's folder; shard names must be files beside the index`);
  }
  // JSON.parse would hide a repeated key and reorder integer-like ones: take keys from the text.
  const top = scanObjectMembers(text);
  const wm = [...top].reverse().find((m) => m.key === 'weight_map')!;
  const members = scanObjectMembers(text, wm.valueStart);
  const dup = firstDuplicateKey(members);
  if (dup !== undefined) bad(`tensor "${dup}" appears twice in "weight_map"`);
  return {
    index: { metadata: metadata as Record<string, unknown>, weight_map: map as Record<string, string> },
    order: members.map((m) => m.key),
  };
}

async function resolveShard(resolve: ShardResolver, file: string, label: string): Promise<ByteSource> {
  const missing = () =>
    new MergeLabError('SHARD_MISSING', `${label} lists shard "${file}", which is not there. Download all shard files into the same folder (or drop them all together).`);
  let src: ByteSource | undefined;
  try {
    src = await resolve(file);
  } catch (e) {
    if (isMergeLabError(e) && (e.code === 'PATH_NOT_FOUND' || e.code === 'SHARD_MISSING')) throw missing();
    throw e;
  }
  if (!src) throw missing();
  return src;
}

/**
 * Opens a sharded checkpoint from its index (`indexSource`, read whole: indexes are small) and a
 * resolver for shard files named in it (safetensors, or `.bin` shards of a
 * `pytorch_model.bin.index.json`, see {@link openWeightsFile}). Validates: INDEX_INVALID,
 * SHARD_MISSING, TENSOR_NOT_FOUND (the index names a tensor its shard lacks), DUPLICATE_TENSOR (a
 * name in two shards), plus every check of the shard's own format. Tensors a shard holds but the index does
 * not list are ignored, as transformers' loaders do. Metadata is the first shard's `__metadata__`;
 * the index's own metadata is on `.index`. `indexSource` is closed once read.
 */
export async function openShardedCheckpoint(indexSource: ByteSource, resolve: ShardResolver, name = indexSource.name): Promise<MultiFileCheckpoint> {
  if (indexSource.size > 100_000_000) {
    throw new MergeLabError('INDEX_INVALID', `${indexSource.name} is ${indexSource.size} bytes, far too large for a shard index.`);
  }
  let raw: Uint8Array;
  try {
    raw = await readChecked(indexSource, 0, indexSource.size);
  } finally {
    await indexSource.close?.();
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new MergeLabError('INDEX_INVALID', `${indexSource.name} is not UTF-8 text; it is not a shard index.`);
  }
  const { index, order } = parseShardIndex(text, indexSource.name);
  if (order.length === 0) throw new MergeLabError('INDEX_INVALID', `${indexSource.name} lists no tensors in "weight_map".`);

  const fileNames = [...new Set(order.map((t) => index.weight_map[t]!))];
  const files: Checkpoint[] = [];
  try {
    for (const f of fileNames) files.push(await openWeightsFile(await resolveShard(resolve, f, indexSource.name), f));
    const byFile = new Map(fileNames.map((f, i) => [f, files[i]!]));
    const where = locate(name, files);
    const chosen = new Map<string, Checkpoint>();
    for (const t of order) {
      const file = byFile.get(index.weight_map[t]!)!;
      if (!file.info(t)) {
        const actual = where.get(t);
        throw new MergeLabError(
          'TENSOR_NOT_FOUND',
          `${indexSource.name} puts tensor "${t}" in ${file.name}, but that file does not contain it${actual ? ` (it is in ${actual.name})` : ''}. The index does not match the shards; re-download them together.`,
        );
      }
      chosen.set(t, file);
    }
    return new MultiFile(name, files, order, chosen, files[0]?.metadata ?? {}, index);
  } catch (e) {
    await closeAll(files);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** One planned shard: its file name and the tensors it holds, in order. */
export interface ShardPlan {
  readonly fileName: string;
  readonly tensors: readonly TensorSpec[];
  /** Bytes of tensor data in this shard (headers excluded). */
  readonly dataSize: number;
}

export interface ShardedPlan {
  readonly shards: readonly ShardPlan[];
  /** The index to write as `model.safetensors.index.json` (Hugging Face writes none for one shard). */
  readonly index: ShardIndex;
}

function shardName(prefix: string, i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, '0');
  return `${prefix}-${pad(i)}-of-${pad(n)}.safetensors`;
}

/**
 * Splits `specs` (kept in order) into shards holding at most `maxShardSize` bytes of tensor data
 * each, counting data only, as Hugging Face's splitter does. A tensor bigger than the limit gets a
 * shard of its own. Shards are named `model-00001-of-00003.safetensors`; a single shard is named
 * `model.safetensors`. The index's `total_size` is the sum of all tensor data bytes.
 */
export function planShards(specs: readonly TensorSpec[], maxShardSize: number, prefix = 'model'): ShardedPlan {
  if (!(maxShardSize > 0)) throw new MergeLabError('PARAMETER_INVALID', `The maximum shard size must be a positive number of bytes, got ${maxShardSize}.`);
  const groups: { tensors: TensorSpec[]; dataSize: number }[] = [];
  let current: { tensors: TensorSpec[]; dataSize: number } | undefined;
  let total = 0;
  const seen = new Set<string>();
  for (const s of specs) {
    // The weight map is keyed by name: a repeat would silently point one tensor at two shards.
    if (seen.has(s.name)) throw new MergeLabError('DUPLICATE_TENSOR', `Tensor "${s.name}" is planned twice; names must be unique.`);
    seen.add(s.name);
    if (!isDType(s.dtype)) throw new MergeLabError('UNKNOWN_DTYPE', `Tensor "${s.name}" has dtype "${s.dtype}", which merge-lab cannot write.`);
    const bytes = numel(s.shape) * DTYPE_SIZES[s.dtype];
    total += bytes;
    if (!current || (current.tensors.length > 0 && current.dataSize + bytes > maxShardSize)) {
      current = { tensors: [], dataSize: 0 };
      groups.push(current);
    }
    current.tensors.push(s);
    current.dataSize += bytes;
  }
  if (groups.length === 0) groups.push({ tensors: [], dataSize: 0 });
  const shards = groups.map((g, i) => ({
    fileName: groups.length === 1 ? `${prefix}.safetensors` : shardName(prefix, i + 1, groups.length),
    tensors: g.tensors,
    dataSize: g.dataSize,
  }));
  // No prototype: a tensor named "__proto__" is an ordinary key of the index too.
  const weight_map: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const sh of shards) for (const t of sh.tensors) weight_map[t.name] = sh.fileName;
  return { shards, index: { metadata: { total_size: total }, weight_map } };
}

/** Index JSON text as Hugging Face writes it (2-space indent, trailing newline); keys keep plan order. */
export function serializeShardIndex(index: ShardIndex): string {
  return JSON.stringify({ metadata: index.metadata, weight_map: index.weight_map }, null, 2) + '\n';
}

/** Streams a checkpoint split into shards; implements the merge runner's TensorOutput. */
export interface ShardedWriter {
  readonly plan: ShardedPlan;
  writeTensor(name: string, data: Float32Array | Uint8Array): Promise<void>;
  /** As SafetensorsWriter.writeTensorParts, into the shard that holds the tensor. */
  writeTensorParts(name: string, parts: AsyncIterable<Float32Array>): Promise<void>;
  /** Closes every shard and writes the index (only when there is more than one shard). */
  finish(): Promise<void>;
  /** Aborts every shard opened so far: nothing is left under a final name. */
  abort(): Promise<void>;
}

/**
 * Writes `specs` as shards of at most `maxShardSize` data bytes through `openSink(fileName)`.
 * Shard sinks are opened as their first tensor arrives and all closed together in `finish()`, so a
 * failure or cancel before then leaves no finished shard behind. Every shard gets `metadata`.
 */
export function createShardedWriter(
  openSink: (fileName: string) => Promise<ByteSink>,
  specs: readonly TensorSpec[],
  options: { maxShardSize: number; metadata?: Readonly<Record<string, string>>; prefix?: string },
): ShardedWriter {
  const plan = planShards(specs, options.maxShardSize, options.prefix);
  const writers: SafetensorsWriter[] = [];
  let shard = -1;
  let written = 0;
  let state: 'open' | 'finished' | 'aborted' = 'open';
  const abort = async () => {
    if (state === 'aborted') return;
    state = 'aborted';
    await Promise.allSettled(writers.map((w) => w.abort()));
  };
  const writeTo = async (name: string, write: (w: SafetensorsWriter) => Promise<void>) => {
    if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot write "${name}": the sharded writer is already ${state}.`);
    try {
      // Check the global order here, so a mistake is reported against the whole output
      // rather than as an unknown name in one shard.
      const expected = specs[written];
      if (expected?.name !== name) {
        if (!specs.some((s) => s.name === name)) throw new MergeLabError('TENSOR_NOT_FOUND', `"${name}" is not among the tensors planned for this output.`);
        throw new MergeLabError('WRITE_FAILED', `Tensors must be written in planned order: expected ${expected ? `"${expected.name}"` : 'no more tensors'}, got "${name}".`);
      }
      let w = writers[shard];
      if (!w || w.remainingCount === 0) {
        shard++;
        const sp = plan.shards[shard]!;
        w = await createSafetensorsWriter(await openSink(sp.fileName), sp.tensors, options.metadata);
        writers.push(w);
      }
      await write(w);
      written++;
    } catch (e) {
      await abort();
      throw e;
    }
  };
  return {
    plan,
    writeTensor: (name, data) => writeTo(name, (w) => w.writeTensor(name, data)),
    writeTensorParts: (name, parts) => writeTo(name, (w) => w.writeTensorParts(name, parts)),
    async finish() {
      if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot finish: the sharded writer is already ${state}.`);
      try {
        // A plan with no tensors at all still produces one (empty) file.
        if (writers.length === 0 && plan.shards.length === 1 && plan.shards[0]!.tensors.length === 0) {
          writers.push(await createSafetensorsWriter(await openSink(plan.shards[0]!.fileName), [], options.metadata));
        }
        const missing = [
          ...(writers[writers.length - 1]?.remaining ?? []),
          ...plan.shards.slice(writers.length).flatMap((s) => s.tensors.map((t) => t.name)),
        ];
        if (missing.length > 0) {
          throw new MergeLabError('WRITE_FAILED', `The sharded output is incomplete: ${missing.length} tensors not written (first: "${missing[0]}").`);
        }
        for (const w of writers) await w.finish();
        if (plan.shards.length > 1) {
          const sink = await openSink(INDEX_FILE_NAME);
          try {
            await sink.write(new TextEncoder().encode(serializeShardIndex(plan.index)));
            await sink.close();
          } catch (e) {
            await sink.abort().catch(() => undefined);
            throw e;
          }
        }
        state = 'finished';
      } catch (e) {
        await abort();
        throw e;
      }
    },
    abort,
  };
}
