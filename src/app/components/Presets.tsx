/**
 * The preset picker and the chosen preset's story: a lecturer's starting points ("Task arithmetic
 * vs TIES", …), each a URL state with a few sentences on what to watch.
 */
import { useShallow } from 'zustand/react/shallow';
import { findPreset, PRESETS } from '../presets.js';
import { useLabStore } from '../store/index.js';
import { applyPreset } from '../url-state.js';

export function PresetPicker() {
  const preset = useLabStore((s) => s.preset);
  return (
    <p className="field preset-picker">
      <label htmlFor="preset">Preset</label>{' '}
      <select id="preset" value={preset ?? ''} onChange={(e) => (e.target.value ? applyPreset(e.target.value) : useLabStore.getState().setPreset(undefined))}>
        <option value="">— choose a lesson —</option>
        {PRESETS.map((p) => (
          <option key={p.id} value={p.id}>
            {p.title}
          </option>
        ))}
      </select>
    </p>
  );
}

export function PresetStory() {
  const { preset, setPreset } = useLabStore(useShallow((s) => ({ preset: s.preset, setPreset: s.setPreset })));
  const p = findPreset(preset);
  if (!p) return null;
  return (
    <aside className="preset-story" aria-label={`Preset: ${p.title}`}>
      <h2>{p.title}</h2>
      <p>{p.story}</p>
      <button type="button" onClick={() => setPreset(undefined)} aria-label="Close the preset's note">
        Close
      </button>
    </aside>
  );
}
