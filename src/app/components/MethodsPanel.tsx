/**
 * The method catalogue, built from the engine's method registry (the same parameter schemas the
 * CLI and YAML reader use), and the recipe's method select (shown in the Merge panel).
 */
import { useShallow } from 'zustand/react/shallow';
import { METHODS } from '../../engine/methods/catalog.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import { useLabStore } from '../store/index.js';
import { ROUTED_METHODS } from '../routed/methods.js';

function range(p: ParamSpec): string {
  if (p.type === 'boolean') return 'true / false';
  const lo = p.min === undefined ? '−∞' : `${p.min}`;
  const hi = p.max === undefined ? '∞' : `${p.max}`;
  return `${p.minExclusive ? '(' : '['}${lo}, ${hi}${p.maxExclusive ? ')' : ']'}`;
}

/** The recipe's method; lives in the Merge panel, beside the controls it changes. */
export function MethodSelect() {
  const { method, setMethod } = useLabStore(useShallow((s) => ({ method: s.method, setMethod: s.setMethod })));
  return (
    <p className="field">
      <label htmlFor="merge-method">Merge method</label>{' '}
      <select id="merge-method" value={method} onChange={(e) => setMethod(e.target.value)}>
        <optgroup label="One merged model">
          {METHODS.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label} ({m.id})
            </option>
          ))}
        </optgroup>
        <optgroup label="Routed per input">
          {ROUTED_METHODS.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label} ({m.id})
            </option>
          ))}
        </optgroup>
      </select>
    </p>
  );
}

export function MethodsPanel() {
  const method = useLabStore((s) => s.method);
  return (
    <>
      <h2>Methods</h2>
      <p className="lead">Every method the engine implements, with its parameters. The selected one is highlighted; choose it in the Merge panel.</p>
      {[...METHODS, ...ROUTED_METHODS].map((m) => (
        <article key={m.id} className={m.id === method ? 'method selected' : 'method'} aria-label={m.label} aria-current={m.id === method ? 'true' : undefined}>
          <h3>
            {m.label} <code>{m.id}</code>
          </h3>
          <p>{m.summary}</p>
          {m.formula && <pre className="formula">{m.formula}</pre>}
          {m.reference && <p className="reference">{m.reference}</p>}
          <table>
            <thead>
              <tr>
                <th scope="col">parameter</th>
                <th scope="col">scope</th>
                <th scope="col">default</th>
                <th scope="col">range</th>
                <th scope="col">what it does</th>
              </tr>
            </thead>
            <tbody>
              {m.params.map((p) => (
                <tr key={p.name}>
                  <td>
                    <code>{p.name}</code>
                  </td>
                  <td>{p.scope === 'model' ? 'per model' : 'global'}</td>
                  <td>{p.required ? 'required' : p.default === undefined ? '—' : String(p.default)}</td>
                  <td>{range(p)}</td>
                  <td>{p.help}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </article>
      ))}
    </>
  );
}
