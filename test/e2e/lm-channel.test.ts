/**
 * Channel Merging on the language-model demo in Chromium (wasm): a #demo=lm link with Channel
 * Merging (K 2, TIES inside a group, k-means) draws the language-model card and the routing chart,
 * and every number of both — each domain's and the mixed windows' loss and gain of the looked-up
 * rows, and each mixed window's routing weights — equals lmLab.evaluate in Node with the same
 * request (K, the group method, the small router trained on the domains' validation texts). A K
 * move asks again and the card follows. The routing chart is saved as test-results/lm-channel-routing.png.
 */
import type { LmLabChannelRequest } from '../../src/engine/api/lm-lab-channel-api.js';
import { describeE2E, test } from './harness.js';
import { checkRoutedMove, type routedRequest } from './lm-routed.js';

/** The request the page sends for these settings: K, the group method, the router. */
function channelRequest({ ids, request: shared, router, training }: ReturnType<typeof routedRequest>, K: number): LmLabChannelRequest {
  return {
    ...shared,
    recipe: { mergeMethod: 'linear', models: ids.map((model) => ({ model, parameters: { weight: 1 } })), dtype: 'float32' },
    channel: { K, method: { id: 'ties', params: { density: 0.3, lambda: 1 } }, clustering: 'kmeans', oracle: false, router, training },
  };
}

describeE2E('Channel Merging on the language-model demo', () => {
  test('the card and the routing chart show the engine’s numbers for the looked-up rows, before and after a K move', async ({ lab }) => {
    // A K move asks again (the grouping and the router are kept) and the card follows.
    await checkRoutedMove(lab, {
      hash: 'demo=lm&method=channel_merging&channel.K=2&channel.method=ties&channel.density=0.3&channel.lambda=1',
      controls: '[data-routed="channel_merging"]',
      settings: (K) => new RegExp(`K ${K},`),
      request: channelRequest,
      first: 2,
      control: '#channel-k',
      moved: 4,
      screenshots: [['lm-routing', 'lm-channel-routing.png']],
    });
  }, 400_000);
});
