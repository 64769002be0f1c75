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

export function formatIssues(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.map((issue) => ({ field: fieldPath(issue.path), message: issueMessage(issue) }));
}

function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
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
