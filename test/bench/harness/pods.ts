/**
 * The pods the benchmarks run, in one shape every subject can take: a Kubernetes manifest for
 * dockerlet and podman kube play, the same containers for the bare Docker API. Every container
 * exits at once on SIGTERM, so tearing pods down between rounds never waits out a grace period.
 */
import { stringify } from 'yaml';
import { BusyboxImage } from '../../helpers/docker.js';

export interface BenchContainer {
  name: string;
  image: string;
  command: string[];
  /** An httpGet readiness probe on this port and path, every second. */
  readiness?: { port: number; path: string };
}

export interface BenchPod {
  name: string;
  labels?: Record<string, string>;
  containers: BenchContainer[];
}

/** A shell that runs `command` in the background and exits 0 on SIGTERM (PID 1 ignores signals it does not handle). */
export const untilTerm = (command: string): string[] => ['sh', '-c', `trap 'exit 0' TERM; ${command} & wait $!`];

/** A pod of `count` containers that only sleep. */
export function sleeperPod(name: string, count = 1): BenchPod {
  return {
    name,
    containers: Array.from({ length: count }, (_, i) => ({ name: `c${i}`, image: BusyboxImage, command: untilTerm('sleep 3600') })),
  };
}

/** A busybox httpd on :8080 serving /index.html and /ready; with `probe`, a readiness probe on /ready every second. */
export function httpdPod(name: string, options: { probe?: boolean; labels?: Record<string, string> } = {}): BenchPod {
  return {
    name,
    ...(options.labels ? { labels: options.labels } : {}),
    containers: [
      {
        name: 'httpd',
        image: BusyboxImage,
        command: untilTerm('mkdir -p /www && echo ok > /www/index.html && echo ok > /www/ready && httpd -f -p 8080 -h /www'),
        ...(options.probe ? { readiness: { port: 8080, path: '/ready' } } : {}),
      },
    ],
  };
}

/** The pod as a manifest document. */
export function podManifest(pod: BenchPod): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, ...(pod.labels ? { labels: pod.labels } : {}) },
    spec: {
      containers: pod.containers.map((c) => ({
        name: c.name,
        image: c.image,
        command: c.command,
        ...(c.readiness
          ? { readinessProbe: { httpGet: { port: c.readiness.port, path: c.readiness.path }, periodSeconds: 1, failureThreshold: 1 } }
          : {}),
      })),
    },
  };
}

/** Documents as one YAML stream. */
export function yamlDocuments(documents: readonly Record<string, unknown>[]): string {
  return documents.map((document) => `---\n${stringify(document)}`).join('');
}

/** A Service document selecting `selector`, each port's targetPort given. */
export function serviceManifest(
  name: string,
  selector: Record<string, string>,
  ports: Array<{ name: string; port: number; targetPort: number; nodePort?: number }>,
  type: 'ClusterIP' | 'NodePort' = 'ClusterIP',
): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type, selector, ports: ports.map((p) => ({ protocol: 'TCP', ...p })) } };
}
