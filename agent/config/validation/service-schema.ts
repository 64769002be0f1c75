/**
 * What the API server's ValidateService rejects (pkg/apis/core/validation), for Services given
 * next to static pods: names (DNS-1035 labels), types, ports (names required and unique when
 * several, (port, protocol) unique), targetPort, nodePort only where it means something,
 * clusterIP forms, session affinity and its timeout, the traffic policies, externalName.
 * Whether a nodePort lies in the node port range is the allocator's to say, as in the API
 * server: only the proxy knows its --service-node-port-range.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { dnsLabel, dnsSubdomain, labels, portName, portNumber } from './names.js';

const Dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const serviceName = z
  .string()
  .max(63, 'must be no more than 63 characters')
  .regex(
    Dns1035Label,
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123')",
  );

const servicePort = z.looseObject({
  name: dnsLabel.optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  port: portNumber,
  targetPort: z.union([portNumber, portName]).optional(),
  nodePort: z.number().int().optional(),
  appProtocol: z.string().optional(),
});

export const serviceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: z.looseObject({
    name: serviceName,
    namespace: dnsLabel.optional(),
    labels: labels.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z
    .looseObject({
      type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).optional(),
      selector: z.record(z.string(), z.string()).optional(),
      ports: z.array(servicePort).optional(),
      clusterIP: z.string().optional(),
      externalName: dnsSubdomain.optional(),
      sessionAffinity: z.enum(['None', 'ClientIP']).optional(),
      sessionAffinityConfig: z
        .looseObject({ clientIP: z.looseObject({ timeoutSeconds: z.number().int().min(1).max(86400).optional() }).optional() })
        .optional(),
      publishNotReadyAddresses: z.boolean().optional(),
      externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
      internalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    })
    .superRefine((spec, ctx) => {
      const type = spec.type ?? 'ClusterIP';
      const ports = spec.ports ?? [];
      if (spec.externalTrafficPolicy !== undefined && type !== 'NodePort' && type !== 'LoadBalancer') {
        ctx.addIssue({
          code: 'custom',
          path: ['externalTrafficPolicy'],
          message: `Invalid value: "${spec.externalTrafficPolicy}": ExternalTrafficPolicy can only be set on NodePort and LoadBalancer service`,
        });
      }
      if (type === 'ExternalName') {
        if (!spec.externalName) ctx.addIssue({ code: 'custom', path: ['externalName'], message: 'Required value' });
        return;
      }
      const headless = spec.clusterIP === 'None';
      if (ports.length === 0 && !headless) ctx.addIssue({ code: 'custom', path: ['ports'], message: 'Required value' });
      if (spec.clusterIP && !headless && isIP(spec.clusterIP) !== 4) {
        ctx.addIssue({ code: 'custom', path: ['clusterIP'], message: `Invalid value: "${spec.clusterIP}": must be a valid IPv4 address, "None" or empty` });
      }
      if (headless && type !== 'ClusterIP') {
        ctx.addIssue({ code: 'custom', path: ['clusterIP'], message: `Invalid value: "None": may not be set to 'None' for ${type} services` });
      }
      const names = new Set<string>();
      const ports_ = new Set<string>();
      for (const [index, port] of ports.entries()) {
        if (ports.length > 1 && !port.name) ctx.addIssue({ code: 'custom', path: ['ports', index, 'name'], message: 'Required value' });
        if (port.name !== undefined) {
          if (names.has(port.name)) ctx.addIssue({ code: 'custom', path: ['ports', index, 'name'], message: `Duplicate value: "${port.name}"` });
          names.add(port.name);
        }
        const key = `${port.port}/${port.protocol ?? 'TCP'}`;
        if (ports_.has(key)) ctx.addIssue({ code: 'custom', path: ['ports', index], message: `Duplicate value: {"port": ${port.port}, "protocol": "${port.protocol ?? 'TCP'}"}` });
        ports_.add(key);
        if (port.nodePort !== undefined) {
          if (type === 'ClusterIP') {
            ctx.addIssue({ code: 'custom', path: ['ports', index, 'nodePort'], message: 'Forbidden: may not be used when `type` is \'ClusterIP\'' });
          }
        }
      }
      if (spec.sessionAffinityConfig && spec.sessionAffinity !== 'ClientIP') {
        ctx.addIssue({ code: 'custom', path: ['sessionAffinityConfig'], message: `Forbidden: must not be set when session affinity is ${spec.sessionAffinity ?? 'None'}` });
      }
    }),
});
