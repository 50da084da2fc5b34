/**
 * A full garbage collection on demand, for the merge's memory bound: a merged tensor's inputs and
 * scratch arrays are unreachable as soon as it is written, but v8 frees large typed arrays only at
 * its next collection, which may come after the next tensor's arrays are allocated — then the peak
 * holds two tensors' worth. v8 offers `gc` to code only behind --expose-gc; the flag set at run
 * time makes it available to a new context (the documented way for a process started without it).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
