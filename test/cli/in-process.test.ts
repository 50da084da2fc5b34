/**
 * The CLI suites run `merge-lab` inside the test process (runCliAsync); this checks that such a
 * run answers what the real binary answers for the same arguments: exit status, stdout, stderr.
 */
import { describe, expect, it } from 'vitest';
import { runCliAsync, spawnCliAsync } from './helpers.js';

describe('merge-lab in this process and as its own process', () => {
  const cases: readonly (readonly string[])[] = [
    ['frobnicate'], // unknown command: exit 2, one line
    ['inspect', 'no/such/model.safetensors'], // a failure reported by run(): exit 1, one line
    ['diff', '--help'], // help on stdout, exit 0
  ];
  it.concurrent.each(cases)('%s … answers the same', async (...args) => {
    const [inside, binary] = await Promise.all([runCliAsync(args), spawnCliAsync(args)]);
    expect(binary.signal).toBeNull();
    expect(binary.stdout + binary.stderr, 'the binary said something to compare').not.toBe('');
    expect({ status: inside.status, stdout: inside.stdout, stderr: inside.stderr }).toEqual({ status: binary.status, stdout: binary.stdout, stderr: binary.stderr });
  });
});
