/**
 * The Channel Merging package as bytes (the CLI writes them into a folder, the lab offers them as
 * downloads):
 * - groups.safetensors: `{tensor}.groups`, [K, ...shape], the K merged full-weight copies;
 * - index.safetensors: `{tensor}.index`, U8 [T, C], the group of task t at output channel c
 *   (C = shape[0] for ≥ 2-D tensors; for a bias that follows its weight's rows, one per element;
 *   1 for other vectors and scalars — channel.json gives each tensor's C);
 * - router.safetensors: optional, produced elsewhere (the Twin-Merging router) and carried as is;
 * - channel.json: format, version, tasks, K, group method and parameters, how rows were grouped,
 *   tensors and storage (storage.ts, the same accounting the lab and the CLI print).
 * Task t's tensor is rebuilt as W_t[c] = groups[idx[t][c]][c]; no base model is needed.
 */
import { MergeLabError } from '../../errors.js';
import { CHANNEL_FILES } from './files.js';
import { memorySource, numel, openSafetensors, serializeSafetensors, type TensorWithData } from '../../io/index.js';
import type { ChannelModel, ChannelTensor, Similarity } from './channel-merge.js';
import { CLUSTERING_METHODS, channelLayout, type ClusteringMethod } from './cluster.js';
import { KMEANS_RESTARTS } from './kmeans.js';
import { channelStorage, type ChannelStorage } from './storage.js';

export const CHANNEL_FORMAT = 'merge-lab-channel';
/** 2: k-means grouping and biases per element (1, still read: average linkage, a vector one channel). */
export const CHANNEL_VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];
export { CHANNEL_FILES };

export type GroupsDtype = 'F32' | 'F16' | 'BF16';

/** channel.json. */
export interface ChannelManifest {
  readonly format: typeof CHANNEL_FORMAT;
  readonly version: number;
  readonly tasks: readonly string[];
  /** The base the task vectors were taken against (a name; it is not needed to rebuild). */
  readonly base: string;
  readonly K: number;
  readonly groupMethod: ChannelModel['method'];
  readonly clustering: {
    readonly on: Similarity;
    /** Absent in version 1 packages, which were all average linkage. */
    readonly method?: ClusteringMethod;
    readonly distance: 'cosine';
    readonly linkage?: 'average';
    /** k-means: its seed (the recipe's random_seed; each tensor's stream mixes in its name) and restarts per channel. */
    readonly seed?: number;
    readonly restarts?: number;
    readonly ties: string;
    readonly labels: 'by lowest task index';
    /** Which 1-D tensors follow a weight's rows (per element). */
    readonly biases?: string;
  };
  /** How a task's weights are rebuilt, in words. */
  readonly lookup: string;
  readonly dtype: GroupsDtype;
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[]; readonly channels: number; readonly groups: string; readonly index: string }[];
  readonly storage: ChannelStorage;
  readonly files: { readonly groups: string; readonly index: string; readonly router?: string };
  /** Anything the router's producer wants recorded (its features, training split …). */
  readonly router?: Readonly<Record<string, unknown>>;
}

export interface ChannelPackageOptions {
  /** Stored dtype of the groups (default F32); rebuilt weights are then those values decoded. */
  readonly dtype?: GroupsDtype;
  /** A router's safetensors bytes, stored as router.safetensors. */
  readonly router?: { readonly bytes: Uint8Array; readonly params?: number; readonly info?: Readonly<Record<string, unknown>> };
}

const LOOKUP = 'W_t[c] = groups[index[t][c]][c] for channel c: row c of a >= 2-D tensor, element c of a bias that follows its weight (index [T, C] with C its length), and the whole of any other 1-D or 0-D tensor (C = 1)';

const BIASES = 'X.bias follows X.weight element by element when X.weight has as many rows as X.bias has elements';

/** The package's files by name. */
export function buildChannelPackage(model: ChannelModel, options: ChannelPackageOptions = {}): { files: Record<string, Uint8Array>; manifest: ChannelManifest } {
  const dtype = options.dtype ?? 'F32';
  const T = model.tasks.length;
  const groups: TensorWithData[] = model.tensors.map((t) => ({ name: `${t.name}.groups`, dtype, shape: [model.K, ...t.shape], data: t.groups }));
  const index: TensorWithData[] = model.tensors.map((t) => ({ name: `${t.name}.index`, dtype: 'U8', shape: [T, t.channels], data: t.index }));
  const meta = { format: CHANNEL_FORMAT, version: String(CHANNEL_VERSION) };
  const manifest: ChannelManifest = {
    format: CHANNEL_FORMAT,
    version: CHANNEL_VERSION,
    tasks: model.tasks,
    base: model.baseName,
    K: model.K,
    groupMethod: model.method,
    clustering:
      model.clustering === 'kmeans'
        ? {
            on: model.similarity,
            method: 'kmeans',
            distance: 'cosine',
            seed: model.seed,
            restarts: KMEANS_RESTARTS,
            ties: 'k-means++ seeding, the lowest inertia of the restarts (the first on a tie); an assignment tie keeps the current group, then the lowest group',
            labels: 'by lowest task index',
            biases: BIASES,
          }
        : { on: model.similarity, method: 'average_linkage', distance: 'cosine', linkage: 'average', ties: 'lowest task indices', labels: 'by lowest task index', biases: BIASES },
    lookup: LOOKUP,
    dtype,
    tensors: model.tensors.map((t) => ({ name: t.name, shape: t.shape, channels: t.channels, groups: `${t.name}.groups`, index: `${t.name}.index` })),
    storage: channelStorage(model.tensors, T, model.K, { bytesPerParam: dtype === 'F32' ? 4 : 2, routerParams: options.router?.params ?? 0 }),
    files: { groups: CHANNEL_FILES.groups, index: CHANNEL_FILES.index, ...(options.router ? { router: CHANNEL_FILES.router } : {}) },
    ...(options.router?.info ? { router: options.router.info } : {}),
  };
  const files: Record<string, Uint8Array> = {
    [CHANNEL_FILES.groups]: serializeSafetensors(groups, { ...meta, content: 'groups' }),
    [CHANNEL_FILES.index]: serializeSafetensors(index, { ...meta, content: 'index', tasks: JSON.stringify(model.tasks) }),
    [CHANNEL_FILES.manifest]: new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'),
  };
  if (options.router) files[CHANNEL_FILES.router] = options.router.bytes;
  return { files, manifest };
}

export interface ChannelPackage {
  readonly manifest: ChannelManifest;
  readonly model: ChannelModel;
  /** router.safetensors as stored, when the package has one. */
  readonly router?: Uint8Array;
}

/**
 * Reads a package back. Every problem is a MergeLabError naming the file and tensor:
 * NO_CHECKPOINT (a file is missing), METADATA_INVALID (channel.json), TENSOR_NOT_FOUND,
 * SHAPE_MISMATCH, and the safetensors reader's own codes for damaged files.
 */
export async function readChannelPackage(files: Readonly<Record<string, Uint8Array>>): Promise<ChannelPackage> {
  const need = (name: string) => {
    const f = files[name];
    if (!f) throw new MergeLabError('NO_CHECKPOINT', `The Channel Merging package has no ${name}; it needs ${CHANNEL_FILES.manifest}, ${CHANNEL_FILES.groups} and ${CHANNEL_FILES.index}.`);
    return f;
  };
  const manifest = parseManifest(need(CHANNEL_FILES.manifest));
  const groupsFile = await openSafetensors(memorySource(manifest.files.groups, need(manifest.files.groups)));
  const indexFile = await openSafetensors(memorySource(manifest.files.index, need(manifest.files.index)));
  const T = manifest.tasks.length;
  const tensors: ChannelTensor[] = [];
  try {
    for (const spec of manifest.tensors) {
      const g = groupsFile.info(spec.groups);
      const x = indexFile.info(spec.index);
      if (!g) throw new MergeLabError('TENSOR_NOT_FOUND', `${manifest.files.groups} has no tensor "${spec.groups}", which channel.json lists; the package is incomplete — rebuild it.`);
      if (!x) throw new MergeLabError('TENSOR_NOT_FOUND', `${manifest.files.index} has no tensor "${spec.index}", which channel.json lists; the package is incomplete — rebuild it.`);
      const channels = spec.channels ?? channelLayout(spec.shape).channels;
      const wantG = [manifest.K, ...spec.shape];
      if (g.shape.join(',') !== wantG.join(',')) throw new MergeLabError('SHAPE_MISMATCH', `"${spec.groups}" in ${manifest.files.groups} is [${g.shape.join(', ')}]; channel.json says [${wantG.join(', ')}].`);
      if (x.dtype !== 'U8' || x.shape.join(',') !== `${T},${channels}`) {
        throw new MergeLabError('SHAPE_MISMATCH', `"${spec.index}" in ${manifest.files.index} is ${x.dtype} [${x.shape.join(', ')}]; it must be U8 [${T}, ${channels}] (tasks × channels).`);
      }
      const index = await indexFile.readRaw(spec.index);
      for (let i = 0; i < index.length; i++) {
        if (index[i]! >= manifest.K) {
          throw new MergeLabError('METADATA_INVALID', `"${spec.index}" names group ${index[i]} for task "${manifest.tasks[Math.floor(i / channels)]}" at channel ${i % channels}, but K is ${manifest.K}.`);
        }
      }
      tensors.push({ name: spec.name, shape: spec.shape, channels, groups: await groupsFile.readFloat32(spec.groups), index });
    }
  } finally {
    await groupsFile.close();
    await indexFile.close();
  }
  const router = manifest.files.router ? need(manifest.files.router) : undefined;
  if (router) await (await openSafetensors(memorySource(manifest.files.router!, router))).close();
  return {
    manifest,
    model: {
      tasks: manifest.tasks,
      baseName: manifest.base,
      K: manifest.K,
      method: manifest.groupMethod,
      similarity: manifest.clustering.on,
      clustering: manifest.clustering.method ?? 'average_linkage',
      seed: manifest.clustering.seed ?? 42,
      tensors,
    },
    ...(router ? { router } : {}),
  };
}

function parseManifest(bytes: Uint8Array): ChannelManifest {
  const bad = (why: string) => new MergeLabError('METADATA_INVALID', `${CHANNEL_FILES.manifest}: ${why}. Rebuild the package with merge-lab.`);
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw bad(`not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad('not a JSON object');
  const o = m as Record<string, unknown>;
  if (o.format !== CHANNEL_FORMAT) throw bad(`format is ${JSON.stringify(o.format)}, expected "${CHANNEL_FORMAT}"`);
  if (typeof o.version !== 'number' || !READABLE_VERSIONS.includes(o.version)) throw bad(`version ${JSON.stringify(o.version)} is not one this merge-lab reads (${READABLE_VERSIONS.join(', ')})`);
  if (!Array.isArray(o.tasks) || o.tasks.length < 1 || !o.tasks.every((t) => typeof t === 'string')) throw bad('"tasks" must be a non-empty list of names');
  const T = o.tasks.length;
  if (typeof o.K !== 'number' || !Number.isInteger(o.K) || o.K < 1 || o.K > T) throw bad(`"K" must be an integer from 1 to ${T}`);
  if (!Array.isArray(o.tensors)) throw bad('"tensors" must be a list');
  for (const t of o.tensors as unknown[]) {
    const e = t as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string' || typeof e.groups !== 'string' || typeof e.index !== 'string' || !Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw bad(`tensor entry ${JSON.stringify(t)} needs name, shape, groups and index`);
    }
    if (numel(e.shape as number[]) > Number.MAX_SAFE_INTEGER) throw bad(`tensor ${e.name} is too large`);
    const n = numel(e.shape as number[]);
    if (e.channels !== undefined && (!Number.isSafeInteger(e.channels) || (e.channels as number) < 1 || n % (e.channels as number) !== 0)) throw bad(`tensor ${e.name}: "channels" must divide its ${n} values`);
  }
  const files = o.files as Record<string, unknown> | undefined;
  if (typeof files !== 'object' || files === null || typeof files.groups !== 'string' || typeof files.index !== 'string' || (files.router !== undefined && typeof files.router !== 'string')) {
    throw bad('"files" must name the groups and index files');
  }
  const gm = o.groupMethod as Record<string, unknown> | undefined;
  if (typeof gm !== 'object' || gm === null || typeof gm.id !== 'string') throw bad('"groupMethod" must name the method');
  const cl = o.clustering as Record<string, unknown> | undefined;
  if (typeof cl !== 'object' || cl === null || (cl.on !== 'raw' && cl.on !== 'trimmed')) throw bad('"clustering.on" must be "raw" or "trimmed"');
  if (cl.method !== undefined && !CLUSTERING_METHODS.includes(cl.method as ClusteringMethod)) throw bad(`"clustering.method" must be ${CLUSTERING_METHODS.join(' or ')}`);
  if (typeof o.base !== 'string') throw bad('"base" must be a name');
  return m as ChannelManifest;
}
