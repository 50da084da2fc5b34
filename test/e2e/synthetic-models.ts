/**
 * Synthetic checkpoints far larger than the demo, opened in the page through the test hook
 * (window.__mergeLab.engine.models.openModel) under the ids a test's recipe names: `count` float32
 * tensors `layers.{i}.weight` of rows × cols each, per model. Their values, by `fill`:
 * - 'noise': each model its own xorshift stream, uniform in ±0.05;
 * - 'sin': a smooth ramp, each model's shifted in phase by its index;
 * - 'tasks': the base a smooth ramp, each other model the base plus a task vector whose signs
 *   disagree between models (TIES's election and trim both matter).
 */
import type { Page } from 'playwright-core';

export interface SyntheticModels {
  readonly ids: readonly string[];
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly fill: 'noise' | 'sin' | 'tasks';
}

export async function openSyntheticModels(page: Page, spec: SyntheticModels): Promise<void> {
  await page.evaluate(async ({ ids, count, rows, cols, fill }) => {
    const engine = window.__mergeLab!.engine!;
    const per = rows * cols * 4;
    const header: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) header[`layers.${i}.weight`] = { dtype: 'F32', shape: [rows, cols], data_offsets: [i * per, (i + 1) * per] };
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const head = new TextEncoder().encode(json);
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(head.length), true);
    for (let k = 0; k < ids.length; k++) {
      const data = new Float32Array(count * rows * cols);
      if (fill === 'noise') {
        let x = ((k + 1) * 2654435761) >>> 0;
        for (let j = 0; j < data.length; j++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          x >>>= 0;
          data[j] = (x / 4294967296 - 0.5) * 0.1;
        }
      } else if (fill === 'sin') {
        for (let j = 0; j < data.length; j++) data[j] = Math.sin(j * 0.001 + k) * 0.05;
      } else {
        for (let j = 0; j < data.length; j++) data[j] = Math.sin(j * 0.001) * 0.05 + (k === 0 ? 0 : Math.sin(j * (0.37 + k * 0.11) + k) * 0.01);
      }
      await engine.models.openModel(ids[k]!, [{ path: `${ids[k]}.safetensors`, blob: new Blob([size, head, data]) }]);
    }
  }, spec);
}
