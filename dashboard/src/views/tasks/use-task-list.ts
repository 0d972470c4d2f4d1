import { useRef, useState } from 'react';
import type { TaskPage, TaskView } from '../../../../services/scheduler/src/api-types';
import { api } from '../../api/endpoints';
import { usePoll } from '../../hooks/use-poll';

export interface TaskFilter {
  status: string;
  q: string;
  /** Task name and queue, matched exactly; empty for any. */
  name: string;
  queue: string;
  order: 'asc' | 'desc';
}

/** The filter as GET /api/tasks takes it. */
function query(filter: TaskFilter) {
  return { status: filter.status, q: filter.q.trim(), name: filter.name.trim(), queue: filter.queue.trim(), order: filter.order };
}

export const PAGE_SIZE = 50;

export interface TaskList {
  tasks: TaskView[];
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore: () => Promise<void>;
  loadingMore: boolean;
  moreError: unknown;
  /** True while only the first page is shown: it then follows new events; once paged, it holds still. */
  following: boolean;
  refresh: () => void;
  refreshSoon: () => void;
}

/**
 * The task table's data: the first page, refreshed as events arrive, and further pages appended with the
 * API's keyset cursor (so page 100 costs the server what page 1 does).
 */
export function useTaskList(filter: TaskFilter): TaskList {
  const key = `${filter.status}|${filter.q}|${filter.name}|${filter.queue}|${filter.order}`;
  const [more, setMore] = useState<{ key: string; pages: TaskPage[]; loading: boolean; error?: unknown }>({ key, pages: [], loading: false });
  const morePages = more.key === key ? more.pages : [];
  const paged = useRef(false);
  paged.current = morePages.length > 0;
  const firstPage = useRef<TaskPage | undefined>(undefined);

  const first = usePoll(async (signal) => {
    // Once more pages are shown, refreshing page one would shift rows under the reader.
    if (paged.current && firstPage.current) return firstPage.current;
    return api.tasks({ ...query(filter), limit: PAGE_SIZE }, signal);
  }, { intervalMs: 10_000, minGapMs: 1500 }, key);
  firstPage.current = first.data;

  const pages = first.data ? [first.data, ...morePages] : [];
  const unique = new Map<string, TaskView>();
  for (const page of pages) for (const task of page.tasks) if (!unique.has(task.task_id)) unique.set(task.task_id, task);
  const nextCursor = pages.at(-1)?.next_cursor ?? null;

  const loadMore = async () => {
    if (!nextCursor) return;
    setMore({ key, pages: morePages, loading: true });
    try {
      const page = await api.tasks({ ...query(filter), limit: PAGE_SIZE, cursor: nextCursor });
      setMore((prev) => (prev.key === key ? { key, pages: [...morePages, page], loading: false } : prev));
    } catch (error) {
      setMore((prev) => (prev.key === key ? { key, pages: morePages, loading: false, error } : prev));
    }
  };

  return {
    tasks: [...unique.values()],
    loading: first.loading,
    error: first.error,
    hasMore: nextCursor !== null,
    loadMore,
    loadingMore: more.key === key && more.loading,
    moreError: more.key === key ? more.error : undefined,
    following: morePages.length === 0,
    refresh: () => {
      setMore({ key, pages: [], loading: false });
      paged.current = false;
      first.refresh();
    },
    refreshSoon: first.refreshSoon,
  };
}
