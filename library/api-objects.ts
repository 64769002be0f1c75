/**
 * A cluster node's objects: what apply() sends to the API server and delete() takes back, as
 * `kubectl apply` and `kubectl delete` would, with each Pod bound to the node (spec.nodeName), so
 * it runs here whatever the scheduler would choose. Each object applied carries the label
 * dockerlet.io/test-node=<node>, and is remembered by path and UID (in the session record too):
 * stop(), or the reaper after a crash, deletes exactly those objects (a UID precondition spares
 * one of the same name made since by someone else) and the Node. An object of that name that the
 * node did not apply is never replaced.
 */
import { DockerletError, errorMessage } from '../common/api/errors.js';
import { delay } from '../common/util/clock.js';
import { isApiConflict, isApiNotFound, type KubeApi } from '../common/kube-api/kube-client.js';
import type { InputObject } from './manifest-inputs.js';

/** The label on what a test node applied: its name. */
export const AppliedByLabel = 'dockerlet.io/test-node';

/** An object a node applied, as the session record keeps it. */
export interface AppliedApiObject {
  path: string;
  uid: string;
}

interface ApiObject {
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
}

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
const isPodPath = (path: string): boolean => /\/pods\/[^/]+$/.test(path);

/** Deletes the object at `path` if it is still the one of `uid`; `now` deletes a Pod without its grace period. Gone already is fine. */
export async function deleteObject(client: KubeApi, path: string, options: { uid?: string; now?: boolean } = {}): Promise<void> {
  const body = {
    apiVersion: 'v1',
    kind: 'DeleteOptions',
    ...(options.now && isPodPath(path) ? { gracePeriodSeconds: 0 } : {}),
    ...(options.uid ? { preconditions: { uid: options.uid } } : {}),
  };
  await client.delete(path, body).catch((err: unknown) => {
    // 409: another object has the name now, not the one applied.
    if (!isApiNotFound(err) && !(options.uid && isApiConflict(err))) throw err;
  });
}

/** Deletes `objects` (applied in that order: the latest go first), each Pod at once, then the Node `nodeName`. */
export async function deleteClusterObjects(client: KubeApi, objects: readonly AppliedApiObject[], nodeName: string): Promise<void> {
  for (const { path, uid } of [...objects].reverse()) await deleteObject(client, path, { uid, now: true });
  await deleteObject(client, `/api/v1/nodes/${nodeName}`);
}

export class ApiObjects {
  readonly #client: KubeApi;
  readonly #nodeName: string;
  readonly #remember: (objects: readonly AppliedApiObject[]) => Promise<void>;
  /** What apply() created or replaced, by path, in the order applied. */
  readonly #applied = new Map<string, string>();
  /** Saves one after another: the record always holds the latest list. */
  #saving: Promise<void> = Promise.resolve();

  /** `remember` saves what was applied so far where the reaper finds it. */
  constructor(client: KubeApi, nodeName: string, remember: (objects: readonly AppliedApiObject[]) => Promise<void>) {
    this.#client = client;
    this.#nodeName = nodeName;
    this.#remember = remember;
  }

  /** Creates each object, or replaces the one this node applied before; a Pod is bound to this node. */
  async write(objects: readonly InputObject[]): Promise<void> {
    for (const object of objects) {
      const path = objectPath(object);
      const what = `${object.kind} ${object.namespace ? `${object.namespace}/` : ''}${object.name} (${object.from})`;
      const body = JSON.parse(object.text) as ApiObject;
      body.metadata = { ...body.metadata, labels: { ...body.metadata.labels, [AppliedByLabel]: this.#nodeName }, ...(object.namespace ? { namespace: object.namespace } : {}) };
      if (body.kind === 'Pod') {
        const bound = body.spec?.['nodeName'];
        if (bound !== undefined && bound !== this.#nodeName) throw new DockerletError('DKL_ERR_BAD_REQUEST', `${what}: spec.nodeName is ${JSON.stringify(bound)}: a test node runs only pods bound to it (${this.#nodeName}); leave spec.nodeName out`);
        body.spec = { ...body.spec, nodeName: this.#nodeName };
      }
      try {
        await this.#save(path, await this.#apply(path, body));
      } catch (err) {
        throw new DockerletError(err instanceof ApplyRefused ? 'DKL_ERR_BAD_REQUEST' : 'DKL_ERR_RUNTIME', `applying ${what}: ${errorMessage(err)}`, { cause: err });
      }
    }
  }

  /** Creates the object, or replaces the one there if this node applied it; a Pod, whose spec cannot change, is made again. */
  async #apply(path: string, body: ApiObject): Promise<ApiObject> {
    try {
      return await this.#client.create(collectionOf(path), body);
    } catch (err) {
      if (!isApiConflict(err)) throw err;
    }
    const current = await this.#client.get<ApiObject>(path);
    if (current.metadata.labels?.[AppliedByLabel] !== this.#nodeName) throw new ApplyRefused(`it exists already, and this node did not apply it: delete it, or give this one another name`);
    if (body.kind !== 'Pod') return this.#client.replace(path, { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata.resourceVersion } });
    await deleteObject(this.#client, path, { ...(current.metadata.uid ? { uid: current.metadata.uid } : {}), now: true });
    for (;;) {
      try {
        return await this.#client.create(collectionOf(path), body);
      } catch (err) {
        // The old Pod is still being removed.
        if (!isApiConflict(err)) throw err;
        await delay(200, undefined, true);
      }
    }
  }

  #save(path: string, stored: ApiObject): Promise<void> {
    this.#applied.delete(path);
    this.#applied.set(path, stored.metadata.uid ?? '');
    return this.#record();
  }

  #record(): Promise<void> {
    const objects = [...this.#applied].map(([path, uid]) => ({ path, uid }));
    this.#saving = this.#saving.then(() => this.#remember(objects));
    return this.#saving;
  }

  /** Deletes each object (a Pod with its grace period, as `kubectl delete`); resolves with the UIDs the Pods had. */
  async remove(objects: readonly InputObject[]): Promise<string[]> {
    const uids: string[] = [];
    for (const object of objects) {
      const path = objectPath(object);
      const applied = this.#applied.get(path);
      if (object.kind === 'Pod') {
        const pod = await this.#client.get<ApiObject>(path).catch(() => undefined);
        if (pod?.metadata.uid) uids.push(pod.metadata.uid);
      }
      await deleteObject(this.#client, path, applied ? { uid: applied } : {});
      this.#applied.delete(path);
      await this.#record();
    }
    return uids;
  }
}

/** A refusal of this module's own: the caller's input, not the API server, is at fault. */
class ApplyRefused extends Error {}
