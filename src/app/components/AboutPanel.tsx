/** About merge-lab and the demo data's CC BY 4.0 attribution (required wherever the data ships). */
import { useLabStore } from '../store/index.js';
import { DIGITS_FILE, DIGITS_URL } from '../demo/urls.js';

export function AboutPanel() {
  const attribution = useLabStore((s) => s.demo.attribution);
  return (
    <>
      <h2>About</h2>
      <p>
        merge-lab combines fine-tuned checkpoints of one base model into a single model without retraining, with the methods
        and parameter names of <a href="https://github.com/arcee-ai/mergekit">mergekit</a>. Everything runs in this page; no
        file leaves your machine.
      </p>
      <h3>Demo data</h3>
      <p className="attribution" aria-label="Data attribution">
        The embedded demo uses the UCI “Optical Recognition of Handwritten Digits” data set by E. Alpaydin and C. Kaynak (1998),
        from the <a href="https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits">UCI Machine Learning Repository</a>,
        as bundled with scikit-learn, under the{' '}
        <a href="https://creativecommons.org/licenses/by/4.0/">Creative Commons Attribution 4.0 International licence (CC BY 4.0)</a>. It
        ships unchanged as 8×8 images with their labels; the demo's tasks transform the images when they are used.
      </p>
      {attribution && <p className="attribution-manifest">As recorded in the demo's manifest: {attribution}</p>}
      <p>
        <a href={DIGITS_URL} download={DIGITS_FILE}>
          Download the data ({DIGITS_FILE})
        </a>
      </p>
    </>
  );
}
