// The experiment id, defined once. Every layer that takes an experiment id
// (container_create, notebook_create/import, the session manager, the catalog)
// checks it with this schema, so an id one tool accepts is accepted by all.
import { z } from 'zod';

/** Longest experiment id: the shortest limit any consumer had (container labels, folder names). */
export const EXPERIMENT_ID_MAX = 64;

/**
 * A letter or digit, then letters, digits, `.`, `_`, `-`. The id names a
 * folder (`<root>/<id>`, `results/experiment_id=<id>/`) and a container label,
 * so no `/`, no leading `.` (no `..`, no hidden folders), no unicode, no spaces.
 */
export const EXPERIMENT_ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${EXPERIMENT_ID_MAX - 1}}$`);

/** The one message a refused id gets, wherever it is refused: the rule and how to comply. */
export const EXPERIMENT_ID_RULE = `experiment_id: 1-${EXPERIMENT_ID_MAX} characters from A-Z a-z 0-9 . _ -, starting with a letter or digit (e.g. "teacup-lhs")`;

export const ExperimentIdSchema = z.string().regex(EXPERIMENT_ID_PATTERN, EXPERIMENT_ID_RULE);

export function isExperimentId(id: unknown): id is string {
  return typeof id === 'string' && EXPERIMENT_ID_PATTERN.test(id);
}

/** Null when `id` is a valid experiment id, else the message naming the problem and the rule. */
export function experimentIdProblem(id: unknown): string | null {
  if (isExperimentId(id)) return null;
  return `invalid experiment_id ${JSON.stringify(id)}: ${EXPERIMENT_ID_RULE}`;
}

/** A fresh experiment id when the caller names none: `exp-` and 12 hex digits (no node:crypto: the UI bundles this file). */
export function newExperimentId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(6));
  return `exp-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
