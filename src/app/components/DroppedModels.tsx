/**
 * The user's own checkpoints in the Models panel: the "demo / my checkpoints" switch, the drop
 * zone with its file and folder pickers, and the list of dropped models (role, dtype, parameters,
 * size, header checks against the base, errors on their own row, remove and re-order).
 */
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatCount, formatDtypes } from '../format.js';
import { checkAgainstBase, describeCheck } from '../models/header-check.js';
import { groupsFromDrop, groupsFromFiles, groupsFromFolder } from '../models/drop.js';
import { splitTexts, TEXT_ACCEPT } from '../lm/text-files.js';
import { uniqueModelId } from '../store/dropped-slice.js';
import { useLabStore } from '../store/index.js';
import type { DroppedModel, DroppedRole } from '../store/types.js';

export function SourceSwitch() {
  const { source, setSource, count } = useLabStore(useShallow((s) => ({ source: s.source, setSource: s.setSource, count: s.dropped.length })));
  return (
    <fieldset className="source-switch" data-source={source}>
      <legend>Models to merge</legend>
      <label>
        <input type="radio" name="model-source" value="demo" checked={source === 'demo'} onChange={() => setSource('demo')} /> Digits demo: 5 image tasks
      </label>{' '}
      <label>
        <input type="radio" name="model-source" value="lm" checked={source === 'lm'} onChange={() => setSource('lm')} /> Language-model demo: 5 text domains
      </label>{' '}
      <label>
        <input type="radio" name="model-source" value="mine" checked={source === 'mine'} onChange={() => setSource('mine')} /> my checkpoints
        {count > 0 ? ` (${count})` : ''}
      </label>
    </fieldset>
  );
}

export function DropZone() {
  const { addModels, addTexts } = useLabStore(useShallow((s) => ({ addModels: s.addModels, addTexts: s.addTexts })));
  // Loose text files are the language-model lab's tasks; everything else is a model.
  const add = (groups: Parameters<typeof splitTexts>[0]) => {
    const { texts, models } = splitTexts(groups);
    void addTexts(texts);
    void addModels(models);
  };
  const [over, setOver] = useState(false);
  const folderInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // Not in React's typings: the attribute makes the picker choose a folder (Chromium, Firefox, Safari).
    folderInput.current?.setAttribute('webkitdirectory', '');
  }, []);
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    void groupsFromDrop(e.dataTransfer).then(add);
  };
  return (
    <div
      className={`drop-zone${over ? ' over' : ''}`}
      role="group"
      aria-label="Drop checkpoints"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <p>
        <strong>Drop checkpoints here</strong>: <code>.safetensors</code> or PyTorch <code>.bin</code>/<code>.pt</code> files, or whole folders (sharded
        Hugging Face checkpoints with <code>model.safetensors.index.json</code>). Only their headers are read now; nothing leaves this page. Text files
        (<code>.txt</code>, <code>.md</code>, source code) dropped beside a language model&apos;s folders are tasks it is scored on.
      </p>
      <p className="buttons">
        <label className="button">
          Choose files{' '}
          <input
            type="file"
            multiple
            accept={`.safetensors,.bin,.pt,.pth,${TEXT_ACCEPT}`}
            aria-label="Choose files"
            onChange={(e) => {
              const files = [...(e.target.files ?? [])];
              e.target.value = '';
              add(groupsFromFiles(files));
            }}
          />
        </label>{' '}
        <label className="button">
          Choose a folder{' '}
          <input
            ref={folderInput}
            type="file"
            aria-label="Choose a folder"
            onChange={(e) => {
              const files = [...(e.target.files ?? [])];
              e.target.value = '';
              void addModels(groupsFromFolder(files));
            }}
          />
        </label>
      </p>
    </div>
  );
}

function DroppedRow({ m, index, count, base }: { m: DroppedModel; index: number; count: number; base: DroppedModel | undefined }) {
  const { setRole, removeModel, moveModel } = useLabStore(useShallow((s) => ({ setRole: s.setRole, removeModel: s.removeModel, moveModel: s.moveModel })));
  const check = m.status === 'ready' && m.tensors && base?.tensors && base.id !== m.id && m.role !== 'excluded' ? checkAgainstBase(m.tensors, base.tensors) : undefined;
  const mismatch = check && (check.missing.length > 0 || check.shape.length > 0) ? describeCheck(check) : undefined;
  return (
    <tr data-model={m.id} data-role={m.role} data-status={m.status} data-check={mismatch ? 'mismatch' : check ? 'ok' : undefined} className={m.status === 'error' ? 'row-error' : undefined}>
      <th scope="row">
        <code>{m.id}</code>
        {/* Not a silent rename: the demo's models (or an earlier drop) hold that name in the same worker. */}
        {m.id !== uniqueModelId(m.name, new Set()) && <span className="help"> (from {m.name}, whose name was taken; the recipe names the file)</span>}
        {m.files > 1 && <span className="help"> ({m.files} files)</span>}
      </th>
      <td>
        <select aria-label={`Role of ${m.id}`} value={m.role} onChange={(e) => setRole(m.id, e.target.value as DroppedRole)}>
          <option value="base">base</option>
          <option value="expert">expert</option>
          <option value="excluded">excluded</option>
        </select>
      </td>
      <td>{m.dtypes ? formatDtypes(m.dtypes) : ''}</td>
      <td className="num">{m.parameters !== undefined ? formatCount(m.parameters) : ''}</td>
      <td className="num" title={m.bytes !== undefined ? `${formatCount(m.bytes)} bytes` : undefined}>
        {m.bytes !== undefined ? formatBytes(m.bytes) : ''}
      </td>
      <td className="wrap">
        {m.status === 'loading' && <span className="status loading">reading header…</span>}
        {m.status === 'error' && (
          <span className="status error" role="alert">
            <strong>{m.error?.code ?? 'ERROR'}</strong> {m.error?.message ?? 'This file could not be opened.'}
          </span>
        )}
        {m.status === 'ready' && !mismatch && <span className="status ok">{check ? 'ready; matches the base' : 'ready'}</span>}
        {mismatch && <span className="status warn">Against the base {base!.id}: {mismatch}</span>}
      </td>
      <td className="actions">
        <button type="button" aria-label={`Move ${m.id} up`} disabled={index === 0} onClick={() => moveModel(m.id, -1)}>
          ↑
        </button>
        <button type="button" aria-label={`Move ${m.id} down`} disabled={index === count - 1} onClick={() => moveModel(m.id, 1)}>
          ↓
        </button>
        <button type="button" aria-label={`Remove ${m.id}`} onClick={() => removeModel(m.id)}>
          ✕
        </button>
      </td>
    </tr>
  );
}

export function DroppedTable() {
  const dropped = useLabStore((s) => s.dropped);
  if (dropped.length === 0) return <p className="help">No checkpoints yet: drop some above, or choose files or a folder.</p>;
  const base = dropped.find((m) => m.role === 'base' && m.status === 'ready');
  return (
    <table className="grid" aria-label="My checkpoints">
      <caption>My checkpoints — the base and the experts merged onto it, in this order</caption>
      <thead>
        <tr>
          <th scope="col">model</th>
          <th scope="col">role</th>
          <th scope="col">dtype</th>
          <th scope="col">parameters</th>
          <th scope="col">size</th>
          <th scope="col">status</th>
          <th scope="col">order</th>
        </tr>
      </thead>
      <tbody>
        {dropped.map((m, i) => (
          <DroppedRow key={m.id} m={m} index={i} count={dropped.length} base={base} />
        ))}
      </tbody>
    </table>
  );
}
