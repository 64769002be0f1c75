/**
 * A cluster node's objects: what apply() sends to the API server and delete() takes back, as
 * `kubectl apply` and `kubectl delete` would, with each Pod bound to the node (spec.nodeName), so
 * it runs here whatever the scheduler would choose. Every object applied is remembered (in the
 * session record too), so that stop(), or the reaper after a crash, deletes them and the Node.
 */
import { DockerletError, errorMessage } from '../common/api/errors.js';
import { isApiConflict, isApiNotFound, type KubeApi } from '../common/kube-api/kube-client.js';
import type { InputObject } from './manifest-inputs.js';

/** The API collection of each kind apply() takes. */
const Collections: Record<string, string> = {
  'v1/Pod': 'pods',
  'v1/ConfigMap': 'configmaps',
  'v1/Secret': 'secrets',
  'v1/Service': 'services',
  'v1/PersistentVolumeClaim': 'persistentvolumeclaims',
  'v1/PersistentVolume': 'persistentvolumes',
  'storage.k8s.io/v1/StorageClass': 'storageclasses',
};

/** The object's path in the API: /api/v1/namespaces/default/pods/web. */
export function objectPath(object: Pick<InputObject, 'key'>): string {
  const [typed, namespace, name] = splitKey(object.key);
  const apiVersion = typed.slice(0, typed.lastIndexOf('/'));
  const root = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
  return `${root}${namespace ? `/namespaces/${namespace}` : ''}/${Collections[typed]}/${name}`;
}

function splitKey(key: string): [typed: string, namespace: string, name: string] {
  const parts = key.split('/');
  const name = parts.pop()!;
  const namespace = parts.pop()!;
  return [parts.join('/'), namespace, name];
}

const collectionOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));

/** Deletes `path`, a Pod at once (its node removes the containers); gone already is fine. */
export async function deleteObject(client: KubeApi, path: string): Promise<void> {
  const options = /\/pods\/[^/]+$/.test(path) ? { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 } : undefined;
  await client.delete(path, options).catch((err: unknown) => {
    if (!isApiNotFound(err)) throw err;
  });
}

export class ApiObjects {
  readonly #client: KubeApi;
  readonly #nodeName: string;
  readonly #remember: (paths: readonly string[]) => Promise<void>;
  /** Paths of what apply() created or replaced, in the order applied. */
  readonly #applied = new Set<string>();

  /** `remember` saves the paths applied so far where the reaper finds them. */
  constructor(client: KubeApi, nodeName: string, remember: (paths: readonly string[]) => Promise<void>) {
    this.#client = client;
    this.#nodeName = nodeName;
    this.#remember = remember;
  }

  /** Creates each object, or replaces the one there (at its resourceVersion); Pods are bound to this node. */
  async write(objects: readonly InputObject[]): Promise<void> {
    for (const object of objects) {
      const path = objectPath(object);
      const body = JSON.parse(object.text) as { kind: string; metadata: Record<string, unknown>; spec?: Record<string, unknown> };
      if (body.kind === 'Pod') body.spec = { ...body.spec, nodeName: (body.spec?.['nodeName'] as string | undefined) ?? this.#nodeName };
      if (object.namespace) body.metadata = { ...body.metadata, namespace: object.namespace };
      this.#applied.add(path);
      await this.#remember([...this.#applied]);
      try {
        await this.#client.create(collectionOf(path), body);
      } catch (err) {
        if (!isApiConflict(err)) throw new DockerletError('DKL_ERR_RUNTIME', `creating ${object.kind} ${object.namespace ? `${object.namespace}/` : ''}${object.name} (${object.from}): ${errorMessage(err)}`, { cause: err });
        const current = await this.#client.get<{ metadata: { resourceVersion?: string } }>(path);
        body.metadata = { ...body.metadata, resourceVersion: current.metadata.resourceVersion };
        await this.#client.replace(path, body).catch((replaceErr: unknown) => {
          throw new DockerletError('DKL_ERR_RUNTIME', `replacing ${object.kind} ${object.namespace ? `${object.namespace}/` : ''}${object.name} (${object.from}): ${errorMessage(replaceErr)}`, { cause: replaceErr });
        });
      }
    }
  }

  /** Deletes each object; resolves with the UIDs the Pods had. */
  async remove(objects: readonly InputObject[]): Promise<string[]> {
    const uids: string[] = [];
    for (const object of objects) {
      const path = objectPath(object);
      if (object.kind === 'Pod') {
        const pod = await this.#client.get<{ metadata: { uid: string } }>(path).catch(() => undefined);
        if (pod) uids.push(pod.metadata.uid);
      }
      await deleteObject(this.#client, path);
      this.#applied.delete(path);
      await this.#remember([...this.#applied]);
    }
    return uids;
  }

  /** Deletes everything applied, the latest first, then the node's Node. */
  async removeAll(): Promise<void> {
    await deleteClusterObjects(this.#client, [...this.#applied], this.#nodeName);
    this.#applied.clear();
    await this.#remember([]);
  }
}

/** Deletes `paths` (applied in that order: the latest go first), then the Node `nodeName`. */
export async function deleteClusterObjects(client: KubeApi, paths: readonly string[], nodeName: string): Promise<void> {
  for (const path of [...paths].reverse()) await deleteObject(client, path);
  await deleteObject(client, `/api/v1/nodes/${nodeName}`);
}
