/**
 * cluster.json: what a cluster is (its name, node, ports, set when it was made and kept for
 * every later `up`) and what of it runs (the supervising `cluster up` process and each
 * component's process, by pid and command line, so that `down` and `status` find them, and a
 * later `up` ends what a killed supervisor left; a component's record stays after it exits, with
 * its restarts, until it runs again). Written durably; read with a schema, so that a
 * damaged file is named with its field rather than misread.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DockerletError } from '../../common/api/errors.js';
import { writeFileDurably } from '../../common/util/durable-file.js';
import { isComponentName, type ComponentName } from './cluster-layout.js';
import { MaxNodes } from './cluster-network.js';

const port = z.number().int().min(1).max(65535);
const runningProcess = z.object({ pid: z.number().int().positive(), command: z.string(), startedAt: z.string() });

const ClusterStateSchema = z.object({
  name: z.string(),
  ports: z.object({ apiServer: port, etcdClient: port, etcdPeer: port }),
  /** How many nodes it was made with (--nodes; 1 when not recorded). */
  nodes: z.number().int().min(1).max(MaxNodes).optional(),
  /** Where the control plane's binaries (and etcd) were found, and their Kubernetes version. */
  controlPlane: z.object({ binDir: z.string(), etcd: z.string(), version: z.string() }).optional(),
  /** What the node was given, for the next `up` that does not give it again. */
  node: z.object({ podManifestPath: z.string().optional(), resolvConf: z.string().optional() }).optional(),
  /** The `cluster up` process that supervises the components: set while one runs, left behind by a killed one. */
  supervisor: runningProcess.extend({ ready: z.boolean() }).optional(),
  components: z.partialRecord(z.string().refine(isComponentName, 'not a component of a cluster') as z.ZodType<ComponentName>, runningProcess.extend({ restarts: z.number().int().nonnegative() })),
  /** The kubeconfig file a context of this cluster was merged into (`--merge-kubeconfig`). */
  mergedKubeconfig: z.string().optional(),
});

export type ClusterState = z.infer<typeof ClusterStateSchema>;

const Advice = 'fix it, or remove the cluster by hand (dockerlet cluster down says how)';
export type RunningProcess = z.infer<typeof runningProcess>;

/** The cluster's state, undefined when `path` does not exist (no cluster there). */
export async function readClusterState(path: string): Promise<ClusterState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DockerletError('DKL_ERR_CONFIG_INVALID', `${path}: not JSON (${(err as Error).message}); ${Advice}`);
  }
  const parsed = ClusterStateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DockerletError('DKL_ERR_CONFIG_INVALID', `${path}: ${issue.path.join('.') || '(top)'}: ${issue.message}; ${Advice}`);
  }
  return parsed.data;
}

/**
 * The one writer of a cluster's state in a process: changes apply in order, each written
 * whole before the next, so that concurrent updates (components starting and exiting) never
 * lose one another.
 */
export class ClusterStateFile {
  readonly path: string;
  #state: ClusterState;
  #writes: Promise<void> = Promise.resolve();

  constructor(path: string, state: ClusterState) {
    this.path = path;
    this.#state = state;
  }

  get state(): ClusterState {
    return this.#state;
  }

  update(change: (state: ClusterState) => void): Promise<void> {
    const next = structuredClone(this.#state);
    change(next);
    this.#state = next;
    const text = `${JSON.stringify(next, null, 2)}\n`;
    // A failed write does not stop the next one, which carries every change so far.
    this.#writes = this.#writes.catch(() => undefined).then(() => writeFileDurably(this.path, text, 0o600));
    return this.#writes;
  }
}
