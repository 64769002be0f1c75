/**
 * What the API server's ValidatePodCreate rejects, for the fields a single Docker node can act on.
 * Objects are loose: fields the agent does not act on (affinity, tolerations, ...) pass through.
 */
import { z } from 'zod';
import { parseQuantity } from '../../../common/api/quantity.js';
import { DefaultTerminationGracePeriodSeconds } from '../pod-defaults.js';
import { dnsLabel, dnsSubdomain, labels, portName, portNumber, quantity, resourceList } from './names.js';

const nonNegativeInt = z.number().int().min(0);
const positiveInt = z.number().int().min(1);
/** ValidatePortNumOrName: 1-65535, or a port name (IANA_SVC_NAME) of the container. */
const portNumOrName = z.union([portNumber, portName]);
/** An HTTP header field name (a token, RFC 7230). */
const httpHeaderName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a valid HTTP header must consist of alphanumeric characters or "-", "_" and other token characters');
const fileMode = z.number().int().min(0).max(0o777);

/** exactly one of `keys` is set on `value`; otherwise an issue naming what was found. */
function exactlyOne<T extends object>(value: T, keys: readonly (keyof T & string)[], what: string, ctx: z.RefinementCtx): void {
  const set = keys.filter((key) => value[key] !== undefined && value[key] !== null);
  if (set.length === 1) return;
  ctx.addIssue({
    code: 'custom',
    message:
      set.length === 0
        ? `Required value: must specify a ${what}: one of ${keys.map((k) => `\`${k}\``).join(', ')}`
        : `Forbidden: may not specify more than 1 ${what} (found ${set.join(', ')})`,
  });
}

const httpGetAction = z.looseObject({
  path: z.string().optional(),
  port: portNumOrName,
  host: z.string().optional(),
  scheme: z.enum(['HTTP', 'HTTPS']).optional(),
  httpHeaders: z.array(z.looseObject({ name: httpHeaderName, value: z.string() })).optional(),
});
const execAction = z.looseObject({ command: z.array(z.string()).min(1) });
const tcpSocketAction = z.looseObject({ port: portNumOrName, host: z.string().optional() });
const grpcAction = z.looseObject({ port: portNumber, service: z.string().optional() });
const sleepAction = z.looseObject({ seconds: nonNegativeInt });

const probe = z
  .looseObject({
    exec: execAction.optional(),
    httpGet: httpGetAction.optional(),
    tcpSocket: tcpSocketAction.optional(),
    grpc: grpcAction.optional(),
    initialDelaySeconds: nonNegativeInt.optional(),
    timeoutSeconds: nonNegativeInt.optional(),
    periodSeconds: nonNegativeInt.optional(),
    successThreshold: nonNegativeInt.optional(),
    failureThreshold: nonNegativeInt.optional(),
    terminationGracePeriodSeconds: positiveInt.optional(),
  })
  .superRefine((value, ctx) => exactlyOne(value, ['exec', 'httpGet', 'tcpSocket', 'grpc'], 'handler type', ctx));

const lifecycleHandler = z
  .looseObject({
    exec: execAction.optional(),
    httpGet: httpGetAction.optional(),
    tcpSocket: tcpSocketAction.optional(),
    sleep: sleepAction.optional(),
  })
  .superRefine((value, ctx) => {
    exactlyOne(value, ['exec', 'httpGet', 'tcpSocket', 'sleep'], 'handler type', ctx);
    if (value.tcpSocket) {
      ctx.addIssue({ code: 'custom', path: ['tcpSocket'], message: 'Forbidden: tcpSocket is not supported for lifecycle hooks' });
    }
  });

const keyToPath = z.looseObject({ key: z.string().min(1), path: z.string().min(1), mode: fileMode.optional() });
const objectFieldSelector = z.looseObject({ fieldPath: z.string().min(1), apiVersion: z.string().optional() });
const resourceFieldSelector = z.looseObject({
  containerName: z.string().optional(),
  resource: z.enum(['limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage']),
  divisor: quantity.optional(),
});

/** fieldRef paths the downward API serves in env; volumes serve the metadata ones. */
const EnvFieldPaths = /^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$/;
const VolumeFieldPaths = /^(metadata\.(name|namespace|uid|labels|annotations)|metadata\.(labels|annotations)\['[^']+'\])$/;

const envVar = z
  .looseObject({
    name: z.string().min(1).regex(/^[\x20-\x3c\x3e-\x7e]+$/, "must consist of printable ASCII characters except '='"),
    value: z.string().optional(),
    valueFrom: z
      .looseObject({
        fieldRef: objectFieldSelector
          .refine((ref) => EnvFieldPaths.test(ref.fieldPath), 'Unsupported value: fieldPath is not supported in env')
          .optional(),
        resourceFieldRef: resourceFieldSelector.optional(),
        configMapKeyRef: z.looseObject({ name: z.string().min(1), key: z.string().min(1), optional: z.boolean().optional() }).optional(),
        secretKeyRef: z.looseObject({ name: z.string().min(1), key: z.string().min(1), optional: z.boolean().optional() }).optional(),
      })
      .superRefine((value, ctx) => exactlyOne(value, ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'], 'source', ctx))
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.value !== undefined && value.value !== '' && value.valueFrom) {
      ctx.addIssue({ code: 'custom', path: ['valueFrom'], message: 'Invalid value: may not be specified when `value` is not empty' });
    }
  });

const envFromSource = z
  .looseObject({
    prefix: z.string().optional(),
    configMapRef: z.looseObject({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
    secretRef: z.looseObject({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
  })
  .superRefine((value, ctx) => exactlyOne(value, ['configMapRef', 'secretRef'], 'source', ctx));

const containerPort = z.looseObject({
  name: portName.optional(),
  containerPort: portNumber,
  hostPort: z.number().int().min(0).max(65535).optional(),
  hostIP: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});

const volumeMount = z
  .looseObject({
    name: z.string().min(1),
    mountPath: z.string().min(1),
    readOnly: z.boolean().optional(),
    subPath: z.string().optional(),
    subPathExpr: z.string().optional(),
    mountPropagation: z.enum(['None', 'HostToContainer', 'Bidirectional']).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.subPath && value.subPathExpr) {
      ctx.addIssue({ code: 'custom', path: ['subPathExpr'], message: 'Invalid value: subPathExpr and subPath are mutually exclusive' });
    }
    for (const key of ['subPath', 'subPathExpr'] as const) {
      const path = value[key];
      if (path && (path.startsWith('/') || path.split('/').includes('..'))) {
        ctx.addIssue({ code: 'custom', path: [key], message: `Invalid value: "${path}": must be a relative path without '..'` });
      }
    }
  });

const capabilities = z.looseObject({ add: z.array(z.string()).optional(), drop: z.array(z.string()).optional() });

/** ValidateSeccompProfileField: a type, and for Localhost a relative path without '..' (under <root-dir>/seccomp). */
const seccompProfile = z
  .looseObject({ type: z.enum(['Unconfined', 'RuntimeDefault', 'Localhost']), localhostProfile: z.string().optional() })
  .superRefine((profile, ctx) => {
    const path = profile.localhostProfile;
    if (profile.type !== 'Localhost') {
      if (path !== undefined) ctx.addIssue({ code: 'custom', path: ['localhostProfile'], message: 'Invalid value: "' + path + '": can only be set when type is Localhost' });
      return;
    }
    if (!path) ctx.addIssue({ code: 'custom', path: ['localhostProfile'], message: 'Required value: must be set when seccomp type is Localhost' });
    else if (path.startsWith('/') || path.split('/').includes('..')) {
      ctx.addIssue({ code: 'custom', path: ['localhostProfile'], message: `Invalid value: "${path}": must be a relative path without '..'` });
    }
  });

const containerSecurityContext = z.looseObject({
  runAsUser: nonNegativeInt.optional(),
  runAsGroup: nonNegativeInt.optional(),
  runAsNonRoot: z.boolean().optional(),
  privileged: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  capabilities: capabilities.optional(),
  seccompProfile: seccompProfile.optional(),
});

const resources = z
  .looseObject({ limits: resourceList.optional(), requests: resourceList.optional() })
  .superRefine((value, ctx) => {
    for (const [name, request] of Object.entries(value.requests ?? {})) {
      const limit = value.limits?.[name];
      if (limit !== undefined && (parseQuantity(request) ?? 0) > (parseQuantity(limit) ?? 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['requests', name],
          message: `Invalid value: "${String(request)}": must be less than or equal to ${name} limit of ${String(limit)}`,
        });
      }
    }
  });

const container = z.looseObject({
  name: dnsLabel,
  image: z.string().trim().min(1),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z.array(envVar).optional(),
  envFrom: z.array(envFromSource).optional(),
  ports: z.array(containerPort).optional(),
  resources: resources.optional(),
  volumeMounts: z.array(volumeMount).optional(),
  livenessProbe: probe.optional(),
  readinessProbe: probe.optional(),
  startupProbe: probe.optional(),
  lifecycle: z.looseObject({ postStart: lifecycleHandler.optional(), preStop: lifecycleHandler.optional() }).optional(),
  terminationMessagePath: z.string().optional(),
  terminationMessagePolicy: z.enum(['File', 'FallbackToLogsOnError']).optional(),
  securityContext: containerSecurityContext.optional(),
  stdin: z.boolean().optional(),
  stdinOnce: z.boolean().optional(),
  tty: z.boolean().optional(),
  restartPolicy: z.enum(['Always']).optional(),
});

type ContainerInput = z.infer<typeof container>;

const downwardApiFile = z
  .looseObject({
    path: z.string().min(1),
    fieldRef: objectFieldSelector
      .refine((ref) => VolumeFieldPaths.test(ref.fieldPath), 'Unsupported value: fieldPath is not supported in a downwardAPI volume')
      .optional(),
    resourceFieldRef: resourceFieldSelector.optional(),
    mode: fileMode.optional(),
  })
  .superRefine((value, ctx) => exactlyOne(value, ['fieldRef', 'resourceFieldRef'], 'source', ctx));

const VolumeTypes = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim'] as const;

const volume = z
  .looseObject({
    name: dnsLabel,
    emptyDir: z.looseObject({ medium: z.enum(['', 'Memory']).optional(), sizeLimit: quantity.optional() }).optional(),
    hostPath: z
      .looseObject({
        path: z.string().min(1),
        type: z.enum(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']).optional(),
      })
      .optional(),
    configMap: z
      .looseObject({ name: z.string().min(1), items: z.array(keyToPath).optional(), defaultMode: fileMode.optional(), optional: z.boolean().optional() })
      .optional(),
    secret: z
      .looseObject({ secretName: z.string().min(1), items: z.array(keyToPath).optional(), defaultMode: fileMode.optional(), optional: z.boolean().optional() })
      .optional(),
    downwardAPI: z.looseObject({ items: z.array(downwardApiFile).optional(), defaultMode: fileMode.optional() }).optional(),
    persistentVolumeClaim: z.looseObject({ claimName: z.string().min(1), readOnly: z.boolean().optional() }).optional(),
    projected: z
      .looseObject({
        defaultMode: fileMode.optional(),
        sources: z.array(
          z.looseObject({
            configMap: z.looseObject({ name: z.string().min(1), items: z.array(keyToPath).optional(), optional: z.boolean().optional() }).optional(),
            secret: z.looseObject({ name: z.string().min(1), items: z.array(keyToPath).optional(), optional: z.boolean().optional() }).optional(),
            downwardAPI: z.looseObject({ items: z.array(downwardApiFile).optional() }).optional(),
            serviceAccountToken: z
              .looseObject({ audience: z.string().optional(), expirationSeconds: z.number().int().min(600).optional(), path: z.string().min(1) })
              .optional(),
          }),
        ),
      })
      .optional(),
  })
  .superRefine((value, ctx) => {
    const known = VolumeTypes.filter((type) => value[type] !== undefined);
    const other = Object.keys(value).find((key) => key !== 'name' && !(VolumeTypes as readonly string[]).includes(key));
    if (known.length === 0 && other !== undefined) {
      ctx.addIssue({ code: 'custom', message: `Unsupported value: "${other}": dockerlet serves the volume types ${VolumeTypes.join(', ')}` });
      return;
    }
    exactlyOne(value, VolumeTypes, 'volume type', ctx);
  });

const podSecurityContext = z.looseObject({
  runAsUser: nonNegativeInt.optional(),
  runAsGroup: nonNegativeInt.optional(),
  runAsNonRoot: z.boolean().optional(),
  fsGroup: nonNegativeInt.optional(),
  supplementalGroups: z.array(nonNegativeInt).optional(),
  seccompProfile: seccompProfile.optional(),
  sysctls: z
    .array(z.looseObject({ name: z.string().max(253).regex(/^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/, 'must be a sysctl name such as net.ipv4.ip_local_port_range'), value: z.string() }))
    .superRefine((sysctls, ctx) => {
      const seen = new Set<string>();
      for (const [index, { name }] of sysctls.entries()) {
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `Duplicate value: "${name}"` });
        seen.add(name);
      }
    })
    .optional(),
});

const IPv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

const podSpec = z
  .looseObject({
    containers: z.array(container).min(1),
    initContainers: z.array(container).optional(),
    volumes: z.array(volume).optional(),
    restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).optional(),
    terminationGracePeriodSeconds: nonNegativeInt.optional(),
    activeDeadlineSeconds: positiveInt.optional(),
    dnsPolicy: z.enum(['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']).optional(),
    dnsConfig: z
      .looseObject({
        nameservers: z.array(z.string()).max(3).optional(),
        searches: z.array(z.string()).max(32).optional(),
        options: z.array(z.looseObject({ name: z.string().min(1), value: z.string().optional() })).optional(),
      })
      .optional(),
    hostNetwork: z.boolean().optional(),
    hostPID: z.boolean().optional(),
    hostIPC: z.boolean().optional(),
    shareProcessNamespace: z.boolean().optional(),
    hostname: dnsLabel.optional(),
    subdomain: dnsLabel.optional(),
    hostAliases: z
      .array(z.looseObject({ ip: z.string().regex(IPv4, 'must be a valid IPv4 address'), hostnames: z.array(z.string().min(1)).optional() }))
      .optional(),
    nodeName: z.string().optional(),
    serviceAccountName: z.string().optional(),
    enableServiceLinks: z.boolean().optional(),
    securityContext: podSecurityContext.optional(),
  })
  .superRefine((spec, ctx) => {
    const volumeNames = new Set<string>();
    for (const [index, { name }] of (spec.volumes ?? []).entries()) {
      if (volumeNames.has(name)) ctx.addIssue({ code: 'custom', path: ['volumes', index, 'name'], message: `Duplicate value: "${name}"` });
      volumeNames.add(name);
    }
    if (spec.dnsPolicy === 'None' && !spec.dnsConfig?.nameservers?.length) {
      ctx.addIssue({ code: 'custom', path: ['dnsConfig', 'nameservers'], message: 'Required value: must provide at least one DNS nameserver when dnsPolicy is None' });
    }
    const containerNames = new Set<string>();
    const groups = [
      ['initContainers', spec.initContainers ?? []],
      ['containers', spec.containers],
    ] as const;
    for (const [group, containers] of groups) {
      for (const [index, c] of containers.entries()) {
        const at = (...rest: (string | number)[]): (string | number)[] => [group, index, ...rest];
        if (containerNames.has(c.name)) ctx.addIssue({ code: 'custom', path: at('name'), message: `Duplicate value: "${c.name}"` });
        containerNames.add(c.name);
        checkContainer(c, group === 'initContainers', spec, volumeNames, at, ctx);
      }
    }
  });

function checkContainer(
  c: ContainerInput,
  isInit: boolean,
  spec: { hostNetwork?: boolean | undefined; terminationGracePeriodSeconds?: number | undefined },
  volumeNames: ReadonlySet<string>,
  at: (...rest: (string | number)[]) => (string | number)[],
  ctx: z.RefinementCtx,
): void {
  const isSidecar = isInit && c.restartPolicy === 'Always';
  if (!isInit && c.restartPolicy !== undefined) {
    ctx.addIssue({ code: 'custom', path: at('restartPolicy'), message: 'Forbidden: may not be set for non-init containers' });
  }
  if (isInit && !isSidecar) {
    for (const field of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      if (c[field]) ctx.addIssue({ code: 'custom', path: at(field), message: `Forbidden: may not be set for init containers without restartPolicy=Always` });
    }
  }
  const hostNetwork = spec.hostNetwork === true;
  const grace = spec.terminationGracePeriodSeconds ?? DefaultTerminationGracePeriodSeconds;
  for (const hook of ['postStart', 'preStop'] as const) {
    const seconds = c.lifecycle?.[hook]?.sleep?.seconds;
    if (seconds !== undefined && seconds > grace) {
      ctx.addIssue({
        code: 'custom',
        path: at('lifecycle', hook, 'sleep', 'seconds'),
        message: `Invalid value: ${seconds}: must be non-negative and less than terminationGracePeriodSeconds (${grace})`,
      });
    }
  }
  if (c.readinessProbe?.terminationGracePeriodSeconds !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: at('readinessProbe', 'terminationGracePeriodSeconds'),
      message: 'Invalid value: must not be set for readinessProbes',
    });
  }
  for (const field of ['livenessProbe', 'startupProbe'] as const) {
    const threshold = c[field]?.successThreshold;
    if (threshold !== undefined && threshold !== 1) {
      ctx.addIssue({ code: 'custom', path: at(field, 'successThreshold'), message: `Invalid value: ${threshold}: must be 1` });
    }
  }
  const portNames = new Set<string>();
  for (const [index, port] of (c.ports ?? []).entries()) {
    if (port.name !== undefined) {
      if (portNames.has(port.name)) ctx.addIssue({ code: 'custom', path: at('ports', index, 'name'), message: `Duplicate value: "${port.name}"` });
      portNames.add(port.name);
    }
    if (hostNetwork && port.hostPort && port.hostPort !== port.containerPort) {
      ctx.addIssue({
        code: 'custom',
        path: at('ports', index, 'hostPort'),
        message: `Invalid value: ${port.hostPort}: must match \`containerPort\` when \`hostNetwork\` is true`,
      });
    }
  }
  const mountPaths = new Set<string>();
  for (const [index, mount] of (c.volumeMounts ?? []).entries()) {
    if (!volumeNames.has(mount.name)) {
      ctx.addIssue({ code: 'custom', path: at('volumeMounts', index, 'name'), message: `Not found: "${mount.name}"` });
    }
    if (mountPaths.has(mount.mountPath)) {
      ctx.addIssue({ code: 'custom', path: at('volumeMounts', index, 'mountPath'), message: `Invalid value: "${mount.mountPath}": must be unique` });
    }
    mountPaths.add(mount.mountPath);
    if (mount.mountPropagation === 'Bidirectional' && c.securityContext?.privileged !== true) {
      ctx.addIssue({
        code: 'custom',
        path: at('volumeMounts', index, 'mountPropagation'),
        message: 'Forbidden: Bidirectional mount propagation is available only to privileged containers',
      });
    }
  }
}

export const podSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: z.looseObject({
    name: dnsSubdomain,
    namespace: dnsLabel.optional(),
    uid: z.string().optional(),
    labels: labels.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: podSpec,
});
