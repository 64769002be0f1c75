/**
 * Volumes on the real Docker engine: emptyDir on disk and in memory, hostPath and its type checks,
 * configMap and secret volumes with atomic updates, the downward API, projected volumes, subPath,
 * and eviction of a pod whose emptyDir outgrew its sizeLimit.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { containerStatus, isReady, startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { mountPointsUnder } from '../../agent/volumes/mounts.js';
import { docker, dockerExec } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

const Image = 'dockerlet.local/busybox:1.35';

/** A pod manifest from its containers and volumes, written as YAML flow lists. */
function podManifest(name: string, containers: string, volumes: string, extra = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
${extra}spec:
  terminationGracePeriodSeconds: 2
  containers:
${containers}  volumes:
${volumes}`;
}

const container = (name: string, script: string, mounts: string): string =>
  `    - name: ${name}\n      image: ${Image}\n      command: ["sh", "-c", ${JSON.stringify(script)}]\n      volumeMounts:\n${mounts}`;

async function out(agent: AgentHarness, name: string, script: string): Promise<string> {
  return (await agent.exec(name, ['sh', '-c', script])).output;
}

/** A temporary host directory for hostPath tests, removed when the test ends. */
async function hostDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dockerlet-hostpath-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const failedMounts = (agent: AgentHarness): string[] => agent.log.events('FailedMount').map((e) => e.msg);

describe('emptyDir', () => {
  test('two containers of a pod share files through it; it lives under the root dir as the kubelet lays it out', async () => {
    const manifest = podManifest(
      'share',
      container('writer', 'echo from-writer > /data/note; exec sleep 3600', '        - {name: data, mountPath: /data}\n') +
        container('reader', 'exec sleep 3600', '        - {name: data, mountPath: /shared, readOnly: true}\n'),
      '    - {name: data, emptyDir: {}}\n',
    );
    const agent = await startAgent({ manifests: { 'share.yaml': manifest } });
    const pod = await agent.waitForPod('share', 'Ready', isReady);
    const note = await waitFor('the note seen by the reader', async () => (await out(agent, 'reader', 'cat /shared/note 2>/dev/null')).trim());
    expect(note).toBe('from-writer');
    expect((await agent.exec('reader', ['sh', '-c', 'echo x > /shared/other'])).exitCode).not.toBe(0);
    const dir = join(agent.rootDir, 'pods', pod.metadata!.uid!, 'volumes', 'kubernetes.io~empty-dir', 'data');
    expect(((await stat(dir)).mode & 0o777).toString(8)).toBe('777');
  });

  test('its data survives a container restart and an agent restart, and is gone with the pod', async () => {
    const manifest = podManifest('keep', container('main', 'date >> /data/starts; exec sleep 3600', '        - {name: data, mountPath: /data}\n'), '    - {name: data, emptyDir: {}}\n');
    const agent = await startAgent({ manifests: { 'keep.yaml': manifest } });
    const first = await agent.waitForPod('keep', 'Ready', isReady);
    await docker.getContainer(containerStatus(first, 'main')!.containerID!.slice('docker://'.length)).kill();
    await agent.waitForPod('keep', 'restarted', (p) => containerStatus(p, 'main')?.restartCount === 1 && isReady(p));
    expect((await out(agent, 'main', 'cat /data/starts')).trim().split('\n')).toHaveLength(2);

    const again = await agent.restart();
    await again.waitForPod('keep', 'Ready after the agent restart', isReady);
    expect((await out(again, 'main', 'cat /data/starts')).trim().split('\n')).toHaveLength(2);

    const podDir = join(agent.rootDir, 'pods', first.metadata!.uid!);
    await again.removeManifest('keep.yaml');
    await waitFor('the pod directory removed', () => !existsSync(podDir));
  });

  test('medium Memory is a tmpfs inside the container, sized by sizeLimit', async () => {
    const manifest = podManifest('ram', container('main', 'exec sleep 3600', '        - {name: scratch, mountPath: /scratch}\n'), '    - {name: scratch, emptyDir: {medium: Memory, sizeLimit: 8Mi}}\n');
    const agent = await startAgent({ manifests: { 'ram.yaml': manifest } });
    await agent.waitForPod('ram', 'Ready', isReady);
    const mount = (await out(agent, 'main', 'grep " /scratch " /proc/mounts')).trim();
    expect(mount).toMatch(/^tmpfs \/scratch tmpfs rw.*size=8192k/);
    expect((await agent.exec('main', ['sh', '-c', 'head -c 9000000 /dev/zero > /scratch/big'])).exitCode).not.toBe(0);
  });

  test('a disk emptyDir over its sizeLimit gets the pod evicted: Failed, reason Evicted', async () => {
    const manifest = podManifest(
      'greedy',
      container('main', 'head -c 3000000 /dev/urandom > /data/blob; exec sleep 3600', '        - {name: data, mountPath: /data}\n'),
      '    - {name: data, emptyDir: {sizeLimit: 1Mi}}\n',
    );
    const agent = await startAgent({ options: { evictionMonitoringPeriodMs: 500 }, manifests: { 'greedy.yaml': manifest } });
    const evicted = await agent.waitForPod('greedy', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(evicted.status).toMatchObject({ reason: 'Evicted', message: 'Usage of EmptyDir volume "data" exceeds the limit "1Mi". ' });
    expect(evicted.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'TerminationByKubelet' });
    expect(agent.log.events('Evicted')[0]?.msg).toBe('Usage of EmptyDir volume "data" exceeds the limit "1Mi". ');
    await waitFor('its containers stopped and not restarted', async () => (await agent.containers()).every((c) => c.State !== 'running'));
    expect(containerStatus(agent.pod('greedy')!, 'main')?.restartCount).toBe(0);
  });
});

describe('hostPath', () => {
  async function hostPathPod(agent: AgentHarness, name: string, path: string, type: string, mountPath = '/host'): Promise<void> {
    const manifest = podManifest(
      name,
      container('main', 'exec sleep 3600', `        - {name: host, mountPath: ${mountPath}, readOnly: true}\n`),
      `    - name: host\n      hostPath: {path: ${JSON.stringify(path)}${type ? `, type: ${type}` : ''}}\n`,
    );
    await agent.writeManifest(`${name}.yaml`, manifest);
  }

  test('every type passes on the right kind of path', async () => {
    const dir = await hostDir();
    await mkdir(join(dir, 'a-dir'));
    await writeFile(join(dir, 'a-file'), 'file content');
    const socketPath = join(dir, 'a-socket');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const agent = await startAgent();
    const cases: Array<[string, string, string, string]> = [
      ['untyped', join(dir, 'made-by-docker'), '', 'test -d /host'],
      ['dir-or-create', join(dir, 'new-dir'), 'DirectoryOrCreate', 'test -d /host'],
      ['directory', join(dir, 'a-dir'), 'Directory', 'test -d /host'],
      ['file-or-create', join(dir, 'new-file'), 'FileOrCreate', 'test -f /host'],
      ['file', join(dir, 'a-file'), 'File', 'grep -q "file content" /host'],
      ['socket', socketPath, 'Socket', 'test -S /host'],
      ['chardev', '/dev/null', 'CharDevice', 'test -c /host'],
      ['blockdev', '/dev/loop7', 'BlockDevice', 'test -b /host'],
    ];
    for (const [name, path, type] of cases) await hostPathPod(agent, name, path, type);
    for (const [name, , , check] of cases) {
      await agent.waitForPod(name, 'Ready', isReady);
      const inPod = (await agent.containers('main')).find((c) => c.Labels['io.kubernetes.pod.name'] === `${name}-${agent.nodeName}` && c.State === 'running')!;
      const exec = await dockerExec(inPod.Id, ['sh', '-c', check]);
      expect([name, exec.exitCode]).toEqual([name, 0]);
    }
    expect((await stat(join(dir, 'new-dir'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dir, 'new-file'))).mode & 0o777).toBe(0o644);
    expect(failedMounts(agent)).toEqual([]);
  });

  test('a failed check keeps the pod in ContainerCreating with a FailedMount naming the path and type, and creates nothing', async () => {
    const dir = await hostDir();
    await writeFile(join(dir, 'a-file'), 'x');
    await mkdir(join(dir, 'a-dir'));
    const agent = await startAgent();
    const cases: Array<[string, string, string, string]> = [
      ['not-a-dir', join(dir, 'a-file'), 'Directory', `hostPath type check failed: ${join(dir, 'a-file')} is not a directory`],
      ['missing-dir', join(dir, 'nothing'), 'Directory', `hostPath type check failed: ${join(dir, 'nothing')} is not a directory`],
      ['not-a-file', join(dir, 'a-dir'), 'File', `hostPath type check failed: ${join(dir, 'a-dir')} is not a file`],
      ['not-a-socket', join(dir, 'a-file'), 'Socket', `hostPath type check failed: ${join(dir, 'a-file')} is not a socket file`],
      ['not-a-chardev', join(dir, 'a-file'), 'CharDevice', `hostPath type check failed: ${join(dir, 'a-file')} is not a character device`],
      ['not-a-blockdev', '/dev/null', 'BlockDevice', 'hostPath type check failed: /dev/null is not a block device'],
    ];
    for (const [name, path, type] of cases) await hostPathPod(agent, name, path, type);
    for (const [name, , , message] of cases) {
      await waitFor(`FailedMount for ${name}`, () => failedMounts(agent).includes(`MountVolume.SetUp failed for volume "host" : ${message}`));
      const pod = agent.pod(name)!;
      expect(pod.status?.phase).toBe('Pending');
      expect(containerStatus(pod, 'main')?.state?.waiting?.reason).toBe('ContainerCreating');
    }
    // FileOrCreate does not create a missing parent.
    await hostPathPod(agent, 'no-parent', join(dir, 'absent', 'file'), 'FileOrCreate');
    await waitFor('FailedMount for no-parent', () => failedMounts(agent).some((m) => m.includes(join(dir, 'absent', 'file'))));
    expect(existsSync(join(dir, 'absent'))).toBe(false);
    expect(existsSync(join(dir, 'nothing'))).toBe(false);
    expect((await agent.containers()).filter((c) => c.Labels['io.kubernetes.container.name'] !== 'POD')).toEqual([]);
    expect(await agent.containers('POD')).toEqual([]);
  });

  test('a path outside the node allow-list is refused, naming the path and the flag', async () => {
    const dir = await hostDir();
    const agent = await startAgent({ options: { allowedHostPathPrefixes: [join(dir, 'allowed')] } });
    await hostPathPod(agent, 'outside', join(dir, 'elsewhere'), 'DirectoryOrCreate');
    const message = await waitFor('FailedMount', () => failedMounts(agent)[0]);
    expect(message).toBe(
      `MountVolume.SetUp failed for volume "host" : hostPath "${join(dir, 'elsewhere')}" is not allowed on this node: it is under none of the allowed prefixes "${join(dir, 'allowed')}" (--allowed-host-path-prefixes)`,
    );
    expect(existsSync(join(dir, 'elsewhere'))).toBe(false);
  });
});

describe('configMap and secret volumes', () => {
  const settings = (mode: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: ${mode}, level: "3"}\n`;

  test('a configMap update reaches the running container through the ..data swap, never half-written', async () => {
    const reader = container('main', 'exec sleep 3600', '        - {name: config, mountPath: /config}\n');
    const manifest = podManifest('configured', reader, '    - {name: config, configMap: {name: settings}}\n');
    const agent = await startAgent({ manifests: { 'settings.yaml': settings('fast'), 'configured.yaml': manifest } });
    await agent.waitForPod('configured', 'Ready', isReady);
    expect(await out(agent, 'main', 'cat /config/mode; echo; cat /config/level')).toBe('fast\n3');
    const before = (await out(agent, 'main', 'readlink /config/..data')).trim();
    expect(before).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+$/);
    expect((await out(agent, 'main', 'readlink /config/mode')).trim()).toBe('..data/mode');
    expect((await agent.exec('main', ['sh', '-c', 'echo x > /config/mode'])).exitCode).not.toBe(0);

    await agent.writeManifest('settings.yaml', settings('slow'));
    await waitFor('the new value in the container', async () => (await out(agent, 'main', 'cat /config/mode')) === 'slow');
    expect((await out(agent, 'main', 'readlink /config/..data')).trim()).not.toBe(before);
    expect(containerStatus(agent.pod('configured')!, 'main')?.restartCount).toBe(0);
  });

  test('secret volumes: on a tmpfs, with defaultMode and per-item modes and paths', async () => {
    const secret = 'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {user: admin, password: hunter2}\n';
    const volume = `    - name: creds
      secret:
        secretName: creds
        defaultMode: 0400
        items:
          - {key: user, path: login/user}
          - {key: password, path: pass, mode: 0440}
`;
    const manifest = podManifest('secretive', container('main', 'exec sleep 3600', '        - {name: creds, mountPath: /creds}\n'), volume);
    const agent = await startAgent({ manifests: { 'creds.yaml': secret, 'secretive.yaml': manifest } });
    const pod = await agent.waitForPod('secretive', 'Ready', isReady);
    expect(await out(agent, 'main', 'cat /creds/login/user; echo; cat /creds/pass')).toBe('admin\nhunter2');
    expect((await out(agent, 'main', 'stat -L -c %a /creds/login/user /creds/pass')).trim().split('\n')).toEqual(['400', '440']);
    expect((await out(agent, 'main', 'grep " /creds " /proc/mounts')).trim()).toMatch(/^tmpfs \/creds tmpfs ro/);
    const hostDirOfVolume = join(agent.rootDir, 'pods', pod.metadata!.uid!, 'volumes', 'kubernetes.io~secret', 'creds');
    expect(await readlink(join(hostDirOfVolume, '..data'))).toMatch(/^\.\./);
  });

  test('fsGroup: the processes get it and the supplementalGroups; volumes take its group, and files made later inherit it', async () => {
    const secret = 'apiVersion: v1\nkind: Secret\nmetadata: {name: shared}\nstringData: {password: hunter2}\n';
    const mounts = '        - {name: data, mountPath: /data}\n        - {name: scratch, mountPath: /scratch}\n        - {name: creds, mountPath: /creds}\n';
    const volumes = '    - {name: data, emptyDir: {}}\n    - {name: scratch, emptyDir: {medium: Memory}}\n    - {name: creds, secret: {secretName: shared, defaultMode: 0400}}\n';
    const manifest = podManifest('grouped', container('main', 'exec sleep 3600', mounts), volumes).replace(
      'spec:\n',
      'spec:\n  securityContext: {runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000]}\n',
    );
    const agent = await startAgent({ manifests: { 'shared.yaml': secret, 'grouped.yaml': manifest } });
    await agent.waitForPod('grouped', 'Ready', isReady);
    expect((await out(agent, 'main', 'id -u; id -G')).trim().split('\n')).toEqual(['1000', '0 2000 3000']);
    // uid 1000 writes into the emptyDirs; what it makes there is the fsGroup's (the setgid bit).
    const script = 'touch /data/made /scratch/made && stat -c "%g %a" /data /data/made /scratch /scratch/made && stat -L -c "%g %a" /creds/password';
    expect((await out(agent, 'main', script)).trim().split('\n')).toEqual(['2000 2777', '2000 644', '2000 3777', '2000 644', '2000 440']);
    // uid 1000 reads the 0400 Secret through the group.
    expect(await out(agent, 'main', 'cat /creds/password')).toBe('hunter2');
  });

  test('a missing ConfigMap keeps the pod ContainerCreating with FailedMount; an optional one mounts empty', async () => {
    const required = podManifest('needs', container('main', 'exec sleep 3600', '        - {name: config, mountPath: /config}\n'), '    - {name: config, configMap: {name: absent}}\n');
    const optional = podManifest('maybe', container('main', 'exec sleep 3600', '        - {name: config, mountPath: /config}\n'), '    - {name: config, configMap: {name: absent, optional: true}}\n');
    const agent = await startAgent({ manifests: { 'needs.yaml': required, 'maybe.yaml': optional } });
    await agent.waitForPod('maybe', 'Ready', isReady);
    expect((await out(agent, 'main', 'ls -A /config | grep -v "^\\.\\." | wc -l')).trim()).toBe('0');
    await waitFor('FailedMount', () => failedMounts(agent).includes('MountVolume.SetUp failed for volume "config" : configmap "absent" not found'));
    expect(containerStatus(agent.pod('needs')!, 'main')?.state?.waiting?.reason).toBe('ContainerCreating');
  });

  test('env from ConfigMap and Secret keys and envFrom with a prefix; a missing key is CreateContainerConfigError naming it', async () => {
    const objects = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {MODE: fast, LEVEL: "3"}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: app}\nstringData: {TOKEN: t0k3n}\n';
    const pod = (name: string, key: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: ${Image}
      command: ["sh", "-c", "exec sleep 3600"]
      envFrom: [{prefix: CFG_, configMapRef: {name: app}}]
      env:
        - {name: TOKEN, valueFrom: {secretKeyRef: {name: app, key: TOKEN}}}
        - {name: PICKED, valueFrom: {configMapKeyRef: {name: app, key: ${key}}}}
`;
    const agent = await startAgent({ manifests: { 'objects.yaml': objects, 'good.yaml': pod('good', 'MODE'), 'bad.yaml': pod('bad', 'NOPE') } });
    await agent.waitForPod('good', 'Ready', isReady);
    expect(await out(agent, 'main', 'echo "$CFG_MODE $CFG_LEVEL $TOKEN $PICKED"')).toBe('fast 3 t0k3n fast\n');
    const bad = await agent.waitForPod('bad', 'CreateContainerConfigError', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'CreateContainerConfigError');
    expect(containerStatus(bad, 'main')?.state?.waiting?.message).toBe("couldn't find key NOPE in ConfigMap default/app");
  });
});

describe('downwardAPI, projected volumes and subPath', () => {
  test('downwardAPI files and env; labels and annotations files follow the pod', async () => {
    const manifest = (tier: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: self
  uid: 0aa4e0fa-6f1c-4e38-9f5c-3f0d6c0f1a11
  labels: {app: demo, tier: ${tier}}
  annotations: {note: "say \\"hi\\""}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: ${Image}
      command: ["sh", "-c", "exec sleep 3600"]
      resources: {limits: {memory: 64Mi}}
      env:
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
      volumeMounts: [{name: info, mountPath: /info}]
  volumes:
    - name: info
      downwardAPI:
        items:
          - {path: name, fieldRef: {fieldPath: metadata.name}}
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
          - {path: mem, resourceFieldRef: {containerName: main, resource: limits.memory, divisor: 1Mi}}
`;
    const agent = await startAgent({ manifests: { 'self.yaml': manifest('web') } });
    const pod = await agent.waitForPod('self', 'Ready', isReady);
    expect(await out(agent, 'main', 'cat /info/name; echo; cat /info/labels; echo; cat /info/mem')).toBe(`self-${agent.nodeName}\napp="demo"\ntier="web"\n64`);
    expect(await out(agent, 'main', 'cat /info/annotations')).toContain('note="say \\"hi\\""');
    expect(await out(agent, 'main', 'echo "$POD_IP $NODE $MEM_MI"')).toBe(`${pod.status!.podIP} ${agent.nodeName} 64\n`);

    // Same UID (set in the manifest), new labels: the file follows, the container stays.
    await agent.writeManifest('self.yaml', manifest('api'));
    await waitFor('the labels file updated', async () => (await out(agent, 'main', 'cat /info/labels')).includes('tier="api"'));
    expect(containerStatus(agent.pod('self')!, 'main')?.restartCount).toBe(0);
  });

  test('a projected volume combines a configMap, a secret and downwardAPI items', async () => {
    const objects = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: from-configmap}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: sec}\nstringData: {b: from-secret}\n';
    const volume = `    - name: all
      projected:
        defaultMode: 0440
        sources:
          - configMap: {name: cfg}
          - secret: {name: sec, items: [{key: b, path: nested/b, mode: 0400}]}
          - downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}
`;
    const manifest = podManifest('mixed', container('main', 'exec sleep 3600', '        - {name: all, mountPath: /all}\n'), volume);
    const agent = await startAgent({ manifests: { 'objects.yaml': objects, 'mixed.yaml': manifest } });
    await agent.waitForPod('mixed', 'Ready', isReady);
    expect(await out(agent, 'main', 'cat /all/a; echo; cat /all/nested/b; echo; cat /all/ns')).toBe('from-configmap\nfrom-secret\ndefault');
    expect((await out(agent, 'main', 'stat -L -c %a /all/a /all/nested/b')).trim().split('\n')).toEqual(['440', '400']);
  });

  test('subPath mounts one path of a volume; subPathExpr expands the container env', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata: {name: parts}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: ${Image}
      command: ["sh", "-c", "echo one > /whole/a/file; exec sleep 3600"]
      env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
      volumeMounts:
        - {name: data, mountPath: /whole}
        - {name: data, mountPath: /only-a, subPath: a}
        - {name: data, mountPath: /per-pod, subPathExpr: "logs/$(POD)"}
  volumes:
    - {name: data, emptyDir: {}}
`;
    const agent = await startAgent({ manifests: { 'parts.yaml': manifest } });
    await agent.waitForPod('parts', 'Ready', isReady);
    expect(await out(agent, 'main', 'cat /only-a/file')).toBe('one\n');
    await agent.exec('main', ['sh', '-c', 'echo logged > /per-pod/out']);
    expect(await out(agent, 'main', `cat /whole/logs/parts-${agent.nodeName}/out`)).toBe('logged\n');

    // Docker bound the agent's bind mounts of the subPaths, kept in the pod's directory and gone with the pod.
    const podDir = join(agent.rootDir, 'pods', agent.pod('parts')!.metadata!.uid!);
    expect((await mountPointsUnder(join(podDir, 'volume-subpaths'))).sort()).toEqual([join(podDir, 'volume-subpaths/data/main/1'), join(podDir, 'volume-subpaths/data/main/2')]);
    await agent.removeManifest('parts.yaml');
    await waitFor('the pod directory removed', async () => (await stat(podDir).catch(() => undefined)) === undefined);
    expect(await mountPointsUnder(agent.rootDir)).toEqual([]);
  });

  test('a subPath that leads out of its volume through a symlink is refused', async () => {
    const manifest = (mounts: string): string => `apiVersion: v1
kind: Pod
metadata: {name: escape}
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
    - {name: plant, image: ${Image}, command: ["ln", "-s", "/etc", "/data/out"], volumeMounts: [{name: data, mountPath: /data}]}
  containers:
    - name: main
      image: ${Image}
      command: ["sleep", "3600"]
      volumeMounts: [${mounts}]
  volumes:
    - {name: data, emptyDir: {}}
`;
    const agent = await startAgent({ manifests: { 'escape.yaml': manifest('{name: data, mountPath: /stolen, subPath: out}') } });
    const pod = await agent.waitForPod('escape', 'CreateContainerConfigError', (p) => containerStatus(p, 'main')?.state?.waiting?.reason === 'CreateContainerConfigError');
    expect(containerStatus(pod, 'main')?.state?.waiting?.message).toMatch(/^failed to prepare subPath for volumeMount "data" of container "main": subPath "out" resolves to .*\/etc, outside the volume$/);
  });
});
