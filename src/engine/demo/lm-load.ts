/**
 * Opening the LM demo from its bytes: the manifest, the models' config.json (checked against what
 * the manifest says: byte vocabulary, context, parameter count) and each checkpoint (every tensor
 * the config needs, by name and shape, before any is read). The host supplies the bytes (fetch in
 * a worker, fs in Node); nothing is fetched until the demo is chosen.
 */
import { MergeLabError } from '../errors.js';
import { memorySource, openSafetensors } from '../io/index.js';
import type { Checkpoint } from '../io/types.js';
import { byteTokenizer, lmTensorShapes, planLmWeights, readLmConfig, type LmConfig } from '../lm/index.js';
import { lmDemoModels, parseLmManifest, type LmDemoManifest } from './lm-manifest.js';

export interface LmDemoFiles {
  /** lm/manifest.json's text. */
  readonly manifest: string;
  /** A file the manifest names (config.json, checkpoints), relative to the manifest. */
  read(file: string): Promise<Uint8Array>;
}

export interface LmDemo {
  readonly manifest: LmDemoManifest;
  readonly config: LmConfig;
  /** "base", then each domain's id (its expert), in the manifest's order. */
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
}

/** Tensors × their sizes, as config.json describes the model. */
function countParameters(config: LmConfig): number {
  let n = 0;
  for (const shape of lmTensorShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** The models' config.json, read and checked against the manifest; errors name the file and field. */
export function readLmDemoConfig(manifest: LmDemoManifest, bytes: Uint8Array): LmConfig {
  const where = `lm/${manifest.config}`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new MergeLabError('LM_CONFIG_INVALID', `${where} is not valid JSON (${(e as Error).message}). Re-run npm run demo:train:lm.`);
  }
  const config = readLmConfig(json, where);
  const problems: string[] = [];
  if (config.vocabSize !== 256) problems.push(`vocab_size is ${config.vocabSize}, but the demo's tokenizer is bytes (256 ids)`);
  if (config.maxPositions < manifest.context) problems.push(`max_position_embeddings is ${config.maxPositions}, shorter than the manifest's context (${manifest.context})`);
  const parameters = countParameters(config);
  if (parameters !== manifest.parameters) problems.push(`it describes ${parameters} parameters, the manifest ${manifest.parameters}`);
  if (problems.length > 0) throw new MergeLabError('LM_CONFIG_INVALID', `${where} does not fit lm/manifest.json: ${problems.join('; ')}. Re-run npm run demo:train:lm.`);
  return config;
}

/** Opens the manifest's config and every checkpoint; any file that does not fit fails before a tensor is read. */
export async function openLmDemo(files: LmDemoFiles): Promise<LmDemo> {
  const manifest = parseLmManifest(files.manifest);
  const config = readLmDemoConfig(manifest, await files.read(manifest.config));
  const models = lmDemoModels(manifest);
  const opened = await Promise.all(
    models.map(async ([key, file]): Promise<[string, Checkpoint]> => {
      const checkpoint = await openSafetensors(memorySource(file, await files.read(file)));
      planLmWeights(config, checkpoint);
      return [key, checkpoint];
    }),
  );
  return { manifest, config, checkpoints: new Map(opened) };
}

/** The demo's tokenizer: a text's UTF-8 bytes are its ids. */
export function lmDemoTokens(text: string): number[] {
  return byteTokenizer().encode(text);
}
