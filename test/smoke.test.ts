import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';

describe('tfjs in the test runner', () => {
  it('runs on the cpu backend', () => {
    expect(tf.getBackend()).toBe('cpu');
    const s = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync());
    expect(Array.from(s)).toEqual([4, 6]);
  });
});
