/**
 * The Merge panel's controls for the routed methods: Twin-Merging's λ of the shared expert, rank
 * (or rank_ratio, or an energy share), the tensors kept out of the merge, the router (the paper's or
 * the small one), temperature, top-k, oracle and hard mode, mixed inputs; Channel Merging's K, the
 * grouping, the within-group method and its λ / density. Both score on the validation split while
 * sliders move; a box asks for the held-out test split. Ranges and help come from the engine's schemas.
 */
import { useShallow } from 'zustand/react/shallow';
import { findMethod } from '../../engine/methods/catalog.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import { Checkbox, Slider } from '../components/fields.js';
import { useLabStore } from '../store/index.js';
import type { ChannelControls, TwinControls } from '../store/types.js';
import { GROUP_METHODS, channelParam, twinParam, type GroupMethodId } from './methods.js';
import { TWIN_RANK_MAX } from './ranks-ahead.js';

export function TwinControlsPanel() {
  const { twin, setTwin, tasks, source } = useLabStore(useShallow((s) => ({ twin: s.twin, setTwin: s.setTwin, tasks: s.engine.demo.tasks, source: s.source })));
  const T = (tasks?.length ?? 5) + (twin.hard ? 1 : 0);
  const tiesDensity = groupParam('ties', 'density');
  return (
    <div className="controls" data-routed="twin_merging">
      <p className="field">
        <label htmlFor="twin-shared-method">Shared expert method</label>{' '}
        <select id="twin-shared-method" value={twin.sharedMethod} onChange={(e) => setTwin({ sharedMethod: e.target.value as TwinControls['sharedMethod'] })}>
          <option value="task_arithmetic">task arithmetic</option>
          <option value="ties">TIES</option>
        </select>{' '}
        <span className="help">How θ* is merged from every expert (the paper uses task arithmetic).</span>
      </p>
      {twin.sharedMethod === 'ties' && tiesDensity && (
        <Slider id="twin-shared-density" label="Density of the shared expert" spec={tiesDensity} value={twin.sharedDensity} onInput={(v, at) => setTwin({ sharedDensity: v }, at)} />
      )}
      <Slider id="twin-lambda" label="λ of the shared expert" spec={twinParam('lambda')} value={twin.lambda} onInput={(v, at) => setTwin({ lambda: v }, at)} />
      <p className="field">
        <label htmlFor="twin-rank-rule">Rank per matrix</label>{' '}
        <select
          id="twin-rank-rule"
          value={twin.useEnergy ? 'energy' : twin.useRatio ? 'ratio' : 'rank'}
          onChange={(e) => setTwin({ useEnergy: e.target.value === 'energy', useRatio: e.target.value === 'ratio' })}
        >
          <option value="rank">a fixed rank</option>
          <option value="ratio">a fraction of min(m, n) (the paper code: 0.1)</option>
          <option value="energy">an energy share</option>
        </select>{' '}
        <span className="help">How far each expert's difference to θ* is cut; a matrix whose factors would be no smaller is kept whole.</span>
      </p>
      {twin.useEnergy ? (
        <Slider id="twin-energy" label="Energy share" spec={twinParam('energy')} value={twin.energy} onInput={(v, at) => setTwin({ energy: v }, at)} format={(v) => `${(100 * v).toFixed(0)}%`} />
      ) : twin.useRatio ? (
        <Slider id="twin-rank-ratio" label="rank_ratio" spec={twinParam('rank_ratio')} value={twin.rankRatio} onInput={(v, at) => setTwin({ rankRatio: v }, at)} format={(v) => v.toFixed(2)} />
      ) : (
        <Slider id="twin-rank" label="SVD rank" spec={twinParam('rank')} value={twin.rank} max={TWIN_RANK_MAX} onInput={(v, at) => setTwin({ rank: v }, at)} format={(v) => String(v)} />
      )}
      <Checkbox
        id="twin-exclude-head"
        label="Keep heads out (exclude: head)"
        checked={twin.exclude.includes('head')}
        help="Tensors whose name contains “head” are not merged or compressed: each task keeps its expert's own, used for inputs routed to it (the paper's code does this for classifier heads)."
        onChange={(v) => setTwin({ exclude: toggled(twin.exclude, 'head', v) })}
      />
      <Checkbox
        id="twin-exclude-bias"
        label="Keep biases out (exclude: bias)"
        checked={twin.exclude.includes('bias')}
        help="The same for every bias (the paper's code excludes them too)."
        onChange={(v) => setTwin({ exclude: toggled(twin.exclude, 'bias', v) })}
      />
      {/* The router needs data: with the user's checkpoints there is none to train it on. */}
      {source === 'demo' && (
        <>
          <p className="field">
            <label htmlFor="twin-router">Router</label>{' '}
            <select id="twin-router" value={twin.router} onChange={(e) => setTwin({ router: e.target.value as TwinControls['router'] })}>
              <option value="small">small: features → 32 → tasks (about a second)</option>
              <option value="paper">the paper's: features → 2× → 2× → tasks, batch norm, dropout (about a minute on wasm)</option>
            </select>{' '}
            <span className="help">Trained on three quarters of the validation split, stopped on the other quarter (the routing chart draws both curves).</span>
          </p>
          <Slider id="twin-temperature" label="Router temperature" spec={twinParam('temperature')} value={twin.temperature} onInput={(v, at) => setTwin({ temperature: v }, at)} />
          <Slider
            id="twin-topk"
            label="Router top-k"
            spec={twinParam('topK')}
            value={twin.topK ?? T}
            max={T}
            onInput={(v, at) => setTwin({ topK: v >= T ? undefined : v }, at)}
            format={(v) => (v >= T ? `all ${T}` : String(v))}
          />
          <Checkbox
            id="twin-oracle"
            label="Oracle routing"
            checked={twin.oracle}
            help="Route every input to its true task (the upper bound a router can reach) instead of the trained router."
            onChange={(v) => setTwin({ oracle: v })}
          />
          <Checkbox
            id="twin-hard"
            label="Hard mode"
            checked={twin.hard}
            help="Add a task with the inverted-digit inputs but labels shifted by 3: the router sees the same inputs for two tasks and must err on one of them."
            onChange={(v) => setTwin({ hard: v })}
          />
          <Checkbox
            id="twin-mixed"
            label="Mixed inputs"
            checked={twin.mixed}
            help="Also score blends of two tasks' views of a digit, where the router's weights spread: soft routing (its weights) against hard routing (its top task)."
            onChange={(v) => setTwin({ mixed: v })}
          />
          <Checkbox
            id="twin-test"
            label="Score on the held-out test split"
            checked={twin.testScore}
            help="Sliders move on the validation split (choosing on test would tune on it); tick to see the test score of the settings you chose."
            onChange={(v) => setTwin({ testScore: v })}
          />
        </>
      )}
    </div>
  );
}

/** `list` with `item` in or out. */
function toggled(list: readonly string[], item: string, on: boolean): string[] {
  return on ? [...new Set([...list, item])] : list.filter((x) => x !== item);
}

/** The within-group method's parameter schema entry (its own ranges and help). */
function groupParam(id: GroupMethodId, name: string): ParamSpec | undefined {
  return findMethod(id === 'average' ? 'linear' : id)?.params.find((p) => p.name === name);
}

export function ChannelControlsPanel() {
  const { channel, setChannel, tasks, source, dropped, domains } = useLabStore(
    useShallow((s) => ({ channel: s.channel, setChannel: s.setChannel, tasks: s.engine.demo.tasks, source: s.source, dropped: s.dropped, domains: s.lmDemo.domains })),
  );
  const T = source === 'mine' ? Math.max(1, dropped.filter((m) => m.role === 'expert' && m.status === 'ready').length) : source === 'lm' ? Math.max(1, domains.length) : (tasks?.length ?? 5);
  const lambda = groupParam(channel.groupMethod, 'lambda');
  const density = groupParam(channel.groupMethod, 'density');
  return (
    <div className="controls" data-routed="channel_merging">
      <Slider
        id="channel-k"
        label="Groups K"
        spec={channelParam('groups')}
        value={Math.min(channel.K, T)}
        min={1}
        max={T}
        step={1}
        onInput={(v, at) => setChannel({ K: v }, at)}
        format={(v) => `${v} of ${T}`}
      />
      <p className="field">
        <label htmlFor="channel-clustering">Grouping</label>{' '}
        <select id="channel-clustering" value={channel.clustering} onChange={(e) => setChannel({ clustering: e.target.value as ChannelControls['clustering'] })}>
          <option value="kmeans">k-means (our reading of the paper)</option>
          <option value="average_linkage">average linkage</option>
        </select>{' '}
        <span className="help">How each channel's rows are put into K groups by similarity (their directions).</span>
      </p>
      <p className="field">
        <label htmlFor="channel-group-method">Within-group method</label>{' '}
        <select id="channel-group-method" value={channel.groupMethod} onChange={(e) => setChannel({ groupMethod: e.target.value as GroupMethodId })}>
          {GROUP_METHODS.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label}
            </option>
          ))}
        </select>{' '}
        <span className="help">How the rows that share a group are merged.</span>
      </p>
      {density && <Slider id="channel-density" label="Density" spec={density} value={channel.density} onInput={(v, at) => setChannel({ density: v }, at)} />}
      {lambda && <Slider id="channel-lambda" label="λ" spec={lambda} value={channel.lambda} onInput={(v, at) => setChannel({ lambda: v }, at)} />}
      {source !== 'mine' && (
        <Checkbox
          id="channel-oracle"
          label="Oracle routing"
          checked={channel.oracle}
          help={
            source === 'lm'
              ? "Look every domain window's rows up for its own domain instead of the router's choice (the mixed windows, which have no domain, stay routed)."
              : "Look rows up for the true task of every input instead of the router's choice."
          }
          onChange={(v) => setChannel({ oracle: v })}
        />
      )}
      {source === 'demo' && (
        <>
          <Checkbox
            id="channel-test"
            label="Score on the held-out test split"
            checked={channel.testScore}
            help="Sliders move on the validation split (choosing on test would tune on it); tick to see the test score of the settings you chose."
            onChange={(v) => setChannel({ testScore: v })}
          />
        </>
      )}
    </div>
  );
}
