import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Four projects. unit, integration and e2e run together (two workers: integration files share
 * the Docker engine). network holds every test that runs a service proxy: a proxy owns the
 * host's DOCKERLET chains and service addresses, so two at once would undo each other; these
 * files run after the others (groupOrder), one at a time, and not at all while a dockerlet
 * proxy serves on this host. The cluster DNS is part of the proxy (one per host, on the pod
 * bridge's gateway), so its tests are among them. The benchmarks' smoke test is one of them: it runs the proxy, and
 * it wants the machine to itself.
 */
const dockerSetup = ['test/helpers/docker-global-setup.ts'];
const buildSetup = ['test/helpers/build-global-setup.ts'];
const proxyTests = ['test/integration/proxy.test.ts', 'test/integration/cluster-dns.test.ts', 'test/integration/cluster-proxy.test.ts', 'test/e2e/proxy-process.test.ts', 'test/e2e/cluster-up.test.ts', 'test/e2e/cluster-command.test.ts', 'test/e2e/cluster-storage.test.ts', 'test/e2e/bench-quick.test.ts', 'test/e2e/multi-node.test.ts', 'test/e2e/cluster-nodes.test.ts'];

export default defineConfig({
  // The examples import the package by its name, as its users do: here, its sources.
  resolve: { alias: { dockerlet: `${root}library/index.ts` } },
  test: {
    root,
    maxWorkers: 2,
    projects: [
      // A unit test's timeout only catches a hang: generous, since the unit files share two cores with integration files.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'examples/**/*.test.ts'],
          exclude: proxyTests,
          globalSetup: dockerSetup,
          testTimeout: 90_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: proxyTests,
          globalSetup: [...dockerSetup, ...buildSetup],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'network',
          include: proxyTests,
          globalSetup: ['test/helpers/live-proxy-global-setup.ts', ...dockerSetup, ...buildSetup],
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
