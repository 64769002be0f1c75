/** zod issues -> field errors worded as the API server words them ("spec.containers[0].image: Required value"). */
import type { z } from 'zod';

export interface FieldError {
  /** Kubernetes field path, e.g. `spec.containers[0].ports[1].containerPort`. */
  field: string;
  message: string;
}

/** The API server's field.ErrorType wordings. */
const FieldErrorReasons = /^(Invalid value|Required value|Duplicate value|Unsupported value|Forbidden|Not found|Too long|Too many)\b/;

export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else if (text === '') text = String(part);
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(part))) text += `.${String(part)}`;
    else text += `[${String(part)}]`;
  }
  return text;
}

/** What stands for a value that must not reach the logs (a Secret's data). */
export const RedactedValue = '<redacted>';

/**
 * The issues as field errors. `sensitive(path)` says which fields hold values that must never be
 * echoed (a Secret's data): their errors name the field and the rule, not the value.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], sensitive: (path: ReadonlyArray<PropertyKey>) => boolean = () => false): FieldError[] {
  return issues.map((issue) => ({ field: fieldPath(issue.path), message: issueMessage(issue, sensitive(issue.path)) }));
}

function issueMessage(issue: z.core.$ZodIssue, redact: boolean): string {
  const input = redact ? RedactedValue : (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'Required value';
      return `Invalid value: ${JSON.stringify(input)}: must be ${article(issue.expected)}`;
    case 'invalid_value':
      if (input === undefined) return 'Required value';
      return `Unsupported value: ${JSON.stringify(input)}: supported values: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array' && Number(issue.minimum) === 1) return 'Required value';
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'Required value';
      return `Invalid value: ${JSON.stringify(input)}: must be greater than or equal to ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'string') return `Too long: may not be more than ${String(issue.maximum)} bytes`;
      return `Invalid value: ${JSON.stringify(input)}: must be less than or equal to ${String(issue.maximum)}`;
    case 'invalid_format':
      return `Invalid value: ${JSON.stringify(input)}: ${issue.message}`;
    case 'invalid_union':
      if (input === undefined) return 'Required value';
      return `Invalid value: ${JSON.stringify(input)}`;
    case 'custom':
      // Refinements that describe a rule get the value in front; whole-pod checks are already worded.
      return FieldErrorReasons.test(issue.message) ? issue.message : `Invalid value: ${JSON.stringify(input)}: ${issue.message}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'object') return 'an object';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
