/** The system service: which backend runs (and starting one), and tfjs' live memory. */
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend } from '../../backend.js';
import type { SystemService } from '../engine-api.js';
import type { EngineContext } from './context.js';

export function createSystemService(ctx: EngineContext): SystemService {
  return {
    setBackend: (choice) => ctx.setBackend(choice),
    async backend() {
      return currentBackend();
    },
    async memory() {
      const m = tf.memory();
      return { numTensors: m.numTensors, numBytes: m.numBytes };
    },
  };
}
