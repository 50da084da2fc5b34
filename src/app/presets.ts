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
      'Task arithmetic adds every expert’s task vector; the sweep shows the best λ (0.4–0.5 here, about 70% normalized on the validation split, where every slider here moves) and how far the merge stays from the experts. Switch the method to TIES and set λ to 1: trimming each task vector to its largest 30% and electing one sign per weight lifts the normalized score by about nine points on this demo, to about 79%. (At λ 0.5 TIES scores below task arithmetic: it divides by the weights that agree, so its best λ is higher — its sweep shows it.)',
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
      'The singular values of each expert’s change to the hidden layer (hidden.weight, 1024 × 64) fall fast: at rank 1 the median task keeps about 40% of its energy, at rank 4 about 80%, and 90% needs rank 7 of 64. Move the SVD rank slider and read the caption: the energy kept climbs quickly, then flattens. The overlap heatmap shows how little the tasks’ top directions share: at rank 4 two tasks overlap about 0.15 on average (1 would be the same directions, 0 none). Each task’s change is low-rank and mostly its own — the room Twin-Merging’s per-task low-rank parts use.',
    hash: 'method=task_arithmetic&lambda=0.5&tensor=hidden.weight&rank=4&conflicts_hide=1&sweep_hide=1',
  },
  {
    id: 'twin',
    title: 'Twin-Merging: shared plus a little of each',
    story:
      'One shared expert (task arithmetic at λ 0.3) plus each expert’s difference to it cut to rank 4, mixed per input by a small router. Slide the SVD rank and read the score (on the validation split, as every slider here; the box under the controls shows the held-out test score) and the chart of accuracy and storage against rank: at rank 1 it is already about 89% normalized, above the single merged models of the other lessons (task arithmetic about 70%, TIES about 79%); at rank 8 about 100% of the experts, at about 43% of their storage (the router apart). Switch on Hard mode: a sixth task with the same inputs as “invert” but other labels — the routing heatmap splits both tasks’ inputs about half and half between them, because the router cannot tell them apart, and the hard task’s score with the router falls far below its score with oracle routing.',
    hash: 'method=twin_merging&twin.lambda=0.3&twin.rank=4&twin.temperature=1&conflicts_hide=1&cosines_hide=1',
  },
  {
    id: 'channels',
    title: 'Channel Merging: merge only what agrees',
    story:
      'Per output channel, the experts’ rows are grouped into K groups by k-means on their directions and merged (TIES) only within a group. Move K from 1 (one merged model: about 79% on the validation split, TIES’s score) to 5 (each expert its own group: 100%): the score climbs with storage — about 79, 96, 99, 99.6, 100% while the package grows from about 21% to a little over the experts’ own size (the router apart). The chart’s sign-conflict part shows why: the sign-conflict rate between rows that share a group is less than half the rate between rows put apart (at K = 2 about 30% against 64%), and well under the rate inside random groups of the same sizes (about 48%, the all-pairs rate) — the grouping keeps disagreeing rows out of each other’s way.',
    hash: 'method=channel_merging&channel.K=2&channel.method=ties&channel.lambda=1&channel.density=0.3&cosines_hide=1',
  },
];

export function findPreset(id: string | null | undefined): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
