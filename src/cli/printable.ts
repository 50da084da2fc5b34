/**
 * Text from files (tensor names, paths, recipe values) goes to a terminal: control characters in
 * it would move the cursor, recolour, clear the screen or reorder the line (bidi overrides). They
 * are shown as escapes instead.
 */
// Control characters are the point of this pattern.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
