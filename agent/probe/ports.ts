/** A probe's or hook's port: a number, a number written as a string, or the name of a container port. */
import type { Container } from '../api/types.js';

export type PortResolution = { ok: true; port: number } | { ok: false; message: string };

export function resolveContainerPort(port: number | string, container: Container): PortResolution {
  if (typeof port === 'number') return validPort(port);
  const named = container.ports?.find((p) => p.name === port);
  if (named) return validPort(named.containerPort);
  if (/^\d+$/.test(port)) return validPort(Number(port));
  return { ok: false, message: `couldn't find port: ${port} in container ${container.name}` };
}

function validPort(port: number): PortResolution {
  return port > 0 && port < 65536 ? { ok: true, port } : { ok: false, message: `invalid port number: ${port}` };
}
