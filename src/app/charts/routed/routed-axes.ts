/** What Twin-Merging's and Channel Merging's charts share about their scores: the axis and the split's name. */

/**
 * The normalized score's axis: 0–100 %, reaching past 100 when a router beats the experts by a hair
 * (100.06 % at rank 8 on the demo), with round ticks (recharts would label the data's maximum, and cut it).
 */
export const SCORE_DOMAIN: [number, (max: number) => number] = [0, (max) => Math.max(100, max)];
export const SCORE_TICKS = [0, 25, 50, 75, 100];

/** The split a routed view scored and routed (validation unless the test split is asked for), as its text names it. */
export const SPLIT_NAME = { validation: 'validation', test: 'held-out test' } as const;
