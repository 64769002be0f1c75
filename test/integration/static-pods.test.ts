/** Static pods from a manifest directory, on the real Docker engine. */
import { describe, expect, test } from 'vitest';
import { busyboxPod, isReady, startAgent } from '../helpers/agent-harness.js';
import { waitFor } from '../helpers/wait-for.js';

const sleeper = (name: string, extra = ''): string => busyboxPod(name, `${extra}exec sleep 3600`);

describe('manifest directory', () => {
  // How fast is measured by the benchmarks (npm run bench), not here.
  test('a written file becomes a running pod', async () => {
    const agent = await startAgent();
    await agent.writeManifest('sleeper.yaml', sleeper('sleeper'));
    const pod = await agent.waitForPod('sleeper', 'Running', (p) => p.status?.phase === 'Running');
    expect(pod.metadata?.name).toBe(`sleeper-${agent.nodeName}`);
  });

  test('several documents per file, in YAML or JSON, each become a pod', async () => {
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'from-json' },
      spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'main', image: 'dockerlet.local/busybox:1.35', command: ['sleep', '3600'] }] },
    });
    const agent = await startAgent({
      manifests: { 'two.yaml': `${sleeper('first')}---\n${sleeper('second')}`, 'one.json': json },
    });
    for (const name of ['first', 'second', 'from-json']) {
      await agent.waitForPod(name, 'Running', (p) => p.status?.phase === 'Running');
    }
  });

  test('files whose names start with a dot are ignored', async () => {
    const agent = await startAgent({ manifests: { '.hidden.yaml': sleeper('hidden'), 'shown.yaml': sleeper('shown') } });
    await agent.waitForPod('shown', 'Running', (p) => p.status?.phase === 'Running');
    expect(agent.pod('hidden')).toBeUndefined();
    expect((await agent.containers('main')).length).toBe(1);
  });

  test('deleting the file removes the pod: containers and sandbox gone, pod directory cleaned', async () => {
    const agent = await startAgent({ manifests: { 'gone.yaml': sleeper('gone') } });
    const pod = await agent.waitForPod('gone', 'Running', (p) => p.status?.phase === 'Running');
    const { existsSync } = await import('node:fs');
    const podDir = `${agent.rootDir}/pods/${pod.metadata!.uid}`;
    expect(existsSync(podDir)).toBe(true);
    await agent.removeManifest('gone.yaml');
    await waitFor('containers removed', async () => (await agent.containers()).length === 0);
    await waitFor('pod directory removed', () => !existsSync(podDir));
    expect(agent.pod('gone')).toBeUndefined();
  });

  test('editing the file replaces the pod (new UID); rewriting it unchanged restarts nothing', async () => {
    const agent = await startAgent({ manifests: { 'edit.yaml': sleeper('edit') } });
    const first = await agent.waitForPod('edit', 'Running', (p) => p.status?.phase === 'Running');
    const firstIds = (await agent.containers()).map((c) => c.Id).sort();

    const reads = (): number => agent.log.lines.filter((l) => l.msg === 'read static pod manifest' && String(l['file']).endsWith('edit.yaml')).length;
    const readsBefore = reads();
    await agent.writeManifest('edit.yaml', sleeper('edit'));
    await waitFor('the identical rewrite to be read', () => reads() > readsBefore);
    await agent.kubelet.whenPodIdle(first.metadata!.uid!);
    expect((await agent.containers()).map((c) => c.Id).sort()).toEqual(firstIds);
    expect(agent.pod('edit')?.metadata?.uid).toBe(first.metadata?.uid);

    await agent.writeManifest('edit.yaml', sleeper('edit', 'echo edited; '));
    const second = await agent.waitForPod('edit', 'replaced and Running', (p) => p.metadata?.uid !== first.metadata?.uid && p.status?.phase === 'Running');
    expect(second.metadata?.annotations?.['kubernetes.io/config.hash']).toBe(second.metadata?.uid);
    await waitFor('old pod containers removed', async () => (await agent.containers()).every((c) => c.Labels['io.kubernetes.pod.uid'] === second.metadata!.uid));
  });

  test('a broken file is logged with its path and field and skipped; other pods keep running', async () => {
    const agent = await startAgent({ manifests: { 'good.yaml': sleeper('good') } });
    await agent.waitForPod('good', 'Ready', isReady);
    const goodIds = (await agent.containers()).map((c) => c.Id).sort();
    await agent.writeManifest('bad.yaml', sleeper('bad').replace('image: dockerlet.local/busybox:1.35', 'image: ""'));
    const error = await waitFor('error logged', () => agent.log.lines.find((l) => l.level >= 50 && l.msg.includes('bad.yaml')));
    expect(error.msg).toContain(`${agent.manifestDir}/bad.yaml: document 1 (Pod "bad"): spec.containers[0].image: Required value`);
    expect(agent.pod('bad')).toBeUndefined();
    expect((await agent.containers()).map((c) => c.Id).sort()).toEqual(goodIds);
  });

  test('breaking a running pod\'s file keeps the last good version running', async () => {
    const agent = await startAgent({ manifests: { 'keep.yaml': sleeper('keep') } });
    const pod = await agent.waitForPod('keep', 'Ready', isReady);
    const ids = (await agent.containers()).map((c) => c.Id).sort();
    await agent.writeManifest('keep.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: keep\nspec:\n  containers: [{name: Bad_Name, image: x}]\n');
    const error = await waitFor('error logged', () => agent.log.lines.find((l) => l.level >= 50 && l.msg.includes('keep.yaml')));
    expect(error.msg).toContain('spec.containers[0].name: Invalid value: "Bad_Name"');
    expect(error.msg).toContain('its pods keep running as they were');
    expect(agent.pod('keep')?.metadata?.uid).toBe(pod.metadata?.uid);
    expect((await agent.containers()).map((c) => c.Id).sort()).toEqual(ids);
  });

  test('a static pod carries the kubelet\'s name, UID and annotations', async () => {
    const agent = await startAgent({ manifests: { 'id.yaml': sleeper('id') } });
    const pod = await agent.waitForPod('id', 'Running', (p) => p.status?.phase === 'Running');
    const annotations = pod.metadata?.annotations ?? {};
    expect(pod.metadata?.uid).toMatch(/^[0-9a-f]{32}$/);
    expect(annotations['kubernetes.io/config.source']).toBe('file');
    expect(annotations['kubernetes.io/config.hash']).toBe(pod.metadata?.uid);
    expect(Date.parse(annotations['kubernetes.io/config.seen']!)).not.toBeNaN();
    expect(pod.metadata?.namespace).toBe('default');
    expect(pod.spec?.nodeName).toBe(agent.nodeName);
    expect(pod.spec?.restartPolicy).toBe('Always');
    expect(pod.spec?.tolerations).toContainEqual({ operator: 'Exists', effect: 'NoExecute' });
    expect(pod.spec?.containers[0]?.imagePullPolicy).toBe('IfNotPresent');
  });
});
