/**
 * What the e2e global setup hands to the test files (through vitest's provide/inject, since the
 * setup runs in another process): where the built app is served and which Chromium the test
 * workers launch, or why the browser tests are skipped.
 */
export interface E2EContext {
  /** Set when the browser tests cannot run here (no Chromium); every e2e test is skipped and says why. */
  readonly skipReason: string | null;
  /** The preview server's origin, e.g. http://127.0.0.1:41731 (no trailing slash). */
  readonly baseURL: string;
  /** The Chromium each test worker launches (its path and flags). */
  readonly chromium: { readonly executablePath: string; readonly args: readonly string[] };
  /**
   * Where each test worker keeps its Chromium's profile for the whole run (removed at teardown):
   * the HTTP and V8 code caches carry from one page to the next, a quarter less CPU a page here.
   */
  readonly profilesDir: string;
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
