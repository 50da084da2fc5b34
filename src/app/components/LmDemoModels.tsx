/**
 * The Models panel for the LM demo: what it is, its download (bytes as they arrive, a progress bar),
 * its checkpoints (role, domain, dtype, parameters, size, status; a file that fails shows its error
 * on its own row), its five text domains with the sizes of their held-out texts and the test bits
 * per byte the trainer measured, the data's attribution and what the load took.
 */
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatCount, formatDtypes, formatMs } from '../format.js';
import { useLabStore } from '../store/index.js';
import type { LmDemoModelRow } from '../store/types.js';

function StatusLine() {
  const { demo, loadLmDemo } = useLabStore(useShallow((s) => ({ demo: s.lmDemo, loadLmDemo: s.loadLmDemo })));
  let text: string;
  switch (demo.status) {
    case 'idle':
    case 'loading':
      text = `Downloading the language-model demo… ${formatBytes(demo.received)}${demo.total !== undefined ? ` of ${formatBytes(demo.total)}` : ''}`;
      break;
    case 'failed':
      text = 'The language-model demo could not be loaded.';
      break;
    case 'loaded': {
      const took = demo.loadMs !== undefined ? ` in ${formatMs(demo.loadMs)}` : '';
      text = demo.problems
        ? `Language-model demo loaded${took} with ${demo.problems} problem${demo.problems > 1 ? 's' : ''}: see the marked rows.`
        : `Language-model demo loaded${took}: ${demo.models.length} models, ${demo.domains.length} domains, ${formatBytes(demo.total ?? demo.received)} in total.`;
      break;
    }
  }
  return (
    <div className="demo-status" data-lm-demo-state={demo.status}>
      <p role="status">
        {text}{' '}
        {(demo.status === 'loading' || demo.status === 'idle') && <progress aria-label="Language-model demo download" max={demo.total ?? 1} value={demo.total ? demo.received : undefined} />}
      </p>
      {demo.error && (
        <p className="status error" role="alert">
          <strong>{demo.error.code}</strong> {demo.error.message}
        </p>
      )}
      {(demo.status === 'loaded' || demo.status === 'failed') && (
        <button type="button" onClick={() => void loadLmDemo()}>
          Reload the language-model demo
        </button>
      )}
    </div>
  );
}

function Status({ m }: { m: LmDemoModelRow }) {
  if (m.status === 'loading') return <span className="status loading">{m.received > 0 ? `${formatBytes(m.received)}…` : 'loading…'}</span>;
  if (m.status === 'ready') return <span className="status ok">ready</span>;
  return (
    <span className="status error" role="alert">
      <strong>{m.error?.code ?? 'ERROR'}</strong> {m.error?.message ?? 'This file could not be loaded.'}
    </span>
  );
}

function ModelsTable() {
  const { models, domains } = useLabStore(useShallow((s) => ({ models: s.lmDemo.models, domains: s.lmDemo.domains })));
  if (models.length === 0) return null;
  const label = (id: string | undefined) => domains.find((d) => d.id === id)?.label ?? id;
  return (
    <table className="grid" aria-label="Language-model demo models">
      <caption>Models (each opened with the demo&apos;s config.json beside it)</caption>
      <thead>
        <tr>
          <th scope="col">file</th>
          <th scope="col">role</th>
          <th scope="col">domain</th>
          <th scope="col">dtype</th>
          <th scope="col">parameters</th>
          <th scope="col">size</th>
          <th scope="col">status</th>
        </tr>
      </thead>
      <tbody>
        {models.map((m) => (
          <tr key={m.id} data-model={m.file} data-id={m.id} data-role={m.role} data-status={m.status} className={m.status === 'error' ? 'row-error' : undefined}>
            <th scope="row">
              <code>{m.file}</code>
            </th>
            <td>{m.role}</td>
            <td>{m.role === 'base' ? 'all five (generalist)' : label(m.domain)}</td>
            <td>{m.dtypes ? formatDtypes(m.dtypes) : ''}</td>
            <td className="num">{m.parameters !== undefined ? formatCount(m.parameters) : ''}</td>
            <td className="num">{m.bytes !== undefined ? formatBytes(m.bytes) : ''}</td>
            <td className="wrap">
              <Status m={m} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DomainsTable() {
  const domains = useLabStore((s) => s.lmDemo.domains);
  if (domains.length === 0) return null;
  return (
    <table className="grid" aria-label="Language-model demo domains">
      <caption>Domains — held-out texts, and test bits per byte as the trainer measured them on the whole test text</caption>
      <thead>
        <tr>
          <th scope="col">domain</th>
          <th scope="col">text</th>
          <th scope="col">validation</th>
          <th scope="col">test</th>
          <th scope="col">base</th>
          <th scope="col">its expert</th>
        </tr>
      </thead>
      <tbody>
        {domains.map((d) => (
          <tr key={d.id} data-domain={d.id}>
            <th scope="row">
              {d.label} <code>{d.id}</code>
            </th>
            <td className="wrap">{d.description}</td>
            <td className="num">{formatBytes(d.validationBytes)}</td>
            <td className="num">{formatBytes(d.testBytes)}</td>
            <td className="num">{d.baseBitsPerByte.toFixed(2)}</td>
            <td className="num">{d.expertBitsPerByte.toFixed(2)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Facts() {
  const demo = useLabStore((s) => s.lmDemo);
  if (demo.status !== 'loaded') return null;
  return (
    <dl className="facts" aria-label="Language-model demo data and size">
      <dt>model</dt>
      <dd>
        byte-level Llama ({formatCount(demo.parameters ?? 0)} parameters, a window of {demo.context} bytes), its tokens the text&apos;s UTF-8 bytes
      </dd>
      {demo.attribution && (
        <>
          <dt>data</dt>
          <dd>{demo.attribution}</dd>
        </>
      )}
      {demo.total !== undefined && (
        <>
          <dt>total download</dt>
          <dd data-total-bytes={demo.total}>{formatBytes(demo.total)} (manifest with the texts, config.json and six float16 checkpoints), fetched when this demo was chosen</dd>
        </>
      )}
      {demo.loadMs !== undefined && (
        <>
          <dt>load time</dt>
          <dd>{formatMs(demo.loadMs)} (download, and each checkpoint&apos;s header opened in the engine)</dd>
        </>
      )}
    </dl>
  );
}

export function LmDemoModels() {
  return (
    <>
      <p className="lead">
        The language-model demo: a small byte-level Llama pre-trained on five text domains (the base) and five experts, each fine-tuned from it on one domain. The charts score the merged
        model on each domain&apos;s validation windows and on windows that switch domain half-way, where no single expert is right.
      </p>
      <StatusLine />
      <ModelsTable />
      <DomainsTable />
      <Facts />
    </>
  );
}
