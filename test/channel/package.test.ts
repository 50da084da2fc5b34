/**
 * The Channel Merging package: bytes → read → every task's rebuilt weights identical to the
 * model's lookups (F32), or to their F16 rounding; the files' layout (U8 index [T, C], groups
 * [K, ...shape], a bias indexed per element with its weight's groups); a router carried as is and
 * counted apart; a version 1 package still read; and a catalogue of broken packages with their errors.
 */
import { describe, expect, it } from 'vitest';
import { memorySource, numberToFloat16Bits, float16BitsToNumber, openSafetensors, serializeSafetensors } from '../../src/engine/io/index.js';
import { channelMerge, type ChannelModel } from '../../src/engine/methods/channel/channel-merge.js';
import { taskWeights } from '../../src/engine/methods/channel/lookup.js';
import { buildChannelPackage, CHANNEL_FILES, readChannelPackage } from '../../src/engine/methods/channel/package.js';
import { weightsSource } from '../../src/engine/methods/channel/source.js';

const TASKS = ['t0', 't1', 't2'];
const SHAPES = [
  { name: 'fc.weight', shape: [4, 3] },
  { name: 'fc.bias', shape: [4] },
];

async function toyModel(K = 2): Promise<ChannelModel> {
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const w = () => Object.fromEntries(SHAPES.map((x) => [x.name, Float32Array.from({ length: x.shape.reduce((a, b) => a * b, 1) }, rand)]));
  return channelMerge(weightsSource({ base: w(), experts: TASKS.map(w), tasks: TASKS, shapes: SHAPES }), { K, method: { id: 'ties', params: { density: 0.5 } } });
}

describe('channel package round trip', () => {
  it('rebuilds every task’s weights exactly from the bytes', async () => {
    const model = await toyModel();
    const { files, manifest } = buildChannelPackage(model);
    expect(Object.keys(files).sort()).toEqual([CHANNEL_FILES.manifest, CHANNEL_FILES.groups, CHANNEL_FILES.index].sort());
    const back = await readChannelPackage(files);
    expect(back.manifest).toEqual(manifest);
    expect(back.model.K).toBe(2);
    expect(back.model.method).toEqual({ id: 'ties', params: { weight: 1, density: 0.5, lambda: 1, normalize: true, rescale: false }, singletons: 'expert' });
    for (const t of TASKS) expect(taskWeights(back.model, t)).toEqual(taskWeights(model, t));
    expect(back.router).toBeUndefined();
  });

  it('lays the files out as channel.json says', async () => {
    const model = await toyModel();
    const { files, manifest } = buildChannelPackage(model);
    const index = await openSafetensors(memorySource('index', files[CHANNEL_FILES.index]!));
    expect(index.info('fc.weight.index')).toMatchObject({ dtype: 'U8', shape: [3, 4] });
    // The bias follows fc.weight's rows: one index entry per element, the weight's own table.
    expect(index.info('fc.bias.index')).toMatchObject({ dtype: 'U8', shape: [3, 4] });
    expect(Array.from(await index.readRaw('fc.weight.index'))).toEqual(Array.from(model.tensors[0]!.index));
    expect(Array.from(await index.readRaw('fc.bias.index'))).toEqual(Array.from(model.tensors[0]!.index));
    const groups = await openSafetensors(memorySource('groups', files[CHANNEL_FILES.groups]!));
    expect(groups.info('fc.weight.groups')).toMatchObject({ dtype: 'F32', shape: [2, 4, 3] });
    expect(groups.metadata).toMatchObject({ format: 'merge-lab-channel', version: '2' });
    expect(manifest).toMatchObject({
      format: 'merge-lab-channel',
      version: 2,
      tasks: TASKS,
      K: 2,
      base: 'base',
      dtype: 'F32',
      clustering: { on: 'raw', method: 'kmeans', distance: 'cosine', seed: 42 },
      files: { groups: 'groups.safetensors', index: 'index.safetensors' },
    });
    expect(manifest.tensors.map((t) => t.channels)).toEqual([4, 4]);
    // 2 copies of 16 weights against 3 experts of 16, plus 3 × (4 + 4) index bytes.
    expect(manifest.storage).toMatchObject({ groupParams: 32, expertParams: 48, indexEntries: 24, packageBytes: 32 * 4 + 24, expertBytes: 192 });
  });

  it('stores F16 groups when asked, rebuilt as their F16 values', async () => {
    const model = await toyModel();
    const back = await readChannelPackage(buildChannelPackage(model, { dtype: 'F16' }).files);
    expect(back.manifest.storage.bytesPerParam).toBe(2);
    const f16 = (v: Float32Array) => Float32Array.from(v, (x) => float16BitsToNumber(numberToFloat16Bits(x)));
    for (const t of TASKS) {
      const want = taskWeights(model, t);
      const got = taskWeights(back.model, t);
      for (const name of Object.keys(want)) expect(got[name]).toEqual(f16(want[name]!));
    }
  });

  it('carries a router as is and counts it', async () => {
    const router = serializeSafetensors([{ name: 'fc1.weight', dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(0.5) }]);
    const { files, manifest } = buildChannelPackage(await toyModel(), { router: { bytes: router, params: 6, info: { features: 'base penultimate' } } });
    expect(manifest.files.router).toBe('router.safetensors');
    expect(manifest.router).toEqual({ features: 'base penultimate' });
    // Counted apart: the package's ratio is its weights', the router's bytes are added in withRouter.
    expect(manifest.storage).toMatchObject({ routerParams: 6, routerBytes: 24, packageBytes: 32 * 4 + 24 });
    expect(manifest.storage.withRouter.bytes).toBe(manifest.storage.packageBytes + 24);
    const back = await readChannelPackage(files);
    expect(back.router).toEqual(router);
  });

  it('reads a version 1 package (average linkage, a bias as one channel)', async () => {
    // Version 1 indexed a vector once: task t took the whole bias from group index[t][0].
    const model: ChannelModel = {
      tasks: TASKS,
      baseName: 'base',
      K: 2,
      method: { id: 'average', params: {}, singletons: 'expert' },
      similarity: 'raw',
      clustering: 'average_linkage',
      seed: 42,
      tensors: [{ name: 'fc.bias', shape: [4], channels: 1, groups: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), index: Uint8Array.from([0, 1, 1]) }],
    };
    const { files, manifest } = buildChannelPackage(model);
    const v1 = JSON.parse(JSON.stringify(manifest)) as { version: number; clustering: Record<string, unknown> };
    v1.version = 1;
    delete v1.clustering.method;
    files[CHANNEL_FILES.manifest] = new TextEncoder().encode(JSON.stringify(v1));
    const back = await readChannelPackage(files);
    expect(back.model.clustering).toBe('average_linkage');
    expect(Array.from(taskWeights(back.model, 't0')['fc.bias']!)).toEqual([1, 2, 3, 4]);
    expect(Array.from(taskWeights(back.model, 't2')['fc.bias']!)).toEqual([5, 6, 7, 8]);
  });
});

describe('broken packages', () => {
  const edit = async (change: (files: Record<string, Uint8Array>, manifest: Record<string, unknown>) => void) => {
    const { files, manifest } = buildChannelPackage(await toyModel());
    const m = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
    change(files, m);
    files[CHANNEL_FILES.manifest] = new TextEncoder().encode(JSON.stringify(m));
    return readChannelPackage(files).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );
  };

  const cases: [string, (f: Record<string, Uint8Array>, m: Record<string, unknown>) => void, string, RegExp][] = [
    ['no groups file', (f) => delete f[CHANNEL_FILES.groups], 'NO_CHECKPOINT', /has no groups\.safetensors/],
    ['another format', (_, m) => (m.format = 'merge-lab-twin'), 'METADATA_INVALID', /format is "merge-lab-twin"/],
    ['a newer version', (_, m) => (m.version = 3), 'METADATA_INVALID', /version 3/],
    ['channels that do not divide the tensor', (_, m) => ((m.tensors as { channels: number }[])[1]!.channels = 3), 'METADATA_INVALID', /fc\.bias: "channels" must divide its 4 values/],
    ['K above T', (_, m) => (m.K = 4), 'METADATA_INVALID', /"K" must be an integer from 1 to 3/],
    ['K below the stored labels', (_, m) => (m.K = 1), 'SHAPE_MISMATCH', /"fc\.weight\.groups".*\[2, 4, 3\]; channel\.json says \[1, 4, 3\]/],
    ['a tensor the files lack', (_, m) => (m.tensors as { groups: string }[])[0]!.groups = 'nope', 'TENSOR_NOT_FOUND', /no tensor "nope"/],
    ['a missing router', (_, m) => ((m.files as Record<string, string>).router = 'router.safetensors'), 'NO_CHECKPOINT', /router\.safetensors/],
    ['damaged index bytes', (f) => (f[CHANNEL_FILES.index] = f[CHANNEL_FILES.index]!.slice(0, 20)), 'HEADER_OUT_OF_BOUNDS', /index\.safetensors/],
    [
      'a label ≥ K',
      (f) => {
        const bytes = f[CHANNEL_FILES.index]!;
        // The first index byte is the first data byte: fc.weight.index comes first.
        const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
        bytes[headerEnd] = 7;
      },
      'METADATA_INVALID',
      /names group 7 for task "t0" at channel 0, but K is 2/,
    ],
  ];
  for (const [what, change, code, text] of cases) {
    it(`${what}: ${code}`, async () => {
      const e = await edit(change);
      expect(e, 'expected an error').toBeDefined();
      expect(e).toMatchObject({ name: 'MergeLabError', code });
      expect(e!.message).toMatch(text);
    });
  }

  it('channel.json that is not JSON', async () => {
    const { files } = buildChannelPackage(await toyModel());
    files[CHANNEL_FILES.manifest] = new TextEncoder().encode('{"format":');
    await expect(readChannelPackage(files)).rejects.toMatchObject({ code: 'METADATA_INVALID', message: expect.stringMatching(/channel\.json: not valid UTF-8 JSON/) });
  });
});
