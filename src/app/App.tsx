/**
 * The lab's shell: the engine's status bar, the Models panel (the embedded demo, loaded as the
 * page opens), the method catalogue and the About panel as tabs, and the Merge panel.
 */
import { AboutPanel } from './components/AboutPanel.js';
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
  return (
    <div className="shell">
      <header>
        <h1>merge-lab</h1>
        <p>An interactive lab for model merging: combine fine-tuned checkpoints of one base model into one model without retraining.</p>
      </header>
      <StatusBar />
      <main>
        <Tabs tabs={TABS} />
        <MergePanel />
      </main>
      <footer>
        <p>Demo data: UCI Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), CC BY 4.0 — see About.</p>
      </footer>
    </div>
  );
}
