import type { JsonValue } from '../../../services/scheduler/src/api-types';

/** Indented JSON; a string stays as it is, since command tasks' results are their output text. */
export function formatJson(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/**
 * A task's payload or result under a heading. Either may be up to 256 KiB, so the block scrolls inside a bounded
 * height instead of stretching the page, and it can take keyboard focus to be scrolled without a mouse.
 */
export function JsonBlock({ title, value }: { title: string; value: JsonValue }) {
  return (
    <div className="output">
      <h3>{title}</h3>
      <pre className="json-block" tabIndex={0} aria-label={title}>{formatJson(value)}</pre>
    </div>
  );
}
