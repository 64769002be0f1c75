/** Name and value formats from k8s.io/apimachinery/pkg/util/validation, with the API server's wording. */
import { z } from 'zod';
import { parseQuantity } from '../../../common/api/quantity.js';

const Dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const Dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IanaSvcName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const LabelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export const dnsLabel = z
  .string()
  .max(63, 'must be no more than 63 characters')
  .regex(
    Dns1123Label,
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')",
  );

export const dnsSubdomain = z
  .string()
  .max(253, 'must be no more than 253 characters')
  .regex(
    Dns1123Subdomain,
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')",
  );

/** A port name (IANA_SVC_NAME). */
export const portName = z
  .string()
  .max(15, 'must be no more than 15 characters')
  .regex(IanaSvcName, "must contain only lowercase alphanumeric characters or '-', and start and end with one")
  .refine((name) => /[a-z]/.test(name), 'must contain at least one letter')
  .refine((name) => !name.includes('--'), "must not contain consecutive hyphens ('--')");

export const portNumber = z.number().int().min(1).max(65535);

const QualifiedNameRegexError =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const Dns1123SubdomainError =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** validation.IsQualifiedName: its list of errors (empty when `value` is a qualified name). */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  if (parts.length > 2) {
    return [`a qualified name ${QualifiedNameRegexError} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  const errors: string[] = [];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0) errors.push('prefix part must be non-empty');
    else {
      if (prefix.length > 253) errors.push('prefix part must be no more than 253 characters');
      if (!Dns1123Subdomain.test(prefix)) errors.push(`prefix part ${Dns1123SubdomainError}`);
    }
  }
  if (name.length === 0) errors.push('name part must be non-empty');
  else if (name.length > 63) errors.push('name part must be no more than 63 characters');
  if (!QualifiedNamePart.test(name)) errors.push(`name part ${QualifiedNameRegexError}`);
  return errors;
}

export const isQualifiedName = (key: string): boolean => qualifiedNameErrors(key).length === 0;

/** A valid label value: at most 63 characters, alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric (or empty). */
export const isLabelValue = (value: string): boolean => value.length <= 63 && LabelValue.test(value);

export const labels = z.record(z.string(), z.string()).superRefine((map, ctx) => {
  for (const [key, value] of Object.entries(map)) {
    if (!isQualifiedName(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'`,
      });
    }
    if (!isLabelValue(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `Invalid value: "${value}": a valid label value must be 63 characters or less, and consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character`,
      });
    }
  }
});

export const quantity = z
  .union([z.string(), z.number()])
  .refine((value) => parseQuantity(value) !== undefined, "must be a quantity such as '500m', '2' or '128Mi'")
  .refine((value) => (parseQuantity(value) ?? 0) >= 0, 'must be greater than or equal to 0');

export const resourceList = z.record(z.string(), quantity);

export const absentOrPositiveInt = z.number().int().min(0).optional();
