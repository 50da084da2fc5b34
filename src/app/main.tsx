/**
 * Entry point of the lab's single-page app. The demo starts downloading and the engine worker
 * starting before the first render; the worker gets the demo as soon as its files are in. A link
 * to the language-model demo (#demo=lm) loads that one instead; the digits demo then loads when
 * it is chosen.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { installTestHook } from './engine/test-hook.js';
import { useLabStore } from './store/index.js';
import { syncUrlHash } from './url-state.js';
import './app.css';

// The URL's state first, so the first live score is already for it.
syncUrlHash();
const store = useLabStore.getState();
store.startEngine();
if (store.source !== 'lm') void store.loadDemo();
installTestHook(() => useLabStore.getState().engineClient(), () => useLabStore.getState().liveEngine(), useLabStore);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
