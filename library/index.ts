/**
 * dockerlet as a library, for tests: `import { startNode } from 'dockerlet'`.
 *
 *   const node = await startNode();
 *   await node.apply('manifests/');
 *   await node.waitForPods();
 *   const url = await node.serviceUrl('web');
 *   ...
 *   await node.stop();
 *
 * What a node made is removed by stop(), and, when the test process dies first, by the next
 * dockerlet that starts on the host (reapDeadSessions).
 */
export { startNode } from './test-node.js';
export type { TestNode, StartNodeOptions, PodWaitOptions, ContainerOptions, ServiceUrlOptions, AppliedObject, KubeObject, ManifestInput, ExecResult, LogOptions } from './api.js';
export { PodWaitError } from './pod-waits.js';
export type { PodReport, ContainerTrouble } from './pod-progress.js';
export { reapDeadSessions, DefaultSessionsDir } from './sessions.js';
export { DockerletError, isDockerletError } from '../common/api/errors.js';
export type { Pod, Service } from '../common/api/types.js';
