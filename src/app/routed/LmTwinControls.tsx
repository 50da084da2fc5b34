/**
 * Twin-Merging's controls on the LM demo: the shared expert's λ (task arithmetic, as the paper), the
 * rank rule (a fixed rank or rank_ratio), the router (small or the paper's), its temperature and
 * oracle routing. The same TwinControls as the digits demo's panel; what the LM demo has no use for
 * (hard tasks, excluded tensors, energy shares) is not offered.
 */
import { useShallow } from 'zustand/react/shallow';
import { Checkbox, Slider } from '../components/fields.js';
import { useLabStore } from '../store/index.js';
import type { TwinControls } from '../store/types.js';
import { twinParam } from './methods.js';
import { TWIN_RANK_MAX } from './ranks-ahead.js';

export function LmTwinControls() {
  const { twin, setTwin } = useLabStore(useShallow((s) => ({ twin: s.twin, setTwin: s.setTwin })));
  return (
    <div className="controls" data-routed="twin_merging" data-lm-twin>
      <Slider id="twin-lambda" label="λ of the shared expert" spec={twinParam('lambda')} value={twin.lambda} onInput={(v, at) => setTwin({ lambda: v }, at)} />
      <p className="field">
        <label htmlFor="twin-rank-rule">Rank per matrix</label>{' '}
        <select id="twin-rank-rule" value={twin.useRatio ? 'ratio' : 'rank'} onChange={(e) => setTwin({ useEnergy: false, useRatio: e.target.value === 'ratio' })}>
          <option value="rank">a fixed rank</option>
          <option value="ratio">a fraction of min(m, n) (the paper code: 0.1)</option>
        </select>{' '}
        <span className="help">How far each expert&apos;s difference to the shared expert is cut; a matrix whose factors would be no smaller is kept whole.</span>
      </p>
      {twin.useRatio ? (
        <Slider id="twin-rank-ratio" label="rank_ratio" spec={twinParam('rank_ratio')} value={twin.rankRatio} onInput={(v, at) => setTwin({ rankRatio: v }, at)} format={(v) => v.toFixed(2)} />
      ) : (
        <Slider id="twin-rank" label="SVD rank" spec={twinParam('rank')} value={twin.rank} max={TWIN_RANK_MAX} onInput={(v, at) => setTwin({ rank: v }, at)} format={(v) => String(v)} />
      )}
      <p className="field">
        <label htmlFor="twin-router">Router</label>{' '}
        <select id="twin-router" value={twin.router} onChange={(e) => setTwin({ router: e.target.value as TwinControls['router'] })}>
          <option value="small">small: features → 32 → domains</option>
          <option value="paper">the paper&apos;s: features → 2× → 2× → domains, batch norm, dropout</option>
        </select>{' '}
        <span className="help">Trained on windows of each domain&apos;s validation text (a quarter held out to stop it), reading the mean of the shared expert&apos;s last hidden states over a window.</span>
      </p>
      <Slider id="twin-temperature" label="Router temperature" spec={twinParam('temperature')} value={twin.temperature} onInput={(v, at) => setTwin({ temperature: v }, at)} />
      <Checkbox
        id="twin-oracle"
        label="Oracle routing"
        checked={twin.oracle}
        help="Send every domain window wholly to its own domain's expert instead of the router's weights (the mixed windows, which have no domain, stay routed)."
        onChange={(v) => setTwin({ oracle: v })}
      />
    </div>
  );
}
