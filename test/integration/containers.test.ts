/** Pods as Docker containers around a pause sandbox, on the real engine. */
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { busyboxPod, containerStatus, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { freePort } from '../helpers/test-node.js';
import { docker, dockerExec } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

async function logsOf(agent: AgentHarness, container: string): Promise<string> {
  const [info] = await agent.containers(container);
  if (!info) return '';
  const buffer = (await docker.getContainer(info.Id).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  let text = '';
  for (let offset = 0; offset + 8 <= buffer.length; ) {
    const size = buffer.readUInt32BE(offset + 4);
    text += buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
  }
  return text;
}

async function idOf(agent: AgentHarness, container: string): Promise<string> {
  const [info] = await agent.containers(container);
  if (!info) throw new Error(`no container ${container}`);
  return info.Id;
}

const twoContainers = `apiVersion: v1
kind: Pod
metadata:
  name: pair
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: server
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "mkdir -p /tmp/www && echo from-server > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    - name: client
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "until wget -q -O- http://127.0.0.1:8080/; do sleep 0.2; done; exec sleep 3600"]
`;

describe('pod sandbox', () => {
  test('containers of a pod reach each other on 127.0.0.1 and share the sandbox network and IPC namespaces', async () => {
    const agent = await startAgent({ manifests: { 'pair.yaml': twoContainers } });
    await agent.waitForPod('pair', 'Ready', isReady);
    await waitFor('client fetched from server over loopback', async () => (await logsOf(agent, 'client')).includes('from-server'));
    const namespaces = async (container: string): Promise<string> =>
      (await dockerExec(await idOf(agent, container), ['sh', '-c', 'readlink /proc/self/ns/net; readlink /proc/self/ns/ipc'])).output;
    const sandbox = await namespaces('POD');
    expect(sandbox).toMatch(/net:\[\d+\]\nipc:\[\d+\]/);
    expect(await namespaces('server')).toBe(sandbox);
    expect(await namespaces('client')).toBe(sandbox);
  });

  test('docker names and labels follow the dockershim convention', async () => {
    const agent = await startAgent({ manifests: { 'named.yaml': busyboxPod('named', 'exec sleep 3600') } });
    const pod = await agent.waitForPod('named', 'Running', (p) => p.status?.phase === 'Running');
    const uid = pod.metadata!.uid!;
    const [main] = await agent.containers('main');
    const [sandbox] = await agent.containers('POD');
    expect(main!.Names[0]).toBe(`/k8s_main_named-${agent.nodeName}_default_${uid}_0`);
    expect(sandbox!.Names[0]).toBe(`/k8s_POD_named-${agent.nodeName}_default_${uid}_0`);
    expect(main!.Labels).toMatchObject({
      'io.kubernetes.pod.name': `named-${agent.nodeName}`,
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.uid': uid,
      'io.kubernetes.container.name': 'main',
      'io.kubernetes.docker.type': 'container',
      'io.kubernetes.sandbox.id': sandbox!.Id,
      'dockerlet.io/restart-count': '0',
    });
    expect(main!.Labels['dockerlet.io/container-hash']).toMatch(/^[0-9a-f]{16}$/);
    expect(sandbox!.Labels['io.kubernetes.docker.type']).toBe('podsandbox');
    const inspect = await docker.getContainer(main!.Id).inspect();
    expect(inspect.HostConfig.NetworkMode).toBe(`container:${sandbox!.Id}`);
    expect(inspect.HostConfig.IpcMode).toBe(`container:${sandbox!.Id}`);
    expect(pod.status?.podIP).toMatch(/^10\.244\./);
  });

  test('a hostNetwork pod uses the host network: its IP is the host IP', async () => {
    const { readlink } = await import('node:fs/promises');
    const agent = await startAgent({
      manifests: { 'hostnet.yaml': busyboxPod('hostnet', 'exec sleep 3600', { spec: '  hostNetwork: true\n' }) },
    });
    const pod = await agent.waitForPod('hostnet', 'Running', (p) => p.status?.phase === 'Running');
    expect(pod.status?.podIP).toBe(pod.status?.hostIP);
    const inside = (await dockerExec(await idOf(agent, 'main'), ['readlink', '/proc/self/ns/net'])).output.trim();
    expect(inside).toBe(await readlink('/proc/self/ns/net'));
  });

  test('each pod gets a managed /etc/hosts with its IP, hostname and hostAliases', async () => {
    const spec = `  hostname: custom-host
  hostAliases:
    - ip: 10.1.2.3
      hostnames: [foo.local, bar.local]
`;
    const agent = await startAgent({ manifests: { 'hosts.yaml': busyboxPod('hosts', 'exec sleep 3600', { spec }) } });
    const pod = await agent.waitForPod('hosts', 'Running', (p) => p.status?.phase === 'Running');
    const id = await idOf(agent, 'main');
    const hosts = (await dockerExec(id, ['cat', '/etc/hosts'])).output;
    expect(hosts).toContain('# Kubernetes-managed hosts file.');
    expect(hosts).toContain(`${pod.status!.podIP}\tcustom-host\n`);
    expect(hosts).toContain('# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n');
    expect((await dockerExec(id, ['hostname'])).output.trim()).toBe('custom-host');
    const onDisk = await readFile(`${agent.rootDir}/pods/${pod.metadata!.uid}/etc-hosts`, 'utf8');
    expect(onDisk).toBe(hosts);
  });
});

describe('container fields', () => {
  test('command, args, env with $(VAR) expansion and workingDir reach the process', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: fields
  labels: {tier: backend}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: dockerlet.local/busybox:1.35
      workingDir: /tmp
      command: ["sh", "-c"]
      args: ['echo "cwd=$(pwd) greeting=$(GREETING)" ''escaped=$$(GREETING)'' "pod=$POD tier=$TIER"; exec sleep 3600']
      env:
        - {name: NAME, value: world}
        - {name: GREETING, value: "hello $(NAME)"}
        - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
`;
    const agent = await startAgent({ manifests: { 'fields.yaml': manifest } });
    await agent.waitForPod('fields', 'Running', (p) => p.status?.phase === 'Running');
    const output = await waitFor('output', async () => (await logsOf(agent, 'main')).trim());
    // $(pwd) is not a defined variable, so it stays for the shell; $$ escapes (single-quoted for the shell).
    expect(output).toBe(`cwd=/tmp greeting=hello world escaped=$(GREETING) pod=fields-${agent.nodeName} tier=backend`);
  });

  test('hostPort publishes the container port on the host', async () => {
    const hostPort = await freePort();
    const manifest = busyboxPod('published', 'mkdir -p /tmp/www && echo published > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www', {
      container: `      ports:\n        - containerPort: 8080\n          hostPort: ${hostPort}\n          hostIP: 127.0.0.1\n`,
    });
    const agent = await startAgent({ manifests: { 'published.yaml': manifest } });
    await agent.waitForPod('published', 'Ready', isReady);
    const body = await waitFor('answer on the host port', async () => (await fetch(`http://127.0.0.1:${hostPort}/`)).text());
    expect(body).toBe('published\n');
  });

  test('resources map to Docker memory, CPU quota and CPU shares', async () => {
    const manifest = busyboxPod('limited', 'exec sleep 3600', {
      container: '      resources:\n        requests: {cpu: 250m, memory: 16Mi}\n        limits: {cpu: 500m, memory: 64Mi}\n',
    });
    const agent = await startAgent({ manifests: { 'limited.yaml': manifest } });
    await agent.waitForPod('limited', 'Running', (p) => p.status?.phase === 'Running');
    const inspect = await docker.getContainer(await idOf(agent, 'main')).inspect();
    expect(inspect.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspect.HostConfig.CpuQuota).toBe(50_000);
    expect(inspect.HostConfig.CpuPeriod).toBe(100_000);
    expect(inspect.HostConfig.CpuShares).toBe(256);
  });

  test('securityContext: runAsUser/runAsGroup, readOnlyRootFilesystem, dropped capabilities', async () => {
    const script = 'id -u; id -g; touch /probe 2>/dev/null && echo rw || echo ro; exec sleep 3600';
    const manifest = busyboxPod('secure', script, {
      spec: '  securityContext: {runAsUser: 65534, runAsGroup: 65534}\n',
      container: '      securityContext:\n        readOnlyRootFilesystem: true\n        capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}\n',
    });
    const agent = await startAgent({ manifests: { 'secure.yaml': manifest } });
    await agent.waitForPod('secure', 'Running', (p) => p.status?.phase === 'Running');
    const output = await waitFor('output', async () => ((await logsOf(agent, 'main')).includes('ro') ? logsOf(agent, 'main') : ''));
    expect(output.split('\n').slice(0, 3)).toEqual(['65534', '65534', 'ro']);
    const inspect = await docker.getContainer(await idOf(agent, 'main')).inspect();
    expect(inspect.HostConfig.CapDrop).toEqual(['ALL']);
    expect(inspect.HostConfig.CapAdd).toEqual(['NET_BIND_SERVICE']);
    expect(inspect.HostConfig.ReadonlyRootfs).toBe(true);
  });

  test("seccomp: a pod that asks for nothing is unconfined, as under the kubelet; RuntimeDefault gets Docker's profile", async () => {
    const runtimeDefault = '      securityContext:\n        seccompProfile: {type: RuntimeDefault}\n';
    const agent = await startAgent({
      manifests: {
        'plain.yaml': busyboxPod('plain', 'exec sleep 3600'),
        'filtered.yaml': busyboxPod('filtered', 'exec sleep 3600', { container: runtimeDefault }),
      },
    });
    await agent.waitForPod('plain', 'Running', (p) => p.status?.phase === 'Running');
    await agent.waitForPod('filtered', 'Running', (p) => p.status?.phase === 'Running');
    const mode = async (pod: string): Promise<string> => {
      const [info] = (await agent.containers('main')).filter((c) => c.Labels['io.kubernetes.pod.name'] === `${pod}-${agent.nodeName}`);
      return /^Seccomp:\s+(\d)$/m.exec((await dockerExec(info!.Id, ['cat', '/proc/self/status'])).output)?.[1] ?? '';
    };
    expect(await mode('plain')).toBe('0');
    expect(await mode('filtered')).toBe('2');
  });

  test('runAsNonRoot: an image that runs as root is refused before any container is made; runAsUser 1000 runs', async () => {
    const agent = await startAgent({
      manifests: {
        'refused.yaml': busyboxPod('refused', 'exec sleep 3600', { spec: '  securityContext: {runAsNonRoot: true}\n' }),
        'allowed.yaml': busyboxPod('allowed', 'exec sleep 3600', { spec: '  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n' }),
      },
    });
    const refused = await agent.waitForPod('refused', 'CreateContainerConfigError', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'CreateContainerConfigError');
    expect(containerStatus(refused, 'main')?.state?.waiting?.message).toBe(
      `container has runAsNonRoot and image will run as root (pod: "refused-${agent.nodeName}_default(${refused.metadata!.uid})", container: main)`,
    );
    await agent.waitForPod('allowed', 'Running', (p) => p.status?.phase === 'Running');
    expect((await agent.containers('main')).filter((c) => c.Labels['io.kubernetes.pod.name'] === `refused-${agent.nodeName}`)).toEqual([]);
  });

  test('privileged, stdin and tty are passed to Docker', async () => {
    const manifest = busyboxPod('privileged', 'exec sleep 3600', {
      container: '      stdin: true\n      tty: true\n      securityContext: {privileged: true}\n',
    });
    const agent = await startAgent({ manifests: { 'privileged.yaml': manifest } });
    await agent.waitForPod('privileged', 'Running', (p) => p.status?.phase === 'Running');
    const inspect = await docker.getContainer(await idOf(agent, 'main')).inspect();
    expect(inspect.HostConfig.Privileged).toBe(true);
    expect(inspect.Config.Tty).toBe(true);
    expect(inspect.Config.OpenStdin).toBe(true);
  });

  test('terminationMessagePath is reported in state.terminated.message; FallbackToLogsOnError uses the log tail', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: messages
spec:
  restartPolicy: Never
  containers:
    - name: file
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "echo -n 'written to the file' > /dev/termination-log; exit 3"]
    - name: fallback
      image: dockerlet.local/busybox:1.35
      terminationMessagePolicy: FallbackToLogsOnError
      command: ["sh", "-c", "echo first line; echo last words; exit 4"]
    - name: custom
      image: dockerlet.local/busybox:1.35
      terminationMessagePath: /tmp/why
      command: ["sh", "-c", "echo -n custom path > /tmp/why"]
`;
    const agent = await startAgent({ manifests: { 'messages.yaml': manifest } });
    const pod = await agent.waitForPod('messages', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(containerStatus(pod, 'file')?.state?.terminated).toMatchObject({ exitCode: 3, reason: 'Error', message: 'written to the file' });
    expect(containerStatus(pod, 'fallback')?.state?.terminated).toMatchObject({ exitCode: 4, reason: 'Error', message: 'first line\nlast words\n' });
    expect(containerStatus(pod, 'custom')?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'custom path' });
  });
});

describe('files the kubelet manages', () => {
  test('a container that mounts its own /etc/hosts starts, and sees that file', async () => {
    const manifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: hosts
data:
  hosts: "10.9.8.7 mine.example\\n"
---
${busyboxPod('own-hosts', 'exec sleep 3600', {
  spec: '  volumes:\n    - name: hosts\n      configMap: {name: hosts}\n',
  container: '      volumeMounts:\n        - {name: hosts, mountPath: /etc/hosts, subPath: hosts}\n',
})}`;
    const agent = await startAgent({ manifests: { 'own-hosts.yaml': manifest } });
    await agent.waitForPod('own-hosts', 'Running', (p) => p.status?.phase === 'Running');
    expect((await agent.exec('main', ['cat', '/etc/hosts'])).output).toBe('10.9.8.7 mine.example\n');
  });

  test('a container running as a non-root user writes its termination message, at the default path and a custom one', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: nonroot-messages
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 1000}
  containers:
    - name: default
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "echo -n 'from uid 1000' > /dev/termination-log"]
    - name: custom
      image: dockerlet.local/busybox:1.35
      terminationMessagePath: /tmp/why
      command: ["sh", "-c", "echo -n 'custom path too' > /tmp/why"]
`;
    const agent = await startAgent({ manifests: { 'nonroot.yaml': manifest } });
    const pod = await agent.waitForPod('nonroot-messages', 'Succeeded', (p) => p.status?.phase === 'Succeeded');
    expect(containerStatus(pod, 'default')?.state?.terminated).toMatchObject({ exitCode: 0, message: 'from uid 1000' });
    expect(containerStatus(pod, 'custom')?.state?.terminated).toMatchObject({ exitCode: 0, message: 'custom path too' });
  });
});

describe('init containers and sidecars', () => {
  test('init containers run one by one, in order, to completion before app containers start', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: inits
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
    - {name: first, image: dockerlet.local/busybox:1.35, command: ["sleep", "0.5"]}
    - {name: second, image: dockerlet.local/busybox:1.35, command: ["sleep", "0.5"]}
  containers:
    - {name: app, image: dockerlet.local/busybox:1.35, command: ["sleep", "3600"]}
`;
    const agent = await startAgent({ manifests: { 'inits.yaml': manifest } });
    const pending = await agent.waitForPod('inits', 'initializing', (p) => containerStatus(p, 'first')?.state?.running !== undefined);
    expect(pending.status?.phase).toBe('Pending');
    expect(containerStatus(pending, 'app')?.state?.waiting?.reason).toBe('PodInitializing');
    expect(pending.status?.conditions?.find((c) => c.type === 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [first second]',
    });
    const pod = await agent.waitForPod('inits', 'Running', (p) => p.status?.phase === 'Running');
    expect(containerStatus(pod, 'first')?.state?.terminated?.reason).toBe('Completed');
    expect(containerStatus(pod, 'second')?.state?.terminated?.reason).toBe('Completed');
    const times = async (name: string): Promise<{ started: number; finished: number }> => {
      const inspect = await docker.getContainer(await idOf(agent, name)).inspect();
      return { started: Date.parse(inspect.State.StartedAt), finished: Date.parse(inspect.State.FinishedAt) };
    };
    const [first, second, app] = await Promise.all([times('first'), times('second'), times('app')]);
    expect(first.finished).toBeLessThanOrEqual(second.started);
    expect(second.finished).toBeLessThanOrEqual(app.started);
  });

  test('a sidecar (init container with restartPolicy Always) starts first and keeps running beside the app', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: sidecar
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
    - {name: proxy, image: dockerlet.local/busybox:1.35, restartPolicy: Always, command: ["sleep", "3600"]}
  containers:
    - {name: app, image: dockerlet.local/busybox:1.35, command: ["sleep", "3600"]}
`;
    const agent = await startAgent({ manifests: { 'sidecar.yaml': manifest } });
    const pod = await agent.waitForPod('sidecar', 'Ready', isReady);
    expect(containerStatus(pod, 'proxy')?.state?.running).toBeDefined();
    expect(containerStatus(pod, 'app')?.state?.running).toBeDefined();
    const proxy = await docker.getContainer(await idOf(agent, 'proxy')).inspect();
    const app = await docker.getContainer(await idOf(agent, 'app')).inspect();
    expect(Date.parse(proxy.State.StartedAt)).toBeLessThanOrEqual(Date.parse(app.State.StartedAt));
  });
});
