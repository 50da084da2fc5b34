/** The base among dropped models is what the files say, never the first one (issue 16). */
import { describe, expect, it } from 'vitest';
import { chooseBase } from '../../src/app/models/choose-base.js';

const file = (name: string) => ({ name, files: [{ path: name, blob: new Blob(['x']) }] });
const folder = (name: string, config?: object) => ({
  name,
  files: [{ path: 'model.safetensors', blob: new Blob(['x']) }, ...(config ? [{ path: 'config.json', blob: new Blob([JSON.stringify(config)]) }] : [])],
});

describe('chooseBase', () => {
  it('takes the one model named "base", wherever it was dropped', async () => {
    expect(await chooseBase([file('expert-a.safetensors'), file('base-model.safetensors'), file('expert-b.safetensors')])).toBe(1);
    expect(await chooseBase([folder('ft1'), folder('llama_base')])).toBe(1);
    expect(await chooseBase([folder('base')])).toBe(0);
  });
  it('else the model the others config.json name as their origin', async () => {
    expect(await chooseBase([folder('ft1', { _name_or_path: '/models/llama-3-8b' }), folder('llama-3-8b'), folder('ft2', { _name_or_path: 'llama-3-8b/' })])).toBe(1);
  });
  it('else none: not the first file, and not a name that merely contains the letters', async () => {
    expect(await chooseBase([file('model_c.safetensors'), file('model_a.safetensors')])).toBeUndefined();
    expect(await chooseBase([file('database.safetensors'), file('basel.safetensors')])).toBeUndefined();
    expect(await chooseBase([file('base-a.safetensors'), file('base-b.safetensors')])).toBeUndefined();
    expect(await chooseBase([folder('sharded-model')])).toBeUndefined();
  });
});
