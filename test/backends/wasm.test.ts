/** The engine's parity suite on the wasm backend (always available: binaries from node_modules). */
import { backendParitySuite } from './parity-suite.js';

await backendParitySuite('wasm');
