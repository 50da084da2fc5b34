/** Shared vocabulary of the file-format layer: byte sources and sinks, dtypes, tensor descriptors. */

/** Random-access bytes: a browser `File`/`Blob`, a Node file handle, or memory. Never read whole. */
export interface ByteSource {
  /** Shown in error messages: a file name or path. */
  readonly name: string;
  readonly size: number;
  /** Bytes [offset, offset + length). Rejects with READ_FAILED if the source is shorter. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** Append-only output: a Node file, or chunks collected into a Blob in the browser. */
export interface ByteSink {
  readonly name: string;
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Drop everything written so far (used on failure or cancel: no half-written output). */
  abort(): Promise<void>;
}

export type DType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U8' | 'BOOL'
  | 'F8_E4M3' | 'F8_E5M2';

/** One tensor's entry in a safetensors header. Offsets are absolute within the file. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Absolute byte offset of the first data byte in the file (header already accounted for). */
  readonly begin: number;
  /** Absolute byte offset one past the last data byte. */
  readonly end: number;
}

/** A checkpoint as the merge sees it: one file or a sharded folder, read tensor by tensor. */
export interface Checkpoint {
  /** Shown in messages: the path or file name the user gave. */
  readonly name: string;
  /** Tensor names in file order (for a sharded folder, the index's order). */
  readonly tensorNames: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  info(name: string): TensorInfo | undefined;
  /** Tensor values as float32 (integers and bools converted too), row-major. */
  readFloat32(name: string): Promise<Float32Array>;
  /** The raw little-endian bytes, copied, as stored. */
  readRaw(name: string): Promise<Uint8Array>;
  close(): Promise<void>;
}
