/**
 * The Merge panel for the embedded demo: the method's density and λ controls (from its parameter
 * schema), the live score they drive (per-task accuracy and the normalized score, latest-wins
 * requests to the worker), and a one-off merge with a memory budget, progress, cancel and the
 * downloads. Slider input → score on screen is measured as 'slider-to-score'.
 */
import { ArithmeticControls } from './ArithmeticControls.js';
import { DemoControls, PickedModelsLead } from './DemoControls.js';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { findMethod } from '../../engine/methods/catalog.js';
import { formatBytes, formatMs, mergedLine } from '../format.js';
import { toAppError } from '../demo/errors.js';
import { demoModelChoice, methodParam } from '../recipe/demo-recipe.js';
import { importRecipe, type ImportOutcome } from '../recipe/import-recipe.js';
import { globalDefault, perModelDefault } from '../recipe/dropped-recipe.js';
import { useHidden } from '../presentation.js';
import { readRecipeFile, useRecipeText } from '../recipe/recipe-text.js';
import { withRolesHint } from '../models/roles-hint.js';
import { Checkbox, ErrorLine, SLIDER_INPUT_MARK, Slider, useShownMeasure, useSlow } from './fields.js';
import { LmLiveScore } from './LmLiveScore.js';
import { MethodExplainer } from './MethodExplainer.js';
import { TaskScores } from './TaskScores.js';
import { ChannelControlsPanel, TwinControlsPanel } from '../routed/RoutedControls.js';
import { RoutedPackage } from '../routed/RoutedPackage.js';
import { RoutedScore } from '../routed/RoutedScore.js';
import { LmTwinControls } from '../routed/LmTwinControls.js';
import { findRoutedMethod } from '../routed/methods.js';
import { MethodSelect } from './MethodsPanel.js';
import { useLabStore } from '../store/index.js';
import type { AppError, JobResult, JobState, ModelSource } from '../store/types.js';
import { shownJob } from '../store/job-shown.js';
import { downloadModelZip, saveModelFolder } from '../engine/outputs.js';
import { directoryPicker } from '../engine/model-folder.js';
import { MergeToDiskButton, WrittenFiles } from '../export/MergeToDisk.js';

/** performance marks/measures a test (or a profiler) reads. */
export { SLIDER_INPUT_MARK };
export const SCORE_SHOWN_MARK = 'score-shown';
export const SLIDER_TO_SCORE_MEASURE = 'slider-to-score';

function BudgetInput() {
  const { budgetMiB, setBudgetMiB } = useLabStore(useShallow((s) => ({ budgetMiB: s.budgetMiB, setBudgetMiB: s.setBudgetMiB })));
  // Local text, so the field can be emptied while typing; only valid numbers reach the store.
  const [text, setText] = useState(String(budgetMiB));
  return (
    <p className="field">
      <label htmlFor="budget-mib">Memory budget (MiB)</label>{' '}
      <input
        id="budget-mib"
        type="number"
        min={1}
        step={1}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setBudgetMiB(Number(e.target.value));
        }}
      />{' '}
      <span className="help">A merge whose estimated peak memory is larger is refused before it starts.</span>
    </p>
  );
}

/** "weight" → "Weight": the label a per-model slider starts with ("Weight of expert-a"). */
const title = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/** Global controls from the method's schema: λ, density (every expert's), and the rest (normalize, t, …). */
function Controls() {
  const { method, density, lambda, globals, setDensity, setLambda, setGlobal } = useLabStore(
    useShallow((s) => ({ method: s.method, density: s.density, lambda: s.lambda, globals: s.globals, setDensity: s.setDensity, setLambda: s.setLambda, setGlobal: s.setGlobal })),
  );
  const spec = findMethod(method);
  const densitySpec = methodParam(method, 'density');
  const others = (spec?.params ?? []).filter((p) => p.scope === 'global' && p.name !== 'lambda');
  const c = { density, lambda, globals };
  return (
    <div className="controls">
      {densitySpec && <Slider id="param-density" label="Density" spec={densitySpec} value={density} onInput={setDensity} />}
      {(spec?.params ?? [])
        .filter((p) => p.name === 'lambda')
        .map((p) => (
          <Slider key={p.name} id="param-lambda" label="λ" spec={p} value={lambda} onInput={setLambda} />
        ))}
      {others.map((p) => {
        const v = globalDefault(p, c);
        return p.type === 'boolean' ? (
          <Checkbox key={p.name} id={`param-${p.name}`} label={p.name} checked={v === true} help={p.help} onChange={(x) => setGlobal(p.name, x)} />
        ) : (
          <Slider key={p.name} id={`param-${p.name}`} label={p.name} spec={p} value={typeof v === 'number' ? v : 0} onInput={(x, at) => setGlobal(p.name, x, at)} />
        );
      })}
      {!spec?.params.length && <p className="help">This method has no parameters.</p>}
      <DemoControls />
      <PerModelControls />
      <BudgetInput />
    </div>
  );
}

/** Per-model sliders (weight, density, …) for the user's experts, from the method's model-scope parameters. */
function PerModelControls() {
  const { method, source, dropped, perModel, density, lambda, globals, setModelParam } = useLabStore(
    useShallow((s) => ({ method: s.method, source: s.source, dropped: s.dropped, perModel: s.perModel, density: s.density, lambda: s.lambda, globals: s.globals, setModelParam: s.setModelParam })),
  );
  if (source !== 'mine') return null;
  const params = (findMethod(method)?.params ?? []).filter((p) => p.scope === 'model' && p.type !== 'boolean');
  const experts = dropped.filter((m) => m.role === 'expert' && m.status === 'ready');
  if (params.length === 0 || experts.length === 0) return null;
  return (
    <fieldset className="per-model">
      <legend>Per model</legend>
      {experts.map((m) =>
        params.map((p) => (
          <Slider
            key={`${m.id}/${p.name}`}
            id={`param-${p.name}-${m.id.replace(/[^\w-]/g, '_')}`}
            label={`${title(p.name)} of ${m.id}`}
            spec={p}
            value={perModel[m.id]?.[p.name] ?? perModelDefault(p, { density, lambda, globals })}
            onInput={(v) => setModelParam(m.id, p.name, v)}
          />
        )),
      )}
    </fieldset>
  );
}

/** One's own checkpoints: no task data came with them, so the panel says what is measured instead of scoring the demo's tasks. */
function MineScore() {
  const texts = useLabStore((s) => (s.lmModel.status === 'ready' ? s.lmTexts.filter((t) => t.status === 'ready').length : 0));
  return (
    <div className="live" aria-label="Score" role="group" data-live-state="idle" data-texts={texts}>
      <h3>Your checkpoints</h3>
      {texts > 0 ? (
        <p className="help">
          Scored on the language-model card: the {texts === 1 ? 'text file' : `${texts} text files`} you dropped, for the recipe here (loss, perplexity and bits per byte of the merge beside
          the base and the experts). The charts describe the weights.
        </p>
      ) : (
        <p className="help">
          No task data came with them, so there is no score here: the charts describe their weights. A language model (its config.json beside the weights) is scored on the
          language-model card once text files are dropped beside it (Models tab).
        </p>
      )}
    </div>
  );
}

function LiveScore() {
  const { live, tasks, engineTasks, expertAccuracy, demoStatus, demoSplit, setDemoSplit } = useLabStore(
    useShallow((s) => ({
      live: s.live,
      tasks: s.tasks,
      engineTasks: s.engine.demo.tasks,
      expertAccuracy: s.engine.demo.expertAccuracy,
      demoStatus: s.engine.demo.status,
      demoSplit: s.demoSplit,
      setDemoSplit: s.setDemoSplit,
    })),
  );
  const shown = live.shown;
  const accuracyDrawn = !useHidden()('accuracy');
  useShownMeasure(shown, live.requested, SCORE_SHOWN_MARK, SLIDER_TO_SCORE_MEASURE);

  const label = (id: string) => tasks.find((t) => t.id === id)?.label ?? id;
  const state = live.status;
  const slow = useSlow(state === 'computing');
  return (
    <div className="live" aria-label="Live score" role="group" data-live-state={state} data-seq={shown?.seq ?? 0} data-density={shown?.density} data-lambda={shown?.lambda}>
      <h3>Live score on the demo</h3>
      <Checkbox
        id="demo-test"
        label="Score on the held-out test split"
        checked={demoSplit === 'test'}
        help="Sliders move on the validation split (choosing on test would tune on it); tick to see the test score of the settings you chose."
        onChange={(v) => setDemoSplit(v ? 'test' : 'validation')}
      />
      {!shown && state !== 'error' && (
        <p className="help">{demoStatus === 'ready' || demoStatus === 'loading' || demoStatus === 'idle' ? 'Computing the first score…' : 'The demo is not loaded in the engine, so there is no live score.'}</p>
      )}
      {shown && engineTasks && (
        <>
          <p className="score">
            Normalized score <strong data-normalized={shown.normalized}>{shown.normalized.toFixed(1)}%</strong> on the{' '}
            <span data-split={shown.split}>{shown.split === 'test' ? 'held-out test split' : 'validation split'}</span> (mean over tasks of merged / expert accuracy) ·{' '}
            <span data-settings={shown.settings}>
              {shown.method}: {shown.settings}
            </span>{' '}
            ·{' '}
            {formatMs(shown.milliseconds)} in the engine
            {slow && <span className="help"> · updating…</span>}
          </p>
          <TaskScores
            tasks={engineTasks}
            label={label}
            columns={[
              { name: 'merged', values: shown.perTask },
              { name: 'its expert', values: expertAccuracy?.[shown.split] },
            ]}
          />
        </>
      )}
      {state === 'error' &&
        live.error &&
        (accuracyDrawn ? (
          // The accuracy chart's place above the charts says it in full: one message per cause, once.
          <p className="status error" data-error-code={live.error.code}>
            Not scored: <strong>{live.error.code}</strong>, see the message above the charts.
          </p>
        ) : (
          <ErrorLine error={live.error} />
        ))}
    </div>
  );
}

function progressText(job: JobState): string {
  const p = job.progress;
  if (!p) return 'Starting…';
  const rate = p.elapsedMs > 0 ? (p.bytesDone / p.elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? ((p.bytesTotal - p.bytesDone) / rate) * 1000 : NaN;
  return `tensor ${p.tensorIndex} of ${p.tensorCount} (${p.tensorName}) · ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}${rate > 0 ? ` · ${formatBytes(rate)}/s` : ''}${Number.isFinite(eta) ? ` · ETA ${formatMs(eta)}` : ''}`;
}

type ShownJob = ReturnType<typeof shownJob>;

const SOURCE_NAMES: Record<ModelSource, string> = { demo: 'the digits demo', lm: 'the language-model demo', mine: 'your checkpoints' };

function JobLine({ job }: { job: ShownJob }) {
  const source = useLabStore((s) => s.source);
  switch (job.status) {
    case 'idle':
      return (
        <>
          <p className="help">Merge the experts into one model with these settings and download it.</p>
          {job.earlier && (
            <p className="help" data-job-earlier={job.earlier.method}>
              The last merge ({findMethod(job.earlier.method)?.label ?? job.earlier.method}
              {job.earlier.source === source ? '' : `, of ${SOURCE_NAMES[job.earlier.source]}`}) was of other settings{job.earlier.source === source ? '' : ' and models'}: Merge again for these
              {job.earlier.source === source ? ', or set them back to download it' : ''}.
            </p>
          )}
        </>
      );
    case 'running':
    case 'cancelling':
      return (
        <p>
          {job.status === 'cancelling' ? 'Cancelling: ' : 'Merging: '}
          {progressText(job)}
        </p>
      );
    case 'cancelled':
      return (
        <p>
          Merge cancelled{job.progress ? ` after tensor ${job.progress.tensorIndex} of ${job.progress.tensorCount}` : ''}; nothing was written.
        </p>
      );
    case 'failed':
      return job.error ? <ErrorLine error={withRolesHint(job.error, source)} /> : <p className="status error">The merge failed.</p>;
    case 'done': {
      const r = job.result!;
      return (
        <>
          <p className="status ok">{mergedLine(r)}</p>
          {r.warnings.length > 0 && (
            <ul className="warnings" aria-label="Merge warnings">
              {r.warnings.map((w, i) => (
                <li key={i}>{w}</li>
              ))}
            </ul>
          )}
          {r.writtenTo ? <WrittenFiles result={r} /> : <ModelFolderActions result={r} />}
          <p className="downloads">
            <a href={r.weightsUrl} download="model.safetensors">
              Download merged weights
            </a>{' '}
            <a href={r.recipeUrl} download="merge-recipe.yml">
              Download recipe
            </a>
          </p>
        </>
      );
    }
  }
}

/**
 * The whole model folder, as mergekit writes one: as a zip, or written into a folder where the
 * browser lets a page write one (File System Access API).
 */
function ModelFolderActions({ result }: { result: JobResult }) {
  const [state, setState] = useState<{ busy?: 'zip' | 'folder'; saved?: boolean; error?: AppError }>({});
  const pick = directoryPicker();
  const run = async (what: 'zip' | 'folder', work: () => Promise<void>) => {
    setState({ busy: what });
    try {
      await work();
      setState({ saved: what === 'folder' });
    } catch (e) {
      // The user closing the folder picker is no failure.
      setState((e as { name?: string }).name === 'AbortError' ? {} : { error: toAppError(e) });
    }
  };
  return (
    <div className="model-folder" aria-label="Merged model folder" role="group">
      <p className="buttons">
        <button type="button" disabled={state.busy !== undefined} onClick={() => void run('zip', downloadModelZip)}>
          Download merged model
        </button>{' '}
        {pick && (
          <button type="button" disabled={state.busy !== undefined} onClick={() => void run('folder', async () => saveModelFolder(await pick()))}>
            Save into a folder…
          </button>
        )}{' '}
        {state.busy && <span className="help">{state.busy === 'zip' ? 'Packing the zip…' : 'Writing the files…'}</span>}
        {state.saved && <span className="status ok">Saved.</span>}
      </p>
      <p className="help">
        The folder {result.folderName} as mergekit writes one: {result.folderFiles.join(', ')}.
      </p>
      {state.error && <ErrorLine error={state.error} />}
    </div>
  );
}

function MergeActions() {
  const job = useLabStore(useShallow(shownJob));
  const { canMerge, merge, cancelMerge } = useLabStore(
    useShallow((s) => ({
      canMerge:
        s.engine.status !== 'failed' &&
        (s.source === 'mine' ? s.dropped.some((m) => m.status === 'ready') : s.source === 'lm' ? s.lmDemo.status === 'loaded' && !s.lmDemo.problems : s.demo.status === 'loaded' && !s.demo.problems),
      merge: s.merge,
      cancelMerge: s.cancelMerge,
    })),
  );
  const busy = job.status === 'running' || job.status === 'cancelling';
  const p = job.progress;
  return (
    <div className="job" data-job-state={job.status} aria-live="polite">
      <p className="buttons">
        <button type="button" onClick={() => void merge()} disabled={!canMerge || busy}>
          Merge
        </button>{' '}
        <MergeToDiskButton disabled={!canMerge || busy} />{' '}
        <button type="button" onClick={() => void cancelMerge()} disabled={job.status !== 'running'}>
          Cancel
        </button>{' '}
        {busy && <progress aria-label="Merge progress" max={p?.bytesTotal || 1} value={p?.bytesDone ?? 0} data-tensor={p?.tensorIndex ?? 0} data-tensors={p?.tensorCount ?? 0} />}
      </p>
      <JobLine job={job} />
    </div>
  );
}

function RecipeYaml() {
  const r = useRecipeText();
  const yaml = 'text' in r ? r.text : 'error' in r ? `# ${r.error}` : '';
  // After a merge, the job's own "Download recipe" link is the one to use (the recipe it merged).
  const merged = useLabStore((s) => shownJob(s).status === 'done' && !findRoutedMethod(s.method));
  // The file is made when the link is used (a click, by mouse or keyboard, runs before the
  // download starts), not on every slider move; the link waits for the current recipe's text.
  const url = useRef<string | undefined>(undefined);
  useEffect(() => () => (url.current ? URL.revokeObjectURL(url.current) : undefined), []);
  const prepare = (a: HTMLAnchorElement) => {
    if (url.current) URL.revokeObjectURL(url.current);
    url.current = URL.createObjectURL(new Blob([yaml], { type: 'application/yaml' }));
    a.href = url.current;
  };
  return (
    <details className="recipe" open role="group" aria-label="Recipe">
      <summary>Recipe (mergekit YAML)</summary>
      <pre aria-label="Recipe YAML" aria-busy={'pending' in r}>
        {yaml}
      </pre>
      <p className="buttons">
        {!merged && 'text' in r && (
          <a href="#recipe" download="merge-recipe.yml" onClick={(e) => prepare(e.currentTarget)}>
            Download recipe
          </a>
        )}{' '}
        <RecipeImport />
      </p>
    </details>
  );
}

type ImportState = { readonly file: string } & ({ readonly ok: ImportOutcome } | { readonly error: AppError });

/** An import that left settings out says so first, and names each one: it must not read as a plain success. */
function ImportStatus({ file, outcome }: { file: string; outcome: ImportOutcome }) {
  const missed = outcome.notApplied;
  const note = outcome.notes.length > 0 ? ` Note: ${outcome.notes.join(' ')}` : '';
  if (missed.length === 0) {
    return (
      <span className="status ok" role="status">
        Imported {file}: {outcome.applied.join(', ')}.{note}
      </span>
    );
  }
  return (
    <span className="status warn" role="status" data-not-applied={missed.length}>
      Imported {file} only in part: {missed.length} {missed.length === 1 ? 'setting was' : 'settings were'} not applied —{' '}
      {missed.map((m, i) => (
        <span key={i} className="not-applied">
          {i > 0 ? '; ' : ''}
          {m}
        </span>
      ))}
      . Applied: {outcome.applied.join(', ')}.{note}
    </span>
  );
}

/** "Import recipe": a .yml/.yaml file chosen or dropped here sets the method and the controls. */
function RecipeImport() {
  const [state, setState] = useState<ImportState | undefined>();
  const load = async (file: File | undefined) => {
    if (!file) return;
    try {
      const parsed = await readRecipeFile(await file.text(), file.name);
      const ok = importRecipe(parsed, file.name, useLabStore.getState());
      setState({ file: file.name, ok });
    } catch (e) {
      // The recipe in the controls is untouched: the engine's reader threw before anything was applied.
      setState({ file: file.name, error: toAppError(e, file.name) });
    }
  };
  return (
    <span
      className="recipe-import"
      role="group"
      aria-label="Import a recipe"
      data-import={state ? ('ok' in state ? (state.ok.notApplied.length > 0 ? 'partial' : 'ok') : 'error') : undefined}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        void load(e.dataTransfer.files[0]);
      }}
    >
      <label className="button">
        Import recipe{' '}
        <input
          type="file"
          accept=".yml,.yaml"
          aria-label="Import recipe"
          onChange={(e) => {
            const f = e.target.files?.[0];
            e.target.value = '';
            void load(f);
          }}
        />
      </label>{' '}
      <span className="help">(or drop a .yml file here)</span>
      {state && 'ok' in state && <ImportStatus file={state.file} outcome={state.ok} />}
      {state && 'error' in state && (
        <span className="status error" role="alert">
          <strong>{state.error.code}</strong> {state.error.message} The current recipe is unchanged.
        </span>
      )}
    </span>
  );
}

export function MergePanel() {
  const method = useLabStore((s) => s.method);
  const source = useLabStore((s) => s.source);
  // Routed methods keep several models; on the LM demo the lab scores one merged model.
  const routed = source === 'lm' ? undefined : findRoutedMethod(method);
  // The routed methods on the LM demo are scored by the LM card: each window with its routed merge (Twin-Merging) or its routed task's looked-up rows (Channel Merging).
  const twinOnLm = source === 'lm' && method === 'twin_merging';
  const channelOnLm = source === 'lm' && method === 'channel_merging';
  const stackOn = useLabStore((s) => s.source === 'mine' && s.stack.enabled);
  const stacked = stackOn && !routed;
  const label = useMemo(() => findMethod(method)?.label ?? routed?.label ?? method, [method, routed]);
  const hide = useHidden();
  const models = source === 'mine' ? 'Your checkpoints (the experts, as listed under Models)' : source === 'lm' ? "The language-model demo's five experts (one per text domain)" : "The demo's five experts";
  return (
    <section className="merge-panel" aria-labelledby="merge-heading" data-method={method}>
      <h2 id="merge-heading">Merge</h2>
      <p className="lead">
        {channelOnLm ? (
          <>
            {models} kept as <strong>{findRoutedMethod(method)?.label ?? method}</strong>: each channel&apos;s rows grouped into K merged copies, and each window run with the rows of the
            domain a router picks. Moving a slider re-scores it on the language-model card and redraws the routing chart.
          </>
        ) : twinOnLm ? (
          <>
            {models} kept as <strong>{findRoutedMethod(method)?.label ?? method}</strong>: a shared expert and each expert&apos;s own part, merged per window with the weights a router gives.
            Moving a slider re-scores it on the language-model card and redraws the routing chart.
          </>
        ) : routed ? (
          <>
            {models} kept as a <strong>{label}</strong> package: a shared part and each expert's own part
            {source === 'mine' ? ' (no router: there is no data to train one on). Moving a slider rebuilds it and redraws the charts.' : ', with a router that picks per input. Moving a slider re-scores it and redraws the charts.'}
          </>
        ) : stacked ? (
          <>
            Your checkpoints&apos; layers stacked as the Layer stack under Models lists them (<code>slices:</code>): Merge, the recipe below and the language-model card use the stack, the per-layer map
            follows it, and the other charts describe <strong>{label}</strong> over the whole models.
          </>
        ) : source !== 'mine' && demoModelChoice(method) ? (
          <>
            <PickedModelsLead method={method} /> Moving a slider re-scores the merge and redraws the charts below.
          </>
        ) : (
          <>
            {models} merged onto the base with <strong>{label}</strong>. Moving a slider re-scores the merge and redraws the charts below.
          </>
        )}
      </p>
      {!hide('controls') && <MethodSelect />}
      {!hide('controls') && (twinOnLm ? <LmTwinControls /> : routed || channelOnLm ? method === 'twin_merging' ? <TwinControlsPanel /> : <ChannelControlsPanel /> : <Controls />)}
      {/* After the controls: a routed method's formula, paper and choices filled the first screen at 1440×900 before its first slider. */}
      {!hide('explain') && <MethodExplainer />}
      {!hide('controls') && !routed && source === 'mine' && <ArithmeticControls />}
      {routed ? <RoutedScore /> : source === 'lm' ? <LmLiveScore /> : source === 'mine' ? <MineScore /> : <LiveScore />}
      {!hide('job') && !channelOnLm && !twinOnLm && (routed ? <RoutedPackage /> : <MergeActions />)}
      {!hide('recipe') && <RecipeYaml />}
    </section>
  );
}
