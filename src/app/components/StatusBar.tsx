/**
 * The engine's status bar: which backend runs the merges, on what adapter (vendor, description,
 * whether it is a software fallback, its largest storage buffer), why the preferred backend was
 * not used, and that the engine restarted after a failure. The Backend select overrides 'auto'.
 */
import { useShallow } from 'zustand/react/shallow';
import type { BackendChoice } from '../../engine/backend.js';
import { formatBinaryBytes, formatMs } from '../format.js';
import { useLabStore } from '../store/index.js';
import type { EngineInfo } from '../store/types.js';

const CHOICES: readonly { value: BackendChoice; label: string }[] = [
  { value: 'auto', label: 'auto (best available)' },
  { value: 'webgpu', label: 'webgpu (GPU)' },
  { value: 'wasm', label: 'wasm (CPU, fast)' },
  { value: 'cpu', label: 'cpu (reference, slow)' },
];

function stateText(e: EngineInfo): string {
  switch (e.status) {
    case 'idle':
    case 'starting':
      return 'Engine starting…';
    case 'restarting':
      return 'Engine restarting…';
    case 'failed':
      return 'Engine stopped.';
    case 'ready':
      return e.backend ? `Engine on ${e.backend.name}` : 'Engine ready';
  }
}

function demoText(e: EngineInfo): string | null {
  switch (e.demo.status) {
    case 'loading':
      return 'loading the demo…';
    case 'ready':
      return e.demo.loadMs !== undefined ? `demo loaded in ${formatMs(e.demo.loadMs)}` : 'demo loaded';
    case 'error':
      return 'the demo could not be loaded';
    default:
      return null;
  }
}

export function StatusBar() {
  const { engine, setBackendChoice } = useLabStore(useShallow((s) => ({ engine: s.engine, setBackendChoice: s.setBackendChoice })));
  const b = engine.backend;
  const a = b?.adapter;
  const demo = demoText(engine);
  return (
    <div className="statusbar" role="status" aria-label="Engine status" data-engine-state={engine.status} data-backend={b?.name ?? ''} data-engine-demo={engine.demo.status} data-restarts={engine.restarts}>
      <span className="engine-state">
        <strong>{stateText(engine)}</strong>
        {demo && engine.status === 'ready' && <> · {demo}</>}
      </span>
      {b && (
        <span className="adapter" data-adapter={a ? (a.isFallbackAdapter ? 'fallback' : 'hardware') : 'none'}>
          {a ? (
            <>
              Adapter: {[a.vendor, a.description || a.architecture].filter(Boolean).join(' — ') || 'unnamed'} ·{' '}
              {a.isFallbackAdapter ? 'software (fallback) adapter' : 'hardware adapter'} · largest storage buffer{' '}
              <span data-max-storage-buffer={a.maxStorageBufferBindingSize}>{formatBinaryBytes(a.maxStorageBufferBindingSize)}</span>
            </>
          ) : (
            'No GPU adapter in use'
          )}
        </span>
      )}
      {b?.fallbackReason && <span className="fallback">Not on the preferred backend: {b.fallbackReason}</span>}
      {engine.notice && <span className="notice">{engine.notice}</span>}
      {engine.error && (
        <span className="status error">
          <strong>{engine.error.code}</strong> {engine.error.message}
        </span>
      )}
      {engine.demo.status === 'error' && engine.demo.error && (
        <span className="status error">
          <strong>{engine.demo.error.code}</strong> {engine.demo.error.message}
        </span>
      )}
      <span className="field">
        <label htmlFor="backend-choice">Backend</label>{' '}
        <select id="backend-choice" value={engine.choice} onChange={(e) => setBackendChoice(e.target.value as BackendChoice)}>
          {CHOICES.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      </span>
    </div>
  );
}
