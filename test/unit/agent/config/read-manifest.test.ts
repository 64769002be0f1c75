import { describe, expect, test } from 'vitest';
import { readManifest } from '../../../../agent/config/read-manifest.js';
import type { StaticPodOrigin } from '../../../../agent/config/static-pod.js';

const origin: StaticPodOrigin = { source: 'file', location: '/etc/manifests/web.yaml' };

/** A Pod manifest named `web` whose spec is `spec` (YAML lines indented by two). */
const manifest = (spec: string, name = 'web'): string => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
const main = '  containers:\n  - name: main\n    image: busybox:1.35\n';

/** The error readManifest reports for `text`, or a failure when it accepts it. */
function errorOf(text: string): string {
  const result = readManifest(text, origin, 'node-1');
  if (result.ok) throw new Error('expected the manifest to be refused');
  return result.error;
}

const at = (document: number, name = 'web'): string => `/etc/manifests/web.yaml: document ${document} (Pod "${name}")`;

describe('readManifest', () => {
  test('a valid manifest gives defaulted static pods', () => {
    const result = readManifest(manifest(main), origin, 'node-1');
    expect(result.ok).toBe(true);
    const [pod] = result.ok ? result.objects.pods : [];
    expect(pod?.metadata.name).toBe('web-node-1');
    expect(pod?.spec.restartPolicy).toBe('Always');
    expect(pod?.spec.containers[0]?.imagePullPolicy).toBe('IfNotPresent');
  });

  test('every document of a manifest becomes a pod, in order', () => {
    const result = readManifest(`${manifest(main, 'one')}---\n${manifest(main, 'two')}`, origin, 'node-1');
    expect(result.ok && result.objects.pods.map((p) => p.metadata.name)).toEqual(['one-node-1', 'two-node-1']);
  });

  test('one bad document fails the whole manifest, naming that document', () => {
    const text = `${manifest(main, 'good')}---\n${manifest('  containers:\n  - name: main\n', 'bad')}`;
    expect(readManifest(text, origin, 'node-1')).toEqual({ ok: false, error: `${at(2, 'bad')}: spec.containers[0].image: Required value` });
  });

  test('a decoding error names the manifest and the document', () => {
    expect(errorOf(`${manifest(main)}---\n[1, 2]\n`)).toBe('/etc/manifests/web.yaml: document 2: expected an object with apiVersion and kind');
  });

  test('a missing image is a Required value', () => {
    expect(errorOf(manifest('  containers:\n  - name: main\n'))).toBe(`${at(1)}: spec.containers[0].image: Required value`);
  });

  test('an empty image is a Required value', () => {
    expect(errorOf(manifest('  containers:\n  - name: main\n    image: "  "\n'))).toBe(`${at(1)}: spec.containers[0].image: Required value`);
  });

  test.each([
    ['{type: Localhost, localhostProfile: ../../etc/profile.json}', 'spec.securityContext.seccompProfile.localhostProfile: Invalid value: "../../etc/profile.json": must be a relative path without \'..\''],
    ['{type: Localhost}', 'spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost'],
    ['{type: RuntimeDefault, localhostProfile: x.json}', 'spec.securityContext.seccompProfile.localhostProfile: Invalid value: "x.json": can only be set when type is Localhost'],
  ])('seccompProfile %s is refused as the API server refuses it', (profile, message) => {
    expect(errorOf(manifest(`  securityContext:\n    seccompProfile: ${profile}\n${main}`))).toBe(`${at(1)}: ${message}`);
  });

  test('a pod without containers is refused', () => {
    expect(errorOf(manifest('  containers: []\n'))).toBe(`${at(1)}: spec.containers: Required value`);
  });

  test('a pod without a name is refused', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n' + main;
    expect(errorOf(text)).toBe('/etc/manifests/web.yaml: document 1 (Pod (no name)): metadata.name: Required value');
  });

  test('two containers with one name are a Duplicate value on the second', () => {
    const spec = '  containers:\n  - {name: app, image: busybox}\n  - {name: app, image: busybox}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[1].name: Duplicate value: "app"`);
  });

  test('an app container may not reuse an init container name', () => {
    const spec = '  initContainers:\n  - {name: app, image: busybox}\n  containers:\n  - {name: app, image: busybox}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].name: Duplicate value: "app"`);
  });

  test('a container name must be a DNS label', () => {
    expect(errorOf(manifest('  containers:\n  - {name: My_App, image: busybox}\n'))).toBe(
      `${at(1)}: spec.containers[0].name: Invalid value: "My_App": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')`,
    );
  });

  test('a pod name must be a DNS subdomain', () => {
    expect(errorOf(manifest(main, 'Web'))).toBe(
      `${at(1, 'Web')}: metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`,
    );
  });

  test('a liveness probe must have successThreshold 1', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    livenessProbe: {exec: {command: ["true"]}, successThreshold: 2}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1`);
  });

  test('a startup probe must have successThreshold 1', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    startupProbe: {tcpSocket: {port: 80}, successThreshold: 3}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1`);
  });

  test('a probe port must be a number from 1 to 65535 or a port name', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    livenessProbe: {httpGet: {port: 70000}}\n';
    expect(errorOf(manifest(spec))).toContain(`${at(1)}: spec.containers[0].livenessProbe.httpGet.port: Invalid value: 70000`);
    const named = '  containers:\n  - name: main\n    image: busybox\n    readinessProbe: {tcpSocket: {port: Not_A_Name}}\n';
    expect(errorOf(manifest(named))).toContain(`${at(1)}: spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: "Not_A_Name"`);
  });

  test('an httpGet header name must be an HTTP token', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    readinessProbe: {httpGet: {port: 80, httpHeaders: [{name: "bad header", value: x}]}}\n';
    expect(errorOf(manifest(spec))).toContain(`${at(1)}: spec.containers[0].readinessProbe.httpGet.httpHeaders[0].name: Invalid value: "bad header"`);
  });

  test('a sleep hook may not outlast terminationGracePeriodSeconds', () => {
    const spec = '  terminationGracePeriodSeconds: 5\n  containers:\n  - name: main\n    image: busybox\n    lifecycle: {preStop: {sleep: {seconds: 6}}}\n';
    expect(errorOf(manifest(spec))).toBe(
      `${at(1)}: spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: 6: must be non-negative and less than terminationGracePeriodSeconds (5)`,
    );
  });

  test('a readiness probe may have a successThreshold above 1', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    readinessProbe: {exec: {command: ["true"]}, successThreshold: 3}\n';
    expect(readManifest(manifest(spec), origin, 'node-1').ok).toBe(true);
  });

  test('a probe needs exactly one handler', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    readinessProbe: {periodSeconds: 5}\n';
    expect(errorOf(manifest(spec))).toBe(
      `${at(1)}: spec.containers[0].readinessProbe: Required value: must specify a handler type: one of \`exec\`, \`httpGet\`, \`tcpSocket\`, \`grpc\``,
    );
  });

  test('with hostNetwork, a hostPort must match its containerPort', () => {
    const spec = '  hostNetwork: true\n  containers:\n  - name: main\n    image: busybox\n    ports: [{containerPort: 80, hostPort: 8080}]\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match \`containerPort\` when \`hostNetwork\` is true`);
  });

  test('with hostNetwork, an equal or absent hostPort is fine', () => {
    const spec = '  hostNetwork: true\n  containers:\n  - name: main\n    image: busybox\n    ports: [{containerPort: 80, hostPort: 80}, {containerPort: 81}]\n';
    expect(readManifest(manifest(spec), origin, 'node-1').ok).toBe(true);
  });

  test('without hostNetwork, hostPort may differ from containerPort', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    ports: [{containerPort: 80, hostPort: 8080}]\n';
    expect(readManifest(manifest(spec), origin, 'node-1').ok).toBe(true);
  });

  test('a volumeMount of an unknown volume is Not found', () => {
    const spec = '  containers:\n  - name: main\n    image: busybox\n    volumeMounts: [{name: data, mountPath: /data}]\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].volumeMounts[0].name: Not found: "data"`);
  });

  test('two volumeMounts on one mountPath are refused', () => {
    const spec =
      '  volumes: [{name: a, emptyDir: {}}, {name: b, emptyDir: {}}]\n  containers:\n  - name: main\n    image: busybox\n    volumeMounts: [{name: a, mountPath: /data}, {name: b, mountPath: /data}]\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique`);
  });

  test('two volumes with one name are a Duplicate value', () => {
    const spec = '  volumes: [{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]\n' + main;
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.volumes[1].name: Duplicate value: "a"`);
  });

  test('a volume type dockerlet does not serve is an Unsupported value', () => {
    const spec = '  volumes: [{name: a, nfs: {server: nfs.example, path: /export}}]\n' + main;
    expect(errorOf(manifest(spec))).toBe(
      `${at(1)}: spec.volumes[0]: Unsupported value: "nfs": dockerlet serves the volume types emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim`,
    );
  });

  test('a persistentVolumeClaim volume needs its claim\'s name', () => {
    expect(errorOf(manifest('  volumes: [{name: a, persistentVolumeClaim: {readOnly: true}}]\n' + main))).toBe(`${at(1)}: spec.volumes[0].persistentVolumeClaim.claimName: Required value`);
  });

  test('an unknown restartPolicy lists the supported values', () => {
    expect(errorOf(manifest(`  restartPolicy: Sometimes\n${main}`))).toBe(
      `${at(1)}: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
    );
  });

  test('restartPolicy is forbidden on an app container', () => {
    const spec = '  containers:\n  - {name: main, image: busybox, restartPolicy: Always}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers`);
  });

  test('a regular init container may not have probes', () => {
    const spec = `  initContainers:\n  - name: setup\n    image: busybox\n    readinessProbe: {exec: {command: ["true"]}}\n${main}`;
    expect(errorOf(manifest(spec))).toBe(
      `${at(1)}: spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always`,
    );
  });

  test('a sidecar (init container with restartPolicy Always) may have probes', () => {
    const spec = `  initContainers:\n  - name: proxy\n    image: busybox\n    restartPolicy: Always\n    readinessProbe: {exec: {command: ["true"]}}\n${main}`;
    expect(readManifest(manifest(spec), origin, 'node-1').ok).toBe(true);
  });

  test('a containerPort of 0 is out of range', () => {
    const spec = '  containers:\n  - {name: main, image: busybox, ports: [{containerPort: 0}]}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].ports[0].containerPort: Invalid value: 0: must be greater than or equal to 1`);
  });

  test('a request above its limit is refused', () => {
    const spec = '  containers:\n  - {name: main, image: busybox, resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].resources.requests.cpu: Invalid value: "2": must be less than or equal to cpu limit of 1`);
  });

  test('a resource value must be a quantity', () => {
    const spec = '  containers:\n  - {name: main, image: busybox, resources: {limits: {memory: lots}}}\n';
    expect(errorOf(manifest(spec))).toBe(
      `${at(1)}: spec.containers[0].resources.limits.memory: Invalid value: "lots": must be a quantity such as '500m', '2' or '128Mi'`,
    );
  });

  test('dnsPolicy None needs a nameserver', () => {
    expect(errorOf(manifest(`  dnsPolicy: None\n${main}`))).toBe(
      `${at(1)}: spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when dnsPolicy is None`,
    );
  });

  test('several problems are all reported, separated by "; "', () => {
    const spec = '  containers:\n  - {name: a}\n  - {name: a, image: busybox}\n';
    expect(errorOf(manifest(spec))).toBe(`${at(1)}: spec.containers[0].image: Required value`);
    const both = '  restartPolicy: Sometimes\n  containers:\n  - {name: a}\n';
    expect(errorOf(manifest(both))).toBe(
      `${at(1)}: spec.containers[0].image: Required value; spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
    );
  });

  test('a kind other than v1 Pod is an Unsupported value naming the document', () => {
    const text = `${manifest(main)}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n`;
    expect(errorOf(text)).toBe('/etc/manifests/web.yaml: document 2: kind: Unsupported value: "apps/v1/Deployment": supported kinds: "v1/Pod", "v1/ConfigMap", "v1/Secret", "v1/Service", "v1/PersistentVolumeClaim", "v1/PersistentVolume", "storage.k8s.io/v1/StorageClass"');
  });

  test('a Pod of another apiVersion is unsupported', () => {
    expect(errorOf(`apiVersion: v2\nkind: Pod\nmetadata: {name: web}\nspec:\n${main}`)).toBe(
      '/etc/manifests/web.yaml: document 1: kind: Unsupported value: "v2/Pod": supported kinds: "v1/Pod", "v1/ConfigMap", "v1/Secret", "v1/Service", "v1/PersistentVolumeClaim", "v1/PersistentVolume", "storage.k8s.io/v1/StorageClass"',
    );
  });

  test('a name that becomes too long once the node name is added is refused', () => {
    const name = 'a'.repeat(250);
    expect(errorOf(manifest(main, name))).toBe(
      `${at(1, name)}: metadata.name: Invalid value: "${name}-node-1": must be no more than 253 characters`,
    );
  });
});

describe('readManifest: ConfigMaps and Secrets', () => {
  const configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast, retries: "3"}
binaryData: {blob: AAEC}
`;

  test('a ConfigMap next to a pod: both read, the ConfigMap namespaced to default', () => {
    const result = readManifest(`${configMap}---\n${manifest(main)}`, origin, 'node-1');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.objects.pods).toHaveLength(1);
    expect(result.objects.configMaps).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'default' }, data: { mode: 'fast', retries: '3' }, binaryData: { blob: 'AAEC' } },
    ]);
  });

  test('a Secret is stored as the API server stores it: stringData folded into base64 data, type Opaque', () => {
    const text = 'apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: apps}\ndata: {user: YWRtaW4=}\nstringData: {password: hunter2}\n';
    const result = readManifest(text, origin, 'node-1');
    expect(result.ok && result.objects.secrets).toEqual([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'apps' }, type: 'Opaque', data: { user: 'YWRtaW4=', password: 'aHVudGVyMg==' } },
    ]);
  });

  test('a bad ConfigMap key fails the manifest, naming the field', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {"bad key": x}\n';
    expect(errorOf(text)).toBe(
      `/etc/manifests/web.yaml: document 1 (ConfigMap "settings"): data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    );
  });

  test('a key in both data and binaryData is a duplicate', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: twice}\ndata: {k: x}\nbinaryData: {k: eA==}\n';
    expect(errorOf(text)).toBe('/etc/manifests/web.yaml: document 1 (ConfigMap "twice"): data.k: Invalid value: "k": duplicate of key present in binaryData');
  });

  test('Secret data that is not base64 fails, naming the key but never echoing the value', () => {
    const text = 'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata: {token: "not base64!"}\n';
    expect(errorOf(text)).toBe('/etc/manifests/web.yaml: document 1 (Secret "creds"): data.token: Invalid value: "<redacted>": illegal base64 data');
  });

  test('a Secret value of the wrong type is not echoed either', () => {
    const text = 'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: [hunter2]}\n';
    expect(errorOf(text)).toBe('/etc/manifests/web.yaml: document 1 (Secret "creds"): stringData.password: Invalid value: "<redacted>": must be a string');
  });
});

describe('readManifest: Services', () => {
  const service = (spec: string, name = 'web'): string => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n${spec}`;

  test('a Service is read and defaulted as the API server would: type, protocol, targetPort, affinity timeout', () => {
    const result = readManifest(service('  selector: {app: web}\n  sessionAffinity: ClientIP\n  ports: [{port: 80}]\n'), origin, 'node-1');
    expect(result.ok && result.objects.services).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          type: 'ClusterIP',
          selector: { app: 'web' },
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
          ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
          internalTrafficPolicy: 'Cluster',
        },
      },
    ]);
  });

  test.each([
    ['  ports: [{port: 80}, {port: 81}]\n', 'spec.ports[0].name: Required value; spec.ports[1].name: Required value'],
    ['  ports: [{name: a, port: 80}, {name: a, port: 81}]\n', 'spec.ports[1].name: Duplicate value: "a"'],
    ['  ports: [{port: 80, nodePort: 30080}]\n', "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    ['  clusterIP: 10.96.0.300\n  ports: [{port: 80}]\n', 'spec.clusterIP: Invalid value: "10.96.0.300": must be a valid IPv4 address, "None" or empty'],
    ['  type: NodePort\n  clusterIP: None\n  ports: [{port: 80}]\n', `spec.clusterIP: Invalid value: "None": may not be set to 'None' for NodePort services`],
    ['  type: ExternalName\n', 'spec.externalName: Required value'],
    ['  ports: []\n', 'spec.ports: Required value'],
    ['  externalTrafficPolicy: Local\n  ports: [{port: 80}]\n', 'spec.externalTrafficPolicy: Invalid value: "Local": ExternalTrafficPolicy can only be set on NodePort and LoadBalancer service'],
    ['  internalTrafficPolicy: Nearby\n  ports: [{port: 80}]\n', 'spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"'],
  ])('%j is refused: %s', (spec, message) => {
    expect(errorOf(service(spec))).toBe(`/etc/manifests/web.yaml: document 1 (Service "web"): ${message}`);
  });

  test('a Service name must be a DNS-1035 label', () => {
    expect(errorOf(service('  ports: [{port: 80}]\n', '1web'))).toContain('metadata.name: Invalid value: "1web": a DNS-1035 label must consist of');
  });

  const claim = 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n';

  test('a claim, a PersistentVolume and a StorageClass beside a pod: all read, the claim namespaced to default', () => {
    const volume = 'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: disk}\nspec: {capacity: {storage: 5Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /srv/disk}, claimRef: {name: data}}\n';
    const storageClass = 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: keep}\nprovisioner: dockerlet.io/local-path\nreclaimPolicy: Retain\n';
    const result = readManifest([claim, volume, storageClass, manifest(main)].join('---\n'), origin, 'node-1');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.objects.persistentVolumeClaims).toEqual([expect.objectContaining({ metadata: { name: 'data', namespace: 'default' } })]);
    expect(result.objects.persistentVolumes.map((v) => v.metadata?.name)).toEqual(['disk']);
    expect(result.objects.storageClasses.map((c) => c.reclaimPolicy)).toEqual(['Retain']);
  });

  test('a claim without access modes or a storage request fails the manifest, naming the fields', () => {
    const text = 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [], resources: {requests: {}}}\n';
    expect(errorOf(text)).toBe(
      '/etc/manifests/web.yaml: document 1 (PersistentVolumeClaim "data"): spec.accessModes: Required value; spec.resources.requests.storage: Required value',
    );
  });

  test('a claim that selects its volume by labels is refused: a lone host binds by name', () => {
    const text = claim.replace('resources:', 'selector: {matchLabels: {tier: db}}, resources:');
    expect(errorOf(text)).toContain('(PersistentVolumeClaim "data"): spec.selector: Forbidden: a claim on a lone host names its volume');
  });

  test('a PersistentVolume of a kind a lone host cannot mount names it', () => {
    const text = 'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: share}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteMany], nfs: {server: nfs.example, path: /x}}\n';
    expect(errorOf(text)).toBe('/etc/manifests/web.yaml: document 1 (PersistentVolume "share"): spec.nfs: Unsupported value: "nfs": a lone host\'s PersistentVolumes are hostPath or local');
  });

  test('a PersistentVolume with a second source besides hostPath names the one it cannot mount', () => {
    const text = 'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: both}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /srv}, nfs: {server: nfs.example, path: /x}}\n';
    expect(errorOf(text)).toBe('/etc/manifests/web.yaml: document 1 (PersistentVolume "both"): spec.nfs: Unsupported value: "nfs": a lone host\'s PersistentVolumes are hostPath or local');
  });

  test('a StorageClass needs its provisioner', () => {
    expect(errorOf('apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: keep}\n')).toBe('/etc/manifests/web.yaml: document 1 (StorageClass "keep"): provisioner: Required value');
  });
});
