/**
 * Measurements of the lab's layout in the browser, for the charts and layout tests: how much of
 * its card each chart fills, text cut off by its drawing's edge, axes without titles, boxes that
 * scroll sideways, whether an element is on screen. Each returns what it found wrong (or the
 * numbers), so a test's message names the chart and the text.
 */
import type { Locator, Page } from 'playwright-core';

/** Per chart on the page: its card's inner width and the drawings' widths (each, and all together). */
export interface ChartFill {
  readonly id: string;
  readonly card: number;
  /** Left edge of the leftmost drawing to right edge of the rightmost, over the card's inner width. */
  readonly union: number;
  /** Each drawing's width over the width of the box it sits in (its part, or the card). */
  readonly each: readonly { readonly what: string; readonly ratio: number }[];
}

export function chartFills(page: Page): Promise<ChartFill[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('figure[data-chart]')]
      .filter((f) => f.getAttribute('data-chart-state') === 'ready')
      .map((f) => {
        const cs = getComputedStyle(f);
        const fr = f.getBoundingClientRect();
        const left = fr.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft);
        const card = fr.width - parseFloat(cs.borderLeftWidth) - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        const drawings = [...f.querySelectorAll<SVGSVGElement>('.drawing svg')].filter((s) => !s.closest('.recharts-legend-wrapper') && !s.parentElement?.closest('svg'));
        let lo = Infinity;
        let hi = -Infinity;
        const each = drawings.map((s) => {
          const r = s.getBoundingClientRect();
          lo = Math.min(lo, r.left);
          hi = Math.max(hi, r.right);
          const box = (s.closest('.sub-chart') ?? f.querySelector('.drawing'))!.getBoundingClientRect();
          return { what: s.closest('[data-sub-chart]')?.getAttribute('data-sub-chart') ?? s.getAttribute('class') ?? 'svg', ratio: r.width / box.width };
        });
        return { id: f.getAttribute('data-chart') ?? '', card, union: drawings.length ? (Math.min(hi, left + card) - Math.max(lo, left)) / card : 0, each };
      }),
  );
}

/** Text in the charts' drawings that reaches past the edge of its drawing (and is cut there): "chart: text". */
export function clippedChartText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const f of document.querySelectorAll('figure[data-chart]')) {
      for (const t of f.querySelectorAll<SVGTextElement>('svg text')) {
        if (t.closest('.recharts-legend-wrapper')) continue;
        let svg = t.ownerSVGElement;
        while (svg?.parentElement?.closest('svg')) svg = svg.parentElement.closest('svg');
        if (!svg || !(t.textContent ?? '').trim()) continue;
        const r = t.getBoundingClientRect();
        const s = svg.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < s.left - 1 || r.right > s.right + 1 || r.top < s.top - 1 || r.bottom > s.bottom + 1) out.push(`${f.getAttribute('data-chart')}: "${t.textContent}"`);
      }
    }
    return out;
  });
}

/** Elements under `selector` whose content is wider than their box (cut off, or scrolling sideways). */
export function overflowing(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    const out: string[] = [];
    for (const root of document.querySelectorAll(sel)) {
      for (const e of [root, ...root.querySelectorAll('*')]) {
        if (!(e instanceof HTMLElement) || e.clientWidth === 0) continue;
        const style = getComputedStyle(e);
        if (style.overflowX === 'visible' && e.scrollWidth <= e.clientWidth + 1) continue;
        if (e.scrollWidth > e.clientWidth + 1) out.push(`${e.tagName.toLowerCase()}.${e.className} (${e.scrollWidth} > ${e.clientWidth})`);
      }
    }
    return out;
  }, selector);
}

/** Each recharts chart or hand-drawn heatmap whose axes are not all titled: "chart: n axes, m titles". */
export function untitledAxes(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const f of document.querySelectorAll('figure[data-chart]')) {
      for (const s of f.querySelectorAll('.recharts-wrapper > svg.recharts-surface')) {
        const axes = s.querySelectorAll('.recharts-xAxis, .recharts-yAxis').length;
        const titles = [...s.querySelectorAll('.axis-title')].filter((t) => (t.textContent ?? '').trim()).length;
        if (axes === 0 || titles < axes) out.push(`${f.getAttribute('data-chart')}: ${axes} axes, ${titles} titles`);
      }
      for (const s of f.querySelectorAll('.drawing svg[role="img"]')) {
        const titles = s.querySelectorAll('.axis-title').length;
        if (titles < 2) out.push(`${f.getAttribute('data-chart')} (${s.getAttribute('aria-label')}): ${titles} axis titles`);
      }
    }
    return out;
  });
}

/** Font sizes in px: the smallest chart or part title, the largest help text on the page. */
export function titleAndHelpSizes(page: Page): Promise<{ smallestTitle: number; largestHelp: number }> {
  return page.evaluate(() => {
    const px = (e: Element) => parseFloat(getComputedStyle(e).fontSize);
    const titles = [...document.querySelectorAll('figure[data-chart] h3, figure[data-chart] h4')].map(px);
    const helps = [...document.querySelectorAll('.help')].filter((e) => (e as HTMLElement).offsetParent !== null).map(px);
    return { smallestTitle: Math.min(...titles), largestHelp: Math.max(...helps) };
  });
}

/** Whether `locator`'s box lies inside the window, wholly (or, with `partly`, at least its top 40 px). */
export async function inViewport(locator: Locator, partly = false): Promise<boolean> {
  const box = await locator.boundingBox();
  if (!box) return false;
  const { width, height } = await locator.page().evaluate(() => ({ width: innerWidth, height: innerHeight }));
  const bottom = partly ? box.y + Math.min(box.height, 40) : box.y + box.height;
  return box.x >= 0 && box.y >= 0 && box.x + box.width <= width + 1 && bottom <= height + 1;
}

/** How far the page scrolls sideways: the document's width beyond the window's (0: none). */
export function sidewaysScroll(page: Page): Promise<number> {
  return page.evaluate(() => document.scrollingElement!.scrollWidth - innerWidth);
}

/**
 * Cards whose content (title, caption, controls, drawing, exports) fills less than `least` of their
 * height: a card stretched to a taller neighbour's row leaves its chart in a box much bigger than it.
 */
export function cardsTallerThanContent(page: Page, least = 0.85): Promise<string[]> {
  return page.evaluate((min) => {
    const out: string[] = [];
    for (const f of document.querySelectorAll<HTMLElement>('figure[data-chart]')) {
      const cs = getComputedStyle(f);
      const inner = f.getBoundingClientRect().height - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom) - parseFloat(cs.borderTopWidth) - parseFloat(cs.borderBottomWidth);
      const kids = [...f.children].map((c) => c.getBoundingClientRect());
      if (kids.length === 0 || inner <= 0) continue;
      const used = Math.max(...kids.map((r) => r.bottom)) - Math.min(...kids.map((r) => r.top));
      if (used / inner < min) out.push(`${f.getAttribute('data-chart')}: ${Math.round(used)} of ${Math.round(inner)} px`);
    }
    return out;
  }, least);
}

/**
 * Chart text drawn over other chart text, as "chart: "a" on "b"": tick labels of one axis on each
 * other (category names run together), an axis title on any tick label, a reference line's label
 * (the spectrum's "r = 4", "90%") on a tick label, a title, another such label or the legend, an
 * axis title longer than its plot on the legend.
 * Each text is taken as the rectangle of its glyphs turned as drawn (slanted ticks, rotated titles),
 * so two slanted neighbours whose upright boxes overlap but whose letters do not are not reported.
 */
export function overlappingChartText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    type Quad = { x: number; y: number }[];
    const quad = (t: SVGGraphicsElement): Quad | undefined => {
      const b = t.getBBox();
      const m = t.getScreenCTM();
      if (!m || (b.width === 0 && b.height === 0)) return undefined;
      // A pixel in from each edge: glyph boxes of neighbouring lines touch without the letters meeting.
      const corners = [
        [b.x + 1, b.y + 1],
        [b.x + b.width - 1, b.y + 1],
        [b.x + b.width - 1, b.y + b.height - 1],
        [b.x + 1, b.y + b.height - 1],
      ];
      return corners.map(([x, y]) => ({ x: m.a * x! + m.c * y! + m.e, y: m.b * x! + m.d * y! + m.f }));
    };
    const rect = (r: DOMRect): Quad => [
      { x: r.left, y: r.top },
      { x: r.right, y: r.top },
      { x: r.right, y: r.bottom },
      { x: r.left, y: r.bottom },
    ];
    // Separating axes: two convex quads overlap unless some edge's normal separates them.
    const apart = (p: Quad, q: Quad) =>
      [p, q].some((poly) =>
        poly.some((a, i) => {
          const b = poly[(i + 1) % poly.length]!;
          const nx = b.y - a.y;
          const ny = a.x - b.x;
          const proj = (s: Quad) => s.map((v) => v.x * nx + v.y * ny);
          const [pp, qq] = [proj(p), proj(q)];
          return Math.max(...pp) <= Math.min(...qq) || Math.max(...qq) <= Math.min(...pp);
        }),
      );
    const out: string[] = [];
    const text = (e: Element) => (e.textContent ?? '').trim();
    for (const f of document.querySelectorAll('figure[data-chart]')) {
      const id = f.getAttribute('data-chart');
      for (const s of f.querySelectorAll('.recharts-wrapper > svg.recharts-surface')) {
        const wrapper = s.parentElement!;
        const items = (sel: string, root: Element = s) =>
          [...root.querySelectorAll<SVGGraphicsElement>(sel)].filter((e) => text(e)).map((e) => ({ e, q: quad(e) })).filter((x): x is { e: SVGGraphicsElement; q: Quad } => x.q !== undefined);
        // recharts 3 draws each axis' tick labels in a group of their own, apart from the axis line.
        const axes = [...s.querySelectorAll('.recharts-cartesian-axis-tick-labels')].map((a) => items('.recharts-cartesian-axis-tick-value', a));
        const ticks = axes.flat();
        const titles = items('.axis-title');
        const marks = items('text.recharts-label:not(.axis-title)');
        const legend = [...wrapper.querySelectorAll('.recharts-legend-item')].map((e) => ({ e, q: rect(e.getBoundingClientRect()) }));
        const check = (a: { e: Element; q: Quad }[], b: { e: Element; q: Quad }[], same: boolean) => {
          a.forEach((x, i) => b.forEach((y, j) => {
            if ((same && j <= i) || x.e === y.e) return;
            if (!apart(x.q, y.q)) out.push(`${id}: "${text(x.e)}" on "${text(y.e)}"`);
          }));
        };
        for (const a of axes) check(a, a, true);
        check(titles, ticks, false);
        check(titles, legend, false);
        check(marks, [...ticks, ...titles, ...legend], false);
        check(marks, marks, true);
      }
    }
    return out;
  });
}

/** The drawn plot areas (between the axes) less than `least` px tall: "chart: n px". */
export function shortPlots(page: Page, least: number): Promise<string[]> {
  return page.evaluate((min) => {
    const out: string[] = [];
    for (const f of document.querySelectorAll('figure[data-chart]')) {
      for (const g of f.querySelectorAll('.recharts-wrapper > svg.recharts-surface .recharts-cartesian-grid')) {
        const h = g.getBoundingClientRect().height;
        if (h < min) out.push(`${f.getAttribute('data-chart')}${g.closest('[data-sub-chart]') ? `/${g.closest('[data-sub-chart]')!.getAttribute('data-sub-chart')}` : ''}: ${Math.round(h)} px`);
      }
    }
    return out;
  }, least);
}
