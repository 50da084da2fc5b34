/**
 * The demo's controls beyond density and λ, each from the method's schema: the models a method
 * takes where it cannot take every expert (SLERP's, nearswap's and arcee_fusion's pair with its
 * base_model end, nuslerp's two, passthrough's one), an optional base (Linear's weight, nuslerp's
 * and multislerp's task vectors from it, karcher's mean with it), epsilon, gamma and scale for every
 * expert, the random seed of DARE and DELLA, a value per expert, and a value per layer group. Each
 * writes into the store, so the live score, the charts, the handed-out recipe and the URL follow.
 */
import { useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { findMethod } from '../../engine/methods/catalog.js';
import type { MethodDescriptor, ParamSpec } from '../../engine/methods/types.js';
import { demoAssets } from '../demo/assets.js';
import { DEMO_BASE_ID, demoBaseRole, demoModelChoice, demoPair, type DemoModelChoice } from '../recipe/demo-recipe.js';
import { LM_BASE_ID } from '../recipe/lm-demo-recipe.js';
import { globalDefault, perModelDefault } from '../recipe/dropped-recipe.js';
import { useLabStore } from '../store/index.js';
import { Checkbox, Slider } from './fields.js';
import './controls.css';

/** The demo's layer groups: each dense layer's tensors share a name prefix (hidden.weight, hidden.bias). */
export function demoLayerGroups(): string[] {
  return (demoAssets.manifest()?.architecture.layers ?? []).map((l) => l.weight.replace(/\.weight$/, ''));
}

/**
 * The demo's scored task ids (recipeTasks; on the LM demo its domains'), selected from stable store
 * fields: recipeTasks builds a new array while the engine has none, which a selector must not return.
 */
function useTasks(): readonly string[] {
  const { engineTasks, tasks, lm, domains } = useLabStore(useShallow((s) => ({ engineTasks: s.engine.demo.tasks, tasks: s.tasks, lm: s.source === 'lm', domains: s.lmDemo.domains })));
  return useMemo(() => (lm ? domains.map((d) => d.id) : (engineTasks ?? tasks.filter((t) => !t.hard).map((t) => t.id))), [lm, domains, engineTasks, tasks]);
}

/** An expert's name as the controls say it (the digits task's label, the LM domain's), and the base's id in the recipe. */
function useDemoNames(): { readonly label: (id: string) => string; readonly baseId: string } {
  const { tasks, domains, lm } = useLabStore(useShallow((s) => ({ tasks: s.tasks, domains: s.lmDemo.domains, lm: s.source === 'lm' })));
  return useMemo(() => ({ label: (id: string) => (lm ? domains.find((d) => d.id === id)?.label : tasks.find((t) => t.id === id)?.label) ?? id, baseId: lm ? LM_BASE_ID : DEMO_BASE_ID }), [tasks, domains, lm]);
}

const safeId = (s: string) => s.replace(/[^\w-]/g, '_');
/** A parameter without a default that leaves the tensor as it is when unset (passthrough's scale): its control shows 1 until moved. */
const asIs = (p: ParamSpec) => p.default === undefined && !p.required;
const numeric = (m: MethodDescriptor | undefined) => (m?.params ?? []).filter((p) => p.type === 'number');

export function DemoControls() {
  const { method, source } = useLabStore(useShallow((s) => ({ method: s.method, source: s.source })));
  const m = findMethod(method);
  if ((source !== 'demo' && source !== 'lm') || !m) return null;
  const choice = demoModelChoice(m.id);
  return (
    <div className="demo-controls">
      {choice && <PairPicker method={m} choice={choice} />}
      {demoBaseRole(m.id) && <BaseWeight method={m} />}
      <EveryExpert method={m} />
      {m.random && <SeedInput />}
      <PerExpert method={m} />
      {/* The digits MLP's layer groups; the LM demo's recipe has no value per layer group. */}
      {source === 'demo' && <PerLayer method={m} />}
    </div>
  );
}

/** What each end of the pair is called, and the help under it, per kind of choice. */
function pairText(method: MethodDescriptor, choice: DemoModelChoice): { ends: readonly ('base' | 'other')[]; legend: string; label: Record<'base' | 'other', string>; help: string } {
  if (choice === 'one')
    return {
      ends: ['base'],
      legend: 'The model',
      label: { base: 'The model copied', other: '' },
      help: `${method.label} copies exactly one model (each tensor times scale, if set): the demo scores that model alone.`,
    };
  if (choice === 'pair')
    return {
      ends: ['base', 'other'],
      legend: 'The two models',
      label: { base: 'First model (weight w1)', other: 'Second model (weight w2)' },
      help: `${method.label} interpolates exactly two models, at t = w2 / (w1 + w2) (their weights under Per expert); with the base on, their task vectors from it (the base cannot be one of the two then).`,
    };
  const slerp = method.id === 'slerp';
  return {
    ends: ['base', 'other'],
    legend: 'The two models',
    label: slerp ? { base: 't = 0 end (base_model)', other: 't = 1 end' } : { base: 'base_model', other: 'The other model' },
    help: slerp
      ? "SLERP merges exactly two models: t = 0 gives the first, t = 1 the second. The recipe names both and the first as base_model, as mergekit's slerp reads it."
      : `${method.label} merges exactly two models, base_model and one other: the recipe names both and the first as base_model, as mergekit's ${method.id} reads it.`,
  };
}

/** The models a method takes where it cannot take every expert: SLERP's pair (base_model the t = 0 end), nearswap's and arcee_fusion's, nuslerp's two, passthrough's one. */
function PairPicker({ method, choice }: { method: MethodDescriptor; choice: DemoModelChoice }) {
  const { pair, setPair, baseOn } = useLabStore(useShallow((s) => ({ pair: s.pair, setPair: s.setPair, baseOn: s.baseWeight !== undefined })));
  const tasks = useTasks();
  const { label, baseId } = useDemoNames();
  // nuslerp over task vectors from the base: the base is not one of the two.
  const withBase = !(choice === 'pair' && baseOn);
  const p = demoPair(tasks, pair, baseId, withBase);
  const options = withBase ? [baseId, ...tasks] : [...tasks];
  const name = (id: string) => (id === baseId ? 'the base model' : `${label(id)} expert`);
  const text = pairText(method, choice);
  // Picking the model already at the other end swaps the two ends.
  const choose = (end: 'base' | 'other', id: string) => setPair(end === 'base' ? (id === p.other ? { base: id, other: p.base } : { base: id, other: p.other }) : id === p.base ? { base: p.other, other: id } : { base: p.base, other: id });
  return (
    <fieldset className="pair" aria-label={text.legend}>
      <legend>{text.legend}</legend>
      {text.ends.map((end) => (
        <p className="field" key={end}>
          <label htmlFor={`pair-${end}`}>{text.label[end]}</label>{' '}
          <select id={`pair-${end}`} value={p[end]} onChange={(e) => choose(end, e.target.value)}>
            {options.map((id) => (
              <option key={id} value={id}>
                {name(id)}
              </option>
            ))}
          </select>
        </p>
      ))}
      <p className="help">{text.help}</p>
    </fieldset>
  );
}

/**
 * An optional base: Linear averages it in with its own weight (listed under models, as mergekit
 * needs it); nuslerp and multislerp merge the task vectors from it; karcher takes it into the mean.
 */
function BaseWeight({ method }: { method: MethodDescriptor }) {
  const { baseWeight, setBaseWeight } = useLabStore(useShallow((s) => ({ baseWeight: s.baseWeight, setBaseWeight: s.setBaseWeight })));
  const role = demoBaseRole(method.id);
  const spec = method.params.find((p) => p.name === 'weight');
  const text =
    role === 'origin'
      ? {
          label: 'Merge the task vectors from the base',
          help: `Off: ${method.label} merges the experts' weights themselves. On: their task vectors (expert − base), added back to the base (base_model in the recipe).`,
        }
      : role === 'mean'
        ? { label: 'Take the base into the mean', help: `Off: the experts alone. On: the base is one more model of ${method.label}, with the same weight (base_model in the recipe, which mergekit averages in).` }
        : {
            label: 'Merge the base model in too',
            help: 'Off: the experts alone are averaged. On: the base is one more model of the average, with its own weight (base_model listed under models, as mergekit needs it).',
          };
  return (
    <div className="base-weight">
      <Checkbox id="base-in" label={text.label} checked={baseWeight !== undefined} help={text.help} onChange={(on) => setBaseWeight(on ? 1 : undefined)} />
      {role === 'member' && baseWeight !== undefined && spec && <Slider id="base-weight" label="Weight of the base" spec={spec} value={baseWeight} onInput={(v) => setBaseWeight(v)} />}
    </div>
  );
}

/** Per-model parameters other than weight and density (epsilon, gamma): one slider for every expert. */
function EveryExpert({ method }: { method: MethodDescriptor }) {
  const { density, lambda, globals, setGlobal } = useLabStore(useShallow((s) => ({ density: s.density, lambda: s.lambda, globals: s.globals, setGlobal: s.setGlobal })));
  const params = numeric(method).filter((p) => p.scope === 'model' && p.name !== 'weight' && p.name !== 'density');
  return (
    <>
      {params.map((p) => {
        // A parameter without a default that leaves the tensor as it is when unset (passthrough's scale) shows 1.
        const v = asIs(p) && globals[p.name] === undefined ? 1 : globalDefault(p, { density, lambda, globals });
        return <Slider key={p.name} id={`param-${p.name}`} label={p.name === 'epsilon' ? 'ε (epsilon)' : p.name === 'gamma' ? 'γ (gamma)' : p.name} spec={p} value={typeof v === 'number' ? v : 0} onInput={(x, at) => setGlobal(p.name, x, at)} />;
      })}
    </>
  );
}

function SeedInput() {
  const { seed, setRandomSeed } = useLabStore(useShallow((s) => ({ seed: s.randomSeed, setRandomSeed: s.setRandomSeed })));
  // Local text, so the field can be emptied while typing; only whole numbers reach the store.
  const [text, setText] = useState<string | undefined>(undefined);
  return (
    <p className="field">
      <label htmlFor="random-seed">Random seed</label>{' '}
      <input
        id="random-seed"
        type="number"
        min={0}
        step={1}
        value={text ?? String(seed)}
        aria-describedby="random-seed-help"
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() !== '') setRandomSeed(Number(e.target.value));
        }}
        onBlur={() => setText(undefined)}
      />{' '}
      <span id="random-seed-help" className="help">
        random_seed of the drop masks (42 unless set, as in merge-lab merge): the same seed gives the same merge.
      </span>
    </p>
  );
}

/** A value per expert for each per-model number (weight, density, …), over the shared control. */
function PerExpert({ method }: { method: MethodDescriptor }) {
  const { demoModels, density, lambda, globals, pair, baseOn, setDemoModelParam } = useLabStore(
    useShallow((s) => ({ demoModels: s.demoModels, density: s.density, lambda: s.lambda, globals: s.globals, pair: s.pair, baseOn: s.baseWeight !== undefined, setDemoModelParam: s.setDemoModelParam })),
  );
  const tasks = useTasks();
  const { label, baseId } = useDemoNames();
  const params = numeric(method).filter((p) => p.scope === 'model');
  if (params.length === 0) return null;
  const choice = demoModelChoice(method.id);
  const picked = demoPair(tasks, pair, baseId, !(choice === 'pair' && baseOn));
  const ids = choice === 'one' ? [picked.base] : choice ? [picked.base, picked.other] : tasks;
  const set = Object.keys(demoModels).filter((id) => ids.includes(id)).length;
  const shared = (p: ParamSpec) => {
    const g = globals[p.name];
    return typeof g === 'number' ? g : asIs(p) ? 1 : perModelDefault(p, { density, lambda, globals });
  };
  return (
    <details className="per-expert" open={set > 0}>
      <summary>Per expert{set > 0 ? ` (${set} set)` : ''}</summary>
      <p className="help">An expert&apos;s own value overrides the shared control for it, as a per-model parameter in the recipe.</p>
      {ids.map((id) => (
        <div key={id} className="expert-row" role="group" aria-label={`${label(id)} expert`}>
          {params.map((p) => {
            const own = demoModels[id]?.[p.name];
            return (
              <Slider
                key={p.name}
                id={`model-${p.name}-${safeId(id)}`}
                label={`${p.name === 'weight' ? 'Weight' : p.name === 'density' ? 'Density' : p.name} of ${label(id)}`}
                spec={p}
                value={own ?? shared(p)}
                onInput={(v, at) => setDemoModelParam(id, p.name, v, at)}
              />
            );
          })}
          {demoModels[id] && (
            <button type="button" onClick={() => params.forEach((p) => setDemoModelParam(id, p.name, undefined))}>
              Back to the shared values for {label(id)}
            </button>
          )}
        </div>
      ))}
    </details>
  );
}

/** Any numeric parameter, a value per layer group (mergekit filter lists on the layer's tensor names). */
function PerLayer({ method }: { method: MethodDescriptor }) {
  // The demo's status is selected so that the groups are read again once its manifest is in.
  const { layered, density, lambda, globals, setLayered, demoStatus } = useLabStore(
    useShallow((s) => ({ layered: s.layered, density: s.density, lambda: s.lambda, globals: s.globals, setLayered: s.setLayered, demoStatus: s.demo.status })),
  );
  const groups = useMemo(() => (demoStatus === 'loaded' ? demoLayerGroups() : []), [demoStatus]);
  const params = numeric(method);
  if (params.length === 0 || groups.length === 0) return null;
  const current = (p: ParamSpec): number => {
    if (p.name === 'density') return density;
    if (p.name === 'lambda') return lambda;
    const v =
      p.scope === 'model' ? (typeof globals[p.name] === 'number' ? (globals[p.name] as number) : asIs(p) ? 1 : perModelDefault(p, { density, lambda, globals })) : globalDefault(p, { density, lambda, globals });
    return typeof v === 'number' ? v : 0;
  };
  const on = params.filter((p) => layered[p.name]).length;
  return (
    <details className="per-layer" open={on > 0}>
      <summary>Per layer{on > 0 ? ` (${on} set)` : ''}</summary>
      <p className="help">
        A value per layer instead of one for every tensor. The demo&apos;s tensors ({groups.map((g) => `${g}.weight`).join(', ')}) carry no layer number, so a mergekit gradient would give
        them all its first value; the recipe gets a filter list instead (filter: &quot;{groups[0]}.&quot;, value: …), which mergekit reads per tensor. An expert&apos;s own value still wins.
      </p>
      {params.map((p) => {
        const values = layered[p.name];
        return (
          <div key={p.name} className="layer-row" role="group" aria-label={`${p.name} per layer`}>
            <Checkbox
              id={`layered-${p.name}`}
              label={`${p.name} per layer`}
              checked={values !== undefined}
              help={values ? `replaces the ${p.name} control` : ''}
              onChange={(x) => setLayered(p.name, x ? Object.fromEntries(groups.map((g) => [g, current(p)])) : undefined)}
            />
            {values &&
              groups.map((g) => (
                <Slider key={g} id={`layer-${p.name}-${safeId(g)}`} label={`${p.name} in ${g}`} spec={p} value={values[g] ?? current(p)} onInput={(v, at) => setLayered(p.name, { ...values, [g]: v }, at)} />
              ))}
          </div>
        );
      })}
    </details>
  );
}

/**
 * The Merge panel's lead for a method that takes one or two of a demo's models (SLERP's pair,
 * nuslerp's two, passthrough's one): which ones, as the recipe names them, not "the five experts".
 * Undefined for a method that merges every expert.
 */
export function PickedModelsLead({ method }: { method: string }) {
  const { pair, baseOn } = useLabStore(useShallow((s) => ({ pair: s.pair, baseOn: s.baseWeight !== undefined })));
  const tasks = useTasks();
  const { label, baseId } = useDemoNames();
  const m = findMethod(method);
  const choice = demoModelChoice(method);
  if (!m || !choice) return null;
  const p = demoPair(tasks, pair, baseId, !(choice === 'pair' && baseOn));
  const name = (id: string) => (id === baseId ? 'the base model' : `the ${label(id)} expert`);
  const first = name(p.base).replace(/^t/, 'T');
  const how = <strong>{m.label}</strong>;
  if (choice === 'one') return <span data-picked={p.base}>{first} copied with {how}: the demo scores that model alone.</span>;
  if (choice === 'pair')
    return (
      <span data-picked={`${p.base},${p.other}`}>
        Two models, {name(p.base)} and {name(p.other)}, merged with {how}
        {baseOn ? ' as task vectors from the base' : ''}.
      </span>
    );
  return (
    <span data-picked={`${p.base},${p.other}`}>
      {first} (base_model{m.id === 'slerp' ? ', the t = 0 end' : ''}) and {name(p.other)} merged with {how}.
    </span>
  );
}
