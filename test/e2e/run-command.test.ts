/** `dockerlet run` and `dockerlet down` as a CI script runs them: the CLI as a process, on the real engine. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/agent-process.js';
import { nodeContainers } from '../helpers/docker.js';
import { uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-run-'));
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  await writeFile(
    join(dir, 'app.yaml'),
    `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
    - name: httpd
      image: dockerlet.local/busybox:1.35
      command: ["sh", "-c", "echo hi > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
      readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`,
  );
  await writeFile(
    join(dir, 'migrate.yaml'),
    `apiVersion: v1
kind: Pod
metadata: {name: migrate}
spec:
  restartPolicy: Never
  containers:
    - {name: main, image: dockerlet.local/busybox:1.35, command: ["sh", "-c", "echo connecting; echo 'fatal: no database' >&2; exit 3"]}
`,
  );
  await writeFile(join(dir, 'job.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: job}\nspec:\n  restartPolicy: OnFailure\n  containers:\n    - {name: main, image: dockerlet.local/busybox:1.35, command: ["sh", "-c", "echo done"]}\n');
  await writeFile(join(dir, 'stuck.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: stuck}\nspec:\n  containers:\n    - {name: main, image: dockerlet.local/not-built:1, imagePullPolicy: Never}\n');
  await writeFile(join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n    - {name: main}\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Finished = (cleanup: (context: { task: { result?: { state?: string } } }) => Promise<void>) => void;

/** `dockerlet run` on a node of this test's own, downed (and its log removed, shown first when the test failed) when the test ends, pass or fail. */
function run(args: readonly string[], onFinished: Finished): ReturnType<typeof runCli> & { node: string } {
  const node = uniqueNodeName('run');
  onFinished(async ({ task }) => {
    const log = `/var/log/dockerlet/${node}.log`;
    if (task.result?.state === 'fail') console.error(`--- ${log}\n${await readFile(log, 'utf8').catch(() => '(none)')}`);
    await runCli(['down', '--name', node, '-f', 'unused']).exited;
    await rm(log, { force: true });
  });
  return Object.assign(runCli(['run', '--name', node, '--resolv-conf', join(dir, 'resolv.conf'), ...args], { cwd: dir }), { node });
}

const sessionExists = (node: string): Promise<boolean> => stat(`/var/lib/dockerlet/sessions/${node}`).then(() => true, () => false);

describe('dockerlet run', () => {
  test('--wait with one pod failing: exit 1 with its reason and log tail; the others serve on in the background until down', async ({ onTestFinished }) => {
    const cli = run(['-f', 'app.yaml', '-f', 'migrate.yaml', '--wait', '--timeout', '60s'], onTestFinished);
    const result = await cli.exited;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`default/migrate-${cli.node} failed:\npod default/migrate-${cli.node} (Failed):\n  container main: terminated: Error, exit code 3\n    last log lines:\n`);
    expect(result.stderr).toContain('    | fatal: no database');
    // A failed pod keeps its IP only until its sandbox is stopped, as with the kubelet on dockershim.
    expect(result.stdout).toMatch(new RegExp(`default +migrate-${cli.node} +0/1 +Error +0 +(10\\.250\\.\\d+\\.\\d+|<none>)\n`));
    expect(result.stdout).toContain(`node ${cli.node} runs on in the background (logs: /var/log/dockerlet/${cli.node}.log)`);
    const reachAt = /default +web +NodePort +http 80\/TCP +(\S+) (\S+)/.exec(result.stdout);
    expect(reachAt).not.toBeNull();
    // The next CI step reaches the Service the node serves in the background, by ClusterIP and node port;
    // run stopped waiting when the other pod failed: web may still be getting Ready.
    for (const address of reachAt!.slice(1)) {
      await waitFor(`web served at ${address}`, async () => (await (await fetch(`http://${address}/`, { signal: AbortSignal.timeout(2_000) })).text()) === 'hi\n', { timeoutMs: 60_000 });
    }

    const down = await runCli(['down', '--name', cli.node, '-f', 'app.yaml']).exited;
    expect([down.code, down.stdout]).toEqual([0, `node ${cli.node} stopped: its pods, Services, network and directories are removed\n`]);
    expect(await nodeContainers(cli.node)).toEqual([]);
    expect(await sessionExists(cli.node)).toBe(false);
  });

  test('down -f finds the node run -f started for the same paths, however they are spelled', async ({ onTestFinished }) => {
    const cli = runCli(['run', '-f', 'job.yaml', '--resolv-conf', join(dir, 'resolv.conf')], { cwd: dir });
    onTestFinished(async () => void (await runCli(['down', '-f', join(dir, 'job.yaml')]).exited));
    const result = await cli.exited;
    expect(result.code).toBe(0);
    const node = /node (run-[0-9a-f]{10}) runs on/.exec(result.stdout)![1]!;
    onTestFinished(() => rm(`/var/log/dockerlet/${node}.log`, { force: true }));
    const down = await runCli(['down', '-f', `${dir}/./job.yaml`]).exited;
    expect(down.code).toBe(0);
    expect(await sessionExists(node)).toBe(false);
    const again = await runCli(['down', '-f', join(dir, 'job.yaml')]).exited;
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`dockerlet: no node ${node} of \`dockerlet run\` runs on this host (named for ${join(dir, 'job.yaml')}: give the paths run was given, or --name)`);
  });

  test('--rm runs a job to its end and leaves nothing; a failed one exits 1 with its reason', async ({ onTestFinished }) => {
    const ok = run(['-f', 'job.yaml', '--rm', '--wait'], onTestFinished);
    const result = await ok.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`default +job-${ok.node} +0/1 +Completed`));
    expect(await nodeContainers(ok.node)).toEqual([]);
    expect(await sessionExists(ok.node)).toBe(false);

    const failing = run(['-f', 'migrate.yaml', '--rm'], onTestFinished);
    const failed = await failing.exited;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('container main: terminated: Error, exit code 3');
    expect(await nodeContainers(failing.node)).toEqual([]);
  });

  test('--timeout: a pod that cannot start is named with the reason it waits', async ({ onTestFinished }) => {
    const cli = run(['-f', 'stuck.yaml', '--wait', '--timeout', '3s', '--rm'], onTestFinished);
    const result = await cli.exited;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`not ready or complete after 3 s: default/stuck-${cli.node}`);
    expect(result.stderr).toContain('container main: waiting: ErrImageNeverPull');
    expect(await nodeContainers(cli.node)).toEqual([]);
  });

  test('a bad manifest: exit 2 naming the file and field, and nothing left running', async ({ onTestFinished }) => {
    const cli = run(['-f', 'app.yaml', '-f', 'bad.yaml', '--wait'], onTestFinished);
    const result = await cli.exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('dockerlet: bad.yaml: document 1 (Pod "bad"): spec.containers[0].image: Required value');
    expect(await nodeContainers(cli.node)).toEqual([]);
    expect(await sessionExists(cli.node)).toBe(false);
  });

  test('down while run --wait waits: the background node stops and removes everything, and run exits as SIGTERM ended it', async ({ onTestFinished }) => {
    const cli = run(['-f', 'stuck.yaml', '--wait', '--timeout', '5m'], onTestFinished);
    await waitFor('the stuck pod on the node', async () => (await nodeContainers(cli.node)).some((container) => container.Labels['io.kubernetes.docker.type'] === 'podsandbox'));
    const down = await runCli(['down', '--name', cli.node, '-f', 'stuck.yaml']).exited;
    expect(down.code).toBe(0);
    expect((await cli.exited).code).toBe(143);
    expect(await nodeContainers(cli.node)).toEqual([]);
    expect(await sessionExists(cli.node)).toBe(false);
  });

  test('Ctrl-C to run --rm --wait stops the wait at once and removes everything; exit 130', async ({ onTestFinished }) => {
    const cli = run(['-f', 'stuck.yaml', '--rm', '--wait', '--timeout', '5m'], onTestFinished);
    await waitFor('the stuck pod on the node', async () => (await nodeContainers(cli.node)).some((container) => container.Labels['io.kubernetes.docker.type'] === 'podsandbox'));
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(130);
    expect(await nodeContainers(cli.node)).toEqual([]);
    expect(await sessionExists(cli.node)).toBe(false);
  });

  test('Ctrl-C while the node is still starting: it is stopped once started, and everything removed; exit 130', async ({ onTestFinished }) => {
    const cli = run(['-f', 'job.yaml', '--rm', '--wait'], onTestFinished);
    await waitFor('the session begun', () => sessionExists(cli.node), { intervalMs: 5 });
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(130);
    expect(await nodeContainers(cli.node)).toEqual([]);
    expect(await sessionExists(cli.node)).toBe(false);
  });

  test('--name must be a DNS label: exit 2, nothing started', async () => {
    const result = await runCli(['run', '-f', 'job.yaml', '--name', '../escape'], { cwd: dir }).exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--name: invalid value \"../escape\"");
  });
});
