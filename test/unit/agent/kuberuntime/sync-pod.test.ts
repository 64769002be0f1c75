import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ConfigMap, DefaultedPod, PodStatus } from '../../../../common/api/types.js';
import { Backoff } from '../../../../common/util/backoff.js';
import type { ConfigObjectLookup } from '../../../../agent/config/config-objects.js';
import { ImageManager } from '../../../../agent/images/image-manager.js';
import { ContainerKiller } from '../../../../agent/kuberuntime/container-killer.js';
import { nextRestartCount, PodSyncer } from '../../../../agent/kuberuntime/sync-pod.js';
import { HandlerRunner } from '../../../../agent/lifecycle/handler-runner.js';
import type { NodeFacts } from '../../../../agent/node/node-facts.js';
import type { PodContainerManager } from '../../../../agent/qos/qos-container-manager.js';
import { podLabel, type ContainerConfig, type ImageInfo, type RuntimePodStatus, type SandboxConfig, type SandboxStatus } from '../../../../agent/runtime/runtime.js';
import { ReasonCache } from '../../../../agent/status/reason-cache.js';
import { RootDir } from '../../../../agent/volumes/root-dir.js';
import { VolumeManager } from '../../../../agent/volumes/volume-manager.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { ctr, exited, FakeRecorder, FakeRuntime, instance, pod, ref, runtimeStatus, sandbox } from '../../fixtures.js';

describe('podLabel (format.Pod)', () => {
  test('is <name>_<namespace>(<uid>)', () => {
    expect(podLabel(pod({}, { name: 'web-node-1', namespace: 'kube-system', uid: 'abc' }).metadata)).toBe('web-node-1_kube-system(abc)');
  });
});

describe('nextRestartCount', () => {
  const p = pod();

  test('a container that never ran starts at 0', () => {
    expect(nextRestartCount('main', [], {})).toBe(0);
  });

  test('is one more than the newest instance', () => {
    const containers = [exited(p, 'main', 1, { id: 'b', restartCount: 4 }), exited(p, 'main', 1, { id: 'a', restartCount: 3 })];
    expect(nextRestartCount('main', containers, {})).toBe(5);
  });

  test('only counts instances of that container', () => {
    const other = { ...instance(p, 'main'), name: 'other', restartCount: 9 };
    expect(nextRestartCount('main', [other], {})).toBe(0);
  });

  test('is never less than the restart count last reported (a vanished container still counts)', () => {
    expect(nextRestartCount('main', [], { containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 6 }] })).toBe(6);
  });

  test('reads init container statuses too', () => {
    expect(nextRestartCount('setup', [], { initContainerStatuses: [{ name: 'setup', image: 'x', imageID: '', ready: false, restartCount: 2 }] })).toBe(2);
  });

  test('takes the larger of the runtime and the reported count', () => {
    const containers = [exited(p, 'main', 1, { restartCount: 7 })];
    expect(nextRestartCount('main', containers, { containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 2 }] })).toBe(8);
  });
});

// ---- PodSyncer: computePodActions applied to a runtime that records what it is asked -----------

/** A runtime that keeps what it is asked to do, and answers podSandboxStatus with what it made. */
class RecordingRuntime extends FakeRuntime {
  readonly calls: string[] = [];
  readonly created: Array<{ sandboxId: string; config: ContainerConfig }> = [];
  readonly sandboxes: SandboxConfig[] = [];
  /** The IP a new sandbox gets; undefined: it gets none. */
  sandboxIP: string | undefined = '10.244.0.9';
  /** What a new sandbox is once started: running, stopped already, or gone already. */
  sandboxState: 'ready' | 'notready' | 'gone' = 'ready';
  failSandbox: Error | undefined;
  failCreate: Error | undefined;
  failStart: Error | undefined;
  /** The user every image runs as. */
  imageUser = '';
  #next = 0;

  override async imageStatus(image: string): Promise<ImageInfo> {
    return { id: `sha256:${image}`, ref: `docker-pullable://${image}`, user: this.imageUser };
  }

  override async runPodSandbox(config: SandboxConfig): Promise<string> {
    this.calls.push(`runPodSandbox attempt=${config.attempt}`);
    if (this.failSandbox) throw this.failSandbox;
    this.sandboxes.push(config);
    return `sandbox-${++this.#next}`;
  }

  override async podSandboxStatus(id: string): Promise<SandboxStatus | undefined> {
    const config = this.sandboxes[Number(id.slice('sandbox-'.length)) - 1];
    if (!config || this.sandboxState === 'gone') return undefined;
    return { id, pod: config.pod, attempt: config.attempt, state: this.sandboxState, createdAt: 0, hostNetwork: false, ...(this.sandboxIP ? { ip: this.sandboxIP } : {}) };
  }

  override async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    this.calls.push(`createContainer ${config.name}`);
    if (this.failCreate) throw this.failCreate;
    this.created.push({ sandboxId, config });
    return `${config.name}-id`;
  }

  override async startContainer(id: string): Promise<void> {
    this.calls.push(`startContainer ${id}`);
    if (this.failStart) throw this.failStart;
  }

  override async stopContainer(id: string, gracePeriodSeconds: number): Promise<void> {
    this.calls.push(`stopContainer ${id} ${gracePeriodSeconds}`);
  }

  override async stopPodSandbox(id: string): Promise<void> {
    this.calls.push(`stopPodSandbox ${id}`);
  }

  override async removeContainer(id: string): Promise<void> {
    this.calls.push(`removeContainer ${id}`);
  }

  override async removePodSandbox(id: string): Promise<void> {
    this.calls.push(`removePodSandbox ${id}`);
  }
}

/** Pod cgroups that are only recorded: each pod's is `/dockerlet/besteffort/pod<uid>`. */
class RecordingPodContainers implements PodContainerManager {
  readonly calls: string[] = [];

  /** `runtimeCalls`: the runtime's record, to tell what had been done when the cgroup went. */
  constructor(readonly runtimeCalls: readonly string[]) {}

  async ensureExists(pod: DefaultedPod): Promise<string> {
    this.calls.push(`ensureExists ${pod.metadata.uid}`);
    return `/dockerlet/besteffort/pod${pod.metadata.uid}`;
  }

  async sandboxCreated(pod: DefaultedPod): Promise<void> {
    this.calls.push(`sandboxCreated ${pod.metadata.uid}`);
  }

  async release(uid: string): Promise<void> {
    this.calls.push(`release ${uid}`);
  }

  async destroy(uid: string): Promise<void> {
    this.calls.push(`destroy ${uid} after ${this.runtimeCalls.join(', ')}`);
  }
}

const node: NodeFacts = {
  name: 'node-1',
  hostIPs: ['192.168.1.10'],
  allocatable: { milliCpu: 2000, memoryBytes: 2 ** 32, ephemeralStorageBytes: 2 ** 36 },
  clusterDns: { servers: [], domain: 'cluster.local' },
  hostResolvConf: { nameservers: ['192.168.1.1'], searches: ['lan'], options: [] },
};

interface SyncerSetup {
  syncer: PodSyncer;
  runtime: RecordingRuntime;
  cgroups: RecordingPodContainers;
  recorder: FakeRecorder;
  reasons: ReasonCache;
  rootDir: RootDir;
  backoff: Backoff;
  now: { value: number };
}

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function setUpSyncer(objects: { configMaps?: ConfigMap[] } = {}): Promise<SyncerSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'dockerlet-syncer-'));
  roots.push(dir);
  const runtime = new RecordingRuntime();
  const cgroups = new RecordingPodContainers(runtime.calls);
  const recorder = new FakeRecorder();
  const reasons = new ReasonCache();
  const rootDir = new RootDir(dir);
  const now = { value: 1_000_000 };
  const clock = { now: () => now.value };
  const backoff = new Backoff({ initialMs: 10_000, maxMs: 300_000, clock, monotonic: clock });
  const hooks = new HandlerRunner({ runtime, recorder });
  const lookup: ConfigObjectLookup = {
    configMap: (namespace, name) => objects.configMaps?.find((c) => c.metadata?.namespace === namespace && c.metadata?.name === name),
    secret: () => undefined,
  };
  const syncer = new PodSyncer({
    runtime,
    images: new ImageManager({ runtime, backoff: new Backoff({ initialMs: 10_000, maxMs: 300_000, clock, monotonic: clock }), recorder, clock }),
    rootDir,
    reasons,
    recorder,
    crashBackoff: backoff,
    volumes: new VolumeManager({ rootDir, allowedHostPathPrefixes: [], nodeAllocatable: node.allocatable, node: { name: 'node-1', labels: {} }, clock }),
    killer: new ContainerKiller({ runtime, hooks, recorder, clock }),
    hooks,
    podContainers: cgroups,
    failedProbe: () => undefined,
    node,
    objectsFor: () => lookup,
    tokensFor: () => undefined,
    claimsFor: () => ({ resolve: async () => ({ ok: false, message: 'no claims in this test' }) }),
    serviceEnv: () => ({ ok: true, env: [] }),
    clock,
    logger: memoryLogger().logger,
  });
  return { syncer, runtime, cgroups, recorder, reasons, rootDir, backoff, now };
}

const running: PodStatus = { phase: 'Running' };
const sync = (setup: SyncerSetup, p: DefaultedPod, status: RuntimePodStatus, apiStatus: PodStatus = running) =>
  setup.syncer.syncPod(p, status, apiStatus, new AbortController().signal);

describe('PodSyncer.syncPod', () => {
  test('a new pod: its sandbox, then its init container, and the app containers only once that one has run', async () => {
    const setup = await setUpSyncer();
    const p = pod({ initContainers: [ctr('setup')], containers: [ctr('main'), ctr('sidecar')] });
    const result = await sync(setup, p, runtimeStatus(p, []));
    expect(result).toEqual({ changed: true });
    expect(setup.runtime.calls).toEqual(['runPodSandbox attempt=0', 'createContainer setup', 'startContainer setup-id']);
    expect(setup.runtime.created[0]?.sandboxId).toBe('sandbox-1');
    expect(setup.recorder.reasons()).toEqual(['Pulled', 'Created', 'Started']);
  });

  test("the pod's cgroup is made before its sandbox, which gets it as its cgroup parent", async () => {
    const setup = await setUpSyncer();
    const p = pod();
    await sync(setup, p, runtimeStatus(p, []));
    expect(setup.cgroups.calls).toEqual(['ensureExists uid-1', 'sandboxCreated uid-1']);
    expect(setup.runtime.sandboxes.map((config) => config.cgroupParent)).toEqual(['/dockerlet/besteffort/poduid-1']);
  });

  test("a running pod's cgroup is ensured at each sync (a pod adopted after a restart counts in its class's again)", async () => {
    const setup = await setUpSyncer();
    const p = pod();
    await sync(setup, p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]));
    expect(setup.cgroups.calls).toEqual(['ensureExists uid-1']);
  });

  test("a pod in a terminal phase is released from its QoS class's cgroup, and no cgroup is made for it", async () => {
    const setup = await setUpSyncer();
    const p = pod();
    await sync(setup, p, runtimeStatus(p, [sandbox(p)], [exited(p, 'main', 0)]), { phase: 'Succeeded' });
    expect(setup.cgroups.calls).toEqual(['release uid-1']);
  });

  test("the pod's resolv.conf and hosts file are written before its containers start", async () => {
    const setup = await setUpSyncer();
    const p = pod({ hostname: 'web-0', subdomain: 'web' });
    await sync(setup, p, runtimeStatus(p, []));
    const uid = p.metadata.uid;
    expect(await readFile(setup.rootDir.resolvConfPath(uid), 'utf8')).toBe('nameserver 192.168.1.1\nsearch lan\n');
    expect(await readFile(setup.rootDir.etcHostsPath(uid), 'utf8')).toContain('10.244.0.9\tweb-0.web.default.svc.cluster.local\tweb-0');
  });

  test('the termination message file is world-writable whatever the umask, for a container running as any user', async () => {
    const setup = await setUpSyncer();
    const p = pod();
    const umask = process.umask(0o022);
    try {
      await sync(setup, p, runtimeStatus(p, [sandbox(p)]));
    } finally {
      process.umask(umask);
    }
    expect((await stat(setup.rootDir.terminationMessagePath(p.metadata.uid, 'main', 0))).mode & 0o777).toBe(0o666);
  });

  test('in a running sandbox, missing app containers are started in spec order', async () => {
    const setup = await setUpSyncer();
    const p = pod({ containers: [ctr('main'), ctr('sidecar')] });
    await sync(setup, p, runtimeStatus(p, [sandbox(p)]));
    expect(setup.runtime.calls).toEqual(['createContainer main', 'startContainer main-id', 'createContainer sidecar', 'startContainer sidecar-id']);
    expect(setup.runtime.created.map((c) => c.sandboxId)).toEqual(['sandbox-1', 'sandbox-1']);
  });

  test.each([
    { what: 'gets no IP', set: (runtime: RecordingRuntime) => void (runtime.sandboxIP = undefined), message: 'the sandbox sandbox-1 got no IP address on the pod network' },
    { what: 'has stopped', set: (runtime: RecordingRuntime) => void (runtime.sandboxState = 'notready'), message: 'the sandbox sandbox-1 stopped as soon as it started' },
    { what: 'is gone', set: (runtime: RecordingRuntime) => void (runtime.sandboxState = 'gone'), message: 'the sandbox sandbox-1 was gone as soon as it started' },
  ])('a sandbox that $what once started is a FailedCreatePodSandBox saying so, every container waits with CreatePodSandboxError, and a retry is asked for', async ({ set, message }) => {
    const setup = await setUpSyncer();
    set(setup.runtime);
    const p = pod();
    const result = await sync(setup, p, runtimeStatus(p, []));
    expect(result).toEqual({ changed: true, retryAfterMs: 10_000 });
    expect(setup.runtime.calls).toEqual(['runPodSandbox attempt=0']);
    expect(setup.recorder.events.map((e) => `${e.reason}: ${e.message}`)).toEqual([`FailedCreatePodSandBox: Failed to create pod sandbox: ${message}`]);
    expect(setup.reasons.get(p.metadata.uid, 'main')?.reason).toBe('CreatePodSandboxError');
  });

  test('a volume that cannot be set up stops the pod before its sandbox: FailedMount, and a retry in 5 s', async () => {
    const setup = await setUpSyncer();
    const p = pod({ volumes: [{ name: 'settings', configMap: { name: 'absent' } }] });
    const result = await sync(setup, p, runtimeStatus(p, []));
    expect(result).toEqual({ changed: false, retryAfterMs: 5_000 });
    expect(setup.runtime.calls).toEqual([]);
    expect(setup.recorder.events.map((e) => `${e.reason}: ${e.message}`)).toEqual(['FailedMount: MountVolume.SetUp failed for volume "settings" : configmap "absent" not found']);
  });

  test('an environment that cannot be built is a CreateContainerConfigError: no container is created', async () => {
    const setup = await setUpSyncer();
    const p = pod({ containers: [ctr('main', { env: [{ name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'app', key: 'level' } } }] })] });
    const result = await sync(setup, p, runtimeStatus(p, [sandbox(p)]));
    expect(result).toEqual({ changed: true, retryAfterMs: 10_000 });
    expect(setup.runtime.calls).toEqual([]);
    expect(setup.reasons.get(p.metadata.uid, 'main')).toEqual({ reason: 'CreateContainerConfigError', message: 'configmap "app" not found' });
  });

  test('the environment the container gets: its variables, and what its ConfigMap says', async () => {
    const settings: ConfigMap = { metadata: { name: 'app', namespace: 'default' }, data: { level: 'debug' } };
    const setup = await setUpSyncer({ configMaps: [settings] });
    const p = pod({ containers: [ctr('main', { env: [{ name: 'A', value: 'x' }, { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'app', key: 'level' } } }] })] });
    await sync(setup, p, runtimeStatus(p, [sandbox(p)]));
    expect(setup.runtime.created[0]?.config.env).toEqual([
      { name: 'A', value: 'x' },
      { name: 'LEVEL', value: 'debug' },
    ]);
  });

  test('a container that just failed waits out its CrashLoopBackOff: a BackOff event and no restart before the delay', async () => {
    const setup = await setUpSyncer();
    const p = pod();
    const dead = exited(p, 'main', 1, { finishedAt: setup.now.value });
    const first = await sync(setup, p, runtimeStatus(p, [sandbox(p)], [dead]));
    expect(first.retryAfterMs).toBeUndefined();
    expect(setup.runtime.calls).toEqual(['createContainer main', 'startContainer main-id']);
    setup.runtime.calls.length = 0;
    const again = exited(p, 'main', 1, { id: 'main-1', restartCount: 1, finishedAt: setup.now.value + 1_000 });
    setup.now.value += 2_000;
    const second = await sync(setup, p, runtimeStatus(p, [sandbox(p)], [again]));
    expect(setup.runtime.calls).toEqual([]);
    expect(second.retryAfterMs).toBe(9_000);
    expect(setup.reasons.get(p.metadata.uid, 'main')).toEqual({ reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=main pod=web_default(uid-1)' });
    expect(setup.recorder.reasons()).toContain('BackOff');
  });

  test('runAsNonRoot with an image that runs as root is a CreateContainerConfigError: nothing is created', async () => {
    const setup = await setUpSyncer();
    const p = pod({ securityContext: { runAsNonRoot: true } });
    expect((await sync(setup, p, runtimeStatus(p, [sandbox(p)]))).retryAfterMs).toBe(10_000);
    expect(setup.runtime.calls).toEqual([]);
    expect(setup.reasons.get(p.metadata.uid, 'main')).toEqual({ reason: 'CreateContainerConfigError', message: 'container has runAsNonRoot and image will run as root (pod: "web_default(uid-1)", container: main)' });
    setup.runtime.imageUser = '1000';
    await sync(setup, p, runtimeStatus(p, [sandbox(p)]));
    expect(setup.runtime.calls).toEqual(['createContainer main', 'startContainer main-id']);
  });

  test('a container that fails to start is a RunContainerError with the runtime\'s message', async () => {
    const setup = await setUpSyncer();
    setup.runtime.failStart = new Error('exec: "nope": executable file not found in $PATH');
    const p = pod();
    await sync(setup, p, runtimeStatus(p, [sandbox(p)]));
    expect(setup.reasons.get(p.metadata.uid, 'main')).toEqual({
      reason: 'RunContainerError',
      message: 'failed to start container "main-id": exec: "nope": executable file not found in $PATH',
    });
  });

  test('a failed create backs off as a crash does: no new attempt until the delay has passed, then one, and the delay doubles', async () => {
    const setup = await setUpSyncer();
    setup.runtime.failCreate = new Error('Duplicate mount point: /etc/hosts');
    const p = pod();
    const status = runtimeStatus(p, [sandbox(p)]);
    const attempts = (): number => setup.runtime.calls.filter((call) => call === 'createContainer main').length;
    expect(await sync(setup, p, status)).toEqual({ changed: true, retryAfterMs: 10_000 });
    setup.now.value += 9_999;
    expect((await sync(setup, p, status)).retryAfterMs).toBe(1);
    expect(attempts()).toBe(1);
    expect(setup.reasons.get(p.metadata.uid, 'main')).toEqual({ reason: 'CreateContainerError', message: 'Duplicate mount point: /etc/hosts' });
    setup.now.value += 1;
    expect(await sync(setup, p, status)).toEqual({ changed: true, retryAfterMs: 20_000 });
    expect(attempts()).toBe(2);
  });

  test('once a create succeeds, the next failure starts from the initial delay again only after the backoff expires', async () => {
    const setup = await setUpSyncer();
    setup.runtime.failStart = new Error('exec: "nope": executable file not found in $PATH');
    const p = pod();
    const status = runtimeStatus(p, [sandbox(p)]);
    expect((await sync(setup, p, status)).retryAfterMs).toBe(10_000);
    setup.runtime.failStart = undefined;
    setup.now.value += 10_000;
    await sync(setup, p, status);
    expect(setup.runtime.calls.filter((call) => call.startsWith('startContainer'))).toEqual(['startContainer main-id', 'startContainer main-id']);
    expect(setup.reasons.get(p.metadata.uid, 'main')).toBeUndefined();
  });

  test('a pod in a terminal phase runs nothing more: what still runs is stopped, nothing is started', async () => {
    const setup = await setUpSyncer();
    const p = pod({ containers: [ctr('main'), ctr('sidecar')] });
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'main'), exited(p, 'sidecar', 0)]);
    await sync(setup, p, status, { phase: 'Succeeded' });
    expect(setup.runtime.calls).toEqual(['stopContainer main-0 30', 'stopPodSandbox sandbox-1']);
  });

  test("an evicted pod is stopped with the eviction's grace period, not its own (never under the 2 s minimum)", async () => {
    const setup = await setUpSyncer();
    const p = pod({ containers: [ctr('main')] });
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]);
    await setup.syncer.syncPod(p, status, { phase: 'Failed', reason: 'Evicted' }, new AbortController().signal, 1);
    expect(setup.runtime.calls.filter((call) => call.startsWith('stopContainer'))).toEqual(['stopContainer main-0 2']);
    const later = await setUpSyncer();
    await later.syncer.syncPod(p, status, { phase: 'Failed', reason: 'Evicted' }, new AbortController().signal, 20);
    expect(later.runtime.calls.filter((call) => call.startsWith('stopContainer'))).toEqual(['stopContainer main-0 20']);
  });

  test('dead instances beyond the newest of each container are removed, and old sandboxes that are not ready', async () => {
    const setup = await setUpSyncer();
    const p = pod();
    const status = runtimeStatus(
      p,
      [sandbox(p), sandbox(p, { id: 'sandbox-0', state: 'notready' })],
      [instance(p, 'main', { id: 'main-2', restartCount: 2 }), exited(p, 'main', 1, { id: 'main-1' }), exited(p, 'main', 1, { id: 'main-0' })],
    );
    await sync(setup, p, status);
    expect(setup.runtime.calls).toEqual(['removeContainer main-0', 'removePodSandbox sandbox-0']);
  });
});

describe('PodSyncer.killPod and removePod', () => {
  test('app containers stop first, then sidecars in reverse order, then the sandbox', async () => {
    const setup = await setUpSyncer();
    const p = pod({ initContainers: [ctr('log', { restartPolicy: 'Always' }), ctr('proxy', { restartPolicy: 'Always' })], containers: [ctr('main')] });
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'log'), instance(p, 'proxy'), instance(p, 'main')]);
    await setup.syncer.killPod(ref(p), status, 5, p);
    expect(setup.runtime.calls).toEqual(['stopContainer main-0 5', 'stopContainer proxy-0 5', 'stopContainer log-0 5', 'stopPodSandbox sandbox-1']);
  });

  test('a pod gone for good: every container and sandbox removed, then its cgroup, and its directory', async () => {
    const setup = await setUpSyncer();
    const p = pod();
    await sync(setup, p, runtimeStatus(p, []));
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'main', 0)]);
    setup.runtime.calls.length = 0;
    await setup.syncer.removePod(p.metadata.uid, status);
    expect(setup.runtime.calls).toEqual(['removeContainer main-0', 'removePodSandbox sandbox-1']);
    expect(setup.cgroups.calls.at(-1)).toBe('destroy uid-1 after removeContainer main-0, removePodSandbox sandbox-1');
    await expect(readFile(setup.rootDir.resolvConfPath(p.metadata.uid), 'utf8')).rejects.toThrow(/ENOENT/);
  });
});
