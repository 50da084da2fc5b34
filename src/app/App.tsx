/**
 * The lab's shell: the engine's status bar, the Models panel (the embedded demo, loaded as the
 * page opens), the method catalogue and the About panel as tabs, the Merge panel and the charts.
 * Presentation mode and the URL's `*_hide` flags decide what is drawn.
 */
import { ChartsPanel } from './charts/ChartsPanel.js';
import { AboutPanel } from './components/AboutPanel.js';
import { PresetPicker, PresetStory } from './components/Presets.js';
import { useHidden } from './presentation.js';
import { useLabStore } from './store/index.js';
import { MergePanel } from './components/MergePanel.js';
import { MethodsPanel } from './components/MethodsPanel.js';
import { ModelsPanel } from './components/ModelsPanel.js';
import { StatusBar } from './components/StatusBar.js';
import { Tabs, type TabDef } from './components/Tabs.js';

const TABS: readonly TabDef[] = [
  { id: 'models', label: 'Models', render: () => <ModelsPanel /> },
  { id: 'methods', label: 'Methods', render: () => <MethodsPanel /> },
  { id: 'about', label: 'About', render: () => <AboutPanel /> },
];

export function App() {
  const present = useLabStore((s) => s.present);
  const hide = useHidden();
  return (
    <div className={present ? 'shell present' : 'shell'}>
      <header>
        <h1>merge-lab</h1>
        <p>An interactive lab for model merging: combine fine-tuned checkpoints of one base model into one model without retraining.</p>
        <PresetPicker />
      </header>
      {!hide('status') && <StatusBar />}
      <PresetStory />
      <main>
        {/* Controls beside the charts they move: a slider and its effect stay in view together. */}
        <div className="workspace">
          <MergePanel />
          <ChartsPanel />
        </div>
        {!hide('tabs') && <Tabs tabs={TABS} />}
      </main>
      <footer>
        <p>Demo data: UCI Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), CC BY 4.0 — see About.</p>
      </footer>
    </div>
  );
}
