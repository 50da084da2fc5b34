/** Entry point of the lab's single-page app. The demo starts downloading before the first render. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { useLabStore } from './store/index.js';
import './app.css';

void useLabStore.getState().loadDemo();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
