/**
 * What the e2e global setup hands to the test files (through vitest's provide/inject, since the
 * setup runs in another process): where the built app is served and how to reach the shared
 * Chromium, or why the browser tests are skipped.
 */
export interface E2EContext {
  /** Set when the browser tests cannot run here (no Chromium); every e2e test is skipped and says why. */
  readonly skipReason: string | null;
  /** The preview server's origin, e.g. http://127.0.0.1:41731 (no trailing slash). */
  readonly baseURL: string;
  /** playwright's BrowserServer endpoint; test files connect with chromium.connect(). */
  readonly wsEndpoint: string;
  /** The build's output folder (a temporary folder, not the repository's dist/). */
  readonly distDir: string;
  /** Where screenshots and other review artefacts go: <repo>/test-results (gitignored). */
  readonly resultsDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2EContext;
  }
}
