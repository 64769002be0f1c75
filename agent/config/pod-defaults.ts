/**
 * Defaulting as the API server applies it (pkg/apis/core/v1/defaults.go) for the fields the
 * agent acts on, and the priority its Priority admission gives a pod of a built-in
 * PriorityClass. Static pods never pass through an API server, so the agent does it itself; a
 * class of any other name has no value here, and the pod's priority stays 0.
 */
import type { Container, Pod, Probe, Volume } from '../../common/api/types.js';
import { BuiltInPriorityClasses } from '../../common/api/priority.js';
import { isValidImageReference } from '../images/image-reference.js';

export const DefaultTerminationGracePeriodSeconds = 30;
export const DefaultTerminationMessagePath = '/dev/termination-log';

/** A copy of `pod` with every defaulted field filled in. */
export function withApiDefaults(pod: Pod): Pod {
  const copy = structuredClone(pod);
  const metadata = (copy.metadata ??= {});
  metadata.namespace ||= 'default';
  const spec = (copy.spec ??= { containers: [] });
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= DefaultTerminationGracePeriodSeconds;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  if (spec.priority === undefined && spec.priorityClassName) {
    const builtIn = BuiltInPriorityClasses.get(spec.priorityClassName);
    if (builtIn !== undefined) spec.priority = builtIn;
  }
  for (const container of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    defaultContainer(container, spec.hostNetwork === true);
  }
  for (const volume of spec.volumes ?? []) defaultVolume(volume);
  return copy;
}

/**
 * The API server's image pull policy rule (SetDefaults_Container with parsers.ParseImageName):
 * the tag `latest`, or neither tag nor digest -> Always; anything else, including a reference
 * that does not parse, -> IfNotPresent. `name:latest@sha256:...` has the tag latest: Always.
 */
export function defaultImagePullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (!isValidImageReference(image)) return 'IfNotPresent';
  const at = image.indexOf('@');
  const named = at === -1 ? image : image.slice(0, at);
  const lastComponent = named.slice(named.lastIndexOf('/') + 1);
  const colon = lastComponent.indexOf(':');
  const tag = colon === -1 ? undefined : lastComponent.slice(colon + 1);
  if (tag === undefined) return at === -1 ? 'Always' : 'IfNotPresent';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(container: Container, hostNetwork: boolean): void {
  if (container.image) container.imagePullPolicy ??= defaultImagePullPolicy(container.image);
  container.terminationMessagePath ??= DefaultTerminationMessagePath;
  container.terminationMessagePolicy ??= 'File';
  for (const port of container.ports ?? []) {
    port.protocol ??= 'TCP';
    if (hostNetwork && !port.hostPort) port.hostPort = port.containerPort;
  }
  for (const env of container.env ?? []) {
    if (env.valueFrom?.fieldRef) env.valueFrom.fieldRef.apiVersion ??= 'v1';
  }
  const resources = container.resources;
  if (resources?.limits) {
    const requests = (resources.requests ??= {});
    for (const [name, limit] of Object.entries(resources.limits)) requests[name] ??= limit;
  }
  for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
    if (probe) defaultProbe(probe);
  }
  for (const handler of [container.lifecycle?.postStart, container.lifecycle?.preStop]) {
    if (handler?.httpGet) {
      handler.httpGet.path ??= '/';
      handler.httpGet.scheme ??= 'HTTP';
    }
  }
}

function defaultProbe(probe: Probe): void {
  probe.timeoutSeconds ||= 1;
  probe.periodSeconds ||= 10;
  probe.successThreshold ||= 1;
  probe.failureThreshold ||= 3;
  if (probe.httpGet) {
    probe.httpGet.path ??= '/';
    probe.httpGet.scheme ??= 'HTTP';
  }
}

const DefaultMode = 0o644;

function defaultVolume(volume: Volume): void {
  if (volume.hostPath) volume.hostPath.type ??= '';
  if (volume.configMap) volume.configMap.defaultMode ??= DefaultMode;
  if (volume.secret) volume.secret.defaultMode ??= DefaultMode;
  if (volume.downwardAPI) {
    volume.downwardAPI.defaultMode ??= DefaultMode;
    for (const item of volume.downwardAPI.items ?? []) {
      if (item.fieldRef) item.fieldRef.apiVersion ??= 'v1';
    }
  }
  if (volume.projected) volume.projected.defaultMode ??= DefaultMode;
}
