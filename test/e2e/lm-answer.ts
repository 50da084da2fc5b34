/**
 * Waiting for the language-model card's answer and routing chart (lm-demo, lm-eval and the routed
 * LM tests) in the page, as the lab page's own waits do (lab-page.ts: waitInPage), instead of
 * asking the page over the protocol every 50 ms: these tests wait tens of seconds for answers the
 * engine computes.
 */
import { waitInPage, type LabPage } from './lab-page.js';

/**
 * What the card shows — its answer's mode, whether it is fresh, and its text ('' without exactly
 * one answer) — once it matches `arg` (with `last`: whatever it shows). Runs in the page.
 */
function cardShown(p: { arg: string; last: boolean }): string | false {
  const answers = document.querySelectorAll('figure[data-chart="lm-eval"] [data-lm-answer]');
  const a = answers.length === 1 ? answers[0]! : undefined;
  const state = a ? `${a.getAttribute('data-mode')} ${a.getAttribute('data-fresh')} ${a.textContent ?? ''}` : '';
  return p.last || new RegExp(p.arg).test(state) ? state : false;
}

/** The routing chart's data-fresh once it is 'true' (with `last`: whatever it is). Runs in the page. */
function routingShown(p: { last: boolean }): string | false {
  const fresh = document.querySelector('figure[data-chart="lm-routing"] [data-routing-summary]')?.getAttribute('data-fresh') ?? 'no routing summary';
  return p.last || fresh === 'true' ? fresh : false;
}

/** Waits until the card's answer is in `mode`, fresh, and its text matches `settings`. */
export async function waitForLmAnswer(lab: LabPage, mode: 'probe' | 'full', settings: RegExp, timeout: number): Promise<void> {
  const want = `^${mode} true .*${settings.source}`;
  await waitInPage(lab.page, cardShown, want, `The LM card did not show /${want}/`, timeout);
}

/** Waits until the routing chart is drawn for the card's answer (data-fresh on its summary). */
export async function waitForFreshRouting(lab: LabPage, timeout: number): Promise<void> {
  await waitInPage(lab.page, routingShown, null, 'The LM routing chart was not drawn fresh', timeout);
}
