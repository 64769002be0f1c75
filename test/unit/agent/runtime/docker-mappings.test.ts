import { PassThrough, Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import { describe, expect, test } from 'vitest';
import { containerHash } from '../../../../common/api/pod-helpers.js';
import type { DefaultedPod } from '../../../../common/api/types.js';
import { containerCreateOptions, dockerCgroupParent, sandboxCreateOptions, seccompSecurityOpt, type DockerHostSettings, type EngineHost } from '../../../../agent/runtime/docker/create-options.js';
import { dockerMessage, isDockerConflict, isDockerNotFound, isDockerNotModified } from '../../../../agent/runtime/docker/docker-errors.js';
import { watchDockerEvents } from '../../../../agent/runtime/docker/events.js';
import { demuxLogBuffer, demuxLogStream } from '../../../../agent/runtime/docker/logs.js';
import { dockerContainerName, dockerSandboxName } from '../../../../agent/runtime/docker/naming.js';
import { containerStatus, dockerTime, groupRunningPods, sandboxStatus } from '../../../../agent/runtime/docker/status.js';
import type { ContainerConfig, RuntimeEvent, SandboxConfig } from '../../../../agent/runtime/runtime.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { ctr, deferred, exited, Image, instance, pod, ref, sandbox, specOf } from '../../fixtures.js';
import { containerConfig, dockerFrame } from '../../../helpers/runtime-fixtures.js';

const Settings: DockerHostSettings = {
  nodeName: 'node-a',
  networkName: 'dockerlet',
  podInfraImage: 'registry.k8s.io/pause:3.10',
  logMaxSize: '10m',
  logMaxFiles: 5,
};

/** A host where OOM scores may go as low as the kernel allows, with Docker's cgroupfs driver. */
const Host: EngineHost = { oomScoreFloor: -1000, cgroupDriver: 'cgroupfs' };

const Web = ref(pod());
const LogConfig = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '5' } };
/** What `docker inspect` shows for a time that never happened. */
const ZeroTime = '0001-01-01T00:00:00Z';

/** `ms` as Docker writes times: RFC 3339 with nanoseconds. */
function nanoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000000Z');
}

function sandboxConfigOf(extra: Partial<SandboxConfig> = {}): SandboxConfig {
  return { pod: Web, attempt: 0, seccomp: { type: 'Unconfined' }, sysctls: {}, hostname: 'web', hostNetwork: false, hostIPC: false, hostPID: false, portMappings: [], labels: {}, ...extra };
}

const containerConfigOf = (extra: Partial<ContainerConfig> = {}, security: Partial<ContainerConfig['security']> = {}): ContainerConfig => containerConfig(Image, extra, security);

function create(extra: Partial<ContainerConfig> = {}, security: Partial<ContainerConfig['security']> = {}, host: EngineHost = Host): Dockerode.ContainerCreateOptions {
  const config = containerConfigOf(extra, security);
  return containerCreateOptions(Settings, { id: 'sandbox-1', pod: Web }, config, seccompSecurityOpt(config.security.seccomp), host);
}

type InspectState = ContainerInspectInfo['State'];

interface InspectInput {
  id?: string;
  created?: number;
  image?: string;
  labels?: Record<string, string>;
  state?: Partial<InspectState>;
  networkMode?: string;
  /** Network name -> the container's address on it. */
  networks?: Record<string, string>;
  mounts?: Array<{ source: string; destination: string }>;
}

/** A `docker inspect` result; by default a container created and never started. */
function inspectInfo(input: InspectInput = {}): ContainerInspectInfo {
  const networks: ContainerInspectInfo['NetworkSettings']['Networks'] = {};
  for (const [name, ip] of Object.entries(input.networks ?? {})) {
    networks[name] = { NetworkID: `net-${name}`, EndpointID: '', Gateway: '', IPAddress: ip, IPPrefixLen: 16, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '' };
  }
  return {
    Id: input.id ?? 'main-0',
    Created: nanoTime(input.created ?? 2_000),
    Path: '/bin/sh',
    Args: [],
    State: {
      Status: 'created',
      Running: false,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 0,
      ExitCode: 0,
      Error: '',
      StartedAt: ZeroTime,
      FinishedAt: ZeroTime,
      ...input.state,
    },
    Image: 'sha256:0123',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: '',
    Name: '/k8s_main_web_default_uid-1_0',
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    HostConfig: { NetworkMode: input.networkMode ?? 'container:sandbox-1' },
    GraphDriver: { Name: 'overlay2', Data: { DeviceId: '', DeviceName: '', DeviceSize: '' } },
    Mounts: (input.mounts ?? []).map((m) => ({ Type: 'bind', Source: m.source, Destination: m.destination, Mode: '', RW: true, Propagation: 'rprivate' })),
    Config: {
      Hostname: 'web',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: {},
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: [],
      Cmd: [],
      Image: input.image ?? Image,
      Volumes: {},
      WorkingDir: '',
      Labels: input.labels ?? {},
    },
    NetworkSettings: { SandboxID: '', Ports: {}, SandboxKey: '', Networks: networks },
  };
}

const running = (extra: Partial<InspectState> = {}): Partial<InspectState> => ({ Status: 'running', Running: true, Pid: 42, StartedAt: nanoTime(2_000), ...extra });
const stopped = (exitCode: number, extra: Partial<InspectState> = {}): Partial<InspectState> => ({
  Status: 'exited',
  ExitCode: exitCode,
  StartedAt: nanoTime(2_000),
  FinishedAt: nanoTime(3_000),
  ...extra,
});

/** The labels dockerlet gives the container `name` of `p`, created from its current spec in sandbox-1. */
function containerLabels(p: DefaultedPod, name: string, kind: 'init' | 'regular' = 'regular'): Record<string, string> {
  return {
    'dockerlet.io/node': 'node-a',
    'io.kubernetes.pod.name': 'web',
    'io.kubernetes.pod.namespace': 'default',
    'io.kubernetes.pod.uid': 'uid-1',
    'io.kubernetes.container.name': name,
    'io.kubernetes.docker.type': 'container',
    'io.kubernetes.sandbox.id': 'sandbox-1',
    'dockerlet.io/container-hash': containerHash(specOf(p, name)),
    'dockerlet.io/restart-count': '0',
    'dockerlet.io/container-kind': kind,
  };
}

const sandboxLabels = (attempt?: string): Record<string, string> => ({
  'dockerlet.io/node': 'node-a',
  'io.kubernetes.pod.name': 'web',
  'io.kubernetes.pod.namespace': 'default',
  'io.kubernetes.pod.uid': 'uid-1',
  'io.kubernetes.container.name': 'POD',
  'io.kubernetes.docker.type': 'podsandbox',
  ...(attempt !== undefined ? { 'dockerlet.io/attempt': attempt } : {}),
});

describe('naming', () => {
  test('a container is k8s_<container>_<pod>_<namespace>_<uid>_<restart count>', () => {
    expect(dockerContainerName('main', Web, 3)).toBe('k8s_main_web_default_uid-1_3');
  });

  test('a sandbox is named like a container called POD, with its attempt', () => {
    expect(dockerSandboxName(Web, 2)).toBe('k8s_POD_web_default_uid-1_2');
  });
});

describe('sandboxCreateOptions', () => {
  test('the pause image under the dockershim sandbox name, with the pod\'s hostname', () => {
    const options = sandboxCreateOptions(Settings, sandboxConfigOf({ attempt: 1, hostname: 'front' }), ['seccomp=unconfined'], Host);
    expect([options.name, options.Image, options.Hostname]).toEqual(['k8s_POD_web_default_uid-1_1', 'registry.k8s.io/pause:3.10', 'front']);
  });

  test('labels: the extra ones, the pod identity, the node, POD, podsandbox and the attempt', () => {
    const options = sandboxCreateOptions(Settings, sandboxConfigOf({ attempt: 2, labels: { 'io.kubernetes.pod.terminationGracePeriod': '30' } }), ['seccomp=unconfined'], Host);
    expect(options.Labels).toEqual({ 'io.kubernetes.pod.terminationGracePeriod': '30', ...sandboxLabels('2') });
  });

  test('an extra label cannot overwrite the identity labels', () => {
    const options = sandboxCreateOptions(Settings, sandboxConfigOf({ labels: { 'io.kubernetes.pod.uid': 'other', 'io.kubernetes.docker.type': 'container' } }), ['seccomp=unconfined'], Host);
    expect(options.Labels).toEqual(sandboxLabels('0'));
  });

  test('on the pod network: the Docker network, a shareable IPC namespace, its own PID namespace, no restarts, json-file logs', () => {
    expect(sandboxCreateOptions(Settings, sandboxConfigOf(), ['seccomp=unconfined'], Host).HostConfig).toEqual({
      NetworkMode: 'dockerlet',
      IpcMode: 'shareable',
      PortBindings: {},
      RestartPolicy: { Name: 'no' },
      LogConfig,
      OomScoreAdj: -998,
      SecurityOpt: ['seccomp=unconfined'],
    });
  });

  test('hostNetwork: the host\'s network and UTS namespaces, no hostname of its own, no port bindings', () => {
    const options = sandboxCreateOptions(
      Settings,
      sandboxConfigOf({ hostNetwork: true, portMappings: [{ containerPort: 80, hostPort: 8080, protocol: 'TCP' }] }),
      [],
      Host,
    );
    expect(options.Hostname).toBeUndefined();
    expect([options.HostConfig?.NetworkMode, options.HostConfig?.UTSMode, options.HostConfig?.PortBindings]).toEqual(['host', 'host', {}]);
  });

  test('the pod\'s cgroup is its cgroup parent, spelled for the driver: the path with cgroupfs, the innermost slice with systemd', () => {
    const cgroupfs = sandboxConfigOf({ cgroupParent: '/dockerlet/burstable/poduid-1' });
    expect(sandboxCreateOptions(Settings, cgroupfs, [], Host).HostConfig?.CgroupParent).toBe('/dockerlet/burstable/poduid-1');
    const systemd = sandboxConfigOf({ cgroupParent: '/dockerlet.slice/dockerlet-burstable.slice/dockerlet-burstable-poduid_1.slice' });
    expect(sandboxCreateOptions(Settings, systemd, [], { ...Host, cgroupDriver: 'systemd' }).HostConfig?.CgroupParent).toBe('dockerlet-burstable-poduid_1.slice');
    expect(dockerCgroupParent('/dockerlet.slice', 'systemd')).toBe('dockerlet.slice');
  });

  test('no cgroup of the pod\'s: no cgroup parent, the engine\'s default', () => {
    expect(sandboxCreateOptions(Settings, sandboxConfigOf(), [], Host).HostConfig).not.toHaveProperty('CgroupParent');
  });

  test('hostIPC and hostPID: the host\'s IPC and PID namespaces', () => {
    const options = sandboxCreateOptions(Settings, sandboxConfigOf({ hostIPC: true, hostPID: true }), ['seccomp=unconfined'], Host);
    expect([options.HostConfig?.IpcMode, options.HostConfig?.PidMode]).toEqual(['host', 'host']);
  });

  test('hostPorts: exposed as <port>/<protocol in lower case>, bound to the host IP (any when unset), several host ports per container port', () => {
    const options = sandboxCreateOptions(
      Settings,
      sandboxConfigOf({
        portMappings: [
          { containerPort: 80, hostPort: 8080, protocol: 'TCP' },
          { containerPort: 80, hostPort: 8081, protocol: 'TCP', hostIP: '127.0.0.1' },
          { containerPort: 53, hostPort: 5353, protocol: 'UDP' },
          { containerPort: 9, hostPort: 9009, protocol: 'SCTP' },
        ],
      }),
      [],
      Host,
    );
    expect(options.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '9/sctp': {} });
    expect(options.HostConfig?.PortBindings).toEqual({
      '80/tcp': [
        { HostIp: '', HostPort: '8080' },
        { HostIp: '127.0.0.1', HostPort: '8081' },
      ],
      '53/udp': [{ HostIp: '', HostPort: '5353' }],
      '9/sctp': [{ HostIp: '', HostPort: '9009' }],
    });
  });

  test('the log settings become json-file max-size and max-file', () => {
    const options = sandboxCreateOptions({ ...Settings, logMaxSize: '1m', logMaxFiles: 2 }, sandboxConfigOf(), [], Host);
    expect(options.HostConfig?.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
  });
});

describe('containerCreateOptions: identity', () => {
  test('the image, under the dockershim name with the restart count as attempt', () => {
    const options = create({ restartCount: 3, image: 'nginx:1.27' });
    expect([options.name, options.Image]).toEqual(['k8s_main_web_default_uid-1_3', 'nginx:1.27']);
  });

  test('labels: the extra ones (termination message, preStop handler, ports) kept, then the pod, node, container name and type, sandbox, hash, restart count and kind', () => {
    const extra = {
      'io.kubernetes.pod.terminationGracePeriod': '30',
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.container.terminationMessagePolicy': 'FallbackToLogsOnError',
      'io.kubernetes.container.preStopHandler': '{"exec":{"command":["stop"]}}',
      'io.kubernetes.container.ports': '[{"name":"http","containerPort":8080,"protocol":"TCP"}]',
    };
    const options = create({ labels: extra, kind: 'init', hash: 'abc123', restartCount: 4 });
    expect(options.Labels).toEqual({
      ...extra,
      'dockerlet.io/node': 'node-a',
      'io.kubernetes.pod.name': 'web',
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.uid': 'uid-1',
      'io.kubernetes.container.name': 'main',
      'io.kubernetes.docker.type': 'container',
      'io.kubernetes.sandbox.id': 'sandbox-1',
      'dockerlet.io/container-hash': 'abc123',
      'dockerlet.io/restart-count': '4',
      'dockerlet.io/container-kind': 'init',
    });
  });

  test('an extra label cannot overwrite the identity labels', () => {
    const options = create({ labels: { 'io.kubernetes.pod.uid': 'other', 'io.kubernetes.container.name': 'other', 'dockerlet.io/restart-count': '9' } });
    const labels = options.Labels ?? {};
    expect([labels['io.kubernetes.pod.uid'], labels['io.kubernetes.container.name'], labels['dockerlet.io/restart-count']]).toEqual(['uid-1', 'main', '0']);
  });

  test('what the labels hold reads back as the status\'s name, pod, sandbox, kind, hash and restart count', () => {
    const options = create({ kind: 'init', hash: 'abc123', restartCount: 2 });
    const status = containerStatus(inspectInfo({ labels: options.Labels ?? {}, state: running() }), 'docker://sha256:0123');
    expect([status.name, status.pod, status.sandboxId, status.kind, status.hash, status.restartCount]).toEqual(['main', Web, 'sandbox-1', 'init', 'abc123', 2]);
  });
});

describe('containerCreateOptions: namespaces and host settings', () => {
  test('a plain container joins the sandbox\'s network and IPC namespaces keeps its own PID namespace, never restarts, logs to json-file', () => {
    expect(create().HostConfig).toEqual({
      NetworkMode: 'container:sandbox-1',
      IpcMode: 'container:sandbox-1',
      Mounts: [],
      RestartPolicy: { Name: 'no' },
      LogConfig,
      OomScoreAdj: 1000,
      Privileged: false,
      ReadonlyRootfs: false,
      CapAdd: [],
      CapDrop: [],
      SecurityOpt: ['seccomp=unconfined'],
    });
  });

  test('a container goes in the cgroup parent its sandbox was given, as Docker spells it', () => {
    const config = containerConfigOf();
    const options = containerCreateOptions(Settings, { id: 'sandbox-1', pod: Web, cgroupParent: 'dockerlet-burstable-poduid_1.slice' }, config, [], Host);
    expect(options.HostConfig?.CgroupParent).toBe('dockerlet-burstable-poduid_1.slice');
  });

  test('shareProcessNamespace: the sandbox\'s PID namespace', () => {
    expect(create({}, { sharePid: true }).HostConfig?.PidMode).toBe('container:sandbox-1');
  });

  test('hostPID and hostIPC: the host\'s namespaces, hostPID winning over a shared pod namespace', () => {
    const options = create({}, { hostPID: true, hostIPC: true, sharePid: true });
    expect([options.HostConfig?.PidMode, options.HostConfig?.IpcMode, options.HostConfig?.NetworkMode]).toEqual(['host', 'host', 'container:sandbox-1']);
  });
});

describe('containerCreateOptions: process', () => {
  test('command and args: command replaces the entrypoint, args the cmd', () => {
    const options = create({ command: ['/bin/server'], args: ['--port', '80'] });
    expect([options.Entrypoint, options.Cmd]).toEqual([['/bin/server'], ['--port', '80']]);
  });

  test('command alone empties the image\'s cmd', () => {
    const options = create({ command: ['/bin/server'] });
    expect([options.Entrypoint, options.Cmd]).toEqual([['/bin/server'], []]);
  });

  test('args alone keep the image\'s entrypoint', () => {
    const options = create({ args: ['--verbose'] });
    expect('Entrypoint' in options).toBe(false);
    expect(options.Cmd).toEqual(['--verbose']);
  });

  test('neither: the image\'s entrypoint and cmd', () => {
    const options = create();
    expect('Entrypoint' in options || 'Cmd' in options).toBe(false);
  });

  test('the environment as KEY=value, in order, values kept whole', () => {
    const options = create({ env: [{ name: 'B', value: '2' }, { name: 'URL', value: 'a=b&c=d' }, { name: 'EMPTY', value: '' }] });
    expect(options.Env).toEqual(['B=2', 'URL=a=b&c=d', 'EMPTY=']);
  });

  test('workingDir, when set', () => {
    expect([create({ workingDir: '/srv' }).WorkingDir, 'WorkingDir' in create()]).toEqual(['/srv', false]);
  });

  test.each([
    [{ tty: true }, [true, false, false]],
    [{ stdin: true }, [false, true, false]],
    [{ stdin: true, stdinOnce: true }, [false, true, true]],
  ])('tty, stdin and stdinOnce: %j -> [Tty, OpenStdin, StdinOnce] %j', (extra, expected) => {
    const options = create(extra);
    expect([options.Tty, options.OpenStdin, options.StdinOnce]).toEqual(expected);
  });

  test('the user ("uid:gid" from runAsUser and runAsGroup); none leaves the image\'s', () => {
    expect([create({}, { user: '1000:3000' }).User, 'User' in create()]).toEqual(['1000:3000', false]);
  });
});

describe('containerCreateOptions: security', () => {
  test('privileged, read-only root, capabilities and no-new-privileges', () => {
    const options = create({}, { privileged: true, readOnlyRootFilesystem: true, capAdd: ['NET_ADMIN'], capDrop: ['ALL'], noNewPrivileges: true });
    expect(options.HostConfig).toMatchObject({
      Privileged: true,
      ReadonlyRootfs: true,
      CapAdd: ['NET_ADMIN'],
      CapDrop: ['ALL'],
      SecurityOpt: ['seccomp=unconfined', 'no-new-privileges'],
    });
  });

  test('supplemental groups (fsGroup first) as GroupAdd', () => {
    expect(create({}, { supplementalGroups: [2000, 3000] }).HostConfig?.GroupAdd).toEqual(['2000', '3000']);
  });
});

describe('seccomp and healthchecks', () => {
  test.each([
    [{ type: 'Unconfined' } as const, undefined, ['seccomp=unconfined']],
    [{ type: 'RuntimeDefault' } as const, undefined, []],
    [{ type: 'Localhost', path: '/var/lib/dockerlet/seccomp/audit.json' } as const, '{"defaultAction":"SCMP_ACT_LOG"}', ['seccomp={"defaultAction":"SCMP_ACT_LOG"}']],
  ])('%o is SecurityOpt %j', (profile, json, expected) => {
    expect(seccompSecurityOpt(profile, json)).toEqual(expected);
  });

  test("containers never run the image's HEALTHCHECK: the kubelet's probes judge them", () => {
    expect(create().Healthcheck).toEqual({ Test: ['NONE'] });
  });
});

describe('containerCreateOptions: mounts', () => {
  test('bind mounts, read-only where asked, with rslave or rshared propagation when given', () => {
    const options = create({
      mounts: [
        { hostPath: '/var/lib/dockerlet/pods/uid-1/etc-hosts', containerPath: '/etc/hosts', readOnly: false },
        { hostPath: '/etc/ssl/certs', containerPath: '/certs', readOnly: true },
        { hostPath: '/mnt/disks', containerPath: '/disks', readOnly: true, propagation: 'rslave' },
        { hostPath: '/var/lib/kubelet', containerPath: '/kubelet', readOnly: false, propagation: 'rshared' },
      ],
    });
    expect(options.HostConfig?.Mounts).toEqual([
      { Type: 'bind', Source: '/var/lib/dockerlet/pods/uid-1/etc-hosts', Target: '/etc/hosts', ReadOnly: false },
      { Type: 'bind', Source: '/etc/ssl/certs', Target: '/certs', ReadOnly: true },
      { Type: 'bind', Source: '/mnt/disks', Target: '/disks', ReadOnly: true, BindOptions: { Propagation: 'rslave' } },
      { Type: 'bind', Source: '/var/lib/kubelet', Target: '/kubelet', ReadOnly: false, BindOptions: { Propagation: 'rshared' } },
    ]);
  });
});

describe('containerCreateOptions: resources', () => {
  test('its OOM score, a memory limit with no swap beyond it, CPU shares, and a CFS quota over its period', () => {
    const options = create({ resources: { oomScoreAdj: 700, memoryLimitBytes: 64 * 2 ** 20, cpuShares: 256, cpuQuota: 50_000, cpuPeriod: 100_000 } });
    expect(options.HostConfig).toMatchObject({ OomScoreAdj: 700, Memory: 64 * 2 ** 20, MemorySwap: 64 * 2 ** 20, CpuShares: 256, CpuQuota: 50_000, CpuPeriod: 100_000 });
  });

  test('an OOM score below what the host allows is raised to its floor, the sandbox\'s too', () => {
    const floor = { ...Host, oomScoreFloor: 0 };
    expect([create({ resources: { oomScoreAdj: -997 } }, {}, floor), create({ resources: { oomScoreAdj: 875 } }, {}, floor)].map((o) => o.HostConfig?.OomScoreAdj)).toEqual([0, 875]);
    expect(sandboxCreateOptions(Settings, sandboxConfigOf(), [], floor).HostConfig?.OomScoreAdj).toBe(0);
  });

  test('no CPU quota (no or a zero CPU limit) sets neither quota nor period; no memory limit sets no memory', () => {
    const host = create({ resources: { oomScoreAdj: 1000, cpuShares: 2 } }).HostConfig ?? {};
    expect(host.CpuShares).toBe(2);
    expect(['Memory', 'MemorySwap', 'CpuQuota', 'CpuPeriod'].filter((key) => key in host)).toEqual([]);
  });
});

describe('dockerTime', () => {
  test.each([
    ['2026-11-23T08:00:00.123456789Z', Date.parse('2026-11-23T08:00:00.123Z')],
    ['2026-11-23T09:00:00.5+01:00', Date.parse('2026-11-23T08:00:00.500Z')],
    [ZeroTime, undefined],
    ['', undefined],
    [undefined, undefined],
    ['not a time', undefined],
  ])('%j -> %j', (text, ms) => {
    expect(dockerTime(text)).toBe(ms);
  });
});

describe('containerStatus', () => {
  const p = pod();
  const labels = containerLabels(p, 'main');

  test('running: started, no exit code or reason; the pod, sandbox, hash and restart count from the labels', () => {
    const status = containerStatus(inspectInfo({ labels, state: running() }), 'docker-pullable://sha256:abc');
    expect(status).toEqual(instance(p, 'main', { labels }));
  });

  test('exited with 0: Completed, with its start and finish times', () => {
    const status = containerStatus(inspectInfo({ labels, state: stopped(0) }), 'docker-pullable://sha256:abc');
    expect(status).toEqual(exited(p, 'main', 0, { labels }));
  });

  test('exited with another code: Error, with Docker\'s error as the message', () => {
    const status = containerStatus(inspectInfo({ labels, state: stopped(2, { Error: 'device busy' }) }), 'docker-pullable://sha256:abc');
    expect(status).toEqual(exited(p, 'main', 2, { labels, message: 'device busy' }));
  });

  test('OOM-killed: OOMKilled, whatever the exit code', () => {
    const killed = containerStatus(inspectInfo({ labels, state: stopped(137, { OOMKilled: true }) }), 'docker-pullable://sha256:abc');
    const graceful = containerStatus(inspectInfo({ labels, state: stopped(0, { OOMKilled: true }) }), 'docker-pullable://sha256:abc');
    expect([killed.reason, killed.exitCode, graceful.reason, graceful.exitCode]).toEqual(['OOMKilled', 137, 'OOMKilled', 0]);
  });

  test('Docker could not start it (never started, non-zero exit): exited, ContainerCannotRun, Docker\'s error as the message', () => {
    const error = 'failed to create task: exec: "nope": executable file not found in $PATH';
    const status = containerStatus(inspectInfo({ labels, state: { ExitCode: 127, Error: error } }), 'docker-pullable://sha256:abc');
    expect([status.state, status.exitCode, status.reason, status.message]).toEqual(['exited', 127, 'ContainerCannotRun', error]);
  });

  test('a container that never started started and finished when it was created, as cri-dockerd reports it (the crash backoff counts from there)', () => {
    const status = containerStatus(inspectInfo({ labels, state: { ExitCode: 127, Error: 'exec failed' } }), 'docker-pullable://sha256:abc');
    expect([status.startedAt, status.finishedAt]).toEqual([status.createdAt, status.createdAt]);
  });

  test('created and never started: created, without times, exit code or reason', () => {
    const status = containerStatus(inspectInfo({ labels }), 'docker-pullable://sha256:abc');
    const expected = instance(p, 'main', { labels, state: 'created' });
    delete expected.startedAt;
    expect(status).toEqual(expected);
  });

  test.each([
    ['running', 'running', running()],
    ['paused', 'running', running({ Status: 'paused', Paused: true })],
    ['restarting', 'running', running({ Status: 'restarting', Restarting: true })],
    ['created', 'created', {}],
    ['exited', 'exited', stopped(1)],
    ['dead', 'exited', stopped(137, { Status: 'dead', Dead: true })],
  ] as const)('Docker state %s -> %s', (_docker, expected, state) => {
    expect(containerStatus(inspectInfo({ labels, state }), '').state).toBe(expected);
  });

  test('the kind from its label: init for init containers and sidecars', () => {
    const withInit = pod({ initContainers: [ctr('setup')] });
    const initLabels = containerLabels(withInit, 'setup', 'init');
    const status = containerStatus(inspectInfo({ id: 'setup-0', labels: initLabels, state: running() }), 'docker-pullable://sha256:abc');
    expect(status).toEqual(instance(withInit, 'setup', { labels: initLabels }));
  });

  test('restart count and hash read back from the labels; missing labels read as 0 and no hash', () => {
    const counted = containerStatus(inspectInfo({ labels: { ...labels, 'dockerlet.io/restart-count': '4', 'dockerlet.io/container-hash': 'feed' }, state: running() }), '');
    const bare = containerStatus(inspectInfo({ labels: { 'io.kubernetes.container.name': 'main' }, state: running() }), '');
    expect([counted.restartCount, counted.hash, bare.restartCount, bare.hash, bare.kind, bare.pod]).toEqual([4, 'feed', 0, '', 'regular', { uid: '', name: '', namespace: '' }]);
  });

  test('the image as created and the image ref given', () => {
    const status = containerStatus(inspectInfo({ labels, image: 'nginx:1.27', state: running() }), 'docker-pullable://nginx@sha256:beef');
    expect([status.image, status.imageRef]).toEqual(['nginx:1.27', 'docker-pullable://nginx@sha256:beef']);
  });

  test('the termination message file: the host side of the mount at the labelled path', () => {
    const mounts = [
      { source: '/var/lib/dockerlet/pods/uid-1/etc-hosts', destination: '/etc/hosts' },
      { source: '/var/lib/dockerlet/pods/uid-1/containers/main/0', destination: '/tmp/why' },
    ];
    const labelled = containerStatus(inspectInfo({ labels: { ...labels, 'io.kubernetes.container.terminationMessagePath': '/tmp/why' }, mounts, state: stopped(1) }), '');
    const unlabelled = containerStatus(inspectInfo({ labels, mounts, state: stopped(1) }), '');
    expect([labelled.terminationMessageHostPath, unlabelled.terminationMessageHostPath]).toEqual(['/var/lib/dockerlet/pods/uid-1/containers/main/0', undefined]);
  });
});

describe('sandboxStatus', () => {
  const p = pod();

  test('running on the pod network: ready, with its address on that network and its attempt', () => {
    const inspect = inspectInfo({
      id: 'sandbox-1',
      created: 1_000,
      labels: sandboxLabels('1'),
      state: running(),
      networkMode: 'dockerlet',
      networks: { bridge: '172.17.0.2', dockerlet: '10.244.0.5' },
    });
    expect(sandboxStatus(inspect, 'dockerlet')).toEqual(sandbox(p, { attempt: 1 }));
  });

  test('hostNetwork: no pod IP', () => {
    const inspect = inspectInfo({ id: 'sandbox-1', created: 1_000, labels: sandboxLabels('0'), state: running(), networkMode: 'host', networks: { host: '192.168.1.10' } });
    expect(sandboxStatus(inspect, 'dockerlet')).toEqual(sandbox(pod({ hostNetwork: true })));
  });

  test('not running: not ready, and no IP even if Docker still shows one', () => {
    const inspect = inspectInfo({ id: 'sandbox-1', created: 1_000, labels: sandboxLabels('0'), state: stopped(0), networkMode: 'dockerlet', networks: { dockerlet: '10.244.0.5' } });
    const expected = sandbox(p, { state: 'notready' });
    delete expected.ip;
    expect(sandboxStatus(inspect, 'dockerlet')).toEqual(expected);
  });

  test('no attempt label reads as attempt 0', () => {
    const inspect = inspectInfo({ id: 'sandbox-1', labels: sandboxLabels(), state: running(), networkMode: 'dockerlet' });
    expect(sandboxStatus(inspect, 'dockerlet').attempt).toBe(0);
  });
});

/** A `docker ps -a` row. */
function listed(id: string, state: string, createdSeconds: number, labels: Record<string, string>): ContainerInfo {
  return {
    Id: id,
    Names: [`/${id}`],
    Image: Image,
    ImageID: 'sha256:0123',
    Command: '',
    Created: createdSeconds,
    Ports: [],
    Labels: labels,
    State: state,
    Status: '',
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

describe('groupRunningPods', () => {
  test('groups by pod UID into sandboxes and containers, newest first, times in ms; the grace period from the labels; unlabelled containers skipped', () => {
    const p = pod();
    const other = { 'io.kubernetes.pod.uid': 'uid-2', 'io.kubernetes.pod.name': 'db', 'io.kubernetes.pod.namespace': 'prod' };
    const pods = groupRunningPods([
      listed('old-sandbox', 'exited', 10, sandboxLabels('0')),
      listed('main-0', 'exited', 11, containerLabels(p, 'main')),
      listed('stranger', 'running', 12, {}),
      listed('new-sandbox', 'running', 20, { ...sandboxLabels('1'), 'io.kubernetes.pod.terminationGracePeriod': '45' }),
      listed('main-1', 'running', 21, containerLabels(p, 'main')),
      listed('db-0', 'created', 30, { ...other, 'io.kubernetes.container.name': 'db' }),
    ]);
    expect(pods).toEqual([
      {
        pod: Web,
        terminationGracePeriodSeconds: 45,
        sandboxes: [
          { id: 'new-sandbox', state: 'ready', createdAt: 20_000 },
          { id: 'old-sandbox', state: 'notready', createdAt: 10_000 },
        ],
        containers: [
          { id: 'main-1', name: 'main', image: Image, state: 'running', createdAt: 21_000 },
          { id: 'main-0', name: 'main', image: Image, state: 'exited', createdAt: 11_000 },
        ],
      },
      {
        pod: { uid: 'uid-2', name: 'db', namespace: 'prod' },
        sandboxes: [],
        containers: [{ id: 'db-0', name: 'db', image: Image, state: 'created', createdAt: 30_000 }],
      },
    ]);
  });

  test.each([
    ['running', 'running', 'ready'],
    ['paused', 'running', 'notready'],
    ['restarting', 'running', 'notready'],
    ['created', 'created', 'notready'],
    ['exited', 'exited', 'notready'],
    ['dead', 'exited', 'notready'],
    ['removing', 'exited', 'notready'],
  ])('Docker state %s: a container is %s, a sandbox %s', (dockerState, containerState, sandboxState) => {
    const [listing] = groupRunningPods([listed('c', dockerState, 1, containerLabels(pod(), 'main')), listed('s', dockerState, 1, sandboxLabels('0'))]);
    expect([listing?.containers[0]?.state, listing?.sandboxes[0]?.state]).toEqual([containerState, sandboxState]);
  });
});

describe('docker errors', () => {
  test.each([
    [304, [true, false, false]],
    [404, [false, true, false]],
    [409, [false, false, true]],
    [500, [false, false, false]],
    [undefined, [false, false, false]],
  ])('status %s: [not modified, not found, conflict] = %j', (statusCode, expected) => {
    const err = Object.assign(new Error('docker said no'), { statusCode });
    expect([isDockerNotModified(err), isDockerNotFound(err), isDockerConflict(err)]).toEqual(expected);
  });

  test('what is not an object is none of them', () => {
    expect([null, undefined, 'HTTP 404', 404].flatMap((err) => [isDockerNotModified(err), isDockerNotFound(err), isDockerConflict(err)]).some(Boolean)).toBe(false);
  });

  test('the engine\'s own message, from its JSON answer first', () => {
    const err = Object.assign(new Error('(HTTP code 404) no such container - '), { statusCode: 404, json: { message: 'No such container: abc' } });
    expect(dockerMessage(err)).toBe('No such container: abc');
  });

  test('without a JSON answer, dockerode\'s "(HTTP code N) reason - " prefix is taken off', () => {
    const err = Object.assign(new Error('(HTTP code 409) unexpected - Conflict. The container name "/k8s_POD_web_default_uid-1_0" is already in use '), {
      statusCode: 409,
      json: null,
    });
    expect(dockerMessage(err)).toBe('Conflict. The container name "/k8s_POD_web_default_uid-1_0" is already in use');
  });

  test('other errors keep their message; what is not an object is its string', () => {
    expect([dockerMessage(new Error('connect ENOENT /var/run/docker.sock')), dockerMessage('gone'), dockerMessage(null)]).toEqual([
      'connect ENOENT /var/run/docker.sock',
      'gone',
      'null',
    ]);
  });
});


async function collect(readable: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('log demultiplexing', () => {
  test('a whole log: the payloads of stdout and stderr frames, in order, without headers', () => {
    expect(demuxLogBuffer(Buffer.concat([dockerFrame(1, 'out 1\n'), dockerFrame(2, 'err\n'), dockerFrame(1, 'out 2\n')])).toString()).toBe('out 1\nerr\nout 2\n');
  });

  test('a whole log ending in half a header: the half header is dropped', () => {
    expect(demuxLogBuffer(Buffer.concat([dockerFrame(1, 'line\n'), dockerFrame(2, 'x').subarray(0, 5)])).toString()).toBe('line\n');
  });

  test('a live stream: frames split anywhere across chunks come out whole', async () => {
    const all = Buffer.concat([dockerFrame(1, 'hello\n'), dockerFrame(2, 'oops\n'), dockerFrame(1, 'bye\n')]);
    const source = new PassThrough();
    const output = collect(demuxLogStream(source));
    for (const cut of [[0, 3], [3, 10], [10, 20], [20, all.length]] as const) source.write(all.subarray(cut[0], cut[1]));
    source.end();
    expect(await output).toBe('hello\noops\nbye\n');
  });

  test('a live stream: an error of the source ends the output with it', async () => {
    const source = new PassThrough();
    const output = collect(demuxLogStream(source));
    source.destroy(new Error('connection reset'));
    await expect(output).rejects.toThrow('connection reset');
  });

  test('a live stream read slowly holds the source back instead of buffering all of it', async () => {
    let produced = 0;
    const source = new Readable({
      read() {
        produced += 1;
        this.push(produced <= 10_000 ? dockerFrame(1, `${'x'.repeat(1000)}\n`) : null);
      },
    });
    const output = demuxLogStream(source);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(produced).toBeLessThan(200);
    let read = 0;
    for await (const chunk of output) read += (chunk as Buffer).length;
    expect([produced, read]).toEqual([10_001, 10_000 * 1001]);
  });

  test('a live stream: closing the output closes the source', async () => {
    const source = new PassThrough();
    const output = demuxLogStream(source);
    const closed = new Promise((resolve) => output.on('close', resolve));
    output.destroy();
    await closed;
    expect(source.destroyed).toBe(true);
  });
});

describe('watchDockerEvents', () => {
  /** Watches a fake engine whose event stream is `stream`; resolves the events once `count` have come. */
  function watch(stream: PassThrough, count: number): { filters: Promise<unknown>; events: Promise<RuntimeEvent[]>; stop: () => void } {
    const filters = deferred<unknown>();
    const done = deferred<RuntimeEvent[]>();
    const events: RuntimeEvent[] = [];
    const docker = {
      getEvents: async (options: { filters: unknown }) => {
        filters.resolve(options.filters);
        return stream;
      },
    } as unknown as Dockerode;
    const stop = watchDockerEvents(
      docker,
      'node-a',
      {
        onEvent: (event) => {
          events.push(event);
          if (events.length === count) done.resolve(events);
        },
        onConnected: () => undefined,
        onDisconnected: () => undefined,
      },
      memoryLogger('silent').logger,
    );
    return {
      filters: filters.promise,
      events: done.promise,
      stop: () => {
        stop();
        stream.end();
      },
    };
  }

  const line = (action: string, id: string, attributes: Record<string, string>, timeNano = 1_700_000_000_123_456_789): string =>
    `${JSON.stringify({ Type: 'container', Action: action, status: action, id, Actor: { ID: id, Attributes: attributes }, timeNano })}\n`;
  const main = { 'io.kubernetes.pod.uid': 'uid-1', 'io.kubernetes.container.name': 'main', 'dockerlet.io/node': 'node-a' };

  test('asks only for the lifecycle events of this node\'s containers', async () => {
    const { filters, stop } = watch(new PassThrough(), 1);
    expect(await filters).toEqual({ type: ['container'], label: ['dockerlet.io/node=node-a'], event: ['create', 'start', 'die', 'destroy'] });
    stop();
  });

  test('create, start, die and destroy become created, started, died and removed, for the pod and container of the labels, at timeNano in ms', async () => {
    const stream = new PassThrough();
    const { events, stop } = watch(stream, 4);
    for (const action of ['create', 'start', 'die', 'destroy']) stream.write(line(action, 'main-0', main));
    const at = Math.floor(1_700_000_000_123_456_789 / 1e6);
    expect(await events).toEqual(
      (['created', 'started', 'died', 'removed'] as const).map((type) => ({ type, containerId: 'main-0', podUID: 'uid-1', containerName: 'main', time: at })),
    );
    stop();
  });

  test('other actions, containers without a pod UID and unreadable lines are dropped; a line split across chunks is read whole', async () => {
    const stream = new PassThrough();
    const { events, stop } = watch(stream, 2);
    stream.write(line('exec_start: sh -c true', 'main-0', main));
    stream.write(line('start', 'stranger', { 'dockerlet.io/node': 'node-a' }));
    stream.write('{not json\n');
    stream.write(line('die', 'main-0', main, 2_000_000_000));
    const split = line('destroy', 'sandbox-1', { 'io.kubernetes.pod.uid': 'uid-1', 'io.kubernetes.container.name': 'POD' }, 3_000_000_000);
    stream.write(split.slice(0, 20));
    stream.write(split.slice(20));
    expect(await events).toEqual([
      { type: 'died', containerId: 'main-0', podUID: 'uid-1', containerName: 'main', time: 2_000 },
      { type: 'removed', containerId: 'sandbox-1', podUID: 'uid-1', containerName: 'POD', time: 3_000 },
    ]);
    stop();
  });
});
