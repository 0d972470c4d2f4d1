import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import { ToastProvider } from './components/toasts';
import { LiveProvider } from './live/live-context';
import { StatsProvider } from './stats/stats-context';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ToastProvider>
      <LiveProvider>
        <StatsProvider>
          <App />
        </StatsProvider>
      </LiveProvider>
    </ToastProvider>
  </StrictMode>,
);
