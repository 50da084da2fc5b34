/** Console errors, uncaught page errors and failed requests recorded per page by the e2e `page` fixture. */
import type { Page } from 'playwright-core';

/** What went wrong inside a page while a test ran. */
export class PageDiagnostics {
  readonly consoleErrors: string[] = [];
  readonly pageErrors: Error[] = [];
  readonly failedRequests: string[] = [];

  constructor(page: Page) {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const { url, lineNumber } = msg.location();
      this.consoleErrors.push(url ? `${msg.text()} (${url}:${lineNumber})` : msg.text());
    });
    page.on('pageerror', (err) => this.pageErrors.push(err));
    page.on('requestfailed', (req) => this.failedRequests.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText ?? 'failed'}`));
  }
}

export const diagnosticsOf = new WeakMap<Page, PageDiagnostics>();

/** The diagnostics recorded for a page made by the `page` fixture. */
export function diagnostics(page: Page): PageDiagnostics {
  const d = diagnosticsOf.get(page);
  if (!d) throw new Error('This page was not made by the e2e `page` fixture.');
  return d;
}

