/**
 * The models slice: the checkpoints, tasks and data of the embedded demo as plain descriptions,
 * and `loadDemo`, which fetches every file at once and fills the rows as each one settles. A file
 * that fails marks its own row; the rest keep loading. The whole run is measured as the
 * performance measure 'demo-load'.
 */
import { describeTransform } from '../../engine/demo/transforms.js';
import { parseManifest, type DemoManifest } from '../../engine/demo/manifest.js';
import { demoAssets } from '../demo/assets.js';
import { isGzip, parseDigits } from '../demo/data.js';
import { toAppError } from '../demo/errors.js';
import { fetchBlob } from '../demo/fetch.js';
import { DEMO_MANIFEST_URL, DIGITS_FILE, DIGITS_URL, demoFileUrl } from '../demo/urls.js';
import type { DataEntry, ModelEntry, ModelsSlice, SliceCreator, TaskEntry } from './types.js';

export const DEMO_LOAD_MEASURE = 'demo-load';
const START_MARK = 'demo-load-start';
const END_MARK = 'demo-load-end';

/** Bumped by every loadDemo call; a superseded run stops writing to the store. */

function taskEntries(m: DemoManifest): TaskEntry[] {
  return m.tasks.map((t) => ({
    id: t.id,
    label: t.label,
    transform: describeTransform(t.transform) + (t.labelShift !== 0 ? `; labels shifted by ${t.labelShift}` : ''),
    hard: t.hard,
    baseAccuracy: m.accuracy.base[t.id] ?? NaN,
    expertAccuracy: m.accuracy.experts[t.id]?.[t.id] ?? NaN,
  }));
}

function modelEntries(m: DemoManifest): ModelEntry[] {
  return [
    { id: m.base, role: 'base', status: 'loading' },
    ...m.tasks.map((t): ModelEntry => ({ id: t.expert, role: 'expert', taskId: t.id, status: 'loading' })),
  ];
}

export const createModelsSlice: SliceCreator<ModelsSlice> = (set, get) => {
  // The newest demo load of this store: an older one still on its way says nothing.
  let currentRun = 0;
  const patchModel = (id: string, patch: Partial<ModelEntry>) =>
    set((s) => ({ models: s.models.map((m) => (m.id === id ? { ...m, ...patch } : m)) }));
  const patchData = (patch: Partial<DataEntry>) => set((s) => ({ data: s.data ? { ...s.data, ...patch } : s.data }));

  return {
    demo: { status: 'idle' },
    models: [],
    tasks: [],
    data: null,

    async loadDemo() {
      const run = ++currentRun;
      const live = () => run === currentRun;
      performance.clearMarks(START_MARK);
      performance.clearMarks(END_MARK);
      performance.clearMeasures(DEMO_LOAD_MEASURE);
      performance.mark(START_MARK);
      demoAssets.clear();
      set({ demo: { status: 'loading' }, models: [], tasks: [], data: { file: DIGITS_FILE, status: 'loading' } });

      const finish = (): number => {
        performance.mark(END_MARK);
        return performance.measure(DEMO_LOAD_MEASURE, START_MARK, END_MARK).duration;
      };

      // The data does not depend on the manifest's contents to download: start it now.
      const dataBlob = fetchBlob(DIGITS_URL, DIGITS_FILE);
      dataBlob.catch(() => undefined); // handled below; avoids an unhandled rejection if the manifest fails first

      let manifest: DemoManifest;
      let manifestBytes: number;
      let manifestText: string;
      try {
        const { blob } = await fetchBlob(DEMO_MANIFEST_URL, 'manifest.json');
        manifestBytes = blob.size;
        manifestText = await blob.text();
        manifest = parseManifest(manifestText, 'manifest.json');
      } catch (e) {
        if (!live()) return;
        const loadMs = finish();
        set({ demo: { status: 'failed', error: toAppError(e, 'manifest.json'), loadMs }, data: null });
        return;
      }
      if (!live()) return;
      demoAssets.setManifest(manifest, manifestText);
      const n = manifest.accuracy.normalized;
      set({
        models: modelEntries(manifest),
        tasks: taskEntries(manifest),
        demo: {
          status: 'loading',
          datasetName: manifest.dataset.name,
          attribution: manifest.dataset.attribution,
          manifestBytes,
          reference: { base: n.base, average: n.average, taskArithmetic: n.taskArithmetic, ties: n.ties },
        },
      });

      // The header reader is engine code: it loads beside the checkpoints, not with the page.
      const reader = import('../demo/checkpoint.js');
      const checkpoints = get().models.map(async ({ id }) => {
        try {
          const { summarizeCheckpoint } = await reader;
          const { blob } = await fetchBlob(demoFileUrl(id), id);
          const summary = await summarizeCheckpoint(blob, id, manifest.architecture);
          if (!live()) return;
          demoAssets.setCheckpoint(id, blob);
          patchModel(id, { status: 'ready', ...summary });
        } catch (e) {
          if (live()) patchModel(id, { status: 'error', error: toAppError(e, id) });
        }
      });
      const data = (async () => {
        try {
          const { blob, contentLength } = await dataBlob;
          const bytes = new Uint8Array(await blob.arrayBuffer());
          const digits = await parseDigits(bytes, DIGITS_FILE, manifest);
          if (!live()) return;
          demoAssets.setDigits(digits, blob);
          // vite preview serves .gz files with Content-Encoding: gzip, so fetch inflates them; the
          // file as shipped is then the Content-Length, not what arrived.
          const shipped = isGzip(bytes) || contentLength === undefined ? blob.size : contentLength;
          patchData({ status: 'ready', bytes: shipped, samples: digits.count, features: digits.features });
        } catch (e) {
          if (live()) patchData({ status: 'error', error: toAppError(e, DIGITS_FILE) });
        }
      })();
      await Promise.all([...checkpoints, data]);
      if (!live()) return;

      const { models, data: dataEntry, demo } = get();
      const loadMs = finish();
      const problems = models.filter((m) => m.status === 'error').length + (dataEntry?.status === 'error' ? 1 : 0);
      const totalBytes = manifestBytes + models.reduce((s, m) => s + (m.bytes ?? 0), 0) + (dataEntry?.bytes ?? 0);
      set({ demo: { ...demo, status: 'loaded', loadMs, totalBytes, problems } });
    },
  };
};
