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
      'Task arithmetic adds every expert’s task vector; the sweep shows the best λ (0.4–0.5 here, about 68% normalized) and how far the merge stays from the experts. Switch the method to TIES and set λ to 1: trimming each task vector to its largest 30% and electing one sign per weight lifts the normalized score by about ten points on this demo, to about 78%. (At λ 0.5 TIES scores below task arithmetic: it divides by the weights that agree, so its best λ is higher — its sweep shows it.)',
    hash: 'method=task_arithmetic&lambda=0.5&density=0.3&sweep=lambda',
  },
  {
    id: 'signs',
    title: 'Where signs conflict',
    story:
      'TIES at density 0.3. Move the density slider: keeping more of each task vector raises the share of weights where the experts disagree in sign (about half at 0.1, three quarters at 0.9 on this demo) and the mass the election throws away. The score does not follow the conflicts: it peaks near 0.3 — a harder trim throws away useful mass, a lighter one lets the conflicts in. Watch the sign-conflict bars climb while the accuracy rises, then falls.',
    hash: 'method=ties&lambda=1&density=0.3&sweep=density&cosines_hide=1&spectrum_hide=1',
  },
  {
    id: 'rank',
    title: 'How much rank is needed',
    story:
      'The singular values of each expert’s change to the hidden layer fall fast: a few directions hold most of the energy. Move the SVD rank slider and read how much energy each task keeps and how little the tasks’ top directions overlap — the reason low-rank task knowledge (Twin-Merging) works.',
    hash: 'method=task_arithmetic&lambda=0.5&tensor=hidden.weight&rank=4&conflicts_hide=1&sweep_hide=1',
  },
  {
    id: 'twin',
    title: 'Twin-Merging: shared plus a little of each',
    story:
      'One shared expert (task arithmetic at λ 0.3) plus each expert’s difference to it cut to rank 4, mixed per input by a small router. Slide the rank: rank 1 already beats every single merged model; by rank 8 the demo is within a point of the experts, at a fraction of their storage. Switch on Hard mode: a task with the same inputs as “invert” but other labels — the routing heatmap shows the router cannot tell them apart.',
    hash: 'method=twin_merging&twin.lambda=0.3&twin.rank=4&twin.temperature=1&conflicts_hide=1&cosines_hide=1',
  },
  {
    id: 'channels',
    title: 'Channel Merging: merge only what agrees',
    story:
      'Per output channel, the experts’ rows are clustered into K groups and merged only within a group. Move K from 1 (one merged model) to 5 (the experts themselves): the score climbs with storage, and the sign-conflict rate between rows that share a group stays far below the rate between rows put apart — the clustering keeps disagreeing rows out of each other’s way.',
    hash: 'method=channel_merging&channel.K=2&channel.method=ties&channel.lambda=1&channel.density=0.3&cosines_hide=1',
  },
];

export function findPreset(id: string | null | undefined): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
