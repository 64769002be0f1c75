/** A probe's or hook's port: a number, a number written as a string, or the name of a container port. */
import type { Container } from '../../common/api/types.js';

export type PortResolution = { ok: true; port: number } | { ok: false; message: string };

export function resolveContainerPort(port: number | string, container: Container): PortResolution {
  if (typeof port === 'number') return validPort(port);
  const named = container.ports?.find((p) => p.name === port);
  if (named) return validPort(named.containerPort);
  // The kubelet's last resort, strconv.Atoi, and its words when that fails too.
  if (/^[+-]?\d+$/.test(port)) return validPort(Number(port));
  return { ok: false, message: `strconv.Atoi: parsing ${JSON.stringify(port)}: invalid syntax` };
}

function validPort(port: number): PortResolution {
  return port > 0 && port < 65536 ? { ok: true, port } : { ok: false, message: `invalid port number: ${port}` };
}
