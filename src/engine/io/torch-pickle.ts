/**
 * A restricted unpickler for PyTorch state dicts. It interprets the pickle opcodes a state dict
 * uses and nothing more: the only globals it accepts are `collections.OrderedDict`, torch's
 * tensor and parameter rebuild functions and the `torch.*Storage` classes, and it never calls
 * anything: each accepted global is recognised by name and its effect is modelled here
 * (a Map, a tensor descriptor). Any other global (`posix.system`, `builtins.exec`, a model class)
 * is refused where it appears, before any later opcode runs. The format is Python's
 * Lib/pickle.py (protocols 2 to 5); the shapes of torch's objects follow torch/_utils.py and the
 * persistent ids of torch/serialization.py.
 */
import { MergeLabError } from '../errors.js';
import type { DType } from './types.js';

/** `torch.<X>Storage` names and the element type they hold (torch/storage.py's pickle names). */
const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8',
  ByteStorage: 'U8', BoolStorage: 'BOOL',
  Float8_e4m3fnStorage: 'F8_E4M3', Float8_e5m2Storage: 'F8_E5M2',
};

/** A `torch.<X>Storage` class, seen as a name only; `dtype` is undefined for types we cannot read. */
export class StorageType {
  constructor(readonly name: string, readonly dtype: DType | undefined) {}
}

/** One storage a persistent id names: `numel` elements of the storage type, found under `key`. */
export class StorageRef {
  constructor(
    readonly type: StorageType,
    readonly key: string,
    readonly numel: number,
    /** Legacy files may save a view of a root storage: elements [offset, offset + numel) of it. */
    readonly viewOffset = 0,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` would build it: a strided view of a storage (in elements). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** The accepted globals, by "module.name"; never called, only matched in REDUCE. */
type Callable = 'OrderedDict' | 'rebuild_tensor' | 'rebuild_parameter';
const CALLABLES: Readonly<Record<string, Callable>> = {
  'collections.OrderedDict': 'OrderedDict',
  'torch._utils._rebuild_tensor': 'rebuild_tensor',
  'torch._utils._rebuild_tensor_v2': 'rebuild_tensor',
  'torch._utils._rebuild_parameter': 'rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state': 'rebuild_parameter',
};

class Global {
  constructor(readonly path: string, readonly callable: Callable) {}
}

/** Raised when the bytes end before STOP; the legacy reader retries with more of the file. */
export class PickleTruncated extends Error {}

/** Most bytes a single string or integer in a state dict's pickle may take. */
const MAX_ITEM = 64 * 2 ** 20;

/** Context for messages: the file, and what part of it is being read. */
export interface PickleContext {
  readonly file: string;
  /** e.g. "archive/data.pkl" or "the storage keys"; shown in corrupt-file messages. */
  readonly part?: string;
  /** Told of every storage a persistent id names (the legacy reader must step over all of them). */
  readonly onStorage?: (storage: StorageRef) => void;
}

function unsafe(ctx: PickleContext, what: string): never {
  throw new MergeLabError(
    'UNSAFE_PICKLE',
    `${ctx.file} is not a plain state dict: its pickle refers to ${what}, which merge-lab refuses (it never runs code from a checkpoint; only tensors, storages and OrderedDict are allowed). If you trust the file, load it in Python and convert the weights: safetensors.torch.save_file(model.state_dict(), "model.safetensors").`,
  );
}

function invalid(ctx: PickleContext, pos: number, why: string): never {
  const where = ctx.part ? `${ctx.part}, byte ${pos}` : `byte ${pos}`;
  throw new MergeLabError('PICKLE_INVALID', `${ctx.file} is not a readable PyTorch state dict (${where}: ${why}). Re-download it, or convert it to safetensors with PyTorch.`);
}

/** Accepts only the globals above; `torch.*Storage` becomes a StorageType marker. */
function findGlobal(ctx: PickleContext, module: string, name: string): Global | StorageType {
  if (module === 'torch' && /^\w+Storage$/.test(name)) return new StorageType(name, Object.hasOwn(STORAGE_DTYPES, name) ? STORAGE_DTYPES[name] : undefined);
  const path = `${module}.${name}`;
  const callable = Object.hasOwn(CALLABLES, path) ? CALLABLES[path] : undefined;
  if (!callable) unsafe(ctx, `the Python global ${path}`);
  return new Global(path, callable);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isIndexList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isIndex);
}

/** What a REDUCE of an accepted global yields, modelled without calling anything. */
function reduce(ctx: PickleContext, pos: number, fn: unknown, args: unknown): unknown {
  if (!(fn instanceof Global)) invalid(ctx, pos, `REDUCE applied to ${fn instanceof StorageType ? `torch.${fn.name}` : 'a value that is not a function'}`);
  if (!Array.isArray(args)) invalid(ctx, pos, `${fn.path} called without an argument tuple`);
  switch (fn.callable) {
    case 'OrderedDict': {
      const out = new Map<unknown, unknown>();
      const items = args[0] ?? [];
      if (args.length > 1 || !Array.isArray(items)) invalid(ctx, pos, 'OrderedDict called with unexpected arguments');
      for (const kv of items) {
        if (!Array.isArray(kv) || kv.length !== 2) invalid(ctx, pos, 'OrderedDict items must be pairs');
        out.set(kv[0], kv[1]);
      }
      return out;
    }
    case 'rebuild_tensor': {
      // (storage, storage_offset, size, stride, ...): requires_grad, hooks and metadata do not
      // change the stored values.
      const [storage, offset, shape, stride] = args;
      if (!(storage instanceof StorageRef)) invalid(ctx, pos, `${fn.path} called without a storage`);
      if (!isIndex(offset) || !isIndexList(shape) || !isIndexList(stride) || shape.length !== stride.length) {
        invalid(ctx, pos, `${fn.path} called with an invalid offset, size or stride`);
      }
      return new TensorRef(storage, offset, Object.freeze([...shape]), Object.freeze([...stride]));
    }
    case 'rebuild_parameter':
      // A Parameter is its data plus requires_grad: the data is all a merge needs.
      if (!(args[0] instanceof TensorRef)) invalid(ctx, pos, `${fn.path} called without a tensor`);
      return args[0];
  }
}

/** A persistent id: ('storage', StorageType, key, location, numel[, view_metadata]). */
function persistentLoad(ctx: PickleContext, pos: number, pid: unknown): StorageRef {
  if (!Array.isArray(pid)) invalid(ctx, pos, 'a persistent id that is not a tuple');
  const [kind, type, key, location, numel, view] = pid as unknown[];
  if (kind !== 'storage') unsafe(ctx, `a persistent object of kind ${JSON.stringify(String(kind))} (legacy torch.save pickles nn.Module classes this way)`);
  if (pid.length < 5 || pid.length > 6) invalid(ctx, pos, 'a storage persistent id of unexpected length');
  if (!(type instanceof StorageType) || typeof key !== 'string' || typeof location !== 'string' || !isIndex(numel)) {
    invalid(ctx, pos, 'a storage persistent id with unexpected fields');
  }
  if (view === undefined || view === null) return new StorageRef(type, key, numel);
  // Legacy files of old torch versions could save a view [offset, offset + size) of a storage.
  if (!Array.isArray(view) || view.length !== 3 || !isIndex(view[1]) || !isIndex(view[2])) invalid(ctx, pos, 'a storage view with unexpected fields');
  return new StorageRef(type, key, view[2], view[1]);
}

function toNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A little-endian two's-complement integer (LONG1/LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return toNumber(v);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * Interprets one pickle starting at `start` of `bytes` and returns the value and the offset just
 * past its STOP. Dicts and OrderedDicts become Maps, lists and tuples arrays, tensors TensorRef.
 * Throws UNSAFE_PICKLE for any global outside the allow list, PICKLE_INVALID for anything
 * malformed or unknown, and PickleTruncated when the bytes end first.
 */
export function unpickle(bytes: Uint8Array, start: number, ctx: PickleContext): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number) => {
    if (pos + n > bytes.length) throw new PickleTruncated();
  };
  const u8 = () => (need(1), bytes[pos++]!);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const u64 = () => {
    const lo = u32();
    const hi = u32();
    return hi * 2 ** 32 + lo;
  };
  const take = (n: number) => {
    if (n > MAX_ITEM) invalid(ctx, pos, `an item of ${n} bytes`);
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const text = (n: number) => {
    const b = take(n);
    try {
      return utf8.decode(b);
    } catch {
      return invalid(ctx, pos, 'a string that is not UTF-8');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleTruncated();
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) invalid(ctx, pos, 'stack underflow');
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) invalid(ctx, pos, 'stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) invalid(ctx, pos, 'no MARK to pop to');
    stack = prev;
    return items;
  };
  const put = (i: number) => memo.set(i, top());
  const get = (i: number) => {
    if (!memo.has(i)) invalid(ctx, pos, `memo entry ${i} read before it was written`);
    stack.push(memo.get(i));
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) invalid(ctx, pos, 'SETITEM on something that is not a dict');
    if (items.length % 2) invalid(ctx, pos, 'SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) invalid(ctx, pos, 'APPEND on something that is not a list');
    target.push(...items);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v < 2 || v > 5) invalid(ctx, at, `pickle protocol ${v} (a state dict uses 2 to 5)`);
        break;
      }
      case 0x95: u64(); break; // FRAME: only a hint for buffered readers
      case 0x2e: // STOP
        if (marks.length || stack.length !== 1) invalid(ctx, at, 'STOP with an unbalanced stack');
        return { value: stack[0], end: pos };
      case 0x28: marks.push(stack); stack = []; break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      }
      // popMark() swaps `stack`, so it must run before `stack.push` is looked up.
      case 0x6c: case 0x74: { const items = popMark(); stack.push(items); break; } // LIST, TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x71: put(u8()); break; // BINPUT
      case 0x72: put(u32()); break; // LONG_BINPUT
      case 0x94: put(memo.size); break; // MEMOIZE
      case 0x68: get(u8()); break; // BINGET
      case 0x6a: get(u32()); break; // LONG_BINGET
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: need(4); stack.push(dv.getInt32(pos, true)); pos += 4; break; // BININT
      case 0x8a: stack.push(decodeLong(take(u8()))); break; // LONG1
      case 0x8b: stack.push(decodeLong(take(u32()))); break; // LONG4
      case 0x47: need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      // Python 2 str: torch.load reads them as ASCII; latin1 keeps every byte.
      case 0x54: stack.push(latin1.decode(take(u32()))); break; // BINSTRING
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(findGlobal(ctx, module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') invalid(ctx, at, 'STACK_GLOBAL without two strings');
        stack.push(findGlobal(ctx, module, name));
        break;
      }
      case 0x52: { const args = pop(); stack.push(reduce(ctx, at, pop(), args)); break; } // REDUCE
      case 0x51: { // BINPERSID
        const storage = persistentLoad(ctx, at, pop());
        ctx.onStorage?.(storage);
        stack.push(storage);
        break;
      }
      case 0x62: { // BUILD
        pop();
        // Only an OrderedDict gets state in a state dict (its `_metadata` of module versions).
        if (!(top() instanceof Map)) invalid(ctx, at, 'BUILD on something other than a dict');
        break;
      }
      default:
        invalid(ctx, at, `pickle opcode 0x${op.toString(16).padStart(2, '0')}, which a plain state dict does not use`);
    }
  }
}

/** Reads `bytes` as one pickle that must end exactly at STOP (a zip's data.pkl). */
export function unpickleAll(bytes: Uint8Array, ctx: PickleContext): unknown {
  let result;
  try {
    result = unpickle(bytes, 0, ctx);
  } catch (e) {
    if (e instanceof PickleTruncated) invalid(ctx, bytes.length, 'the pickle ends before its STOP');
    throw e;
  }
  return result.value;
}
