/**
 * The language-model lab's texts in the Models panel: each dropped text file is a task, listed with
 * its size, the tokens it has (once scored), the expert it is scored against (matched by name, or
 * picked) and its status; a bad file shows its error on its own row. Above them, whether the base
 * is a language model the lab scores, and why not when it is not.
 */
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatCount } from '../format.js';
import { taskExpert } from '../lm/task-experts.js';
import { labExperts } from '../store/lm-lab-slice.js';
import { useLabStore } from '../store/index.js';
import { useDroppedPath } from '../models/dropped-path.js';
import type { LmModelInfo } from '../store/types.js';

function ModelLine({ model, texts }: { model: LmModelInfo; texts: number }) {
  const droppedPath = useDroppedPath();
  if (model.status === 'checking') return <p className="help" data-lm-model="checking">Reading the base&apos;s config.json and tokenizer…</p>;
  if (model.status === 'ready' && model.summary) {
    const m = model.summary;
    return (
      <p className="help" data-lm-model="ready">
        The base <code>{m.base}</code> is a {m.modelType} language model ({formatCount(m.parameters)} parameters, {m.layers} layers, tokenizer{' '}
        {m.tokenizer === 'bytes' ? 'UTF-8 bytes' : <code>{droppedPath(m.tokenizer)}</code>}): each text is scored with the base, each expert and the merge, in windows of {m.context} tokens
        (see &quot;Language-model evaluation&quot; beside the charts).
      </p>
    );
  }
  if (model.status === 'unsupported' && model.error) {
    // Plain weights without texts are not a fault: the line says why no text is scored, without an alarm.
    if (texts === 0) {
      return (
        <p className="help" data-lm-model="unsupported">
          No language-model evaluation for these checkpoints: <strong>{model.error.code}</strong> {model.error.message}
        </p>
      );
    }
    return (
      <p className="status error" role="alert" data-lm-model="unsupported">
        The texts cannot be scored: <strong>{model.error.code}</strong> {model.error.message}
      </p>
    );
  }
  return texts > 0 ? (
    <p className="help" data-lm-model="idle">
      The texts are scored once a base is chosen whose config.json is a Llama, Mistral, Qwen2 or GPT-2 language model.
    </p>
  ) : null;
}

export function LmTexts() {
  const { texts, dropped, chosen, model, shown, setTextExpert, removeText } = useLabStore(
    useShallow((s) => ({ texts: s.lmTexts, dropped: s.dropped, chosen: s.lmExperts, model: s.lmModel, shown: s.lmEval.shown?.data.answer, setTextExpert: s.setTextExpert, removeText: s.removeText })),
  );
  const experts = labExperts(dropped);
  return (
    <section className="lm-texts" aria-label="Texts">
      <ModelLine model={model} texts={texts.length} />
      {texts.length === 0 ? (
        <p className="help">
          Drop text files beside the models (<code>.txt</code>, <code>.md</code> or source code, one per task, named like the expert fine-tuned for it) to see how
          the merged language model does on each.
        </p>
      ) : (
        <table className="grid" aria-label="Texts">
          <caption>Texts — one task each, scored with the language model</caption>
          <thead>
            <tr>
              <th scope="col">text</th>
              <th scope="col">size</th>
              <th scope="col">tokens</th>
              <th scope="col">its expert</th>
              <th scope="col">status</th>
              <th scope="col">remove</th>
            </tr>
          </thead>
          <tbody>
            {texts.map((t) => {
              const { expert, how } = taskExpert(t.name, chosen[t.id], experts);
              const tokens = shown?.tasks.find((x) => x.name === t.id)?.textTokens;
              return (
                <tr key={t.id} data-text={t.id} data-status={t.status} data-expert={expert ?? ''} className={t.status === 'error' ? 'row-error' : undefined}>
                  <th scope="row">
                    <code>{t.id}</code>
                  </th>
                  <td className="num" title={`${formatCount(t.bytes)} bytes`}>
                    {formatBytes(t.bytes)}
                  </td>
                  <td className="num">{tokens !== undefined ? formatCount(tokens + 1) : ''}</td>
                  <td>
                    {t.status === 'ready' && (
                      <>
                        <select aria-label={`Expert of ${t.id}`} value={expert ?? ''} onChange={(e) => setTextExpert(t.id, e.target.value === '' ? null : e.target.value)}>
                          <option value="">none (no gain)</option>
                          {experts.map((id) => (
                            <option key={id} value={id}>
                              {id}
                            </option>
                          ))}
                        </select>
                        {how === 'name' && <span className="help"> matched by name</span>}
                      </>
                    )}
                  </td>
                  <td className="wrap">
                    {t.status === 'loading' && <span className="status loading">reading…</span>}
                    {t.status === 'ready' && <span className="status ok">ready</span>}
                    {t.status === 'error' && (
                      <span className="status error" role="alert">
                        <strong>{t.error?.code ?? 'ERROR'}</strong> {t.error?.message ?? 'This file could not be read.'}
                      </span>
                    )}
                  </td>
                  <td className="actions">
                    <button type="button" aria-label={`Remove ${t.id}`} onClick={() => removeText(t.id)}>
                      ✕
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
