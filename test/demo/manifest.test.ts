/**
 * The shipped manifest parses, and a catalogue of broken manifests each fails with
 * DEMO_MANIFEST_INVALID naming the JSON path at fault.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseManifest, scoredTasks, type DemoManifest } from '../../src/engine/demo/manifest.js';
import { expectCode } from '../io/helpers.js';

const TEXT = fs.readFileSync(new URL('../../public/demo/manifest.json', import.meta.url), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form edits of a JSON clone
type Json = Record<string, any>;
const edit = (f: (m: Json) => void): Json => {
  const m = JSON.parse(TEXT) as Json;
  f(m);
  return m;
};

describe('demo manifest', () => {
  it('the shipped manifest parses to the five tasks, 64 -> 1024 -> 10', () => {
    const m: DemoManifest = parseManifest(TEXT);
    expect(scoredTasks(m).map((t) => t.id)).toEqual(['invert', 'permute', 'shift-left', 'shift-right', 'occlude-top']);
    expect(m.architecture.layers.map((l) => [l.inputs, l.outputs, l.activation])).toEqual([
      [64, 1024, 'relu'],
      [1024, 10, 'none'],
    ]);
    expect(m.split.train.length + m.split.validation.length + m.split.test.length).toBe(1797);
  });

  it.each<[string, (m: Json) => void, string[]]>([
    ['wrong format', (m) => (m['format'] = 'something-else'), ['is not a merge-lab-demo manifest version 1']],
    ['newer version', (m) => (m['version'] = 2), ['version 2']],
    ['layers that do not chain', (m) => (m['architecture'].layers[1].inputs = 512), ['architecture.layers[1].inputs: is 512 but the previous layer gives 1024']],
    ['a head that is not the class count', (m) => (m['architecture'].layers[1].outputs = 9), ['architecture.layers[1].outputs: is 9 but architecture.classes is 10']],
    ['an unknown activation', (m) => (m['architecture'].layers[0].activation = 'gelu'), ['architecture.layers[0].activation: expected one of relu, none, got "gelu"']],
    ['a tensor used twice', (m) => (m['architecture'].layers[1].weight = 'hidden.weight'), ['tensor "hidden.weight" is used twice']],
    ['an unknown transform', (m) => (m['tasks'][0].transform = { type: 'blur' }), ['tasks[0].transform.type: expected one of identity, invert, permute']],
    ['a permutation with a repeat', (m) => (m['tasks'][1].transform.permutation[0] = m['tasks'][1].transform.permutation[1]), ['tasks[1].transform.permutation: must list each pixel index 0..63 exactly once']],
    ['a shift off the image', (m) => (m['tasks'][2].transform.dx = 8), ['tasks[2].transform.dx: expected an integer in -7..7, got 8']],
    ['an occlusion past the edge', (m) => (m['tasks'][4].transform.height = 9), ['tasks[4].transform.height: expected an integer in 1..8, got 9']],
    ['a duplicate task id', (m) => (m['tasks'][1].id = 'invert'), ['tasks[1].id: "invert" is used by an earlier task']],
    ['a non-boolean hard flag', (m) => (m['tasks'][0].hard = 'yes'), ['tasks[0].hard: expected true or false, got "yes"']],
    ['overlapping split parts', (m) => m['split'].test.push(m['split'].train[0]), ['is also in split.train; the parts must be disjoint']],
    ['a row past the data', (m) => m['split'].validation.push(1797), ['expected an integer in 0..1796, got 1797']],
    ['an accuracy over 1', (m) => (m['accuracy'].experts.invert.invert = 93.1), ['accuracy.experts.invert.invert: expected a number in 0..1, got 93.1']],
    ['an accuracy for an unknown task', (m) => (m['accuracy'].base.blur = 0.5), ['accuracy.base: unknown task "blur"']],
    ['a missing section', (m) => delete m['split'], ['split: expected an object, got nothing']],
  ])('rejects %s', async (_, breakIt, mentions) => {
    await expectCode(() => parseManifest(edit(breakIt)), 'DEMO_MANIFEST_INVALID', 'manifest.json', ...mentions);
  });

  it('reports every problem at once', async () => {
    const broken = edit((m) => {
      m['tasks'][2].transform.dx = 8;
      m['dataset'].rows = 'many';
    });
    const err = (await expectCode(() => parseManifest(broken), 'DEMO_MANIFEST_INVALID', '2 problems', 'dataset.rows', 'tasks[2].transform.dx')) as Error & { problems: unknown[] };
    expect(err.problems).toHaveLength(2);
  });

  it('rejects text that is not JSON', async () => {
    await expectCode(() => parseManifest('{"format": ', 'demo.json'), 'DEMO_MANIFEST_INVALID', 'demo.json is not valid JSON');
    await expectCode(() => parseManifest([1, 2]), 'DEMO_MANIFEST_INVALID', 'must hold a JSON object, got [1,2]');
  });
});
