/**
 * Per-task accuracy beside each task's own expert, as the live score and the routed score list
 * them: one row per task, one column per way of merging, values in percent.
 */
export interface TaskScoresProps {
  readonly tasks: readonly string[];
  readonly label: (task: string) => string;
  /** Column heading → the value per task (in `tasks` order), in percent. */
  readonly columns: readonly { readonly name: string; readonly values: readonly number[] | undefined }[];
}

export function TaskScores({ tasks, label, columns }: TaskScoresProps) {
  return (
    <table className="grid" aria-label="Accuracy per task">
      <thead>
        <tr>
          <th scope="col">task</th>
          {columns.map((c) => (
            <th key={c.name} scope="col">
              {c.name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {tasks.map((t, i) => (
          <tr key={t} data-task={t}>
            <th scope="row">{label(t)}</th>
            {columns.map((c) => (
              <td key={c.name} className="num">
                {c.values?.[i]?.toFixed(1)}%
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
