import { expect, test } from 'vitest';
import { parseSkipReasons } from '../../conformance/skip-reasons.js';

/** Ginkgo 1.x's console output without colour, as e2e.test writes it with --ginkgo.noColor. */
const output = `•{"msg":"PASSED [k8s.io] Pods should be updated [NodeConformance] [Conformance]","total":2,"completed":1,"skipped":0,"failed":0}
SSSS
------------------------------
S [SKIPPING] in Spec Setup (BeforeEach) [0.208 seconds]
[k8s.io] [sig-node] Mount propagation
/workspace/src/k8s.io/kubernetes/_output/local/go/src/k8s.io/kubernetes/test/e2e/framework/framework.go:624
  should propagate mounts to the host [BeforeEach]
  /workspace/src/k8s.io/kubernetes/_output/local/go/src/k8s.io/kubernetes/test/e2e/node/mount_propagation.go:82

  Only supported for providers [gce gke] (not skeleton)

  /workspace/src/k8s.io/kubernetes/_output/local/go/src/k8s.io/kubernetes/test/e2e/node/mount_propagation.go:83
------------------------------
S [SKIPPING] [0.001 seconds]
[sig-storage] Volumes
/w/test/e2e/storage/volumes.go:40
  NFSv4
  /w/test/e2e/storage/volumes.go:50
    should be mountable for NFSv4 [It]
    /w/test/e2e/storage/volumes.go:60

    Requires at least 2 nodes
    (found 1)

    /w/test/e2e/framework/skipper/skipper.go:55
------------------------------
`;

test("each self-skipped spec's name (its texts joined, the failed component's tag dropped) and its reason", () => {
  expect([...parseSkipReasons(output)]).toEqual([
    ['[k8s.io] [sig-node] Mount propagation should propagate mounts to the host', 'Only supported for providers [gce gke] (not skeleton)'],
    ['[sig-storage] Volumes NFSv4 should be mountable for NFSv4', 'Requires at least 2 nodes (found 1)'],
  ]);
});

test('output without skip blocks gives none', () => {
  expect(parseSkipReasons('SSSS•••\nRan 3 of 5667 Specs\n').size).toBe(0);
});
