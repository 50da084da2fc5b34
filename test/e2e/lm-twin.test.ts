/**
 * Twin-Merging on the language-model demo in Chromium (wasm): a #demo=lm link with Twin-Merging at
 * rank 16 draws the language-model card and the routing chart, and every number of both — each
 * domain's and the mixed windows' loss and gain of the routed merge, and each mixed window's routing
 * weights — equals lmLab.evaluate in Node with the same request (the shared expert's recipe, the
 * rank, the small router trained on the domains' validation texts). A rank move asks again and the
 * chart follows. The routing chart and the card are saved as test-results/lm-routing.png and lm-twin-eval.png.
 */
import type { LmLabTwinRequest } from '../../src/engine/api/lm-lab-twin-api.js';
import { describeE2E, test } from './harness.js';
import { checkRoutedMove, type routedRequest } from './lm-routed.js';

/** The request the page sends for these twin settings: the shared expert's recipe, the rank, the router. */
function twinRequest({ ids, request: shared, router, training }: ReturnType<typeof routedRequest>, rank: number): LmLabTwinRequest {
  return {
    ...shared,
    recipe: { mergeMethod: 'task_arithmetic', baseModel: 'lm-base', models: ids.map((model) => ({ model, parameters: { weight: 1 } })), parameters: { lambda: 0.3 }, dtype: 'float32' },
    twin: { rank, temperature: 1, oracle: false, router, training },
  };
}

describeE2E('Twin-Merging on the language-model demo', () => {
  test('the card and the routing chart show the engine’s numbers for the routed merge, before and after a rank move', async ({ lab }) => {
    // A rank move asks again and the chart follows (the router is kept: it reads the shared expert only).
    await checkRoutedMove(lab, {
      hash: 'demo=lm&method=twin_merging&twin.lambda=0.3&twin.rank=16&twin.temperature=1',
      controls: '[data-lm-twin]',
      settings: (rank) => new RegExp(`rank ${rank},`),
      request: twinRequest,
      first: 16,
      control: '#twin-rank',
      moved: 8,
      screenshots: [
        ['lm-routing', 'lm-routing.png'],
        ['lm-eval', 'lm-twin-eval.png'],
      ],
    });
  }, 400_000);
});
