/**
 * The demo's hard mode (Twin-Merging's "Hard mode" checkbox): manifest-hard.json and the hard
 * experts it names beside the default demo's files, fetched once when the mode is first turned on
 * and handed to the worker with the demo. The hard task shows another task's inputs with other
 * labels, so a router that reads inputs cannot tell the two apart and visibly errs.
 */
import type { HardDemoBlobs } from '../../engine/api/engine-api.js';
import { MergeLabError } from '../../engine/errors.js';
import { parseManifest, type DemoManifest } from '../../engine/demo/manifest.js';
import { fetchBlob } from './fetch.js';
import { demoFileUrl } from './urls.js';

export const HARD_MANIFEST_FILE = 'manifest-hard.json';

export async function fetchHardDemo(demo: DemoManifest): Promise<HardDemoBlobs> {
  const { blob } = await fetchBlob(demoFileUrl(HARD_MANIFEST_FILE), HARD_MANIFEST_FILE);
  const manifest = await blob.text();
  const m = parseManifest(manifest, HARD_MANIFEST_FILE);
  const hard = m.tasks.filter((t) => t.hard);
  if (hard.length === 0) throw new MergeLabError('DEMO_DATA_INVALID', `${HARD_MANIFEST_FILE} lists no hard task; rebuild it with npm run demo:train -- --hard.`);
  const have = new Set([demo.base, ...demo.tasks.map((t) => t.expert)]);
  const checkpoints: Record<string, Blob> = {};
  await Promise.all(
    hard
      .filter((t) => !have.has(t.expert))
      .map(async (t) => {
        checkpoints[t.expert] = (await fetchBlob(demoFileUrl(t.expert), t.expert)).blob;
      }),
  );
  return { manifest, checkpoints };
}
