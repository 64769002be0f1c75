import { describe, expect, test } from 'vitest';
import type { ConfigMap, Container, Secret } from '../../../../common/api/types.js';
import { expandVariables, makeEnvironment, type EnvContext } from '../../../../agent/envvars/env.js';
import { ctr, pod } from '../../fixtures.js';

describe('expandVariables (third_party/forked/golang/expansion)', () => {
  const vars: Record<string, string> = { VAR_A: 'A', VAR_B: 'B', VAR_C: 'C', VAR_REF: '$(VAR_A)', VAR_EMPTY: '' };
  const lookup = (name: string): string | undefined => vars[name];

  // The cases of Kubernetes' expand_test.go.
  test.each([
    ['$(VAR_A)', 'A'],
    ['$(VAR_A)-$(VAR_A)', 'A-A'],
    ['$(VAR_A)-$(VAR_B)-$(VAR_B)-$(VAR_B)-$(VAR_A)', 'A-B-B-B-A'],
    ['___$(VAR_B)___', '___B___'],
    ['$(VAR_A)_$(VAR_B)_$(VAR_C)', 'A_B_C'],
    ['$$(VAR_B)_$(VAR_A)', '$(VAR_B)_A'],
    ['$$(VAR_A)_$$(VAR_B)', '$(VAR_A)_$(VAR_B)'],
    ['f000-$$VAR_A', 'f000-$VAR_A'],
    ['foo\\$(VAR_C)bar', 'foo\\Cbar'],
    ['$(VAR_A$(VAR_B))', '$(VAR_A$(VAR_B))'],
    ['$(VAR_A$(VAR_B)', '$(VAR_A$(VAR_B)'],
    ['$(VAR_REF)', '$(VAR_A)'],
    ['foo$(VAR_EMPTY)bar', 'foobar'],
    ['foo$(VAR_Awhoops!', 'foo$(VAR_Awhoops!'],
    ['f00__(VAR_A)__', 'f00__(VAR_A)__'],
    ['$?_boo_$!', '$?_boo_$!'],
    ['$VAR_A', '$VAR_A'],
    ['$(VAR_DNE)', '$(VAR_DNE)'],
    ['$(VAR_DNE1)$(VAR_DNE2)', '$(VAR_DNE1)$(VAR_DNE2)'],
    ['$$$$$$(BIG_MONEY)', '$$$(BIG_MONEY)'],
    ['$$$$$$(VAR_A)', '$$$(VAR_A)'],
    ['$$$$$$$(VAR_A)', '$$$A'],
    ['$(VAR_B)_______$(A', 'B_______$(A'],
    ['$(VAR_C)_______$(', 'C_______$('],
    ['$(VAR_A)foobarzab$', 'Afoobarzab$'],
    ['--$($($($($--', '--$($($($($--'],
    ['$($($($($--foo$(', '$($($($($--foo$('],
    ['$(foo$$var)', '$(foo$$var)'],
    ['$()', '$()'],
    ['\n', '\n'],
  ])('%j -> %j', (input, expected) => {
    expect(expandVariables(input, lookup)).toBe(expected);
  });

  test('after an unterminated "$(" the rest is still scanned: "$$" is still an escape', () => {
    expect(expandVariables('$(open $$HOME', lookup)).toBe('$(open $HOME');
  });
});

const allocatable: EnvContext['nodeAllocatable'] = { milliCpu: 4000, memoryBytes: 8 * 2 ** 30, ephemeralStorageBytes: 100 * 2 ** 30 };

function context(overrides: Partial<EnvContext> = {}, objects: { configMaps?: ConfigMap[]; secrets?: Secret[] } = {}): EnvContext {
  const find = <T extends ConfigMap | Secret>(list: T[] | undefined, namespace: string, name: string): T | undefined =>
    list?.find((o) => o.metadata?.name === name && (o.metadata?.namespace ?? 'default') === namespace);
  return {
    pod: pod(),
    podIPs: ['10.244.0.5'],
    hostIPs: ['192.168.1.10'],
    nodeAllocatable: allocatable,
    objects: {
      configMap: (namespace, name) => find(objects.configMaps, namespace, name),
      secret: (namespace, name) => find(objects.secrets, namespace, name),
    },
    serviceEnv: { ok: true, env: [] },
    ...overrides,
  };
}

const settings: ConfigMap = { metadata: { name: 'settings' }, data: { MODE: 'prod', LEVEL: 'debug' } };
const creds: Secret = { metadata: { name: 'creds' }, data: { USER: Buffer.from('admin').toString('base64'), PASS: Buffer.from('s3cret').toString('base64') } };

function envOf(container: Container, ctx: EnvContext = context({}, { configMaps: [settings], secrets: [creds] })): Array<[string, string]> {
  const result = makeEnvironment(container, ctx);
  if (!result.ok) throw new Error(result.message);
  return result.env.map(({ name, value }) => [name, value]);
}

describe('makeEnvironment', () => {
  test('plain values, in declaration order', () => {
    expect(envOf(ctr('c', { env: [{ name: 'B', value: '2' }, { name: 'A', value: '1' }] }))).toEqual([
      ['B', '2'],
      ['A', '1'],
    ]);
  });

  test('envFrom first, then env, which overrides a key of the same name', () => {
    const container = ctr('c', { envFrom: [{ configMapRef: { name: 'settings' } }], env: [{ name: 'MODE', value: 'dev' }, { name: 'X', value: 'x' }] });
    expect(envOf(container)).toEqual([
      ['MODE', 'dev'],
      ['LEVEL', 'debug'],
      ['X', 'x'],
    ]);
  });

  test('envFrom prefixes every key with its prefix', () => {
    expect(envOf(ctr('c', { envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'settings' } }] }))).toEqual([
      ['CFG_MODE', 'prod'],
      ['CFG_LEVEL', 'debug'],
    ]);
  });

  test('envFrom a secret decodes its values', () => {
    expect(envOf(ctr('c', { envFrom: [{ secretRef: { name: 'creds' } }] }))).toEqual([
      ['USER', 'admin'],
      ['PASS', 's3cret'],
    ]);
  });

  test('a value refers to variables defined before it; later ones and unknown ones stay as written', () => {
    const container = ctr('c', {
      env: [
        { name: 'HOST', value: 'db' },
        { name: 'URL', value: 'http://$(HOST):$(PORT)/$(NOPE)' },
        { name: 'PORT', value: '5432' },
      ],
    });
    expect(envOf(container)).toContainEqual(['URL', 'http://db:$(PORT)/$(NOPE)']);
  });

  test('a value may refer to an envFrom variable and to service link variables', () => {
    const ctx = context({ serviceEnv: { ok: true, env: [{ name: 'DB_SERVICE_HOST', value: '10.96.0.7' }] } }, { configMaps: [settings] });
    const container = ctr('c', { envFrom: [{ configMapRef: { name: 'settings' } }], env: [{ name: 'WHERE', value: '$(MODE)@$(DB_SERVICE_HOST)' }] });
    expect(envOf(container, ctx)).toEqual([
      ['DB_SERVICE_HOST', '10.96.0.7'],
      ['MODE', 'prod'],
      ['LEVEL', 'debug'],
      ['WHERE', 'prod@10.96.0.7'],
    ]);
  });

  test('service links that cannot be built fail the environment with their message', () => {
    const ctx = context({ serviceEnv: { ok: false, message: 'services have not yet been read at least once, cannot construct envvars' } });
    expect(makeEnvironment(ctr('c'), ctx)).toEqual({ ok: false, message: 'services have not yet been read at least once, cannot construct envvars' });
  });

  test('configMapKeyRef and secretKeyRef', () => {
    const container = ctr('c', {
      env: [
        { name: 'M', valueFrom: { configMapKeyRef: { name: 'settings', key: 'MODE' } } },
        { name: 'P', valueFrom: { secretKeyRef: { name: 'creds', key: 'PASS' } } },
      ],
    });
    expect(envOf(container)).toEqual([
      ['M', 'prod'],
      ['P', 's3cret'],
    ]);
  });

  test('an optional reference to something missing is skipped', () => {
    const container = ctr('c', {
      envFrom: [{ configMapRef: { name: 'absent', optional: true } }, { secretRef: { name: 'absent', optional: true } }],
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k', optional: true } } },
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'settings', key: 'absent', optional: true } } },
        { name: 'C', valueFrom: { secretKeyRef: { name: 'creds', key: 'absent', optional: true } } },
        { name: 'D', value: 'kept' },
      ],
    });
    expect(envOf(container)).toEqual([['D', 'kept']]);
  });

  test.each([
    [{ envFrom: [{ configMapRef: { name: 'absent' } }] }, 'configmap "absent" not found'],
    [{ envFrom: [{ secretRef: { name: 'absent' } }] }, 'secret "absent" not found'],
    [{ env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k' } } }] }, 'configmap "absent" not found'],
    [{ env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } }] }, "couldn't find key k in ConfigMap default/settings"],
    [{ env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }] }, 'secret "absent" not found'],
    [{ env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'creds', key: 'k' } } }] }, "couldn't find key k in Secret default/creds"],
  ] as Array<[Partial<Container>, string]>)('a required reference to something missing fails: %j', (fields, message) => {
    expect(makeEnvironment(ctr('c', fields), context({}, { configMaps: [settings], secrets: [creds] }))).toEqual({ ok: false, message });
  });

  test('references are looked up in the pod namespace', () => {
    const ctx = context({ pod: pod({}, { namespace: 'tools' }) }, { configMaps: [settings] });
    expect(makeEnvironment(ctr('c', { envFrom: [{ configMapRef: { name: 'settings' } }] }), ctx)).toEqual({ ok: false, message: 'configmap "settings" not found' });
  });

  test('fieldRef and resourceFieldRef values', () => {
    const container = ctr('c', {
      resources: { limits: { memory: '64Mi' } },
      env: [
        { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      ],
    });
    expect(envOf(container)).toEqual([
      ['NAME', 'web'],
      ['IP', '10.244.0.5'],
      ['MEM', '64'],
    ]);
  });

  test('resourceFieldRef may name another container of the pod', () => {
    const p = pod({ containers: [ctr('c'), ctr('other', { resources: { requests: { cpu: '250m' } } })] });
    const container = ctr('c', { env: [{ name: 'CPU', valueFrom: { resourceFieldRef: { containerName: 'other', resource: 'requests.cpu', divisor: '1m' } } }] });
    expect(envOf(container, context({ pod: p }))).toEqual([['CPU', '250']]);
  });

  test('resourceFieldRef naming a container that does not exist fails', () => {
    const container = ctr('c', { env: [{ name: 'CPU', valueFrom: { resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } } }] });
    expect(makeEnvironment(container, context())).toEqual({ ok: false, message: 'container ghost not found' });
  });
});
