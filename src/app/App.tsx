/**
 * The lab's shell. Until the lab issue lands this page shows the method catalogue, built from the
 * same parameter schemas the CLI and YAML reader use.
 */
import { METHODS } from '../engine/methods/registry.js';
import type { ParamSpec } from '../engine/methods/types.js';

function range(p: ParamSpec): string {
  if (p.type === 'boolean') return 'true / false';
  const lo = p.min === undefined ? '−∞' : `${p.min}`;
  const hi = p.max === undefined ? '∞' : `${p.max}`;
  return `${p.minExclusive ? '(' : '['}${lo}, ${hi}${p.maxExclusive ? ')' : ']'}`;
}

export function App() {
  return (
    <main className="shell">
      <header>
        <h1>merge-lab</h1>
        <p>An interactive lab for model merging. The merge engine and its command line are in place; the interactive lab follows.</p>
      </header>
      <section aria-label="Merge methods">
        <h2>Methods</h2>
        {METHODS.map((m) => (
          <article key={m.id} className="method" aria-label={m.label}>
            <h3>
              {m.label} <code>{m.id}</code>
            </h3>
            <p>{m.summary}</p>
            {m.formula && <pre className="formula">{m.formula}</pre>}
            <table>
              <thead>
                <tr>
                  <th>parameter</th>
                  <th>scope</th>
                  <th>default</th>
                  <th>range</th>
                  <th>what it does</th>
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
      </section>
      <footer>
        <p>
          Demo data: UCI Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), CC BY 4.0.
        </p>
      </footer>
    </main>
  );
}
