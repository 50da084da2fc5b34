/**
 * The layer-stack editor for one's own checkpoints (a frankenmerge): slices of one model's layers
 * each, in order; a strip of the merged model's layers coloured by the model each comes from; the
 * merged layer count; and what is wrong with the stack. When on, Merge and the downloaded recipe
 * stack these slices with passthrough (`slices:`), whatever method is chosen. A slice an imported
 * recipe merges from several sources (or with its own settings) is shown, kept as the recipe has
 * it and merged with the recipe's method, but not edited here: the editor says so.
 */
import { useShallow } from 'zustand/react/shallow';
import { seriesColor } from '../charts/palette.js';
import type { ParameterMap, ParameterSetting } from '../../engine/recipe/types.js';
import { layerCount, stackLayers, stackProblems, stackStrip, type StackLayer, type StackSlice } from '../recipe/slice-stack.js';
import { useLabStore } from '../store/index.js';

function settingText(v: ParameterSetting): string {
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}
const paramsText = (p: ParameterMap | undefined) =>
  Object.entries(p ?? {})
    .map(([k, v]) => `${k} ${settingText(v)}`)
    .join(', ');

/** What an imported slice merges, in words: its sources with their ranges and settings, its own settings and base, and the method. */
function importedText(s: StackSlice, i: number): string {
  const imp = s.imported!;
  const sources = imp.slice.sources.map((x) => `"${x.model}" layers ${x.layerRange[0]}–${x.layerRange[1] - 1}${x.parameters ? ` (${paramsText(x.parameters)})` : ''}`).join(' and ');
  const own = [imp.slice.parameters ? paramsText(imp.slice.parameters) : '', imp.slice.baseModel !== undefined ? `base_model ${imp.slice.baseModel}` : ''].filter(Boolean).join('; ');
  const top = [imp.parameters ? paramsText(imp.parameters) : '', imp.baseModel !== undefined ? `base_model ${imp.baseModel}` : ''].filter(Boolean).join('; ');
  return `Slice ${i + 1} ${imp.slice.sources.length > 1 ? 'merges' : 'takes'} ${sources}${own ? ` (the slice's own ${own})` : ''} with ${imp.method}${top ? ` (${top})` : ''}, as the imported recipe has it.`;
}

/** A strip cell's colour: its model's, or a merged layer's sources' side by side. */
function cellBackground(l: StackLayer, colorOf: (id: string) => string): string {
  if (!l.sources) return colorOf(l.model);
  const n = l.sources.length;
  return `linear-gradient(to bottom, ${l.sources.map((x, k) => `${colorOf(x.model)} ${(k / n) * 100}% ${((k + 1) / n) * 100}%`).join(', ')})`;
}

function cellTitle(l: StackLayer): string {
  if (!l.sources) return `layer ${l.layer}: ${l.model}'s layer ${l.from} (slice ${l.slice + 1})`;
  return `layer ${l.layer}: merges ${l.sources.map((x) => `${x.model}'s layer ${x.from}`).join(' and ')} (slice ${l.slice + 1})`;
}

export function SliceEditor() {
  const { dropped, stack, setStackEnabled, addStackSlice, setStackSlice, removeStackSlice, moveStackSlice } = useLabStore(
    useShallow((s) => ({
      dropped: s.dropped,
      stack: s.stack,
      setStackEnabled: s.setStackEnabled,
      addStackSlice: s.addStackSlice,
      setStackSlice: s.setStackSlice,
      removeStackSlice: s.removeStackSlice,
      moveStackSlice: s.moveStackSlice,
    })),
  );
  const ready = dropped.filter((m) => m.status === 'ready' && m.tensors);
  if (ready.length === 0) return null;
  const layersOf = (id: string) => layerCount(ready.find((m) => m.id === id)?.tensors ?? []);
  const colorOf = (id: string) => seriesColor(Math.max(0, dropped.findIndex((m) => m.id === id)));
  const strip = stackStrip(stack.slices);
  const problems = stack.enabled ? stackProblems(stack.slices, dropped) : [];
  const total = stackLayers(stack.slices);
  const imported = stack.slices.map((s, i) => [s, i] as const).filter(([s]) => s.imported);
  return (
    <section className="slice-editor" aria-label="Layer stack">
      <h3>Layer stack (slices)</h3>
      <label>
        <input type="checkbox" checked={stack.enabled} onChange={(e) => setStackEnabled(e.target.checked)} /> Stack layers of my checkpoints instead of merging whole
        models: Merge and the downloaded recipe copy each slice&apos;s layers in order (<code>slices:</code> with passthrough), renumbered from 0. An imported <code>slices:</code>{' '}
        recipe loads here.
      </label>
      {stack.enabled && (
        <>
          <table className="grid" aria-label="Slices">
            <thead>
              <tr>
                <th scope="col">slice</th>
                <th scope="col">model</th>
                <th scope="col">first layer</th>
                <th scope="col">end (not included)</th>
                <th scope="col">layers</th>
                <th scope="col">order</th>
              </tr>
            </thead>
            <tbody>
              {stack.slices.map((s, i) => (
                <tr key={i} data-slice={i} data-imported={s.imported ? (s.imported.slice.sources.length > 1 ? 'merged' : 'kept') : undefined}>
                  <th scope="row">
                    <span className="swatch" style={{ background: colorOf(s.model) }} aria-hidden="true" /> {i + 1}
                    {s.imported && s.imported.slice.sources.length > 1 && ` (+${s.imported.slice.sources.length - 1} merged)`}
                  </th>
                  <td>
                    <select aria-label={`Model of slice ${i + 1}`} value={s.model} disabled={s.imported !== undefined} onChange={(e) => setStackSlice(i, { model: e.target.value })}>
                      {ready.map((m) => (
                        <option key={m.id} value={m.id}>
                          {m.id} ({layersOf(m.id)} layers)
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input type="number" aria-label={`First layer of slice ${i + 1}`} min={0} step={1} value={s.start} disabled={s.imported !== undefined} onChange={(e) => setStackSlice(i, { start: Number(e.target.value) })} />
                  </td>
                  <td>
                    <input type="number" aria-label={`End of slice ${i + 1}`} min={1} step={1} value={s.end} disabled={s.imported !== undefined} onChange={(e) => setStackSlice(i, { end: Number(e.target.value) })} />
                  </td>
                  <td className="num">{Math.max(0, s.end - s.start)}</td>
                  <td className="actions">
                    <button type="button" aria-label={`Move slice ${i + 1} up`} disabled={i === 0} onClick={() => moveStackSlice(i, -1)}>
                      ↑
                    </button>
                    <button type="button" aria-label={`Move slice ${i + 1} down`} disabled={i === stack.slices.length - 1} onClick={() => moveStackSlice(i, 1)}>
                      ↓
                    </button>
                    <button type="button" aria-label={`Remove slice ${i + 1}`} onClick={() => removeStackSlice(i)}>
                      ✕
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            <button type="button" onClick={() => addStackSlice()}>
              Add slice
            </button>
          </p>
          <div className="layer-strip" role="img" aria-label={`The merged model's ${total} layers by the model each comes from`}>
            {strip.map((l) => (
              <span
                key={l.layer}
                className="layer-cell"
                data-model={l.model}
                data-sources={l.sources?.map((x) => x.model).join(',')}
                style={{ background: cellBackground(l, colorOf) }}
                title={cellTitle(l)}
              />
            ))}
          </div>
          <p className="stack-count" data-layers={total}>
            Merged model: <strong>{total}</strong> layer{total === 1 ? '' : 's'}
            {stack.slices.length > 0 && ` (${stack.slices.map((s) => Math.max(0, s.end - s.start)).join(' + ')})`}; embeddings from slice 1&apos;s model, the final norm
            and head from the last slice&apos;s.
          </p>
          {imported.length > 0 && (
            <div className="stack-imported" role="note" aria-label="Imported slices">
              <ul>
                {imported.map(([sl, i]) => (
                  <li key={i}>{importedText(sl, i)}</li>
                ))}
              </ul>
              <p className="help">
                mergekit merges every slice with the recipe&apos;s merge_method and settings, and so does Merge here: the method select and the sliders do not change these. The editor
                cannot change an imported slice&apos;s sources or settings (its row is greyed; the strip shows a merged layer in its sources&apos; colours): remove it, or edit the recipe and
                import it again.
                {imported.length < stack.slices.length && ` Its other slices are merged with ${imported[0]![0].imported!.method} too.`}
              </p>
            </div>
          )}
          {problems.length > 0 && (
            <ul className="status error" role="alert">
              {problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
