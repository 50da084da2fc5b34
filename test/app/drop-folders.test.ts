/**
 * A folder chosen or dropped is one model, unless it is a folder of model folders (src/app/models/drop.ts):
 * test/fixtures/mergekit-recipes/models/ chosen whole gave one "models" row and silently read one
 * of its four model.safetensors. A sharded checkpoint (weights at its top level) stays one model.
 */
import { describe, expect, it } from 'vitest';
import { groupsFromFolder, splitModelFolders } from '../../src/app/models/drop.js';

const blob = new Blob(['x']);
/** What the folder picker hands out: files with their path under the chosen folder. */
const picked = (paths: readonly string[]) => paths.map((p) => Object.assign(new File(['x'], p.split('/').at(-1)!), { webkitRelativePath: p }) as File);

describe('folders of models', () => {
  it('a folder holding base/, ft1/, ft2/ and no weights of its own is three models, each with its own files', () => {
    const groups = groupsFromFolder(picked(['models/base/model.safetensors', 'models/base/config.json', 'models/ft1/model.safetensors', 'models/ft1/config.json', 'models/ft2/model.safetensors', 'models/README.md']));
    expect(groups.map((g) => [g.name, g.files.map((f) => f.path)])).toEqual([
      ['base', ['model.safetensors', 'config.json']],
      ['ft1', ['model.safetensors', 'config.json']],
      ['ft2', ['model.safetensors']],
    ]);
  });

  it('a sharded checkpoint, weights at its top level beside a subfolder, stays one model', () => {
    const group = { name: 'llama', files: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'original/consolidated.pth', 'extra/model.safetensors'].map((path) => ({ path, blob })) };
    expect(splitModelFolders(group)).toEqual([group]);
  });

  it('a folder with one model folder inside stays one model (the paths as they were)', () => {
    const group = { name: 'outer', files: ['inner/model.safetensors', 'inner/config.json'].map((path) => ({ path, blob })) };
    expect(splitModelFolders(group)).toEqual([group]);
  });
});
