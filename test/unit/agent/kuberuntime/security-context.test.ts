import { describe, expect, test } from 'vitest';
import type { PodSecurityContext, SecurityContext } from 'kubernetes-types/core/v1.js';
import { runAsNonRootViolation } from '../../../../agent/kuberuntime/security-context.js';
import { ctr, pod } from '../../fixtures.js';

const where = '(pod: "web_default(uid-1)", container: main)';
const check = (podContext: PodSecurityContext, own: SecurityContext | undefined, imageUser: string) =>
  runAsNonRootViolation(pod({ securityContext: podContext, containers: [ctr('main', own ? { securityContext: own } : {})] }), ctr('main', own ? { securityContext: own } : {}), imageUser);

describe('runAsNonRootViolation (verifyRunAsNonRoot)', () => {
  test('without runAsNonRoot anything goes', () => {
    expect(check({}, undefined, '')).toBeUndefined();
    expect(check({ runAsNonRoot: false }, undefined, '0')).toBeUndefined();
  });

  test.each([
    ['', `container has runAsNonRoot and image will run as root ${where}`],
    ['0', `container has runAsNonRoot and image will run as root ${where}`],
    ['0:1000', `container has runAsNonRoot and image will run as root ${where}`],
    ['nobody', `container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root ${where}`],
    ['1000', undefined],
    ['1000:1000', undefined],
  ])('image user %j: %s', (user, violation) => {
    expect(check({ runAsNonRoot: true }, undefined, user)).toBe(violation);
  });

  test('a runAsUser decides, whatever the image says; 0 breaks the policy', () => {
    expect(check({ runAsNonRoot: true, runAsUser: 1000 }, undefined, '')).toBeUndefined();
    expect(check({ runAsNonRoot: true }, { runAsUser: 0 }, '1000')).toBe(`container's runAsUser breaks non-root policy ${where}`);
  });

  test("the container's own settings win over the pod's", () => {
    expect(check({ runAsNonRoot: true }, { runAsNonRoot: false }, '')).toBeUndefined();
    expect(check({}, { runAsNonRoot: true }, '')).toBe(`container has runAsNonRoot and image will run as root ${where}`);
  });
});
