import { describe, expect, test } from 'vitest';
import type { Pod } from '../../../../common/api/types.js';
import { defaultImagePullPolicy, withApiDefaults } from '../../../../agent/config/pod-defaults.js';

const bare = (spec: Partial<NonNullable<Pod['spec']>> = {}, metadata: Pod['metadata'] = { name: 'web' }): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata,
  spec: { containers: [{ name: 'main', image: 'busybox:1.35' }], ...spec },
});

describe('withApiDefaults: the pod', () => {
  test('namespace defaults to "default"', () => {
    expect(withApiDefaults(bare()).metadata?.namespace).toBe('default');
  });

  test('an empty namespace is defaulted too', () => {
    expect(withApiDefaults(bare({}, { name: 'web', namespace: '' })).metadata?.namespace).toBe('default');
  });

  test('a namespace that is set is kept', () => {
    expect(withApiDefaults(bare({}, { name: 'web', namespace: 'tools' })).metadata?.namespace).toBe('tools');
  });

  test('restartPolicy Always, terminationGracePeriodSeconds 30, dnsPolicy ClusterFirst, enableServiceLinks true', () => {
    const spec = withApiDefaults(bare()).spec!;
    expect(spec).toMatchObject({
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      securityContext: {},
    });
  });

  test('fields that are set are kept, a grace period of 0 included', () => {
    const spec = withApiDefaults(bare({ restartPolicy: 'Never', terminationGracePeriodSeconds: 0, dnsPolicy: 'Default' })).spec!;
    expect([spec.restartPolicy, spec.terminationGracePeriodSeconds, spec.dnsPolicy]).toEqual(['Never', 0, 'Default']);
  });

  test('a built-in PriorityClass gives its priority; another name or an explicit priority is left as it is', () => {
    const priority = (spec: Partial<NonNullable<Pod['spec']>>): number | undefined => withApiDefaults(bare(spec)).spec!.priority;
    expect(priority({ priorityClassName: 'system-node-critical' })).toBe(2000001000);
    expect(priority({ priorityClassName: 'system-cluster-critical' })).toBe(2000000000);
    expect(priority({ priorityClassName: 'high' })).toBeUndefined();
    expect(priority({ priorityClassName: 'system-node-critical', priority: 7 })).toBe(7);
    expect(priority({})).toBeUndefined();
  });

  test('the input is not modified', () => {
    const input = bare();
    const before = structuredClone(input);
    withApiDefaults(input);
    expect(input).toEqual(before);
  });
});

describe('withApiDefaults: containers', () => {
  test('terminationMessagePath /dev/termination-log, policy File, for app and init containers', () => {
    const spec = withApiDefaults(bare({ initContainers: [{ name: 'setup', image: 'busybox:1.35' }] })).spec!;
    for (const c of [...spec.initContainers!, ...spec.containers]) {
      expect([c.terminationMessagePath, c.terminationMessagePolicy]).toEqual(['/dev/termination-log', 'File']);
    }
  });

  test('imagePullPolicy follows the image tag', () => {
    const spec = withApiDefaults(
      bare({
        containers: [
          { name: 'a', image: 'busybox' },
          { name: 'b', image: 'busybox:latest' },
          { name: 'c', image: 'busybox:1.35' },
          { name: 'd', image: 'busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' },
          { name: 'e', image: 'busybox', imagePullPolicy: 'Never' },
        ],
      }),
    ).spec!;
    expect(spec.containers.map((c) => c.imagePullPolicy)).toEqual(['Always', 'Always', 'IfNotPresent', 'IfNotPresent', 'Never']);
  });

  test('port protocol defaults to TCP', () => {
    const spec = withApiDefaults(bare({ containers: [{ name: 'a', image: 'x:1', ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }] }] })).spec!;
    expect(spec.containers[0]!.ports!.map((p) => p.protocol)).toEqual(['TCP', 'UDP']);
  });

  test('with hostNetwork, an unset or zero hostPort becomes the containerPort', () => {
    const spec = withApiDefaults(
      bare({
        hostNetwork: true,
        initContainers: [{ name: 'init', image: 'x:1', ports: [{ containerPort: 9000 }] }],
        containers: [{ name: 'a', image: 'x:1', ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 0 }, { containerPort: 82, hostPort: 82 }] }],
      }),
    ).spec!;
    expect(spec.containers[0]!.ports!.map((p) => p.hostPort)).toEqual([80, 81, 82]);
    expect(spec.initContainers![0]!.ports![0]!.hostPort).toBe(9000);
  });

  test('without hostNetwork, hostPort is left unset', () => {
    const spec = withApiDefaults(bare({ containers: [{ name: 'a', image: 'x:1', ports: [{ containerPort: 80 }] }] })).spec!;
    expect(spec.containers[0]!.ports![0]!.hostPort).toBeUndefined();
  });

  test('requests are defaulted from limits, one resource at a time', () => {
    const spec = withApiDefaults(
      bare({ containers: [{ name: 'a', image: 'x:1', resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '250m' } } }] }),
    ).spec!;
    expect(spec.containers[0]!.resources).toEqual({ limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '250m', memory: '64Mi' } });
  });

  test('requests alone stay alone', () => {
    const spec = withApiDefaults(bare({ containers: [{ name: 'a', image: 'x:1', resources: { requests: { cpu: '1' } } }] })).spec!;
    expect(spec.containers[0]!.resources).toEqual({ requests: { cpu: '1' } });
  });

  test('probe defaults: timeout 1, period 10, success 1, failure 3; initialDelaySeconds stays unset', () => {
    const spec = withApiDefaults(bare({ containers: [{ name: 'a', image: 'x:1', livenessProbe: { exec: { command: ['true'] } } }] })).spec!;
    expect(spec.containers[0]!.livenessProbe).toEqual({
      exec: { command: ['true'] },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  test('probe fields given as 0 are defaulted, others kept', () => {
    const spec = withApiDefaults(
      bare({ containers: [{ name: 'a', image: 'x:1', readinessProbe: { tcpSocket: { port: 80 }, timeoutSeconds: 0, periodSeconds: 2, failureThreshold: 7 } }] }),
    ).spec!;
    expect(spec.containers[0]!.readinessProbe).toMatchObject({ timeoutSeconds: 1, periodSeconds: 2, successThreshold: 1, failureThreshold: 7 });
  });

  test('an httpGet probe gets path / and scheme HTTP', () => {
    const spec = withApiDefaults(bare({ containers: [{ name: 'a', image: 'x:1', startupProbe: { httpGet: { port: 8080 } } }] })).spec!;
    expect(spec.containers[0]!.startupProbe!.httpGet).toEqual({ port: 8080, path: '/', scheme: 'HTTP' });
  });

  test('a fieldRef gets apiVersion v1', () => {
    const spec = withApiDefaults(
      bare({ containers: [{ name: 'a', image: 'x:1', env: [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }] }),
    ).spec!;
    expect(spec.containers[0]!.env![0]!.valueFrom!.fieldRef).toEqual({ fieldPath: 'metadata.name', apiVersion: 'v1' });
  });
});

describe('withApiDefaults: volumes', () => {
  test('configMap, secret, downwardAPI and projected volumes get defaultMode 0644; hostPath type ""', () => {
    const spec = withApiDefaults(
      bare({
        volumes: [
          { name: 'cm', configMap: { name: 'c' } },
          { name: 's', secret: { secretName: 's' } },
          { name: 'd', downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] } },
          { name: 'p', projected: { sources: [] } },
          { name: 'h', hostPath: { path: '/tmp' } },
          { name: 'keep', configMap: { name: 'c', defaultMode: 0o400 } },
        ],
      }),
    ).spec!;
    const volumes = spec.volumes!;
    expect(volumes[0]!.configMap!.defaultMode).toBe(0o644);
    expect(volumes[1]!.secret!.defaultMode).toBe(0o644);
    expect(volumes[2]!.downwardAPI!.defaultMode).toBe(0o644);
    expect(volumes[2]!.downwardAPI!.items![0]!.fieldRef!.apiVersion).toBe('v1');
    expect(volumes[3]!.projected!.defaultMode).toBe(0o644);
    expect(volumes[4]!.hostPath!.type).toBe('');
    expect(volumes[5]!.configMap!.defaultMode).toBe(0o400);
  });
});

describe('defaultImagePullPolicy', () => {
  test.each([
    ['busybox', 'Always'],
    ['busybox:latest', 'Always'],
    ['library/busybox', 'Always'],
    ['localhost:5000/busybox', 'Always'],
    ['localhost:5000/busybox:latest', 'Always'],
    ['busybox:1.35', 'IfNotPresent'],
    ['localhost:5000/team/busybox:v2', 'IfNotPresent'],
    ['busybox:latest-rc', 'IfNotPresent'],
    ['busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'IfNotPresent'],
    ['busybox:1.35@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'IfNotPresent'],
    // parsers.ParseImageName gives this one the tag "latest", so the API server picks Always.
    ['busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'Always'],
    // A reference that does not parse has no tag at all: IfNotPresent.
    ['Busybox', 'IfNotPresent'],
  ] as const)('%s -> %s', (image, policy) => {
    expect(defaultImagePullPolicy(image)).toBe(policy);
  });
});
