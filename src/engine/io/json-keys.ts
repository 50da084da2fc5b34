/**
 * Lists the keys of a JSON object in source order, duplicates included. JSON.parse silently keeps
 * the last of two equal keys, and orders integer-like keys ("0", "1") first; safetensors requires
 * unique tensor names and we want file order, so the raw text is scanned once more.
 */

/** One member of a JSON object: its decoded key and where its raw value sits in the text. */
export interface JsonMember {
  readonly key: string;
  /** Index of the value's first character. */
  readonly valueStart: number;
  /** Index one past the value's last character. */
  readonly valueEnd: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  return i;
}

/** Index one past the string literal starting at `i` (which is a '"'). */
function skipString(text: string, i: number): number {
  i++;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i += 2;
    else if (c === 0x22 /* " */) return i + 1;
    else i++;
  }
  return i;
}

/** Index one past the JSON value starting at `i`. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return skipString(text, i);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d === 0x22) {
        i = skipString(text, i);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // number, true, false, null: runs until a delimiter
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
    i++;
  }
  return i;
}

/**
 * Members of the JSON object whose '{' is the first non-blank character at or after `start`.
 * The text must already be known to be valid JSON (JSON.parse succeeded); returns [] if the value
 * there is not an object.
 */
export function scanObjectMembers(text: string, start = 0): JsonMember[] {
  let i = skipWs(text, start);
  if (text.charCodeAt(i) !== 0x7b) return [];
  i = skipWs(text, i + 1);
  const members: JsonMember[] = [];
  if (text.charCodeAt(i) === 0x7d) return members;
  while (i < text.length) {
    const keyEnd = skipString(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    // Only keys with escapes need decoding ("\u0061" and "a" are the same key).
    const key = raw.includes('\\') ? (JSON.parse(text.slice(i, keyEnd)) as string) : raw;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // past ':'
    const valueStart = i;
    const valueEnd = skipValue(text, i);
    members.push({ key, valueStart, valueEnd });
    i = skipWs(text, valueEnd);
    if (text.charCodeAt(i) !== 0x2c) break; // '}' ends the object
    i = skipWs(text, i + 1);
  }
  return members;
}

/** The first key that occurs twice among `members`, if any. */
export function firstDuplicateKey(members: readonly JsonMember[]): string | undefined {
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.key)) return m.key;
    seen.add(m.key);
  }
  return undefined;
}
