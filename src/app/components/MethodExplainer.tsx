/**
 * What the chosen method computes, next to its controls: the summary, the formula and the paper,
 * all from the method's own definition in the engine (the same text as the Methods tab).
 */
import { findMethod } from '../../engine/methods/catalog.js';
import { findRoutedMethod } from '../routed/methods.js';
import { useLabStore } from '../store/index.js';

export function MethodExplainer() {
  const method = useLabStore((s) => s.method);
  const m = findMethod(method) ?? findRoutedMethod(method);
  if (!m) return null;
  return (
    <div className="explain" role="note" aria-label={`About ${m.label}`}>
      <p>
        <strong>{m.label}</strong> — {m.summary}
      </p>
      {m.formula && <pre className="formula">{m.formula}</pre>}
      {m.reference && <p className="reference">{m.reference}</p>}
      {'choices' in m && <p className="help">What the paper leaves open, and what we chose: {m.choices}</p>}
    </div>
  );
}
