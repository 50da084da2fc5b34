/**
 * Ready-made lab states for teaching: each is a URL hash (so a preset is also a link to share)
 * and a few sentences saying what to look at.
 */
export interface Preset {
  readonly id: string;
  readonly title: string;
  readonly story: string;
  readonly hash: string;
}

export const PRESETS: readonly Preset[] = [
  {
    id: 'ta-vs-ties',
    title: 'Task arithmetic vs TIES',
    story:
      'Task arithmetic adds every expert’s task vector; the sweep shows the best λ and how far the merge stays from the experts. Switch the method to TIES: trimming each task vector to its largest 30% and electing one sign per weight lifts the normalized score by about ten points on this demo.',
    hash: 'method=task_arithmetic&lambda=0.5&density=0.3&sweep=lambda',
  },
  {
    id: 'signs',
    title: 'Where signs conflict',
    story:
      'TIES at density 0.3. Move the density slider: keeping more of each task vector raises the share of weights where the experts disagree in sign and the mass the election throws away — watch the sign-conflict bars and the accuracy move together.',
    hash: 'method=ties&lambda=1&density=0.3&sweep=density&cosines_hide=1&spectrum_hide=1',
  },
  {
    id: 'rank',
    title: 'How much rank is needed',
    story:
      'The singular values of each expert’s change to the hidden layer fall fast: a few directions hold most of the energy. Move the SVD rank slider and read how much energy each task keeps and how little the tasks’ top directions overlap — the reason low-rank task knowledge (Twin-Merging) works.',
    hash: 'method=task_arithmetic&lambda=0.5&tensor=hidden.weight&rank=4&conflicts_hide=1&sweep_hide=1',
  },
];

export function findPreset(id: string | null | undefined): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
