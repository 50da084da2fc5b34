/**
 * The lab's shell: the engine's status bar; beside the charts (and a lesson's note, drawn with
 * them), a sidebar with the drop zone for one's own checkpoints and the Merge panel (sliders and
 * their effect in view together); below,
 * the Models panel (the embedded demo, loaded as the page opens), the method catalogue and the
 * About panel as tabs. Presentation mode and the URL's `*_hide` flags decide what is drawn.
 *
 * The charts (recharts) load as a chunk of their own once the shell is up: the page's first
 * script stays small, and the controls answer while the charts' code arrives.
 */
import { lazy, Suspense } from 'react';
import { AboutPanel } from './components/AboutPanel.js';
import { DropZone } from './components/DroppedModels.js';
import { useShallow } from 'zustand/react/shallow';
import { PresetPicker } from './components/Presets.js';
import { useHidden } from './presentation.js';
import { useLabStore } from './store/index.js';
import { MergePanel } from './components/MergePanel.js';
import { MethodsPanel } from './components/MethodsPanel.js';
import { ModelsPanel } from './components/ModelsPanel.js';
import { StatusBar } from './components/StatusBar.js';
import { Tabs, type TabDef } from './components/Tabs.js';

const ChartsPanel = lazy(() => import('./charts/ChartsPanel.js').then((m) => ({ default: m.ChartsPanel })));

const TABS: readonly TabDef[] = [
  { id: 'models', label: 'Models', render: () => <ModelsPanel /> },
  { id: 'methods', label: 'Methods', render: () => <MethodsPanel /> },
  { id: 'about', label: 'About', render: () => <AboutPanel /> },
];

/** Holds the charts' place while their chunk loads, so the layout does not jump when it arrives. */
function ChartsLoading() {
  return (
    <section className="charts-panel" aria-busy="true" aria-label="What the merge does">
      <h2>What the merge does</h2>
      <p className="help">Loading the charts…</p>
    </section>
  );
}

/** Presentation mode from the page itself (a lecturer on stage), as `#present=1` sets it: the hidden parts stay as they are. */
function PresentToggle() {
  const { present, hidden, setPresentation } = useLabStore(useShallow((s) => ({ present: s.present, hidden: s.hidden, setPresentation: s.setPresentation })));
  return (
    <button type="button" className="present-toggle" aria-pressed={present} onClick={() => setPresentation(!present, hidden)}>
      {present ? 'Leave presentation mode' : 'Presentation mode'}
    </button>
  );
}

export function App() {
  const present = useLabStore((s) => s.present);
  const hide = useHidden();
  return (
    <div className={present ? 'shell present' : 'shell'}>
      <header>
        <h1>merge-lab</h1>
        <p className="tagline">An interactive lab for model merging: combine fine-tuned checkpoints of one base model into one model without retraining.</p>
        <PresetPicker />
        <PresentToggle />
      </header>
      {!hide('status') && <StatusBar />}
      <main>
        {/* Controls beside the charts they move: a slider and its effect stay in view together. */}
        <div className="workspace">
          <aside className="sidebar" aria-label="Controls">
            {/* In view from the start (not under a tab); a lecture needs the story and the sliders instead. */}
            {!present && <DropZone />}
            <MergePanel />
          </aside>
          <Suspense fallback={<ChartsLoading />}>
            <ChartsPanel />
          </Suspense>
        </div>
        {!hide('tabs') && <Tabs tabs={TABS} />}
      </main>
      <footer>
        <p>Demo data: UCI Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), CC BY 4.0 — see About.</p>
      </footer>
    </div>
  );
}
