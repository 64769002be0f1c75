import { describe, expect, test } from 'vitest';
import type { ConfigMap, Secret } from '../../../../common/api/types.js';
import { ConfigObjectStore, referencedConfigObjects, type ConfigObjectKey } from '../../../../agent/config/config-objects.js';
import { ctr, pod } from '../../fixtures.js';

const configMap = (name: string, data: Record<string, string>, namespace = 'default'): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });
const secret = (name: string, data: Record<string, string>): Secret => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, data });

function recording(store: ConfigObjectStore): Array<Set<ConfigObjectKey>> {
  const changes: Array<Set<ConfigObjectKey>> = [];
  store.onChange((changed) => changes.push(new Set(changed)));
  return changes;
}

describe('ConfigObjectStore', () => {
  test('a set reports the objects it added; the lookup finds them by namespace and name', () => {
    const store = new ConfigObjectStore();
    const changes = recording(store);
    store.set('file', [configMap('settings', { mode: 'fast' })], [secret('creds', { user: 'YQ==' })]);
    expect(changes).toEqual([new Set(['configmap/default/settings', 'secret/default/creds'])]);
    const lookup = store.lookupFor('file');
    expect(lookup.configMap('default', 'settings')?.data).toEqual({ mode: 'fast' });
    expect(lookup.secret('default', 'creds')?.data).toEqual({ user: 'YQ==' });
    expect(lookup.configMap('other', 'settings')).toBeUndefined();
  });

  test('an identical set reports nothing; a changed or removed object is reported alone', () => {
    const store = new ConfigObjectStore();
    store.set('file', [configMap('a', { k: '1' }), configMap('b', { k: '1' })], []);
    const changes = recording(store);
    store.set('file', [configMap('a', { k: '1' }), configMap('b', { k: '1' })], []);
    expect(changes).toEqual([]);
    store.set('file', [configMap('a', { k: '2' })], []);
    expect(changes).toEqual([new Set(['configmap/default/a', 'configmap/default/b'])]);
  });

  test('static pods see the file source first, then the http source; API pods see neither', () => {
    const store = new ConfigObjectStore();
    store.set('http', [configMap('shared', { from: 'http' }), configMap('remote', { from: 'http' })], []);
    store.set('file', [configMap('shared', { from: 'file' })], []);
    expect(store.lookupFor('http').configMap('default', 'shared')?.data).toEqual({ from: 'file' });
    expect(store.lookupFor('file').configMap('default', 'remote')?.data).toEqual({ from: 'http' });
    expect(store.lookupFor('api').configMap('default', 'shared')).toBeUndefined();
  });
});

describe('referencedConfigObjects', () => {
  test('finds the ConfigMaps and Secrets of imagePullSecrets, volumes, projected sources, env and envFrom, in the pod namespace', () => {
    const p = pod(
      {
        imagePullSecrets: [{ name: 'registry' }],
        volumes: [
          { name: 'a', configMap: { name: 'vol-cm' } },
          { name: 'b', secret: { secretName: 'vol-secret' } },
          { name: 'c', projected: { sources: [{ configMap: { name: 'proj-cm' } }, { secret: { name: 'proj-secret' } }] } },
          { name: 'd', emptyDir: {} },
        ],
        containers: [
          ctr('main', {
            envFrom: [{ configMapRef: { name: 'env-from-cm' } }, { secretRef: { name: 'env-from-secret' } }],
            env: [
              { name: 'X', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'x' } } },
              { name: 'Y', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'y' } } },
              { name: 'Z', value: 'plain' },
            ],
          }),
        ],
      },
      { namespace: 'apps' },
    );
    expect([...referencedConfigObjects(p)].sort()).toEqual([
      'configmap/apps/env-cm',
      'configmap/apps/env-from-cm',
      'configmap/apps/proj-cm',
      'configmap/apps/vol-cm',
      'secret/apps/env-from-secret',
      'secret/apps/env-secret',
      'secret/apps/proj-secret',
      'secret/apps/registry',
      'secret/apps/vol-secret',
    ]);
  });
});
