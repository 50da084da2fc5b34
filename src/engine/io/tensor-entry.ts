/**
 * The rules a tensor's name and shape must meet in a safetensors header, shared by our reader and
 * writer so that every file we write is one we (and the reference reader) read back: the name is
 * well-formed Unicode (the reference reader decodes it into a Rust string, which cannot hold a
 * lone surrogate), and the element count, multiplied out dimension by dimension, never overflows
 * (the reference reader multiplies with overflow checks, so [2^32, 2^32, 0] is refused though it
 * holds no element).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with this entry, as the end of a sentence; undefined when it is fine. */
export function tensorEntryProblem(name: string, shape: readonly number[]): string | undefined {
  if (LONE_SURROGATE.test(name)) return 'its name is not valid Unicode (it holds a lone surrogate, which UTF-8 cannot encode)';
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (!Number.isSafeInteger(count)) return `its shape [${shape.join(', ')}] multiplies out past 2^53 elements on the way (the reference reader refuses an overflowing product)`;
  }
  return undefined;
}
