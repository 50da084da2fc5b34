/**
 * The engine in a Web Worker: starts nothing by itself, tells tfjs where Vite serves the wasm
 * binaries, and exposes the in-process EngineApi over comlink (a folder to merge into written as
 * sync-access-folder.ts says). Everything else is the engine's.
 */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { createEngine } from '../src/engine/api/engine.js';
import { setWasmLocation } from '../src/engine/backend.js';
import { exposeEngine } from './expose.js';
import { writableFolder } from './sync-access-folder.js';

setWasmLocation({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });
const engine = createEngine();
// A folder handed over by the page is written through sync access handles where it has no createWritable.
const mergeToFolder = engine.merges.mergeToFolder;
exposeEngine({ ...engine, merges: { ...engine.merges, mergeToFolder: (id, recipe, folder, options, onProgress) => mergeToFolder(id, recipe, writableFolder(folder), options, onProgress) } });
