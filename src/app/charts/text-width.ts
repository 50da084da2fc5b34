/**
 * The width a label takes in the page's font, for drawings laid out by hand (heatmaps, the
 * assignment strip): their margins are sized from their labels, so no label is cut ("Top occl").
 * Measured on a canvas in the page's font; where there is none, a generous estimate.
 */
let ctx: CanvasRenderingContext2D | null | undefined;

export function textWidth(text: string, fontSize: number, bold = false): number {
  if (ctx === undefined) ctx = typeof document === 'undefined' ? null : document.createElement('canvas').getContext('2d');
  if (!ctx) return text.length * fontSize * 0.65;
  const family = getComputedStyle(document.body).fontFamily || 'sans-serif';
  ctx.font = `${bold ? 'bold ' : ''}${fontSize}px ${family}`;
  // A few percent more than measured: SVG text and canvas text round differently.
  return ctx.measureText(text).width * 1.05 + 1;
}

/** `text` broken into lines no wider than `width` at `fontSize`. */
export function wrapText(text: string, width: number, fontSize: number, bold = false): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, fontSize, bold) > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}
