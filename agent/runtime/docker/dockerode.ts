/**
 * Dockerode, without the transports the agent never uses loaded with it. docker-modem loads
 * ssh2 (for ssh:// hosts) and dockerode loads gRPC and protobuf (for BuildKit sessions) as soon
 * as they are imported: ~12 MB of a node's resident memory for code that talks to no unix
 * socket. The agent only talks to the engine's unix socket, so those two modules are put in
 * the CommonJS cache as stand-ins that load the real module the first time they are called
 * (an ssh:// host or a BuildKit build would still work, at that moment's cost).
 */
import { createRequire, Module } from 'node:module';
import type Dockerode from 'dockerode';

const require = createRequire(import.meta.url);

/** Modules loaded by dockerode's own files, each exporting one function, and only needed when it is called. */
const Deferred = ['dockerode/lib/session.js', 'docker-modem/lib/ssh.js'] as const;

/** Resolves as dockerode's own files do. */
const requireAsDockerode = createRequire(require.resolve('dockerode'));

function deferUntilCalled(module: string): void {
  const path = requireAsDockerode.resolve(module);
  if (require.cache[path]) return;
  let real: ((...args: unknown[]) => unknown) | undefined;
  const standIn = function (this: unknown, ...args: unknown[]): unknown {
    if (!real) {
      delete require.cache[path];
      real = requireAsDockerode(path) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  const cached = new Module(path);
  cached.filename = path;
  cached.loaded = true;
  cached.exports = standIn;
  require.cache[path] = cached;
}

for (const module of Deferred) deferUntilCalled(module);

/** A client of the engine on the unix socket at `socketPath`. */
export function dockerClient(socketPath: string): Dockerode {
  const DockerodeClass = require('dockerode') as typeof Dockerode;
  return new DockerodeClass({ socketPath });
}
