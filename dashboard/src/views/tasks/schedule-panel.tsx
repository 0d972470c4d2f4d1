import { useState } from 'react';
import { ScheduleBatchForm, ScheduleOneForm, type ScheduleFormProps } from './schedule-forms';

type Mode = 'batch' | 'one';

/** The two ways to create tasks, as tabs (arrow keys move between them, as the ARIA tabs pattern says). */
export function SchedulePanel(props: ScheduleFormProps) {
  const [mode, setMode] = useState<Mode>('batch');
  const tabs: Array<{ mode: Mode; label: string }> = [
    { mode: 'batch', label: 'Batch' },
    { mode: 'one', label: 'One task' },
  ];
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    const next = mode === 'batch' ? 'one' : 'batch';
    setMode(next);
    document.getElementById(`schedule-tab-${next}`)?.focus();
  };
  return (
    <section className="card schedule-panel" aria-labelledby="schedule-heading">
      <div className="card-header">
        <h2 id="schedule-heading">Schedule</h2>
        <div className="tabs" role="tablist" aria-label="What to schedule" onKeyDown={onKeyDown}>
          {tabs.map((tab) => (
            <button key={tab.mode} id={`schedule-tab-${tab.mode}`} type="button" role="tab" className="tab"
              aria-selected={mode === tab.mode} aria-controls="schedule-tabpanel" tabIndex={mode === tab.mode ? 0 : -1}
              onClick={() => setMode(tab.mode)}>
              {tab.label}
            </button>
          ))}
        </div>
      </div>
      <div id="schedule-tabpanel" role="tabpanel" aria-labelledby={`schedule-tab-${mode}`}>
        {mode === 'batch' ? <ScheduleBatchForm {...props} /> : <ScheduleOneForm {...props} />}
      </div>
    </section>
  );
}
