import { describe, expect, test } from 'vitest';
import type { Pod } from '../../../../common/api/types.js';
import { ConfigHashAnnotation, ConfigSourceAnnotation } from '../../../../common/api/well-known.js';
import { withApiDefaults } from '../../../../agent/config/pod-defaults.js';
import { staticPodName, toStaticPod, type StaticPodOrigin } from '../../../../agent/config/static-pod.js';
import type { DefaultedPod } from '../../../../common/api/types.js';
import { canonicalJson, fnv128a } from '../../../../common/util/hash.js';

const fileOrigin: StaticPodOrigin = { source: 'file', location: '/etc/manifests/web.yaml' };
const urlOrigin: StaticPodOrigin = { source: 'http', location: 'http://127.0.0.1:8080/pods' };

const manifestPod = (image = 'busybox:1.35', extra: Partial<Pod['metadata']> = {}): Pod =>
  withApiDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', ...extra },
    spec: { containers: [{ name: 'main', image }] },
  });

function staticPod(pod: Pod, origin: StaticPodOrigin = fileOrigin, node = 'node-1'): DefaultedPod {
  const result = toStaticPod(pod, origin, node);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.pod;
}

describe('staticPodName', () => {
  test('is <name>-<node name in lower case>', () => {
    expect(staticPodName('web', 'Node-A.Example')).toBe('web-node-a.example');
  });
});

describe('toStaticPod', () => {
  test('names the pod <name>-<node>, lower-cased', () => {
    expect(staticPod(manifestPod(), fileOrigin, 'Worker-1').metadata.name).toBe('web-worker-1');
  });

  test('the UID is fnv128a of the pod, the node and the file path, in hex', () => {
    const pod = manifestPod();
    expect(staticPod(pod).metadata.uid).toBe(fnv128a(`${canonicalJson(pod)}host:node-1file:/etc/manifests/web.yaml`));
  });

  test('a URL pod hashes url:<url> instead of the node and path', () => {
    const pod = manifestPod();
    expect(staticPod(pod, urlOrigin).metadata.uid).toBe(fnv128a(`${canonicalJson(pod)}url:http://127.0.0.1:8080/pods`));
  });

  test('the UID is stable for equal input', () => {
    expect(staticPod(manifestPod()).metadata.uid).toBe(staticPod(manifestPod()).metadata.uid);
  });

  test('the UID changes with the content', () => {
    expect(staticPod(manifestPod('busybox:1.36')).metadata.uid).not.toBe(staticPod(manifestPod()).metadata.uid);
  });

  test('the UID changes with the node', () => {
    expect(staticPod(manifestPod(), fileOrigin, 'node-2').metadata.uid).not.toBe(staticPod(manifestPod()).metadata.uid);
  });

  test('the UID changes with the file path', () => {
    const moved = staticPod(manifestPod(), { source: 'file', location: '/etc/manifests/other.yaml' });
    expect(moved.metadata.uid).not.toBe(staticPod(manifestPod()).metadata.uid);
  });

  test('a UID written in the manifest is kept', () => {
    expect(staticPod(manifestPod('busybox:1.35', { uid: 'fixed-uid' })).metadata.uid).toBe('fixed-uid');
  });

  test.each(['../../x', 'a/b', '..', '.hidden', 'x'.repeat(129)])('a UID that could not name a directory (%j) is refused, naming the field', (uid) => {
    const result = toStaticPod(manifestPod('busybox:1.35', { uid }), fileOrigin, 'node-1');
    expect(result).toEqual({
      ok: false,
      errors: [{ field: 'metadata.uid', message: `Invalid value: ${JSON.stringify(uid)}: must be 1 to 128 alphanumeric characters, '-', '_' or '.', starting with an alphanumeric character` }],
    });
  });

  test('config.hash is the UID and config.source the source; other annotations are kept', () => {
    const pod = staticPod(manifestPod('busybox:1.35', { annotations: { team: 'a' } }), urlOrigin);
    expect(pod.metadata.annotations).toEqual({ team: 'a', [ConfigHashAnnotation]: pod.metadata.uid, [ConfigSourceAnnotation]: 'http' });
  });

  test('binds the pod to the node and sets phase Pending', () => {
    const pod = staticPod(manifestPod());
    expect(pod.spec.nodeName).toBe('node-1');
    expect(pod.status).toEqual({ phase: 'Pending' });
  });

  test('namespace defaults to default', () => {
    expect(staticPod(manifestPod()).metadata.namespace).toBe('default');
  });

  test('a file pod tolerates every NoExecute taint', () => {
    expect(staticPod(manifestPod()).spec.tolerations).toEqual([{ operator: 'Exists', effect: 'NoExecute' }]);
  });

  test('the toleration is not added twice', () => {
    const pod = manifestPod();
    pod.spec!.tolerations = [{ operator: 'Exists', effect: 'NoExecute' }];
    expect(staticPod(pod).spec.tolerations).toEqual([{ operator: 'Exists', effect: 'NoExecute' }]);
  });

  test('a URL pod gets no toleration', () => {
    expect(staticPod(manifestPod(), urlOrigin).spec.tolerations).toBeUndefined();
  });

  test('the input pod is left as it was', () => {
    const pod = manifestPod();
    const before = structuredClone(pod);
    staticPod(pod);
    expect(pod).toEqual(before);
  });

  test('a generated name that is not a DNS subdomain is a field error', () => {
    const result = toStaticPod(manifestPod(), fileOrigin, 'node_1');
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          field: 'metadata.name',
          message:
            "Invalid value: \"web-node_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')",
        },
      ],
    });
  });
});
