/**
 * A chart's exports: the drawn SVG as a file, the same drawing rasterised to PNG (at twice the
 * size, for slides), and the chart's data as CSV. The SVG is the one on screen, so the files match
 * what the user sees (computed colours are attributes already: recharts and our heatmaps set them),
 * under the chart's title, caption and the settings that made it; the CSV carries the method and
 * settings in columns of their own, and each value column names its unit.
 */

import { wrapText } from './text-width.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** What an exported drawing says about itself, above the drawing: a slide or a paper needs no other caption. */
export interface ExportHeader {
  readonly title: string;
  readonly caption: string;
  /** The method and settings that made the drawing, e.g. "TIES: λ 1, density 0.3". */
  readonly settings: string;
}

const HEADER_WIDTH_MIN = 480;

/** Lines of SVG text at (x, y…), `size` px, one <text> per line (SVG does not wrap). */
function textLines(lines: readonly string[], x: number, y: number, size: number, fill: string, bold = false): SVGTextElement[] {
  return lines.map((line, i) => {
    const t = document.createElementNS(SVG_NS, 'text');
    t.setAttribute('x', String(x));
    t.setAttribute('y', String(y + i * Math.round(size * 1.3)));
    t.setAttribute('font-size', String(size));
    t.setAttribute('fill', fill);
    if (bold) t.setAttribute('font-weight', 'bold');
    t.textContent = line;
    return t;
  });
}

/**
 * Everything drawn under `root` as one standalone SVG laid out as on screen, below a header with
 * the chart's title, caption and settings: each chart or heatmap <svg> at its place, each part's
 * title and one-line explanation (.sub-chart), and recharts' legend (HTML beside the chart) redrawn
 * as SVG swatches and text, so the file carries what the user sees. White background, a named font.
 */
export function svgText(root: Element, header?: ExportHeader): string | undefined {
  const inLegend = (e: Element) => e.closest('.recharts-legend-wrapper') !== null;
  const drawings = [...root.querySelectorAll('svg')].filter((s) => !inLegend(s) && !s.parentElement?.closest('svg'));
  if (drawings.length === 0) return undefined;
  const box = root.getBoundingClientRect();
  const pad = 12;
  const contentWidth = Math.max(HEADER_WIDTH_MIN, Math.ceil(box.width));
  // The header: title, caption and settings wrapped to the drawing's width.
  const head: SVGTextElement[] = [];
  let top = pad;
  if (header) {
    const wrapAt = contentWidth - 2 * pad;
    const title = wrapText(header.title, wrapAt, 18, true);
    head.push(...textLines(title, pad, top + 18, 18, '#1c2430', true));
    top += title.length * 23 + 6;
    const caption = wrapText(header.caption, wrapAt, 13);
    head.push(...textLines(caption, pad, top + 13, 13, '#2d3748'));
    top += caption.length * 17 + 4;
    const settings = wrapText(`Settings: ${header.settings}`, wrapAt, 13);
    head.push(...textLines(settings, pad, top + 13, 13, '#1c2430'));
    top += settings.length * 17 + 10;
  }
  const at = (e: Element) => {
    const r = e.getBoundingClientRect();
    return { x: r.left - box.left + pad, y: r.top - box.top + top, width: r.width, height: r.height };
  };
  const out = document.createElementNS(SVG_NS, 'svg');
  out.setAttribute('xmlns', SVG_NS);
  let width = contentWidth + pad;
  let height = top;
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', '#ffffff');
  out.append(bg, ...head);
  for (const d of drawings) {
    const p = at(d);
    const copy = d.cloneNode(true) as SVGSVGElement;
    copy.setAttribute('x', String(p.x));
    copy.setAttribute('y', String(p.y));
    copy.setAttribute('width', String(p.width));
    copy.setAttribute('height', String(p.height));
    copy.removeAttribute('style');
    out.appendChild(copy);
    width = Math.max(width, p.x + p.width + pad);
    height = Math.max(height, p.y + p.height);
  }
  // Each part's title and explanation, in the page's sizes, wrapped as on screen.
  for (const el of root.querySelectorAll('.sub-chart > h4, .sub-chart > .help')) {
    const p = at(el);
    const style = getComputedStyle(el);
    const size = Math.round(parseFloat(style.fontSize) || 12);
    const bold = el.tagName === 'H4';
    const lines = wrapText(el.textContent ?? '', Math.max(p.width, 40), size, bold);
    out.append(...textLines(lines, p.x, p.y + size, size, bold ? '#1c2430' : '#4a5568', bold));
    height = Math.max(height, p.y + p.height);
  }
  for (const item of root.querySelectorAll('.recharts-legend-item')) {
    const p = at(item);
    const icon = item.querySelector('svg path, svg line, svg rect');
    const color = icon?.getAttribute('stroke') && icon.getAttribute('stroke') !== 'none' ? icon.getAttribute('stroke')! : (icon?.getAttribute('fill') ?? '#1c2430');
    const swatch = document.createElementNS(SVG_NS, 'rect');
    swatch.setAttribute('x', String(p.x));
    swatch.setAttribute('y', String(p.y + p.height / 2 - 5));
    swatch.setAttribute('width', '10');
    swatch.setAttribute('height', '10');
    swatch.setAttribute('fill', color);
    const text = document.createElementNS(SVG_NS, 'text');
    text.setAttribute('x', String(p.x + 14));
    text.setAttribute('y', String(p.y + p.height / 2 + 4));
    const label = item.querySelector('.recharts-legend-item-text');
    text.setAttribute('font-size', String(Math.round(parseFloat(getComputedStyle(label ?? item).fontSize) || 12)));
    text.setAttribute('fill', label ? getComputedStyle(label).color : color);
    text.textContent = item.textContent ?? '';
    out.append(swatch, text);
    width = Math.max(width, p.x + p.width + pad);
    height = Math.max(height, p.y + p.height);
  }
  width = Math.ceil(width);
  height = Math.ceil(height + pad);
  out.setAttribute('width', String(width));
  out.setAttribute('height', String(height));
  out.setAttribute('viewBox', `0 0 ${width} ${height}`);
  // Text takes the page's font unless told: name one so the file renders the same elsewhere.
  out.setAttribute('font-family', getComputedStyle(root).fontFamily || 'sans-serif');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(out)}`;
}

/** The SVG drawn onto a canvas at `scale`, as PNG bytes. */
export async function pngBlob(svg: string, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error('The chart could not be drawn as an image.'));
      img.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(img.width * scale);
    canvas.height = Math.round(img.height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('This browser gives no 2-D canvas to draw the PNG on.');
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('The PNG could not be encoded.'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}

export type CsvCell = string | number | boolean | undefined | null;

/** RFC 4180 CSV: a header row, then one row per record; numbers written in full. */
export function csvText(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  const cell = (v: CsvCell) => {
    if (v === undefined || v === null) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/**
 * A chart's table with what made it in two more columns, `method` and `settings`, on every row: a
 * row copied out of the file still says which recipe it belongs to.
 */
export function withMadeBy(
  header: readonly string[],
  rows: readonly (readonly CsvCell[])[],
  made: { readonly method: string; readonly settings: string },
): { header: string[]; rows: CsvCell[][] } {
  return { header: [...header, 'method', 'settings'], rows: rows.map((r) => [...r, made.method, made.settings]) };
}

/** Saves `blob` as `name` through a temporary link (the page's usual download path). */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Give the download a moment to take the URL before it is revoked.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
