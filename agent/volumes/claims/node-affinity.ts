/**
 * A PersistentVolume's node affinity against this node, as the kubelet checks it before mounting
 * (volume util CheckNodeAffinity, component-helpers' MatchNodeSelectorTerms): the volume is usable
 * here when any one of its required nodeSelectorTerms matches, a term matching when every one of
 * its requirements does. A term without requirements matches no node. Labels are the node's own;
 * `metadata.name` is the one field a matchFields requirement can name.
 */
import type { NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume } from '../../../common/api/types.js';

export interface NodeIdentity {
  name: string;
  labels: Readonly<Record<string, string>>;
}

function requirementMatches(requirement: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      // One integer value, compared with the label's value read as an integer.
      if (value === undefined || values.length !== 1 || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(values[0]!)) return false;
      return requirement.operator === 'Gt' ? BigInt(value) > BigInt(values[0]!) : BigInt(value) < BigInt(values[0]!);
    }
    default:
      return false;
  }
}

function termMatches(term: NodeSelectorTerm, node: NodeIdentity): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  return (
    expressions.every((requirement) => requirementMatches(requirement, node.labels[requirement.key])) &&
    fields.every((requirement) => requirement.key === 'metadata.name' && requirementMatches(requirement, node.name))
  );
}

/** Whether `volume` may be mounted on `node`: true when it requires no node. */
export function nodeAffinityAllows(volume: PersistentVolume, node: NodeIdentity): boolean {
  const terms = volume.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (terms === undefined) return true;
  return terms.some((term) => termMatches(term, node));
}
