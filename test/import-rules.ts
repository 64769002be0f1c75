/**
 * The import rules the code keeps (checked by test/unit/import-graph.test.ts with
 * dependency-cruiser; `npm run check:imports` runs that check alone):
 * - no import cycles;
 * - peers: common/ (what they all use) imports none of agent/, proxy/ and provisioner/; these
 *   never import each other; only the composition roots import them: cli/ (the commands) and
 *   library/ (the package's API for tests);
 * - library/ builds its nodes with cli/'s assembly (node.ts and the option resolvers), never
 *   with a command; of cli/, only the commands that run a test node import library/;
 * - inside agent/, layers: a folder imports only its own layer and those below it;
 * - each library lives in one place.
 */
import type { IForbiddenRuleType } from 'dependency-cruiser';

/** agent/'s layers, lowest first: each entry is a folder (or a file at agent/'s top) of agent/. */
export const AgentLayers: ReadonlyArray<{ layer: string; parts: readonly string[] }> = [
  { layer: 'runtime and records', parts: ['runtime', 'events', 'network', 'metrics'] },
  { layer: 'sources, observations and single jobs', parts: ['config', 'pleg', 'podworkers', 'status', 'node', 'images', 'probe', 'lifecycle', 'fieldpath', 'admission', 'qos'] },
  { layer: "what a pod's containers get", parts: ['envvars', 'volumes', 'prober', 'token'] },
  { layer: 'acting on pods and reporting on them', parts: ['kuberuntime', 'eviction', 'stats'] },
  { layer: 'the kubelet', parts: ['server', 'pod-lifecycle.ts', 'cluster-mode.ts', 'node-api.ts', 'kubelet-options.ts', 'kubelet-configz.ts', 'kubelet.ts'] },
];

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const partsPattern = (parts: readonly string[]): string => `^agent/(${parts.map((part) => (part.endsWith('.ts') ? escape(part) + '$' : `${escape(part)}/`)).join('|')})`;

/** One rule per layer: nothing in it imports a layer above. */
function layerRules(): IForbiddenRuleType[] {
  return AgentLayers.slice(0, -1).map(({ layer, parts }, index) => ({
    name: `agent-layer-${index + 1}-looks-down`,
    comment: `agent/ layer "${layer}" imports only its own layer and those below it`,
    severity: 'error',
    from: { path: partsPattern(parts) },
    to: { path: partsPattern(AgentLayers.slice(index + 1).flatMap((above) => above.parts)) },
  }));
}

/** A library imported (for more than its types) only where it belongs. */
function libraryRule(library: string, home: string): IForbiddenRuleType {
  return {
    name: `${library.replace(/[@/]/g, '-').replace(/^-/, '')}-in-one-place`,
    comment: `${library} is used only in ${home}`,
    severity: 'error',
    from: { pathNot: `^(${home})` },
    to: { path: `node_modules/${escape(library)}/`, dependencyTypesNot: ['type-only'] },
  };
}

export const ImportRules: IForbiddenRuleType[] = [
  { name: 'no-cycles', comment: 'files never import each other in a loop', severity: 'error', from: {}, to: { circular: true } },
  { name: 'common-imports-no-peer', comment: 'common/ is what the peers share: it imports none of them, nor a composition root', severity: 'error', from: { path: '^common/' }, to: { path: '^(agent|proxy|provisioner|cli|library)/' } },
  { name: 'agent-imports-no-peer', comment: 'the kubelet, the proxy and the provisioner are peers: only the composition roots put them together', severity: 'error', from: { path: '^agent/' }, to: { path: '^(proxy|provisioner|cli|library)/' } },
  { name: 'proxy-imports-no-peer', comment: 'the kubelet, the proxy and the provisioner are peers: only the composition roots put them together', severity: 'error', from: { path: '^proxy/' }, to: { path: '^(agent|provisioner|cli|library)/' } },
  { name: 'provisioner-imports-no-peer', comment: 'the kubelet, the proxy and the provisioner are peers: only the composition roots put them together', severity: 'error', from: { path: '^provisioner/' }, to: { path: '^(agent|proxy|cli|library)/' } },
  { name: 'library-uses-the-assembly', comment: "library/ builds nodes with cli/'s assembly, never with a command", severity: 'error', from: { path: '^library/' }, to: { path: '^cli/', pathNot: '^cli/(node|options|up-options|dns-options|proxy-options|server-options|settings|kubelet-config)\\.ts$' } },
  { name: 'assembly-imports-no-library', comment: "cli/'s assembly is below library/: only the commands import it", severity: 'error', from: { path: '^cli/(node|options|up-options|dns-options|proxy-options|server-options|settings|kubelet-config)\\.ts$' }, to: { path: '^library/' } },
  ...layerRules(),
  libraryRule('dockerode', 'agent/runtime/docker/'),
  libraryRule('chokidar', 'agent/config/sources/file-source.ts'),
  libraryRule('fastify', 'common/server/|agent/server/|proxy/server/'),
  libraryRule('dns-packet', 'proxy/dns/'),
  libraryRule('node-forge', 'common/pki/'),
];
