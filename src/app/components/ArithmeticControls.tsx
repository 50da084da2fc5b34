/**
 * How your checkpoints' merge computes: the recipe's `dtype` (or the dtype the files store, as
 * mergekit does without one) and, for 16-bit work, mergekit's arithmetic (every step rounded, its
 * bytes) or float32 rounded once (more precise, other bytes). The demo always computes in float32.
 */
import { useShallow } from 'zustand/react/shallow';
import type { RecipeDtype, RecipeMath } from '../../engine/recipe/types.js';
import { useLabStore } from '../store/index.js';

const DTYPES: readonly { value: RecipeDtype | ''; label: string }[] = [
  { value: '', label: 'as stored (no dtype)' },
  { value: 'bfloat16', label: 'bfloat16' },
  { value: 'float16', label: 'float16' },
  { value: 'float32', label: 'float32' },
];

export function ArithmeticControls() {
  const { dtype, math, setArithmetic } = useLabStore(useShallow((s) => ({ dtype: s.dtype, math: s.math, setArithmetic: s.setArithmetic })));
  return (
    <fieldset className="arithmetic" aria-label="Arithmetic">
      <legend>Arithmetic</legend>
      <label>
        Compute in{' '}
        <select value={dtype ?? ''} onChange={(e) => setArithmetic({ dtype: (e.target.value || undefined) as RecipeDtype | undefined })}>
          {DTYPES.map((d) => (
            <option key={d.value} value={d.value}>
              {d.label}
            </option>
          ))}
        </select>
      </label>{' '}
      <label>
        16-bit math{' '}
        <select value={math} onChange={(e) => setArithmetic({ math: e.target.value as RecipeMath })}>
          <option value="mergekit">as mergekit: every step rounded (its bytes)</option>
          <option value="float32">float32, rounded once (more precise)</option>
        </select>
      </label>
      <p className="help">
        mergekit computes a bfloat16 or float16 recipe one operation at a time in that dtype; so does the lab by default, and its file then equals
        mergekit&apos;s byte for byte. Float32 rounded once is closer to exact arithmetic, but a trim may then keep other entries than mergekit&apos;s.
      </p>
    </fieldset>
  );
}
