/**
 * The layer-stack editor for one's own checkpoints (a frankenmerge): slices of one model's layers
 * each, in order; a strip of the merged model's layers coloured by the model each comes from; the
 * merged layer count; and what is wrong with the stack. When on, Merge and the downloaded recipe
 * stack these slices with passthrough (`slices:`), whatever method is chosen.
 */
import { useShallow } from 'zustand/react/shallow';
import { seriesColor } from '../charts/palette.js';
import { layerCount, stackLayers, stackProblems, stackStrip } from '../recipe/slice-stack.js';
import { useLabStore } from '../store/index.js';

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
  return (
    <section className="slice-editor" aria-label="Layer stack">
      <h3>Layer stack (slices)</h3>
      <label>
        <input type="checkbox" checked={stack.enabled} onChange={(e) => setStackEnabled(e.target.checked)} /> Stack layers of my checkpoints instead of merging whole
        models: Merge and the downloaded recipe copy each slice&apos;s layers in order (<code>slices:</code> with passthrough), renumbered from 0.
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
                <tr key={i} data-slice={i}>
                  <th scope="row">
                    <span className="swatch" style={{ background: colorOf(s.model) }} aria-hidden="true" /> {i + 1}
                  </th>
                  <td>
                    <select aria-label={`Model of slice ${i + 1}`} value={s.model} onChange={(e) => setStackSlice(i, { model: e.target.value })}>
                      {ready.map((m) => (
                        <option key={m.id} value={m.id}>
                          {m.id} ({layersOf(m.id)} layers)
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input type="number" aria-label={`First layer of slice ${i + 1}`} min={0} step={1} value={s.start} onChange={(e) => setStackSlice(i, { start: Number(e.target.value) })} />
                  </td>
                  <td>
                    <input type="number" aria-label={`End of slice ${i + 1}`} min={1} step={1} value={s.end} onChange={(e) => setStackSlice(i, { end: Number(e.target.value) })} />
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
              <span key={l.layer} className="layer-cell" data-model={l.model} style={{ background: colorOf(l.model) }} title={`layer ${l.layer}: ${l.model}'s layer ${l.from} (slice ${l.slice + 1})`} />
            ))}
          </div>
          <p className="stack-count" data-layers={total}>
            Merged model: <strong>{total}</strong> layer{total === 1 ? '' : 's'}
            {stack.slices.length > 0 && ` (${stack.slices.map((s) => Math.max(0, s.end - s.start)).join(' + ')})`}; embeddings from slice 1&apos;s model, the final norm
            and head from the last slice&apos;s.
          </p>
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
