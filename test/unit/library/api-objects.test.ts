import { describe, expect, test } from 'vitest';
import { KubeApiError, type KubeApi } from '../../../common/kube-api/kube-client.js';
import { ApiObjects, deleteClusterObjects, objectPath } from '../../../library/api-objects.js';
import { readInputs } from '../../../library/manifest-inputs.js';

/** An API server of maps: enough to see what ApiObjects asks for. */
function fakeApi(existing: Record<string, unknown> = {}): KubeApi & { calls: string[]; objects: Map<string, unknown> } {
  const objects = new Map(Object.entries(existing));
  const calls: string[] = [];
  const notFound = (path: string) => new KubeApiError('GET', path, 404, '{"kind":"Status","reason":"NotFound"}');
  return {
    calls,
    objects,
    async get<T>(path: string) {
      calls.push(`GET ${path}`);
      if (!objects.has(path)) throw notFound(path);
      return objects.get(path) as T;
    },
    async create<T>(path: string, body: T) {
      const name = (body as { metadata: { name: string } }).metadata.name;
      calls.push(`POST ${path}`);
      if (objects.has(`${path}/${name}`)) throw new KubeApiError('POST', path, 409, '{"kind":"Status","reason":"AlreadyExists"}');
      const stored = { ...(body as object), metadata: { ...(body as { metadata: object }).metadata, uid: `uid-${name}` } };
      objects.set(`${path}/${name}`, stored);
      return stored as T;
    },
    async replace<T>(path: string, body: T) {
      calls.push(`PUT ${path} ${(body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion}`);
      objects.set(path, body);
      return body;
    },
    async patch() {
      throw new Error('not used');
    },
    async delete<T>(path: string, options?: unknown) {
      calls.push(`DELETE ${path}${options ? ` ${JSON.stringify(options)}` : ''}`);
      if (!objects.delete(path)) throw notFound(path);
      return {} as T;
    },
    async watch() {
      throw new Error('not used');
    },
  };
}

const inputs = (yaml: string) => readInputs([yaml], 'n1');

describe('objectPath', () => {
  test('core, grouped and cluster-scoped kinds', async () => {
    const objects = await inputs(
      'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: x\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n',
    );
    expect(objects.map(objectPath)).toEqual(['/api/v1/namespaces/shop/services/web', '/apis/storage.k8s.io/v1/storageclasses/fast', '/api/v1/namespaces/default/persistentvolumeclaims/data']);
  });
});

describe('ApiObjects', () => {
  const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: main, image: busybox}]}\n';
  const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n';
  const ours = { 'dockerlet.io/test-node': 'n1' };

  test('creates each object labelled for the node, a Pod bound to it; what it applied is remembered with its UID', async () => {
    const api = fakeApi();
    const remembered: unknown[] = [];
    await new ApiObjects(api, 'n1', async (objects) => void remembered.push(objects)).write(await inputs(pod));
    expect(api.objects.get('/api/v1/namespaces/default/pods/web')).toMatchObject({ metadata: { name: 'web', namespace: 'default', labels: ours }, spec: { nodeName: 'n1' } });
    expect(remembered.at(-1)).toEqual([{ path: '/api/v1/namespaces/default/pods/web', uid: 'uid-web' }]);
  });

  test('an object the node applied before is replaced at its resourceVersion', async () => {
    const api = fakeApi({ '/api/v1/namespaces/default/configmaps/c': { metadata: { name: 'c', resourceVersion: '41', uid: 'u1', labels: ours } } });
    await new ApiObjects(api, 'n1', async () => undefined).write(await inputs(configMap));
    expect(api.calls).toEqual(['POST /api/v1/namespaces/default/configmaps', 'GET /api/v1/namespaces/default/configmaps/c', 'PUT /api/v1/namespaces/default/configmaps/c 41']);
    expect(api.objects.get('/api/v1/namespaces/default/configmaps/c')).toMatchObject({ data: { a: 'b' } });
  });

  test('an object of that name the node did not apply is refused, untouched', async () => {
    const api = fakeApi({ '/api/v1/namespaces/default/configmaps/c': { metadata: { name: 'c', resourceVersion: '41', uid: 'u1' } } });
    await expect(new ApiObjects(api, 'n1', async () => undefined).write(await inputs(configMap))).rejects.toThrow(
      'applying ConfigMap default/c (argument 1 (YAML text) document 1): it exists already, and this node did not apply it: delete it, or give this one another name',
    );
    expect(api.calls.filter((call) => call.startsWith('PUT') || call.startsWith('DELETE'))).toEqual([]);
  });

  test('a Pod bound to another node is refused', async () => {
    const bound = 'apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {nodeName: other, containers: [{name: main, image: busybox}]}\n';
    await expect(new ApiObjects(fakeApi(), 'n1', async () => undefined).write(await inputs(bound))).rejects.toThrow('spec.nodeName is "other": a test node runs only pods bound to it (n1); leave spec.nodeName out');
  });
});

describe('deleteClusterObjects', () => {
  test('the latest first, each only if it is still the one applied, Pods at once, then the Node; gone already is fine', async () => {
    const api = fakeApi({ '/api/v1/nodes/n1': {}, '/api/v1/namespaces/default/pods/web': {} });
    await deleteClusterObjects(api, [{ path: '/api/v1/namespaces/default/configmaps/c', uid: 'u1' }, { path: '/api/v1/namespaces/default/pods/web', uid: 'u2' }], 'n1');
    expect(api.calls).toEqual([
      'DELETE /api/v1/namespaces/default/pods/web {"apiVersion":"v1","kind":"DeleteOptions","gracePeriodSeconds":0,"preconditions":{"uid":"u2"}}',
      'DELETE /api/v1/namespaces/default/configmaps/c {"apiVersion":"v1","kind":"DeleteOptions","preconditions":{"uid":"u1"}}',
      'DELETE /api/v1/nodes/n1 {"apiVersion":"v1","kind":"DeleteOptions"}',
    ]);
  });
});
