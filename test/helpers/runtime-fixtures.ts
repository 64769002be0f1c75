/** Runtime-level fixtures: a ContainerConfig with every field at its neutral value, and a frame of Docker's multiplexed stream. */
import type { ContainerConfig } from '../../agent/runtime/runtime.js';

/** A regular container `main` of `image`, nothing set; `extra` and `security` override. */
export function containerConfig(image: string, extra: Partial<ContainerConfig> = {}, security: Partial<ContainerConfig['security']> = {}): ContainerConfig {
  return {
    name: 'main',
    kind: 'regular',
    restartCount: 0,
    hash: 'hash-1',
    image,
    env: [],
    mounts: [],
    stdin: false,
    stdinOnce: false,
    tty: false,
    resources: { oomScoreAdj: 1000 },
    labels: {},
    ...extra,
    security: {
      supplementalGroups: [],
      privileged: false,
      readOnlyRootFilesystem: false,
      capAdd: [],
      capDrop: [],
      noNewPrivileges: false,
      seccomp: { type: 'Unconfined' },
      sharePid: false,
      hostPID: false,
      hostIPC: false,
      ...security,
    },
  };
}

/** One frame of Docker's multiplexed stream: stream type (1 stdout, 2 stderr), 3 zero bytes, payload size, payload. */
export function dockerFrame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
