import { describe, expect, test } from 'vitest';
import { KubeApiError, type KubeApi } from '../../../common/kube-api/kube-client.js';
import { ApiObjects, objectPath } from '../../../library/api-objects.js';
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
      objects.set(`${path}/${name}`, body);
      return body;
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

  test('creates each object, a Pod bound to the node; what it applied is remembered', async () => {
    const api = fakeApi();
    const remembered: string[][] = [];
    await new ApiObjects(api, 'n1', async (paths) => void remembered.push([...paths])).write(await inputs(pod));
    expect(api.objects.get('/api/v1/namespaces/default/pods/web')).toMatchObject({ metadata: { name: 'web', namespace: 'default' }, spec: { nodeName: 'n1' } });
    expect(remembered.at(-1)).toEqual(['/api/v1/namespaces/default/pods/web']);
  });

  test('an object there already is replaced at its resourceVersion', async () => {
    const api = fakeApi({ '/api/v1/namespaces/default/configmaps/c': { metadata: { name: 'c', resourceVersion: '41' } } });
    await new ApiObjects(api, 'n1', async () => undefined).write(await inputs('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n'));
    expect(api.calls).toEqual(['POST /api/v1/namespaces/default/configmaps', 'GET /api/v1/namespaces/default/configmaps/c', 'PUT /api/v1/namespaces/default/configmaps/c 41']);
    expect(api.objects.get('/api/v1/namespaces/default/configmaps/c')).toMatchObject({ data: { a: 'b' } });
  });

  test('removeAll deletes what was applied, the latest first and Pods at once, then the Node; gone already is fine', async () => {
    const api = fakeApi({ '/api/v1/nodes/n1': {} });
    const objects = new ApiObjects(api, 'n1', async () => undefined);
    await objects.write(await inputs(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n${pod}`));
    api.objects.delete('/api/v1/namespaces/default/configmaps/c');
    api.calls.length = 0;
    await objects.removeAll();
    expect(api.calls).toEqual([
      'DELETE /api/v1/namespaces/default/pods/web {"apiVersion":"v1","kind":"DeleteOptions","gracePeriodSeconds":0}',
      'DELETE /api/v1/namespaces/default/configmaps/c',
      'DELETE /api/v1/nodes/n1',
    ]);
  });
});
