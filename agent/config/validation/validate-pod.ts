/** A decoded Pod document -> a defaulted, validated pod, or the field errors that stop it. */
import type { Pod } from '../../../common/api/types.js';
import { withApiDefaults } from '../pod-defaults.js';
import { formatIssues, type FieldError } from './format-issues.js';
import { podSchema } from './pod-schema.js';

export type PodValidation = { ok: true; pod: Pod } | { ok: false; errors: FieldError[] };

export function validatePod(object: Record<string, unknown>): PodValidation {
  const parsed = podSchema.safeParse(object, { reportInput: true });
  if (!parsed.success) return { ok: false, errors: formatIssues(parsed.error.issues) };
  return { ok: true, pod: withApiDefaults(object as Pod) };
}
