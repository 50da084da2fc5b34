/**
 * Importing a mergekit YAML recipe into the lab's controls. Every setting the recipe holds is either
 * applied to the store or listed in `notApplied` with the reason, one entry a setting: a recipe the
 * lab cannot hold whole must never read as imported. Settings are tracked by their path in the
 * parsed Recipe ('randomSeed', 'models.0.parameters.weight', …), and a last pass lists every path
 * nothing decided on, so a Recipe field added later shows up as not applied rather than vanishing.
 *
 * Where the recipe leaves a parameter out, the control goes to the method's default (what mergekit
 * uses then), so the lab's recipe afterwards says what the imported one says.
 */
import { DEMO_DTYPES } from '../../engine/demo/demo-dtype.js';
import { MergeLabError } from '../../engine/errors.js';
import { DEFAULT_RANDOM_SEED } from '../../engine/merge/seed.js';
import { METHODS, findMethod } from '../../engine/methods/catalog.js';
import { TWIN_PARAMS } from '../../engine/methods/twin/params.js';
import type { MethodDescriptor, ParamSpec } from '../../engine/methods/types.js';
import { renameModels } from '../../engine/recipe/rename.js';
import { idsOfFileNames } from './portable-names.js';
import type { Conditional, ParameterSetting, Recipe, RecipeModel, Scalar } from '../../engine/recipe/types.js';
import { CHANNEL_PARAMS, DEFAULT_SHARED, GROUP, LINEAR, SHARED, TWIN_LAMBDA } from '../../engine/routed/info.js';
import { ROUTER_DEFAULTS } from '../../engine/router/types.js';
import { GROUP_METHODS, ROUTED_METHODS, findRoutedMethod, type GroupMethodId } from '../routed/methods.js';
import type { ChannelControls, LabState, ModelSource, TwinControls } from '../store/types.js';
import { DEMO_BASE_ID, demoBaseRole, demoModelChoice, isPairwise } from './demo-recipe.js';
import { demoAssets } from '../demo/assets.js';
import { perModelDefault } from './dropped-recipe.js';
import { stackFromRecipe } from './slice-stack.js';

/** One decision: the recipe paths it covers, whether the lab now holds them, and the line the user reads. */
export interface ImportedSetting {
  readonly paths: readonly string[];
  readonly applied: boolean;
  readonly text: string;
}

export interface ImportOutcome {
  readonly method: string;
  /** What was applied, for the status line. */
  readonly applied: readonly string[];
  /** Each setting the lab could not apply, and why: one entry a setting. */
  readonly notApplied: readonly string[];
  /** The parser's warnings. */
  readonly notes: readonly string[];
  /** Every decision with the recipe paths it covers; together they cover every path of the parsed recipe. */
  readonly settings: readonly ImportedSetting[];
}

/**
 * Applies a recipe file, as the engine read it (engine.readRecipe: the parser runs in the worker),
 * to the store. Throws UNKNOWN_METHOD; nothing changes then.
 */
export function importRecipe(parsed: Recipe, fileName: string, st: LabState): ImportOutcome {
  // The lab hands recipes out naming the files (portable-names.ts): read those names back as ids.
  return applyRecipe(renameModels(parsed, idsOfFileNames(st)), st, fileName);
}

class Ledger {
  readonly settings: ImportedSetting[] = [];
  private readonly decided = new Set<string>();
  ok(paths: string | readonly string[], text: string): void {
    this.add(paths, true, text);
  }
  no(paths: string | readonly string[], text: string): void {
    this.add(paths, false, text);
  }
  has(path: string): boolean {
    return this.decided.has(path);
  }
  private add(paths: string | readonly string[], applied: boolean, text: string): void {
    const list = typeof paths === 'string' ? [paths] : paths;
    for (const p of list) this.decided.add(p);
    this.settings.push({ paths: list, applied, text });
  }
}

/**
 * Every setting path of a parsed recipe: each entry of a list of entries (models, tokens) and each
 * of its parameters, each key of a mapping, any other field whole.
 */
export function settingPaths(recipe: Recipe): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(recipe) as [string, unknown][]) {
    if (field === 'warnings' || value === undefined) continue;
    if (Array.isArray(value) && value.length > 0 && value.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e))) {
      (value as readonly { parameters?: object }[]).forEach((e, i) => {
        out.push(`${field}.${i}`);
        for (const name of Object.keys(e.parameters ?? {})) out.push(`${field}.${i}.parameters.${name}`);
      });
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const name of Object.keys(value)) out.push(`${field}.${name}`);
    } else out.push(field);
  }
  return out;
}

/** The one value `s` takes for every tensor, if it has one: a scalar, a gradient of equal numbers, or filters whose first entry matches everything. */
function uniform(s: ParameterSetting | undefined): Scalar | undefined {
  if (s === undefined || typeof s === 'number' || typeof s === 'boolean') return s;
  if (s.length === 0) return undefined;
  if (s.every((e) => typeof e === 'number')) {
    const g = s as readonly number[];
    return g.every((x) => x === g[0]) ? g[0] : undefined;
  }
  const first = s[0] as Conditional;
  return first.filter === undefined || first.filter === '*' ? uniform(first.value as ParameterSetting) : undefined;
}

function show(s: ParameterSetting): string {
  if (typeof s === 'number' || typeof s === 'boolean') return String(s);
  if (s.every((e) => typeof e === 'number')) return `[${s.join(', ')}]`;
  return `[${(s as readonly Conditional[]).map((e) => `${e.filter ?? '*'}: ${Array.isArray(e.value) ? `[${e.value.join(', ')}]` : String(e.value)}`).join('; ')}]`;
}

const quote = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');
const LIST = 'a gradient or filter list; the lab takes one value for every tensor';

interface Context {
  readonly recipe: Recipe;
  readonly st: LabState;
  readonly log: Ledger;
  readonly source: ModelSource;
  /** The method's label, for reasons. */
  readonly label: string;
  /** The recipe's models that are experts (the base, where the method takes one, left out), with their index in `models`. */
  readonly experts: readonly { readonly m: RecipeModel; readonly i: number }[];
  /** Whether the lab merges this expert of the recipe: one of the user's checkpoints, or one of the demo's experts. */
  readonly merged: (model: string) => boolean;
  /** What the lab's defaults became where the recipe sets nothing. */
  readonly defaults: string[];
}

/** The top-level value every model without its own inherits: the slice's over the top level's, as mergekit looks them up. */
function inherited(recipe: Recipe, name: string): { setting: ParameterSetting; paths: string[]; where: string } | undefined {
  const slice = recipe.sliceParameters?.[name];
  const top = recipe.parameters?.[name];
  if (slice !== undefined) {
    const over = top !== undefined ? `, over the top level's ${show(top)}` : '';
    return { setting: slice, paths: [`sliceParameters.${name}`, ...(top !== undefined ? [`parameters.${name}`] : [])], where: ` (slices[0].parameters${over})` };
  }
  if (top !== undefined) return { setting: top, paths: [`parameters.${name}`], where: '' };
  return undefined;
}

/** Applies a parsed recipe to the store (see the file's comment); `fileName` names it in an error. */
export function applyRecipe(recipe: Recipe, st: LabState, fileName = 'recipe'): ImportOutcome {
  const id = recipe.mergeMethod;
  const method = findMethod(id);
  const routed = findRoutedMethod(id);
  if (!method && !routed) {
    const known = [...METHODS.map((m) => m.id), ...ROUTED_METHODS.map((m) => m.id)];
    throw new MergeLabError('UNKNOWN_METHOD', `${fileName}: merge_method "${id}" is not a method the lab has. Its methods: ${known.join(', ')}.`);
  }
  const log = new Ledger();
  st.setMethod(id);
  log.ok('mergeMethod', `merge_method ${id}`);

  const needsBase = (method?.base ?? routed!.base) === 'required';
  const baseName = needsBase ? recipe.baseModel : undefined;
  const baseIndex = baseName === undefined ? -1 : recipe.models.findIndex((m) => m.model === baseName);
  const experts = recipe.models.map((m, i) => ({ m, i })).filter((e) => e.i !== baseIndex);

  // The demo's experts by their task ids; Twin-Merging's hard mode adds the hard tasks.
  const scored = st.engine.demo.tasks ?? st.tasks.filter((t) => !t.hard).map((t) => t.id);
  const hardTasks = id === 'twin_merging' ? (st.engine.demo.hardTasks ?? st.tasks.filter((t) => t.hard).map((t) => t.id)) : [];
  const demoIds = new Set([...scored, ...hardTasks]);
  const usable = new Map(st.dropped.filter((d) => d.status !== 'error').map((d) => [d.id, d]));
  const named = [...recipe.models.map((m) => m.model), ...(recipe.baseModel !== undefined && baseIndex < 0 ? [recipe.baseModel] : [])];
  const mineHits = named.filter((n) => usable.has(n)).length;
  const demoHits = named.filter((n) => demoIds.has(n) || n === DEMO_BASE_ID).length;
  const source: ModelSource = mineHits > demoHits ? 'mine' : demoHits > mineHits ? 'demo' : st.source;
  if (source !== st.source) {
    st.setSource(source);
    log.ok([], source === 'mine' ? 'your checkpoints (the recipe names them), not the demo' : "the demo's models (the recipe names them), not your checkpoints");
  }

  // Linear on the demo: a "base" listed under models is the base merged in with a weight (the Base weight control), not an expert.
  const demoBaseIndex = source === 'demo' && method?.base === 'optional' ? recipe.models.findIndex((m) => m.model === DEMO_BASE_ID) : -1;
  const c: Context = {
    recipe,
    st,
    log,
    source,
    label: method?.label ?? routed!.label,
    experts: experts.filter((e) => e.i !== demoBaseIndex),
    merged: (model) => (source === 'mine' ? usable.has(model) : demoIds.has(model)),
    defaults: [],
  };
  let hard: boolean | undefined;
  if (source === 'mine') applyMineModels(c, needsBase, baseIndex);
  else if (method && isPairwise(method.id)) applyDemoPair(c, scored);
  else if (method && (demoModelChoice(method.id) === 'one' || demoModelChoice(method.id) === 'pair')) applyDemoChoice(c, scored, demoModelChoice(method.id) === 'one');
  else {
    if (method && (demoBaseRole(method.id) === 'origin' || demoBaseRole(method.id) === 'mean')) applyDemoBaseModel(c);
    else if (method?.base === 'optional') applyDemoBaseWeight(c, demoBaseIndex);
    hard = applyDemoModels(c, needsBase, baseIndex, scored, hardTasks);
  }

  if (baseIndex >= 0) {
    for (const [name, s] of Object.entries(recipe.models[baseIndex]!.parameters ?? {})) {
      log.no(`models.${baseIndex}.parameters.${name}`, `per-model ${name} ${show(s)} of the base "${baseName}": the lab's base takes no per-model values`);
    }
  }

  if (method) {
    applyParams(c, method);
    applyArithmetic(c, method);
  } else if (id === 'twin_merging') applyTwin(c, hard);
  else applyChannel(c);

  for (const [name, value] of Object.entries(recipe.options ?? {})) {
    if (!log.has(`options.${name}`)) log.no(`options.${name}`, `${name} ${value}: only ${name === SHARED ? 'Twin-Merging' : 'Channel Merging'} reads it`);
  }
  for (const name of Object.keys(recipe.listOptions ?? {})) {
    if (!log.has(`listOptions.${name}`)) log.no(`listOptions.${name}`, `${name}: only Twin-Merging reads it`);
  }
  if (recipe.randomSeed !== undefined) {
    const seed = recipe.randomSeed;
    if (source === 'demo' && method) {
      st.setRandomSeed(seed);
      log.ok('randomSeed', `random_seed ${seed}${method.random ? '' : ` (kept in the Random seed control; ${method.id} draws nothing at random)`}`);
    } else {
      const why =
        method && !method.random
          ? `${method.id} draws nothing at random, so the merge is the same`
          : `it merges with ${DEFAULT_RANDOM_SEED}${seed === DEFAULT_RANDOM_SEED ? ' too' : ''}, and its recipe names no seed`;
      log.no('randomSeed', `random_seed ${seed}: the lab's seed control is the demo's; ${why}`);
    }
  } else if (source === 'demo' && method?.random && st.randomSeed !== DEFAULT_RANDOM_SEED) {
    st.setRandomSeed(DEFAULT_RANDOM_SEED);
    c.defaults.push(`random_seed ${DEFAULT_RANDOM_SEED}`);
  }
  applySlices(c);
  if (recipe.layerRange) log.no('layerRange', `layer_range [${recipe.layerRange.join(', ')}]: the lab has no layer range; it merges every layer (a range must cover them all anyway)`);
  const tokenizer = "the lab's merged model gets the base's tokenizer files as they are (merge-lab merge applies it)";
  if (recipe.tokenizerSource !== undefined) log.no('tokenizerSource', `tokenizer_source ${recipe.tokenizerSource}: ${tokenizer}`);
  recipe.tokenizerTokens?.forEach((t, i) => log.no(`tokenizerTokens.${i}`, `tokenizer token ${JSON.stringify(t.token)} (from "${t.model}"): ${tokenizer}`));
  if (recipe.chatTemplate !== undefined) {
    const t = recipe.chatTemplate.length <= 40 ? recipe.chatTemplate : `(a template of ${recipe.chatTemplate.length} characters)`;
    log.no('chatTemplate', `chat_template ${t}: ${tokenizer}`);
  }
  for (const path of settingPaths(recipe)) {
    if (!log.has(path)) log.no(path, `${path.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)}: the lab's import does not read it`);
  }
  if (c.defaults.length > 0) log.ok([], `defaults where the recipe sets nothing: ${c.defaults.join(', ')}`);

  return {
    method: id,
    applied: log.settings.filter((s) => s.applied).map((s) => s.text),
    notApplied: log.settings.filter((s) => !s.applied).map((s) => s.text),
    notes: [...(recipe.warnings ?? [])],
    settings: log.settings,
  };
}

/**
 * `slices:` (a frankenmerge) into the layer stack of one's own checkpoints: each slice with its
 * first source's model and range, and a slice that merges several sources or sets parameters or a
 * base_model kept whole, merged with the recipe's method and settings (recipe/slice-stack.ts). The
 * demo's models have no layers to stack. `modules:` is not read.
 */
function applySlices(c: Context): void {
  const { recipe, st, log } = c;
  for (const name of Object.keys(recipe.modules ?? {})) {
    log.no(`modules.${name}`, `module ${name}: the lab's layer stack holds the slices of one model; a modules: recipe runs in merge-lab merge`);
  }
  const slices = recipe.slices;
  if (!slices || slices.length === 0) return;
  const paths = (i: number) => [`slices.${i}`, ...Object.keys(slices[i]!.parameters ?? {}).map((n) => `slices.${i}.parameters.${n}`)];
  if (c.source !== 'mine') {
    slices.forEach((_, i) => log.no(paths(i), `slice ${i + 1}: the layer stack is for your own checkpoints (the demo's models have no layers to stack)`));
    return;
  }
  const stack = stackFromRecipe(recipe);
  st.loadStack(stack);
  const range = (x: { model: string; layerRange: readonly [number, number] }) => `"${x.model}" [${x.layerRange.join(', ')}]`;
  stack.forEach((s, i) => {
    const sources = slices[i]!.sources;
    const missing = sources.filter((x) => !c.merged(x.model)).map((x) => x.model);
    const what = `slice ${i + 1}: ${sources.map(range).join(' and ')}`;
    if (missing.length > 0) log.no(paths(i), `${what}: ${quote(missing)} not loaded (add ${missing.length === 1 ? 'it' : 'them'} under Models; the layer stack names the slice)`);
    else log.ok(paths(i), `${what}${s.imported ? ` (kept whole in the layer stack, merged with ${recipe.mergeMethod})` : ''}`);
  });
  log.ok([], `the layer stack on: ${stack.length} slice${stack.length === 1 ? '' : 's'}`);
}

/** A base the method does not need: mergekit merges it in as one more model, which the lab's recipe says only where the models list it. */
function optionalBase(c: Context, b: string): void {
  if (c.recipe.models.some((m) => m.model === b)) c.log.ok('baseModel', `base_model "${b}" (merged as one of the models, which list it)`);
  else c.log.no('baseModel', `base_model "${b}": the lab leaves an optional base out of ${c.label} (mergekit would merge it in with the models)`);
}

/** The user's checkpoints: the recipe's experts and base get those roles, other experts are left out, and the experts take the recipe's order. */
function applyMineModels(c: Context, needsBase: boolean, baseIndex: number): void {
  const { recipe, st, log } = c;
  const roles = new Map(st.dropped.map((d) => [d.id, d.role]));
  const status = new Map(st.dropped.map((d) => [d.id, d.status]));
  const setRole = (id: string, role: 'base' | 'expert' | 'excluded') => {
    if (roles.get(id) === role) return;
    // As the store does: one base at most, the old one becomes an expert.
    if (role === 'base') for (const [k, r] of roles) if (r === 'base') roles.set(k, 'expert');
    roles.set(id, role);
    st.setRole(id, role);
  };
  const missing = (name: string, what: string) =>
    status.get(name) === 'error' ? `${what} "${name}" failed to load (its row under Models says why)` : `${what} "${name}" is not loaded (add it under Models)`;

  if (recipe.baseModel !== undefined) {
    const paths = ['baseModel', ...(baseIndex >= 0 ? [`models.${baseIndex}`] : [])];
    const b = recipe.baseModel;
    if (!needsBase) optionalBase(c, b);
    else if (c.merged(b)) {
      setRole(b, 'base');
      log.ok(paths, `base_model "${b}"`);
    } else log.no(paths, missing(b, 'base_model'));
  }
  const here = c.experts.filter((e) => c.merged(e.m.model));
  for (const e of c.experts) if (!c.merged(e.m.model)) log.no(`models.${e.i}`, missing(e.m.model, 'model'));
  if (here.length === 0) return;
  for (const e of here) setRole(e.m.model, 'expert');
  log.ok(
    here.map((e) => `models.${e.i}`),
    `models ${quote(here.map((e) => e.m.model))}`,
  );
  const wanted = new Set(here.map((e) => e.m.model));
  const left = [...roles].filter(([id, r]) => r === 'expert' && !wanted.has(id) && status.get(id) !== 'error').map(([id]) => id);
  for (const id of left) setRole(id, 'excluded');
  if (left.length > 0) log.ok([], `left out ${quote(left)} (the recipe does not name them)`);

  // The recipe's order among the experts (it changes the sums' rounding, and slerp's ends); other rows keep their places.
  const list = st.dropped.map((d) => d.id);
  const slots = list.map((id, k) => (wanted.has(id) ? k : -1)).filter((k) => k >= 0);
  const target = [...list];
  slots.forEach((k, j) => (target[k] = here[j]!.m.model));
  let moved = false;
  for (let k = 0; k < target.length; k++) {
    for (let j = list.indexOf(target[k]!); j > k; j--) {
      st.moveModel(list[j]!, -1);
      [list[j - 1], list[j]] = [list[j]!, list[j - 1]!];
      moved = true;
    }
  }
  if (moved) log.ok([], "the models in the recipe's order");
}

/** The demo: its experts and base are fixed; the recipe's models are checked against them. Returns Twin-Merging's hard mode when the recipe decides it. */
function applyDemoModels(c: Context, needsBase: boolean, baseIndex: number, scored: readonly string[], hardTasks: readonly string[]): boolean | undefined {
  const { recipe, log, st } = c;
  if (recipe.baseModel !== undefined && !log.has('baseModel')) {
    const paths = ['baseModel', ...(baseIndex >= 0 ? [`models.${baseIndex}`] : [])];
    const b = recipe.baseModel;
    if (!needsBase) optionalBase(c, b);
    else if (b === DEMO_BASE_ID) log.ok(paths, `base_model "${b}"`);
    else log.no(paths, `base_model "${b}" is not loaded (the demo's base is "${DEMO_BASE_ID}")`);
  }
  const here = c.experts.filter((e) => c.merged(e.m.model));
  for (const e of c.experts) {
    if (!c.merged(e.m.model)) log.no(`models.${e.i}`, `model "${e.m.model}" is not loaded (the demo's experts are ${[...scored, ...hardTasks].join(', ')})`);
  }
  if (here.length === 0) return undefined;
  log.ok(
    here.map((e) => `models.${e.i}`),
    `models ${quote(here.map((e) => e.m.model))}`,
  );
  const names = here.map((e) => e.m.model);
  const hard = hardTasks.length > 0 ? names.some((n) => hardTasks.includes(n)) : undefined;
  const lab = [...scored, ...((hard ?? st.twin.hard) ? hardTasks : [])];
  const extra = lab.filter((t) => !names.includes(t));
  if (extra.length > 0) log.no([], `the demo's experts ${quote(extra)} are merged too: the recipe leaves them out, and the demo always merges all of its experts`);
  const order = lab.filter((t) => names.includes(t));
  if (order.some((t, k) => t !== names[k])) log.no([], `the models' order: the demo merges its experts in the order ${lab.join(', ')}`);
  return hard;
}

/** A registry method's parameters: global ones to their controls, per-model ones to the user's per-model sliders or the demo's shared controls. */
function applyParams(c: Context, method: MethodDescriptor): void {
  const { recipe, st, log } = c;
  const next = { density: st.density, lambda: st.lambda, globals: { ...st.globals } as Record<string, number | boolean> };
  const spec = (name: string) => method.params.find((p) => p.name === name);

  const topNames = new Set([...Object.keys(recipe.parameters ?? {}), ...Object.keys(recipe.sliceParameters ?? {})]);
  for (const name of topNames) {
    const p = spec(name);
    const inh = inherited(recipe, name)!;
    if (!p) {
      log.no(inh.paths, `${name} ${show(inh.setting)}${inh.where}: ${method.id} has no parameter "${name}" (mergekit ignores it too)`);
      continue;
    }
    if (p.scope === 'model') continue;
    const layers = c.source === 'demo' && p.type === 'number' ? demoLayers(inh.setting) : undefined;
    const v = uniform(inh.setting) ?? (c.source === 'demo' ? gradientOnDemo(inh.setting) : undefined);
    if (layers) {
      st.setLayered(name, layers);
      log.ok(inh.paths, `${name} per layer ${show(inh.setting)}${inh.where}`);
      continue;
    }
    if (c.source === 'demo' && st.layered[name]) st.setLayered(name, undefined);
    if (v === undefined) log.no(inh.paths, `${name} ${show(inh.setting)}${inh.where}: ${LIST}`);
    else if (typeof v !== (p.type === 'boolean' ? 'boolean' : 'number')) log.no(inh.paths, `${name} ${v}${inh.where}: ${method.id}'s ${name} is ${p.type === 'boolean' ? 'true or false' : 'a number'}`);
    else {
      if (name === 'lambda') st.setLambda((next.lambda = v as number));
      else st.setGlobal(name, (next.globals[name] = v));
      log.ok(inh.paths, `${name} ${v}${inh.where}${gradientNote(inh.setting)}`);
    }
  }
  for (const p of method.params) {
    if (c.source === 'demo' && st.layered[p.name] && !inherited(recipe, p.name)) st.setLayered(p.name, undefined);
    if (p.scope !== 'global' || p.default === undefined || inherited(recipe, p.name)) continue;
    if (p.name === 'lambda' && st.lambda !== p.default) st.setLambda((next.lambda = p.default as number));
    else if (p.name !== 'lambda' && st.globals[p.name] !== undefined && st.globals[p.name] !== p.default) st.setGlobal(p.name, (next.globals[p.name] = p.default));
    else continue;
    c.defaults.push(`${p.name} ${p.default}`);
  }

  // Density first: the other per-model defaults are read with the Density control's new value.
  const perModel = new Set([...method.params.filter((p) => p.scope === 'model').map((p) => p.name), ...recipe.models.flatMap((m) => Object.keys(m.parameters ?? {}))]);
  for (const name of [...perModel].sort((a, b) => Number(b === 'density') - Number(a === 'density'))) {
    const p = spec(name);
    if (!p || p.scope === 'global') {
      for (const { m, i } of c.experts) {
        const s = m.parameters?.[name];
        if (s === undefined) continue;
        const why = p ? `${name} is a global parameter of ${method.id}; mergekit reads it from the top-level parameters only` : `${method.id} has no parameter "${name}" (mergekit ignores it too)`;
        log.no(`models.${i}.parameters.${name}`, `per-model ${name} ${show(s)} of "${m.model}": ${why}`);
      }
      continue;
    }
    if (c.source === 'mine') perModelMine(c, p, next);
    else perModelDemo(c, p, next);
  }
}

/** A patch for setTwin / setChannel, filled in as the recipe is read. */
type Patch<T> = { -readonly [K in keyof T]?: T[K] };

type Controls = { density: number; lambda: number; globals: Record<string, number | boolean> };

function perModelMine(c: Context, p: ParamSpec, next: Controls): void {
  const { recipe, st, log } = c;
  const inh = inherited(recipe, p.name);
  const inhV = inh && uniform(inh.setting);
  // The Density control is every expert's density unless its own slider says otherwise.
  if (p.name === 'density') {
    const d = inh ? inhV : p.default;
    if (typeof d === 'number' && d !== st.density) {
      st.setDensity((next.density = d));
      if (!inh && !c.experts.some((e) => e.m.parameters?.density !== undefined)) c.defaults.push(`density ${d}`);
    }
  }
  const own = new Map<string, { paths: string[]; models: string[] }>();
  let inheriting = 0;
  for (const { m, s, path } of loadedExperts(c, p)) {
    if (s !== undefined) {
      const v = uniform(s);
      if (typeof v !== 'number' || p.type === 'boolean') {
        log.no(path, `per-model ${p.name} ${show(s)} of "${m.model}": ${v === undefined ? LIST : "the lab's per-model controls are sliders"}`);
        continue;
      }
      st.setModelParam(m.model, p.name, v);
      const g = own.get(String(v)) ?? { paths: [], models: [] };
      g.paths.push(path);
      g.models.push(m.model);
      own.set(String(v), g);
      continue;
    }
    inheriting++;
    const want = inh ? inhV : p.default;
    // A slider set before the import would otherwise keep its old value.
    if (typeof want === 'number' && p.type !== 'boolean' && (st.perModel[m.model]?.[p.name] ?? perModelDefault(p, next)) !== want) st.setModelParam(m.model, p.name, want);
  }
  for (const [v, g] of own) log.ok(g.paths, `${p.name} ${v} of ${quote(g.models)}`);
  if (!inh) return;
  if (typeof inhV !== 'number' || p.type === 'boolean') log.no(inh.paths, `${p.name} ${show(inh.setting)}${inh.where}: ${inhV === undefined ? LIST : "the lab's per-model controls are sliders"}`);
  else if (p.name === 'density' || inheriting > 0) log.ok(inh.paths, `${p.name} ${inhV}${inh.where}${p.name === 'density' ? '' : " (every model's)"}`);
  else if (c.experts.some((e) => c.merged(e.m.model))) log.ok(inh.paths, `${p.name} ${inhV}${inh.where} (unused: every model sets its own)`);
  else log.no(inh.paths, `${p.name} ${inhV}${inh.where}: none of the recipe's models is loaded`);
}

/**
 * The recipe's experts with their own value of `p` (if any) and its path, for the models the lab
 * has loaded; an own value of a model it has not is listed as not applied here.
 */
function* loadedExperts(c: Context, p: ParamSpec): Generator<{ readonly m: RecipeModel; readonly s: ParameterSetting | undefined; readonly path: string }> {
  for (const { m, i } of c.experts) {
    const s = m.parameters?.[p.name];
    const path = `models.${i}.parameters.${p.name}`;
    if (c.merged(m.model)) yield { m, s, path };
    else if (s !== undefined) c.log.no(path, `per-model ${p.name} ${show(s)} of "${m.model}": model "${m.model}" is not loaded`);
  }
}

/**
 * The demo: an expert's own value goes to its Per expert slider, the inherited one to the shared
 * control (density's slider, or the control for every expert: weight, epsilon, gamma), a filter
 * list over the demo's layers to the Per layer values. An expert the recipe gives no value of its
 * own loses the one it had, so the lab's recipe afterwards says what the imported one says.
 */
function perModelDemo(c: Context, p: ParamSpec, next: Controls): void {
  const { recipe, st, log } = c;
  const inh = inherited(recipe, p.name);
  const number = p.type === 'number';
  const layers = inh && number ? demoLayers(inh.setting) : undefined;
  const shared = inh && !layers ? (uniform(inh.setting) ?? gradientOnDemo(inh.setting)) : undefined;
  const merged = c.experts.filter((e) => c.merged(e.m.model));
  const owns = merged.filter((e) => e.m.parameters?.[p.name] !== undefined);
  if (st.layered[p.name] && !layers) st.setLayered(p.name, undefined);
  if (layers) {
    st.setLayered(p.name, layers);
    log.ok(inh!.paths, `${p.name} per layer ${show(inh!.setting)}${inh!.where}`);
  } else if (inh && (typeof shared !== 'number' || !number)) {
    log.no(inh.paths, `${p.name} ${show(inh.setting)}${inh.where}: ${shared === undefined ? LIST : "the lab's per-model controls are sliders"}`);
  } else if (inh) {
    setShared(c, p, shared as number, next);
    log.ok(inh.paths, `${p.name} ${shared}${inh.where}${p.name === 'density' ? '' : " (every expert's)"}${gradientNote(inh.setting)}`);
  } else if (p.default !== undefined && number) {
    // Nothing inherited: an expert without its own value takes the method's default, as in mergekit.
    // Where every expert sets its own density, the Density control takes the first (the demo's other experts get it).
    const d = p.name === 'density' && owns.length === merged.length && owns.length > 0 ? uniform(owns[0]!.m.parameters![p.name]!) : p.default;
    if (typeof d === 'number' && (p.name === 'density' ? st.density !== d : st.globals[p.name] !== undefined && st.globals[p.name] !== d)) {
      setShared(c, p, d, next);
      if (owns.length === 0) c.defaults.push(`${p.name} ${d}`);
    }
  }
  for (const { m, s, path } of loadedExperts(c, p)) {
    if (s === undefined) {
      if (st.demoModels[m.model]?.[p.name] !== undefined) st.setDemoModelParam(m.model, p.name, undefined);
      continue;
    }
    const v = uniform(s) ?? gradientOnDemo(s);
    if (typeof v !== 'number' || !number) {
      const why = v === undefined ? (demoLayers(s) ? "a value per layer for one expert; the lab's Per layer values are every expert's" : LIST) : "the lab's per-model controls are sliders";
      log.no(path, `per-model ${p.name} ${show(s)} of "${m.model}": ${why}`);
      continue;
    }
    st.setDemoModelParam(m.model, p.name, v);
    log.ok(path, `${p.name} ${v} of "${m.model}"${gradientNote(s)}`);
  }
}

/** The shared control of a per-model parameter: density's slider, or the value for every expert (weight, epsilon, gamma). */
function setShared(c: Context, p: ParamSpec, v: number, next: Controls): void {
  if (p.name === 'density') c.st.setDensity((next.density = v));
  else c.st.setGlobal(p.name, (next.globals[p.name] = v));
}

/**
 * A gradient on the demo: its tensors carry no layer number (hidden.weight, head.weight), so
 * mergekit evaluates every gradient at t = 0, its first value, for each of them.
 */
function gradientOnDemo(s: ParameterSetting): number | undefined {
  return Array.isArray(s) && s.length > 0 && s.every((e) => typeof e === 'number') ? (s[0] as number) : undefined;
}

function gradientNote(s: ParameterSetting): string {
  return Array.isArray(s) && s.length > 1 && s.every((e) => typeof e === 'number') && uniform(s) === undefined
    ? ` (from the gradient ${show(s)}: the demo's tensors have no layer number, so mergekit takes its first value for each)`
    : '';
}

/** A filter list giving each of the demo's layer groups one number ("hidden." or "hidden", "head."), as the Per layer values write it; else undefined. */
function demoLayers(s: ParameterSetting): Record<string, number> | undefined {
  if (!Array.isArray(s) || s.length === 0 || s.some((e) => typeof e !== 'object' || e === null)) return undefined;
  const groups = demoLayerNames();
  const out: Record<string, number> = {};
  for (const e of s as readonly Conditional[]) {
    const g = groups.find((x) => e.filter === x || e.filter === `${x}.`);
    if (!g || typeof e.value !== 'number' || g in out) return undefined;
    out[g] = e.value;
  }
  return groups.every((g) => g in out) ? out : undefined;
}

/** The demo's layer groups, from its manifest (hidden, head). */
function demoLayerNames(): string[] {
  return (demoAssets.manifest()?.architecture.layers ?? []).map((l) => l.weight.replace(/\.weight$/, ''));
}

/** SLERP on the demo: the recipe's two models become the pair, base_model the t = 0 end. */
function applyDemoPair(c: Context, scored: readonly string[]): void {
  const { recipe, log, st } = c;
  const paths = [...(recipe.baseModel !== undefined ? ['baseModel'] : []), ...recipe.models.map((_, i) => `models.${i}`)];
  const base = recipe.baseModel;
  const known = (id: string) => id === DEMO_BASE_ID || scored.includes(id);
  if (base === undefined || c.experts.length !== 1) {
    log.no(paths, `${c.label} merges exactly two models, base_model (t = 0) and one other; the recipe names ${c.experts.length + (base !== undefined ? 1 : 0)}`);
    return;
  }
  const other = c.experts[0]!.m.model;
  const missing = [base, other].filter((id) => !known(id));
  if (missing.length > 0 || base === other) {
    log.no(paths, missing.length > 0 ? `${quote(missing)} not loaded (the demo's models are ${[DEMO_BASE_ID, ...scored].join(', ')})` : `base_model and the other model are both "${base}"`);
    return;
  }
  st.setPair({ base, other });
  log.ok(paths, `the two models: "${base}" (t = 0, base_model) and "${other}" (t = 1)`);
}

/**
 * nuslerp's two models or passthrough's one on the demo, into the pair control (passthrough copies
 * its first model); nuslerp's base_model, the demo's base, turns the base on (task vectors from it).
 */
function applyDemoChoice(c: Context, scored: readonly string[], one: boolean): void {
  const { recipe, log, st } = c;
  const known = (id: string) => id === DEMO_BASE_ID || scored.includes(id);
  const base = recipe.baseModel;
  const picked = recipe.models.map((m, i) => ({ m: m.model, i })).filter((x) => one || x.m !== base);
  const paths = picked.map((x) => `models.${x.i}`);
  const want = one ? 1 : 2;
  if (picked.length !== want) {
    log.no([...paths, ...(base !== undefined ? ['baseModel'] : [])], `${c.label} takes ${one ? 'exactly one model' : 'exactly two models besides an optional base_model'}; the recipe names ${picked.length}`);
    return;
  }
  const missing = picked.map((x) => x.m).filter((id) => !known(id));
  if (missing.length > 0) {
    log.no(paths, `${quote(missing)} not loaded (the demo's models are ${[DEMO_BASE_ID, ...scored].join(', ')})`);
    return;
  }
  const first = picked[0]!.m;
  const other = one ? ([st.pair?.other, ...scored].find((id) => id !== undefined && id !== first && known(id)) ?? first) : picked[1]!.m;
  if (first !== other) st.setPair({ base: first, other });
  log.ok(paths, one ? `the model copied: "${first}"` : `the two models: "${first}" (w1) and "${other}" (w2)`);
  if (one) {
    if (base === first) log.ok('baseModel', `base_model "${base}" (the model copied)`);
    else if (base !== undefined) log.no('baseModel', `base_model "${base}": passthrough's base_model must be the model it copies`);
    return;
  }
  if (base === undefined) {
    if (st.baseWeight !== undefined) {
      st.setBaseWeight(undefined);
      c.defaults.push('the base left out');
    }
  } else if (base === DEMO_BASE_ID) {
    st.setBaseWeight(1);
    log.ok('baseModel', `base_model "${base}" (the task vectors from it)`);
  } else log.no('baseModel', `base_model "${base}": on the demo, ${c.label}'s base_model is the demo's base "${DEMO_BASE_ID}"`);
}

/** multislerp's and karcher's base on the demo: base_model "base" (not under models) turns it on; absent, off. */
function applyDemoBaseModel(c: Context): void {
  const { recipe, log, st } = c;
  const base = recipe.baseModel;
  if (base === undefined) {
    if (st.baseWeight !== undefined) {
      st.setBaseWeight(undefined);
      c.defaults.push('the base left out');
    }
    return;
  }
  if (base === DEMO_BASE_ID && !recipe.models.some((m) => m.model === base)) {
    st.setBaseWeight(1);
    log.ok('baseModel', `base_model "${base}" (${demoBaseRole(recipe.mergeMethod) === 'mean' ? 'one more member of the mean' : 'the task vectors from it'})`);
  } else log.no('baseModel', `base_model "${base}": on the demo, ${c.label} takes the demo's base "${DEMO_BASE_ID}" as base_model only (not under models)`);
}

/** Linear on the demo: "base" under models with a weight is the base merged in; absent, the base is left out. */
function applyDemoBaseWeight(c: Context, index: number): void {
  const { recipe, log, st } = c;
  if (index < 0) {
    if (st.baseWeight !== undefined) {
      st.setBaseWeight(undefined);
      c.defaults.push('the base left out');
    }
    return;
  }
  const w = recipe.models[index]!.parameters?.['weight'];
  const v = w === undefined ? undefined : (uniform(w) ?? gradientOnDemo(w));
  const paths = [`models.${index}`, ...Object.keys(recipe.models[index]!.parameters ?? {}).map((n) => `models.${index}.parameters.${n}`)];
  if (typeof v !== 'number') {
    log.no(paths, `model "${DEMO_BASE_ID}"${w === undefined ? ' without a weight' : ` weight ${show(w)}`}: ${c.label} merges the base in only with one weight (mergekit stops without one)`);
    return;
  }
  st.setBaseWeight(v);
  log.ok(paths, `the base merged in with weight ${v}${gradientNote(w!)}`);
}

/** dtype, out_dtype and math: the Arithmetic controls for the user's checkpoints; the demo always computes in float32 and writes float16. */
function applyArithmetic(c: Context, method: MethodDescriptor): void {
  const { recipe, st, log } = c;
  if (c.source === 'mine') {
    const math = recipe.math ?? 'mergekit';
    if (recipe.dtype !== st.dtype || math !== st.math) st.setArithmetic({ dtype: recipe.dtype, math });
    if (recipe.dtype) log.ok('dtype', `dtype ${recipe.dtype}`);
    else if (st.dtype) c.defaults.push('dtype as stored');
    if (recipe.math) log.ok('math', `math ${recipe.math}`);
    else if (st.math !== 'mergekit') c.defaults.push('math mergekit');
    if (recipe.outDtype !== undefined) {
      if (recipe.outDtype === recipe.dtype) log.ok('outDtype', `out_dtype ${recipe.outDtype} (as dtype)`);
      else log.no('outDtype', `out_dtype ${recipe.outDtype}: the lab has no out_dtype control; ${method.id} writes your checkpoints' merge in ${recipe.dtype ?? 'their stored dtype'}`);
    }
    return;
  }
  if (recipe.dtype) {
    if (recipe.dtype === DEMO_DTYPES.dtype) log.ok('dtype', `dtype ${recipe.dtype} (the demo's)`);
    else log.no('dtype', `dtype ${recipe.dtype}: the demo always computes in ${DEMO_DTYPES.dtype} (the Arithmetic controls are for your checkpoints)`);
  }
  if (recipe.outDtype) {
    if (recipe.outDtype === DEMO_DTYPES.outDtype) log.ok('outDtype', `out_dtype ${recipe.outDtype} (the demo's)`);
    else log.no('outDtype', `out_dtype ${recipe.outDtype}: the demo's merged file is always ${DEMO_DTYPES.outDtype}`);
  }
  if (recipe.math) float32Math(c, `the demo computes in ${DEMO_DTYPES.dtype}`);
}

function float32Math(c: Context, why: string): void {
  const m = c.recipe.math!;
  if (m === 'mergekit') c.log.ok('math', 'math mergekit');
  else c.log.no('math', `math ${m}: ${why}, where it changes nothing, and the lab's recipe does not say it`);
}

/** A routed method's dtype: its packages are float32 (the lab's routed recipes name no dtype). */
function routedArithmetic(c: Context, why: string): void {
  const { recipe, log } = c;
  for (const [path, key, d] of [['dtype', 'dtype', recipe.dtype], ['outDtype', 'out_dtype', recipe.outDtype]] as const) {
    if (d === undefined) continue;
    if (d === 'float32') log.ok(path, `${key} float32`);
    else log.no(path, `${key} ${d}: ${why}`);
  }
  if (recipe.math) float32Math(c, 'it computes in float32');
}

/**
 * A routed recipe's per-model values: the engine takes one value for every expert, so a value
 * every expert gives alike stands for the top-level one. Returns those, deciding the others; a
 * value that is what the engine takes for an expert without one (`implicit`) is applied as it is.
 */
function routedPerModel(c: Context, accept: (name: string, v: Scalar) => boolean, implicit: (name: string) => Scalar | undefined): Map<string, { v: Scalar; paths: string[] }> {
  const { log } = c;
  const alike = new Map<string, { v: Scalar; paths: string[] }>();
  const names = new Set(c.experts.flatMap((e) => Object.keys(e.m.parameters ?? {})));
  for (const name of names) {
    const given = c.experts.map((e) => ({ model: e.m.model, s: e.m.parameters?.[name], path: `models.${e.i}.parameters.${name}` }));
    const values = given.map((g) => (g.s === undefined ? undefined : uniform(g.s)));
    const set = given.filter((g) => g.s !== undefined);
    const by = implicit(name);
    if (by !== undefined && set.every((g) => uniform(g.s) === by)) {
      log.ok(
        set.map((g) => g.path),
        `${name} ${by} of ${quote(set.map((g) => g.model))} (the lab's ${c.label} takes ${by} for every expert)`,
      );
      continue;
    }
    const v = values[0];
    if (v !== undefined && values.every((x) => x === v) && c.recipe.parameters?.[name] === undefined && accept(name, v)) {
      alike.set(name, { v, paths: given.map((g) => g.path) });
      continue;
    }
    for (const g of given) {
      if (g.s !== undefined) log.no(g.path, `per-model ${name} ${show(g.s)} of "${g.model}": the lab's ${c.label} takes one ${name} for every expert${uniform(g.s) === undefined ? ` (and ${LIST})` : ''}`);
    }
  }
  return alike;
}

/** The parameters of the inner method the lab has no control for: applied when they are the inner method's defaults (what the lab's recipe leaves it at). */
function innerDefault(c: Context, inner: MethodDescriptor | undefined, name: string, v: Scalar, paths: readonly string[], innerName: string): void {
  const p = inner?.params.find((x) => x.name === name);
  if (!p) c.log.no(paths, `${name} ${v}: ${innerName} has no parameter "${name}"`);
  else if (p.default === v) c.log.ok(paths, `${name} ${v} (the default)`);
  else c.log.no(paths, `${name} ${v}: the lab's ${c.label} has no ${name} control for its ${innerName} (it uses ${p.default ?? 'none'})`);
}

function applyTwin(c: Context, hard: boolean | undefined): void {
  const { recipe, st, log } = c;
  const patch: Patch<TwinControls> = {};
  if (hard !== undefined && hard !== st.twin.hard) {
    patch.hard = hard;
    log.ok([], `hard mode ${hard ? 'on' : 'off'} (the recipe ${hard ? 'names' : 'leaves out'} the hard task)`);
  }
  const asked = recipe.options?.[SHARED] ?? DEFAULT_SHARED;
  const sharedMethod = asked === 'ties' || asked === 'task_arithmetic' ? asked : undefined;
  if (sharedMethod) {
    patch.sharedMethod = sharedMethod;
    if (recipe.options?.[SHARED]) log.ok(`options.${SHARED}`, `${SHARED} ${sharedMethod}`);
  } else log.no(`options.${SHARED}`, `${SHARED} ${asked}: the lab's Twin-Merging merges its shared expert with task_arithmetic or ties`);
  const inner = sharedMethod ? findMethod(sharedMethod) : undefined;
  const innerName = `shared expert (${asked})`;
  // The paper's shared expert weighs every expert 1, as the engine does where no weight is given.
  const alike = routedPerModel(
    c,
    (name) => name === 'density' && sharedMethod === 'ties',
    (name) => (name === 'weight' ? 1 : undefined),
  );
  const top = new Map<string, { v: Scalar | undefined; s: ParameterSetting; paths: string[] }>();
  for (const [name, s] of Object.entries(recipe.parameters ?? {})) top.set(name, { v: uniform(s), s, paths: [`parameters.${name}`] });
  for (const [name, a] of alike) top.set(name, { v: a.v, s: a.v, paths: a.paths });
  for (const [name, { v, s, paths }] of top) {
    const own = TWIN_PARAMS.find((p) => p.name === name);
    if (v === undefined) {
      log.no(paths, `${name} ${show(s)}: ${LIST}`);
      continue;
    }
    if (name === 'lambda' || name === 'density') {
      const reads = inner?.params.some((p) => p.name === name);
      if (!reads) log.no(paths, `${name} ${v}: ${sharedMethod ? `${innerName} does not read it` : `a parameter of ${innerName}, which the lab does not offer`}`);
      else if (typeof v !== 'number' || (name === 'density' && !(v > 0 && v <= 1))) log.no(paths, `${name} ${v}: the lab's ${name} for the shared expert takes a number${name === 'density' ? ' in (0, 1]' : ''}`);
      else {
        if (name === 'lambda') patch.lambda = v;
        else patch.sharedDensity = v;
        log.ok(paths, `${name} ${v}`);
      }
    } else if (own && ['hidden', 'epochs', 'learningRate', 'seed'].includes(name)) {
      const d = ROUTER_DEFAULTS[st.twin.router][name as 'hidden' | 'epochs' | 'learningRate' | 'seed'];
      if (c.source === 'mine') log.no(paths, `${name} ${v}: your checkpoints have no data to train a router on, so no router is built`);
      else if (v === d) log.ok(paths, `${name} ${v} (the lab's router)`);
      else log.no(paths, `${name} ${v}: the lab trains its router with ${name} ${d} (it has no control for it)`);
    } else if (own && typeof v === 'number') {
      if ((name === 'rank' || name === 'rank_ratio') && top.has('energy')) log.no(paths, `${name} ${v}: energy is given too, and the lab uses energy (the engine takes one of them)`);
      else if (name === 'rank' && top.has('rank_ratio')) log.no(paths, `rank ${v}: rank_ratio is given too, and the lab uses rank_ratio (the engine takes one of them)`);
      else {
        if (name === 'rank') Object.assign(patch, { rank: v, useEnergy: false, useRatio: false });
        else if (name === 'rank_ratio') Object.assign(patch, { rankRatio: v, useEnergy: false, useRatio: true });
        else if (name === 'energy') Object.assign(patch, { energy: v, useEnergy: true });
        else if (name === 'temperature') patch.temperature = v;
        else if (name === 'topK') patch.topK = v;
        log.ok(paths, `${name} ${v}`);
      }
    } else if (own) log.no(paths, `${name} ${v}: Twin-Merging's ${name} is a number`);
    else innerDefault(c, inner, name, v, paths, innerName);
  }
  const unset = (name: string, key: keyof TwinControls, v: TwinControls[keyof TwinControls], shown = `${name} ${String(v)}`) => {
    if (top.has(name)) return;
    (patch as Record<string, unknown>)[key] = v;
    if (st.twin[key] !== v) c.defaults.push(shown);
  };
  const twinDefault = (name: string) => TWIN_PARAMS.find((p) => p.name === name)!.default as number;
  if (inner?.params.some((p) => p.name === 'lambda')) unset('lambda', 'lambda', TWIN_LAMBDA.default as number);
  if (sharedMethod === 'ties') unset('density', 'sharedDensity', inner!.params.find((p) => p.name === 'density')!.default as number);
  if (!top.has('energy') && !top.has('rank_ratio')) {
    unset('rank', 'rank', twinDefault('rank'));
    unset('energy', 'useEnergy', false, 'a fixed rank (no energy)');
    unset('rank_ratio', 'useRatio', false, 'a fixed rank (no rank_ratio)');
  }
  const exclude = recipe.listOptions?.['exclude'];
  if (exclude) {
    patch.exclude = exclude;
    log.ok('listOptions.exclude', `exclude ${exclude.join(', ')}`);
  } else if (st.twin.exclude.length) {
    patch.exclude = [];
    c.defaults.push('exclude: none');
  }
  unset('temperature', 'temperature', twinDefault('temperature'));
  unset('topK', 'topK', undefined, 'topK: every expert');
  st.setTwin(patch);
  routedArithmetic(c, 'Twin-Merging packages are written in float32');
  for (const name of Object.keys(recipe.sliceParameters ?? {})) log.no(`sliceParameters.${name}`, `${name} (slices[0].parameters): Twin-Merging reads the top-level parameters only`);
}

function applyChannel(c: Context): void {
  const { recipe, st, log } = c;
  const patch: Patch<ChannelControls> = {};
  const asked = recipe.options?.[GROUP] ?? 'average';
  const id = asked === LINEAR ? 'average' : asked;
  const groupMethod = GROUP_METHODS.find((g) => g.id === id)?.id as GroupMethodId | undefined;
  if (groupMethod) {
    patch.groupMethod = groupMethod;
    if (recipe.options?.[GROUP]) log.ok(`options.${GROUP}`, `${GROUP} ${asked}`);
  } else log.no(`options.${GROUP}`, `${GROUP} ${asked}: the lab's Channel Merging merges a group with ${GROUP_METHODS.map((g) => g.id).join(', ')}`);
  const clustering = recipe.options?.['clustering'];
  if (clustering === 'kmeans' || clustering === 'average_linkage') {
    patch.clustering = clustering;
    log.ok('options.clustering', `clustering ${clustering}`);
  } else if (clustering !== undefined) log.no('options.clustering', `clustering ${clustering}: Channel Merging groups by kmeans or average_linkage`);
  else if (st.channel.clustering !== 'kmeans') {
    patch.clustering = 'kmeans';
    c.defaults.push('clustering kmeans');
  }
  const inner = groupMethod && groupMethod !== 'average' ? findMethod(groupMethod) : undefined;
  const innerName = `${GROUP} ${asked}`;
  const reads = (name: string) => inner?.params.some((p) => p.name === name) ?? false;
  const alike = routedPerModel(
    c,
    (name, v) => reads(name) || (groupMethod === 'average' && name === 'weight' && typeof v === 'number'),
    () => undefined,
  );
  const top = new Map<string, { v: Scalar | undefined; s: ParameterSetting; paths: string[] }>();
  for (const [name, s] of Object.entries(recipe.parameters ?? {})) top.set(name, { v: uniform(s), s, paths: [`parameters.${name}`] });
  for (const [name, a] of alike) {
    if (name === 'weight' && groupMethod === 'average') log.ok(a.paths, `weight ${a.v} of every expert (equal weights: the mean)`);
    else top.set(name, { v: a.v, s: a.v, paths: a.paths });
  }
  for (const [name, { v, s, paths }] of top) {
    const own = CHANNEL_PARAMS.find((p) => p.name === name);
    if (v === undefined) log.no(paths, `${name} ${show(s)}: ${LIST}`);
    else if (name === 'groups') {
      if (Number.isInteger(v) && (v as number) >= 1) {
        patch.K = v as number;
        log.ok(paths, `groups ${v}`);
      } else log.no(paths, `groups ${v}: K is a whole number from 1`);
    } else if (own) {
      if (v === own.default) log.ok(paths, `${name} ${v}`);
      else log.no(paths, `${name} ${v}: the lab's Channel Merging has no ${name} control (it uses ${own.default})`);
    } else if ((name === 'lambda' || name === 'density') && reads(name) && typeof v === 'number') {
      if (name === 'lambda') patch.lambda = v;
      else patch.density = v;
      log.ok(paths, `${name} ${v}`);
    } else if (!groupMethod) log.no(paths, `${name} ${v}: a parameter of ${innerName}, which the lab does not offer`);
    else if (!inner) log.no(paths, `${name} ${v}: ${innerName} reads no parameters`);
    else innerDefault(c, inner, name, v, paths, innerName);
  }
  const unset = (name: string, key: 'K' | 'lambda' | 'density', v: number) => {
    if (top.has(name)) return;
    patch[key] = v;
    if (st.channel[key] !== v) c.defaults.push(`${name} ${v}`);
  };
  const def = (name: string) => inner?.params.find((p) => p.name === name)?.default as number;
  unset('groups', 'K', CHANNEL_PARAMS.find((p) => p.name === 'groups')!.default as number);
  if (reads('lambda')) unset('lambda', 'lambda', def('lambda'));
  if (reads('density')) unset('density', 'density', def('density'));
  st.setChannel(patch);
  routedArithmetic(c, "the lab's Channel Merging stores its groups in float32 (it has no dtype control)");
  for (const name of Object.keys(recipe.sliceParameters ?? {})) log.no(`sliceParameters.${name}`, `${name} (slices[0].parameters): Channel Merging reads the top-level parameters only`);
}
