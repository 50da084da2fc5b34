// Engine tests run on the reference 'cpu' backend unless a test picks another.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { vi } from 'vitest';

// Files share a worker (isolate: false), so a global one file stubs (the app tests' window and
// fetch) would otherwise reach the next: tfjs-core, imported again as ES modules there (its
// gradients), would take that stubbed window for its global namespace and keep its registries
// apart from the ones the engine uses.
vi.unstubAllGlobals();

await tf.setBackend('cpu');
await tf.ready();
