/**
 * The routed labs' slider latency on the embedded demo, one backend per process, through the same
 * EngineApi the worker exposes: Twin-Merging's rank (a rank not cut to before, one from the caches,
 * one worked on ahead with `then`) and Channel Merging's K (from the caches) and λ (the chosen K
 * first with `{ sweep: 'known' }`, then the whole sweep). Prints one JSON line of milliseconds.
 * With the small router, as the lab starts with (the paper's trains for about a minute on wasm).
 *
 *   tsx bench/lab-bench.ts --backend wasm
 */
import { parseArgs } from 'node:util';
import { demoEngine } from './demo-engine.js';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' } } });
const { engine } = await demoEngine(values.backend);

/** The lab's default router (app/store/routed-slice.ts' DEFAULT_TWIN). */
const router = { architecture: 'small' } as const;

const time = async (f: () => Promise<unknown>) => {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
};
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const settle = () => new Promise((r) => setTimeout(r, 400));

const twinFirst = await time(() => engine.demo.twinLab({ router, rank: 4 }));
const newRank: number[] = [];
for (const rank of [5, 6, 7, 9, 10, 11]) newRank.push(await time(() => engine.demo.twinLab({ router, rank })));
const cachedRank: number[] = [];
for (const rank of [4, 5, 6, 7, 8, 9]) cachedRank.push(await time(() => engine.demo.twinLab({ router, rank })));
const guessedRank: number[] = [];
for (const rank of [13, 15, 17, 19]) {
  await engine.demo.twinLab({ router, rank }, { then: [{ router, rank: rank + 1 }] });
  await settle();
  guessedRank.push(await time(() => engine.demo.twinLab({ router, rank: rank + 1 })));
}

const ties = (lambda: number) => ({ id: 'ties', params: { density: 0.3, lambda } });
const channelFirst = await time(() => engine.demo.channelLab({ router, K: 2, method: ties(1) }));
const kMove: number[] = [];
for (const K of [1, 3, 4, 5, 2]) kMove.push(await time(() => engine.demo.channelLab({ router, K, method: ties(1) })));
const lambdaKnown: number[] = [];
const lambdaSweep: number[] = [];
for (const lambda of [0.9, 0.95, 1.05, 1.1, 1.15]) {
  lambdaKnown.push(await time(() => engine.demo.channelLab({ router, K: 2, method: ties(lambda) }, { sweep: 'known' })));
  lambdaSweep.push(await time(() => engine.demo.channelLab({ router, K: 2, method: ties(lambda) })));
}

const r = (x: number) => Number(x.toFixed(1));
console.log(
  JSON.stringify({
    backend: values.backend,
    twin: { first: r(twinFirst), newRankP50: r(median(newRank)), cachedRankP50: r(median(cachedRank)), guessedRankP50: r(median(guessedRank)) },
    channel: { first: r(channelFirst), kMoveP50: r(median(kMove)), lambdaAtKP50: r(median(lambdaKnown)), lambdaRestOfSweepP50: r(median(lambdaSweep)) },
  }),
);
process.exit(0);
