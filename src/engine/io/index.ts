/**
 * Browser-safe file-format layer: safetensors reading and writing, PyTorch .bin/.pt reading,
 * sharded checkpoints, byte sources and sinks. Node-only pieces (node-file.ts,
 * node-checkpoint.ts) are imported directly by Node code and deliberately not re-exported here, so
 * bundles for the browser never pull node:fs.
 */
export type { ByteSink, ByteSource, Checkpoint, DType, TensorInfo } from './types.js';
export {
  DTYPES,
  DTYPE_SIZES,
  bfloat16BitsToNumber,
  decodeToFloat32,
  dtypeSize,
  encodeFromFloat32,
  encodeInto,
  float16BitsToNumber,
  float8E4M3ToNumber,
  float8E5M2ToNumber,
  isDType,
  numberToBfloat16Bits,
  numberToFloat16Bits,
  numberToFloat8E4M3,
  numberToFloat8E5M2,
  numel,
} from './dtypes.js';
export { blobSource, memorySink, memorySource, readChecked, type MemorySink } from './sources.js';
export { MAX_HEADER_SIZE, openSafetensors, type SafetensorsFile } from './safetensors-reader.js';
export {
  createSafetensorsWriter,
  layoutSafetensors,
  serializeSafetensors,
  writeSafetensorsToMemory,
  type SafetensorsLayout,
  type SafetensorsWriter,
  type TensorSpec,
  type TensorWithData,
} from './safetensors-writer.js';
export { openTorchCheckpoint, TORCH_FILE, type TorchCheckpoint } from './torch-checkpoint.js';
export {
  INDEX_FILE_NAME,
  TORCH_INDEX_FILE_NAME,
  combineSafetensorsFiles,
  createShardedWriter,
  openShardedCheckpoint,
  openWeightsFile,
  parseShardIndex,
  planShards,
  serializeShardIndex,
  type MultiFileCheckpoint,
  type ShardIndex,
  type ShardPlan,
  type ShardResolver,
  type ShardedPlan,
  type ShardedWriter,
} from './sharded.js';
export { joinRelative, openCheckpointFiles, openCheckpointFromListing, type ListedFile, type ListingOpener } from './file-list-checkpoint.js';
