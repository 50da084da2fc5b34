/**
 * Waiting for the language-model card's answer (lm-demo, lm-eval and the routed LM tests): the
 * page itself checks the card every 100 ms (one waitForFunction) instead of the test asking it
 * over the protocol. expect.poll's four calls every 50 ms cost ~0.2 CPU-s per second waited here
 * (Node, Chromium's browser process and the page together), and these tests wait tens of seconds
 * for answers the engine computes. On a timeout the error says what the card showed last.
 */
import type { LabPage } from './lab-page.js';

/**
 * What the card shows — its answer's mode, whether it is fresh, and its text ('' without exactly
 * one answer) — when it matches `pattern` (false when not); with no pattern, whatever it shows.
 * Run in the page (self-contained: Playwright sends its source).
 */
function cardShows(pattern: string | null): string | false {
  const answers = document.querySelectorAll('figure[data-chart="lm-eval"] [data-lm-answer]');
  const a = answers.length === 1 ? answers[0]! : undefined;
  const state = a ? `${a.getAttribute('data-mode')} ${a.getAttribute('data-fresh')} ${a.textContent ?? ''}` : '';
  return pattern === null || new RegExp(pattern).test(state) ? state : false;
}

/** Waits until the card's answer is in `mode`, fresh, and its text matches `settings`. */
export async function waitForLmAnswer(lab: LabPage, mode: 'probe' | 'full', settings: RegExp, timeout: number): Promise<void> {
  const want = `^${mode} true .*${settings.source}`;
  try {
    await lab.page.waitForFunction(cardShows, want, { polling: 100, timeout });
  } catch (e) {
    const last = await lab.page.evaluate(cardShows, null).catch(() => '(the page did not answer)');
    throw new Error(`The LM card did not show /${want}/ within ${timeout} ms; it showed: "${String(last)}"`, { cause: e });
  }
}

/** Waits until the routing chart is drawn for the card's answer (data-fresh on its summary). */
export async function waitForFreshRouting(lab: LabPage, timeout: number): Promise<void> {
  const fresh = () => document.querySelector('figure[data-chart="lm-routing"] [data-routing-summary]')?.getAttribute('data-fresh') ?? null;
  try {
    await lab.page.waitForFunction(() => document.querySelector('figure[data-chart="lm-routing"] [data-routing-summary]')?.getAttribute('data-fresh') === 'true', undefined, { polling: 100, timeout });
  } catch (e) {
    const last = await lab.page.evaluate(fresh).catch(() => '(the page did not answer)');
    throw new Error(`The LM routing chart was not drawn fresh within ${timeout} ms (data-fresh: ${String(last)})`, { cause: e });
  }
}
