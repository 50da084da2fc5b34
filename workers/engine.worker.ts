/**
 * The engine in a Web Worker: starts nothing by itself, tells tfjs where Vite serves the wasm
 * binaries, and exposes the in-process EngineApi over comlink (a folder to merge into written as
 * sync-access-folder.ts says; its tensors merged on merge-workers.ts's Web Workers, one per core,
 * when the merge is large enough). Everything else is the engine's.
 */
import { createEngine } from '../src/engine/api/engine.js';
import { exposeEngine } from './expose.js';
import { startMergeWorkers } from './merge-workers.js';
import { writableFolder } from './sync-access-folder.js';
import { locateWasm } from './wasm-location.js';

locateWasm();
const engine = createEngine({ mergeWorkers: { cores: navigator.hardwareConcurrency || 1, start: startMergeWorkers } });
// A folder handed over by the page is written through sync access handles where it has no createWritable.
const mergeToFolder = engine.merges.mergeToFolder;
exposeEngine({ ...engine, merges: { ...engine.merges, mergeToFolder: (id, recipe, folder, options, onProgress) => mergeToFolder(id, recipe, writableFolder(folder), options, onProgress) } });
