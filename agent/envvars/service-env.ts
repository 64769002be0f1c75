/**
 * Service links (pkg/kubelet/envvars/envvars.go FromServices): for every Service with a ClusterIP
 * that linkedServices picks, <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT (the first port),
 * <NAME>_SERVICE_PORT_<PORTNAME> (named ports), and Docker's link variables <NAME>_PORT and
 * <NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]. Names are upper-cased with '-' as '_'.
 * Services come in name order, so the environment is the same at every start.
 */
import { isStaticPod } from '../../common/api/pod-helpers.js';
import type { DefaultedPod, Service } from '../../common/api/types.js';

export interface ServiceLookup {
  /** The Services of a namespace, with their ClusterIPs allocated. */
  servicesIn(namespace: string): readonly Service[];
  /** False until the Services have been read once (an API server's list); without it, always read. */
  synced?(): boolean;
}

export type ServiceEnvResult = { ok: true; env: Array<{ name: string; value: string }> } | { ok: false; message: string };

/** The Services of `namespace` in `services`. */
export const servicesInNamespace = (services: readonly Service[], namespace: string): Service[] => services.filter((service) => service.metadata?.namespace === namespace);

/** The master Service every pod links to, whatever its enableServiceLinks: default/kubernetes, the API server's. */
const MasterService = { namespace: 'default', name: 'kubernetes' } as const;

const hasClusterIP = (service: Service): boolean => Boolean(service.spec?.clusterIP) && service.spec?.clusterIP !== 'None';

/**
 * The Services a pod links to (the kubelet's getServiceEnvVarMap): of those with a ClusterIP,
 * the namespace's when enableServiceLinks is on, and always the master Service, unless a Service
 * of the same name in the pod's namespace takes its place.
 */
export function linkedServices(lookup: ServiceLookup | undefined, namespace: string, enableServiceLinks: boolean): Service[] {
  const byName = new Map<string, Service>();
  const master = lookup?.servicesIn(MasterService.namespace).find((service) => service.metadata?.name === MasterService.name && hasClusterIP(service));
  if (master) byName.set(MasterService.name, master);
  if (enableServiceLinks) {
    for (const service of (lookup?.servicesIn(namespace) ?? []).filter(hasClusterIP)) {
      const name = service.metadata?.name ?? '';
      if (namespace !== MasterService.namespace || name !== MasterService.name) byName.set(name, service);
    }
  }
  return [...byName.values()];
}

/**
 * A pod's service link variables. For a pod from the API server, an error while the Services
 * have not been read once, as the kubelet refuses then too (else a pod started early would lack
 * KUBERNETES_SERVICE_HOST for good); static pods go ahead, the API server may be away.
 */
export function serviceEnvFor(lookup: ServiceLookup | undefined, pod: DefaultedPod): ServiceEnvResult {
  if (!isStaticPod(pod) && lookup?.synced && !lookup.synced()) return { ok: false, message: 'services have not yet been read at least once, cannot construct envvars' };
  return { ok: true, env: serviceLinkEnv(linkedServices(lookup, pod.metadata.namespace, pod.spec.enableServiceLinks !== false)) };
}

const envName = (text: string): string => text.replaceAll('-', '_').toUpperCase();

export function serviceLinkEnv(services: readonly Service[]): Array<{ name: string; value: string }> {
  const env: Array<{ name: string; value: string }> = [];
  const sorted = [...services].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const service of sorted) {
    const ip = service.spec?.clusterIP;
    const ports = service.spec?.ports ?? [];
    if (!ip || ip === 'None' || ports.length === 0) continue;
    const prefix = envName(service.metadata?.name ?? '');
    env.push({ name: `${prefix}_SERVICE_HOST`, value: ip });
    env.push({ name: `${prefix}_SERVICE_PORT`, value: String(ports[0]!.port) });
    for (const port of ports) {
      if (port.name) env.push({ name: `${prefix}_SERVICE_PORT_${envName(port.name)}`, value: String(port.port) });
    }
    for (const [index, port] of ports.entries()) {
      const protocol = (port.protocol ?? 'TCP').toLowerCase();
      const url = `${protocol}://${ip}:${port.port}`;
      if (index === 0) env.push({ name: `${prefix}_PORT`, value: url });
      const portPrefix = `${prefix}_PORT_${port.port}_${protocol.toUpperCase()}`;
      env.push({ name: portPrefix, value: url });
      env.push({ name: `${portPrefix}_PROTO`, value: protocol });
      env.push({ name: `${portPrefix}_PORT`, value: String(port.port) });
      env.push({ name: `${portPrefix}_ADDR`, value: ip });
    }
  }
  return env;
}
