/**
 * The lab's top-level tabs, following the WAI-ARIA tabs pattern: one tab stop, arrow keys and
 * Home/End move between tabs, each panel labelled by its tab.
 */
import { useRef, type KeyboardEvent, type ReactNode } from 'react';
import { useLabStore } from '../store/index.js';
import type { TabId } from '../store/types.js';

export interface TabDef {
  readonly id: TabId;
  readonly label: string;
  readonly render: () => ReactNode;
}

export function Tabs({ tabs }: { tabs: readonly TabDef[] }) {
  const tab = useLabStore((s) => s.tab);
  const setTab = useLabStore((s) => s.setTab);
  const refs = useRef(new Map<TabId, HTMLButtonElement>());

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const at = tabs.findIndex((t) => t.id === tab);
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const id = tabs[(next + tabs.length) % tabs.length]!.id;
    setTab(id);
    refs.current.get(id)?.focus();
  };

  return (
    <>
      <div role="tablist" aria-label="Lab views" className="tabs" onKeyDown={onKeyDown}>
        {tabs.map((t) => (
          <button
            key={t.id}
            ref={(el) => {
              if (el) refs.current.set(t.id, el);
              else refs.current.delete(t.id);
            }}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-controls={`panel-${t.id}`}
            aria-selected={t.id === tab}
            tabIndex={t.id === tab ? 0 : -1}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tabs.map((t) => (
        <section key={t.id} role="tabpanel" id={`panel-${t.id}`} aria-labelledby={`tab-${t.id}`} hidden={t.id !== tab} className="panel">
          {t.id === tab && t.render()}
        </section>
      ))}
    </>
  );
}
