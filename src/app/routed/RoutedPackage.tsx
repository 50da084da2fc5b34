/**
 * "Build package" for a routed method: the worker builds the package at the current settings —
 * on the demo with its trained router, on the user's checkpoints from the weights alone — and its
 * files (twin.json or channel.json first, merge-recipe.yml last) are offered as downloads.
 */
import { useShallow } from 'zustand/react/shallow';
import { ErrorLine } from '../components/fields.js';
import { formatBytes, formatMs } from '../format.js';
import { useLabStore } from '../store/index.js';
import { findRoutedMethod } from './methods.js';

export function RoutedPackage() {
  const { pkg, method, build, canBuild, source } = useLabStore(
    useShallow((s) => ({
      pkg: s.routedPackage,
      method: s.method,
      build: s.buildRoutedPackage,
      source: s.source,
      canBuild: s.engine.status !== 'failed' && (s.source === 'mine' ? s.dropped.some((m) => m.status === 'ready') : s.engine.demo.status === 'ready'),
    })),
  );
  const label = findRoutedMethod(method)?.label ?? method;
  const busy = pkg.status === 'building';
  const total = pkg.files?.reduce((n, f) => n + f.bytes, 0) ?? 0;
  return (
    <div className="job" data-package-state={pkg.status} aria-live="polite">
      <p className="buttons">
        <button type="button" onClick={() => void build()} disabled={!canBuild || busy}>
          Build package
        </button>{' '}
        {busy && <progress aria-label="Package progress" max={pkg.progress?.total || 1} value={pkg.progress?.done ?? 0} />}
      </p>
      {pkg.status === 'idle' && (
        <p className="help">
          {source === 'mine'
            ? `Build the ${label} package from your checkpoints: the shared part and each task's part, without a router (there is no data to train one on).`
            : `Build the ${label} package at these settings, with the router trained on the demo's validation split.`}
        </p>
      )}
      {busy && <p>Building the {label} package{pkg.progress ? `: tensor ${pkg.progress.done} of ${pkg.progress.total}` : '…'}</p>}
      {pkg.status === 'error' && pkg.error && <ErrorLine error={pkg.error} />}
      {pkg.status === 'ready' && pkg.files && (
        <>
          <p className="status ok">
            {label} package: {pkg.files.length} files, {formatBytes(total)}
            {pkg.milliseconds !== undefined ? ` in ${formatMs(pkg.milliseconds)}` : ''}.
          </p>
          {pkg.warnings && pkg.warnings.length > 0 && (
            <ul className="warnings" aria-label="Package warnings">
              {pkg.warnings.map((w, i) => (
                <li key={i}>{w}</li>
              ))}
            </ul>
          )}
          <ul className="downloads" aria-label="Package files">
            {pkg.files.map((f) => (
              <li key={f.name}>
                <a href={f.url} download={f.name} data-file={f.name}>
                  Download {f.name}
                </a>{' '}
                <span className="help">{formatBytes(f.bytes)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
