/**
 * The engine's parity suite on WebGPU through Dawn (`webgpu` npm package). Skipped, with the reason
 * printed and in the suite's title, where Dawn finds no adapter (e.g. Debian's Mesa 22 lavapipe).
 */
import { backendParitySuite } from './parity-suite.js';

await backendParitySuite('webgpu');
