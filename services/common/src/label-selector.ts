/**
 * Equality-based Kubernetes label selectors written "k=v,k=v" (WORKER_SELECTOR). Only equality is
 * supported: the selector decides which pods the scheduler may delete, so it must name exact labels, and an
 * empty selector (every pod) is refused.
 */

export type Labels = Readonly<Record<string, string>>;

// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
const NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const PREFIX = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*';
const KEY = new RegExp(`^(${PREFIX}/)?${NAME}$`);
const VALUE = new RegExp(`^(${NAME})?$`);

/** The labels of `text`, or a message saying what is wrong with it. */
export function parseLabelSelector(text: string): { labels: Labels } | { problem: string } {
  const labels: Record<string, string> = {};
  const terms = text.split(',').map((term) => term.trim()).filter((term) => term !== '');
  if (terms.length === 0) return { problem: 'must name at least one label, such as app.kubernetes.io/component=worker' };
  for (const term of terms) {
    const match = /^([^=!]+)={1,2}([^=]*)$/.exec(term);
    if (!match) return { problem: `"${term}" is not key=value (only equality selectors are supported)` };
    const [key, value] = [match[1].trim(), match[2].trim()];
    if (!KEY.test(key)) return { problem: `"${key}" is not a valid label key` };
    if (!VALUE.test(value)) return { problem: `"${value}" is not a valid label value` };
    if (key in labels && labels[key] !== value) return { problem: `"${key}" is given twice with different values` };
    labels[key] = value;
  }
  return { labels };
}

/** The selector as the Kubernetes API takes it in `labelSelector`, keys sorted. */
export function formatLabelSelector(labels: Labels): string {
  return Object.keys(labels).sort().map((key) => `${key}=${labels[key]}`).join(',');
}

/** True when `actual` carries every label of `selector` with the same value. */
export function matchesLabels(selector: Labels, actual: Readonly<Record<string, string>> | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => actual?.[key] === value);
}
