/**
 * The Models panel: the embedded demo's checkpoints (role, task, dtype, parameters, size), its
 * tasks with their transforms and the accuracies the trainer measured, the data file and the
 * total download. Rows come from headers only; a file that fails shows its error on its own row.
 */
import { useShallow } from 'zustand/react/shallow';
import { DroppedTable, SourceSwitch } from './DroppedModels.js';
import { SliceEditor } from './SliceEditor.js';
import { LmDemoModels } from './LmDemoModels.js';
import { LmTexts } from './LmTexts.js';
import { formatBytes, formatCount, formatDtypes, formatMs, formatPercent } from '../format.js';
import { useLabStore } from '../store/index.js';
import type { AppError, LoadStatus, ModelEntry } from '../store/types.js';

function StatusCell({ status, error }: { status: LoadStatus; error?: AppError | undefined }) {
  if (status === 'loading') return <span className="status loading">loading…</span>;
  if (status === 'ready') return <span className="status ok">ready</span>;
  return (
    <span className="status error" role="alert">
      <strong>{error?.code ?? 'ERROR'}</strong> {error?.message ?? 'This file could not be loaded.'}
    </span>
  );
}

function ModelRow({ m, taskLabel }: { m: ModelEntry; taskLabel: string | undefined }) {
  return (
    <tr data-model={m.id} data-role={m.role} data-status={m.status} className={m.status === 'error' ? 'row-error' : undefined}>
      <th scope="row">
        <code>{m.id}</code>
      </th>
      <td>{m.role}</td>
      <td>{m.role === 'base' ? 'all (generalist)' : (taskLabel ?? m.taskId)}</td>
      <td>{m.dtypes ? formatDtypes(m.dtypes) : ''}</td>
      <td className="num">{m.parameters !== undefined ? formatCount(m.parameters) : ''}</td>
      <td className="num" title={m.bytes !== undefined ? `${formatCount(m.bytes)} bytes` : undefined}>
        {m.bytes !== undefined ? formatBytes(m.bytes) : ''}
      </td>
      <td className="wrap">
        <StatusCell status={m.status} error={m.error} />
      </td>
    </tr>
  );
}

function DemoStatusLine() {
  const { demo, modelCount, taskCount, loadDemo } = useLabStore(
    useShallow((s) => ({ demo: s.demo, modelCount: s.models.length, taskCount: s.tasks.length, loadDemo: s.loadDemo })),
  );
  let text: string;
  switch (demo.status) {
    case 'idle':
    case 'loading':
      text = 'Loading the embedded demo…';
      break;
    case 'failed':
      text = 'The embedded demo could not be loaded.';
      break;
    case 'loaded': {
      const took = demo.loadMs !== undefined ? ` in ${formatMs(demo.loadMs)}` : '';
      const size = demo.totalBytes !== undefined ? `, ${formatBytes(demo.totalBytes)} in total` : '';
      text =
        demo.problems
          ? `Embedded demo loaded${took} with ${demo.problems} problem${demo.problems > 1 ? 's' : ''}: see the marked rows.`
          : `Embedded demo loaded${took}: ${modelCount} models, ${taskCount} tasks${size}.`;
      break;
    }
  }
  return (
    <div className="demo-status" data-demo-state={demo.status}>
      <p role="status">{text}</p>
      {demo.error && (
        <p className="status error" role="alert">
          <strong>{demo.error.code}</strong> {demo.error.message}
        </p>
      )}
      {(demo.status === 'loaded' || demo.status === 'failed') && (
        <button type="button" onClick={() => void loadDemo()}>
          Reload demo
        </button>
      )}
    </div>
  );
}

function ModelsTable() {
  const { models, tasks } = useLabStore(useShallow((s) => ({ models: s.models, tasks: s.tasks })));
  if (models.length === 0) return null;
  const label = (id: string | undefined) => tasks.find((t) => t.id === id)?.label;
  return (
    <table className="grid" aria-label="Models">
      <caption>Models</caption>
      <thead>
        <tr>
          <th scope="col">file</th>
          <th scope="col">role</th>
          <th scope="col">task</th>
          <th scope="col">dtype</th>
          <th scope="col">parameters</th>
          <th scope="col">size</th>
          <th scope="col">status</th>
        </tr>
      </thead>
      <tbody>
        {models.map((m) => (
          <ModelRow key={m.id} m={m} taskLabel={label(m.taskId)} />
        ))}
      </tbody>
    </table>
  );
}

function TasksTable() {
  const tasks = useLabStore((s) => s.tasks);
  if (tasks.length === 0) return null;
  return (
    <table className="grid" aria-label="Tasks">
      <caption>Tasks — accuracy on the test split, as measured by the trainer</caption>
      <thead>
        <tr>
          <th scope="col">task</th>
          <th scope="col">transform</th>
          <th scope="col">base</th>
          <th scope="col">its expert</th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((t) => (
          <tr key={t.id} data-task={t.id}>
            <th scope="row">
              {t.label} <code>{t.id}</code>
              {t.hard && <span className="tag">hard</span>}
            </th>
            <td>{t.transform}</td>
            <td className="num">{formatPercent(t.baseAccuracy)}</td>
            <td className="num">{formatPercent(t.expertAccuracy)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DataAndSize() {
  const { data, demo, models } = useLabStore(useShallow((s) => ({ data: s.data, demo: s.demo, models: s.models })));
  if (!data || demo.status === 'failed') return null;
  const checkpoints = models.reduce((s, m) => s + (m.bytes ?? 0), 0);
  return (
    <dl className="facts" aria-label="Demo data and size">
      <dt>data</dt>
      <dd data-status={data.status}>
        <code>{data.file}</code>{' '}
        {data.status === 'ready' && data.samples !== undefined && data.bytes !== undefined ? (
          `${formatCount(data.samples)} samples of ${data.features} pixels, ${formatBytes(data.bytes)}${demo.datasetName ? ` — ${demo.datasetName}` : ''}`
        ) : (
          <StatusCell status={data.status} error={data.error} />
        )}
      </dd>
      {demo.status === 'loaded' && demo.totalBytes !== undefined && (
        <>
          <dt>total download</dt>
          <dd data-total-bytes={demo.totalBytes}>
            {formatBytes(demo.totalBytes)} (manifest {formatBytes(demo.manifestBytes ?? 0)}, checkpoints {formatBytes(checkpoints)}, data {formatBytes(data.bytes ?? 0)})
            {demo.problems ? ', counting only the files that loaded' : ''}
          </dd>
        </>
      )}
      {demo.status === 'loaded' && demo.loadMs !== undefined && (
        <>
          <dt>load time</dt>
          <dd>{formatMs(demo.loadMs)} (download and header checks of every file)</dd>
        </>
      )}
      {demo.reference && (
        <>
          <dt>reference merges</dt>
          <dd>
            normalized accuracy: base {demo.reference.base.toFixed(1)}%, average {demo.reference.average.toFixed(1)}%, task arithmetic{' '}
            {demo.reference.taskArithmetic.score.toFixed(1)}% (λ {demo.reference.taskArithmetic.lambda}), TIES {demo.reference.ties.score.toFixed(1)}% (λ{' '}
            {demo.reference.ties.lambda}, density {demo.reference.ties.density})
          </dd>
        </>
      )}
    </dl>
  );
}

export function ModelsPanel() {
  const source = useLabStore((s) => s.source);
  return (
    <>
      <h2>Models</h2>
      <SourceSwitch />
      {source === 'mine' ? (
        <>
          <DroppedTable />
          <SliceEditor />
          <LmTexts />
        </>
      ) : source === 'lm' ? (
        <LmDemoModels />
      ) : (
        <DemoModels />
      )}
    </>
  );
}

function DemoModels() {
  return (
    <>
      <p className="lead">
        The embedded demo: a small digits classifier (the base) and five experts, each fine-tuned from it on one transformed
        version of the digits. Merging them into one model that handles every task is what the lab is for.
      </p>
      <DemoStatusLine />
      <ModelsTable />
      <TasksTable />
      <DataAndSize />
    </>
  );
}
