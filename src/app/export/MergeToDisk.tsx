/**
 * "Merge into a folder…" (Chromium: the folder picker) or "Merge to disk" (elsewhere: the browser's
 * own storage, then downloads): the merge written as it runs, for models too large to hold in the
 * page (issue 20, item 2). Its progress, cancel and budget are the Merge button's job's.
 */
import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { toAppError } from '../demo/errors.js';
import { isRoutedMethod } from '../routed/methods.js';
import { useLabStore } from '../store/index.js';
import { overBudgetShown } from '../store/job-shown.js';
import type { AppError, JobResult } from '../store/types.js';
import { ErrorLine } from '../components/fields.js';
import { chooseDiskTarget, diskTargetKind } from './disk-target.js';

export function MergeToDiskButton({ disabled }: { disabled: boolean }) {
  const { method, merge, overBudget } = useLabStore(useShallow((s) => ({ method: s.method, merge: s.merge, overBudget: overBudgetShown(s) })));
  const [error, setError] = useState<AppError>();
  const kind = diskTargetKind();
  if (!kind || isRoutedMethod(method)) return null;
  const start = async () => {
    setError(undefined);
    try {
      // Asked within the click: the folder picker needs the user's gesture.
      const target = await chooseDiskTarget(`merged-${method}`);
      await merge(target);
    } catch (e) {
      // The user closing the folder picker is no failure.
      if ((e as { name?: string }).name !== 'AbortError') setError(toAppError(e));
    }
  };
  return (
    <>
      <button
        type="button"
        disabled={disabled}
        onClick={() => void start()}
        title={
          kind === 'picked'
            ? 'Writes the merged model folder into a folder you choose while it merges: for models too large to hold in the page.'
            : "Writes the merged model into the browser's storage on disk while it merges, then offers its files as downloads: for models too large to hold in the page."
        }
      >
        {kind === 'picked' ? 'Merge into a folder…' : 'Merge to disk'}
      </button>
      {overBudget && (
        <span className="help" data-hint="merge-to-disk">
          {' '}
          {kind === 'picked' ? 'Merge into a folder…' : 'Merge to disk'} needs only the merge&apos;s working memory: the model goes to disk as it is made.
        </span>
      )}
      {error && <ErrorLine error={error} />}
    </>
  );
}

/** Where a merge written to disk went, and (from the browser's storage) its files to download. */
export function WrittenFiles({ result }: { result: JobResult }) {
  const w = result.writtenTo;
  if (!w) return null;
  return (
    <div className="model-folder" aria-label="Merged model folder" role="group" data-written-to={w.kind}>
      {w.kind === 'picked' ? (
        <p>
          Written into the folder {w.label} as it merged: {w.files.map((f) => f.name).join(', ')}.
        </p>
      ) : (
        <>
          <p>Written to the browser&apos;s storage on disk as it merged; each download streams from there:</p>
          <ul className="downloads">
            {w.files.map((f) => (
              <li key={f.name}>
                <a href={f.url} download={f.name}>
                  {f.name}
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
