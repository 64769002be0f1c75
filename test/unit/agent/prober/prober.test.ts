import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Container, DefaultedPod, PodStatus, Probe } from '../../../../common/api/types.js';
import type { ProbeRun } from '../../../../agent/probe/probe-run.js';
import { Prober, probeSpec, probeTypeName, type ProbeTarget } from '../../../../agent/prober/prober.js';
import type { ProbeType } from '../../../../agent/prober/results.js';
import { ctr, FakeRecorder, FakeRuntime, pod } from '../../fixtures.js';
import { closedPort, closeServers, httpServer } from '../../loopback.js';

// The exec handler, replaceable per test: no handler of ours answers Unknown by itself.
const execOverride = vi.hoisted(() => ({ run: undefined as undefined | (() => Promise<ProbeRun>) }));
vi.mock('../../../../agent/probe/exec-probe.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../../agent/probe/exec-probe.js')>();
  return { execProbe: (...args: Parameters<typeof real.execProbe>) => (execOverride.run ? execOverride.run() : real.execProbe(...args)) };
});

let grpc: Server | undefined;

afterEach(async () => {
  execOverride.run = undefined;
  grpc?.forceShutdown();
  grpc = undefined;
  await closeServers();
});

let runtime: FakeRuntime;
let recorder: FakeRecorder;
let prober: Prober;

function setup(): void {
  runtime = new FakeRuntime();
  recorder = new FakeRecorder();
  prober = new Prober({ runtime, recorder });
}

/** The pod `web` whose container `main` has a `probeType` probe `probe` (defaulted). */
function probed(probeType: ProbeType, probe: Probe, extra: Partial<Container> = {}): DefaultedPod {
  return pod({ containers: [ctr('main', { [`${probeType}Probe`]: probe, ...extra })] });
}

function target(p: DefaultedPod, status: PodStatus = { podIP: '127.0.0.1' }): ProbeTarget {
  return { pod: p, status, container: p.spec.containers[0]!, containerId: 'c1', init: false };
}

const mainObject = { kind: 'Pod', name: 'web', namespace: 'default', uid: 'uid-1', fieldPath: 'spec.containers{main}' };
const exec = (...command: string[]): Probe => ({ exec: { command } });

describe('probeSpec and probeTypeName', () => {
  test("probeSpec picks the container's probe of that type", () => {
    const c = ctr('main', { livenessProbe: exec('l'), startupProbe: exec('s') });
    expect([probeSpec(c, 'liveness'), probeSpec(c, 'readiness'), probeSpec(c, 'startup')]).toEqual([exec('l'), undefined, exec('s')]);
  });

  test('probeTypeName capitalises as the kubelet does in events and metrics', () => {
    expect([probeTypeName('liveness'), probeTypeName('readiness'), probeTypeName('startup')]).toEqual(['Liveness', 'Readiness', 'Startup']);
  });
});

describe('Prober.probe: results and events', () => {
  test('Success: no event', async () => {
    setup();
    await expect(prober.probe('liveness', target(probed('liveness', exec('true'))))).resolves.toBe('Success');
    expect(recorder.events).toEqual([]);
  });

  test('Failure: an Unhealthy warning "Liveness probe failed: <output>"', async () => {
    setup();
    runtime.execSyncAnswer = () => ({ exitCode: 1, output: 'not yet' });
    await expect(prober.probe('liveness', target(probed('liveness', exec('check'))))).resolves.toBe('Failure');
    expect(recorder.events).toEqual([{ object: mainObject, type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe failed: not yet' }]);
  });

  test('the event names the probe type: "Startup probe failed: ..."', async () => {
    setup();
    runtime.execSyncAnswer = () => ({ exitCode: 2, output: 'booting' });
    await prober.probe('startup', target(probed('startup', exec('check'))));
    expect(recorder.events.map((e) => e.message)).toEqual(['Startup probe failed: booting']);
  });

  test('Warning counts as Success, with a ProbeWarning event "Readiness probe warning: <output>"', async () => {
    setup();
    const { port } = await httpServer((_, res) => res.writeHead(302, { Location: `http://localhost:${port}/` }).end('moved'));
    const p = probed('readiness', { httpGet: { port, host: '127.0.0.1' } });
    await expect(prober.probe('readiness', target(p))).resolves.toBe('Success');
    expect(recorder.events).toEqual([
      { object: mainObject, type: 'Warning', reason: 'ProbeWarning', message: 'Readiness probe warning: Probe terminated redirects, Response body: moved' },
    ]);
  });

  test('Unknown counts as Failure, without an event', async () => {
    setup();
    execOverride.run = async () => ({ result: 'Unknown', output: 'who knows' });
    await expect(prober.probe('readiness', target(probed('readiness', exec('check'))))).resolves.toBe('Failure');
    expect(recorder.events).toEqual([]);
  });

  test('a container without that probe is Success, without running anything', async () => {
    setup();
    await expect(prober.probe('readiness', target(probed('liveness', exec('check'))))).resolves.toBe('Success');
    expect(runtime.execCalls).toEqual([]);
  });

  test("a sidecar's events point at spec.initContainers{name}", async () => {
    setup();
    runtime.execSyncAnswer = () => ({ exitCode: 1, output: 'no' });
    const p = pod({ initContainers: [ctr('side', { restartPolicy: 'Always', readinessProbe: exec('check') })], containers: [ctr('app')] });
    await prober.probe('readiness', { pod: p, status: {}, container: p.spec.initContainers![0]!, containerId: 's1', init: true });
    expect(recorder.events[0]!.object).toEqual({ ...mainObject, fieldPath: 'spec.initContainers{side}' });
  });
});

describe('Prober.probe: errors', () => {
  test('an error is retried up to 3 times, then recorded as "... errored and resulted in unknown state" and thrown', async () => {
    setup();
    runtime.execSyncAnswer = () => {
      throw new Error('container is not running');
    };
    await expect(prober.probe('liveness', target(probed('liveness', exec('check'))))).rejects.toThrow(new Error('container is not running'));
    expect(runtime.execCalls).toHaveLength(3);
    expect(recorder.events).toEqual([
      { object: mainObject, type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe errored and resulted in unknown state: container is not running' },
    ]);
  });

  test('an error followed by an answer: the answer counts, no error event', async () => {
    setup();
    let calls = 0;
    runtime.execSyncAnswer = () => {
      calls += 1;
      if (calls < 3) throw new Error('flaky');
      return { exitCode: 0, output: '' };
    };
    await expect(prober.probe('readiness', target(probed('readiness', exec('check'))))).resolves.toBe('Success');
    expect(runtime.execCalls).toHaveLength(3);
    expect(recorder.events).toEqual([]);
  });

  test('a named port the container does not have is an error', async () => {
    setup();
    const p = probed('readiness', { tcpSocket: { port: 'web' } });
    await expect(prober.probe('readiness', target(p))).rejects.toThrow(new Error('strconv.Atoi: parsing "web": invalid syntax'));
    expect(recorder.events.map((e) => e.message)).toEqual(['Readiness probe errored and resulted in unknown state: strconv.Atoi: parsing "web": invalid syntax']);
  });

  test('an httpGet whose body is cut short errored with a failure result: the event says so, and the run is thrown', async () => {
    setup();
    const { port } = await httpServer((_, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('only ten b');
      setImmediate(() => res.socket?.destroy());
    });
    const p = probed('readiness', { httpGet: { port, path: '/' } });
    await expect(prober.probe('readiness', target(p))).rejects.toThrow('unexpected EOF');
    expect(recorder.events.map((e) => e.message)).toEqual(['Readiness probe errored and resulted in failure state: unexpected EOF']);
  });

  test('a probe without a handler is an error', async () => {
    setup();
    await expect(prober.probe('liveness', target(probed('liveness', {})))).rejects.toThrow(new Error('container main: the probe has no handler'));
  });
});

describe('Prober.probe: handlers and targets', () => {
  test('exec runs in the container with timeoutSeconds and the 10 KiB cap', async () => {
    setup();
    await prober.probe('liveness', target(probed('liveness', { exec: { command: ['check'] }, timeoutSeconds: 4 })));
    expect(runtime.execCalls).toEqual([{ id: 'c1', command: ['check'], options: { timeoutMs: 4000, maxOutputBytes: 10240 } }]);
  });

  test("exec expands $(VAR) from the container's env values only", async () => {
    setup();
    const env = [
      { name: 'FILE', value: '/tmp/ready' },
      { name: 'FROM_FIELD', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ];
    await prober.probe('readiness', target(probed('readiness', exec('cat', '$(FILE)', '[$(FROM_FIELD)]', '$(NOPE)', '$$(FILE)'), { env })));
    expect(runtime.execCalls[0]!.command).toEqual(['cat', '/tmp/ready', '[]', '$(NOPE)', '$(FILE)']);
  });

  test('httpGet goes to status.podIP when the probe names no host', async () => {
    setup();
    const { port, requests } = await httpServer((_, res) => res.end('ok'));
    await expect(prober.probe('readiness', target(probed('readiness', { httpGet: { port, path: '/ready' } })))).resolves.toBe('Success');
    expect(requests.map((r) => [r.url, r.headers.host])).toEqual([['/ready', `127.0.0.1:${port}`]]);
  });

  test('httpGet goes to its host when set, not to the pod IP', async () => {
    setup();
    const { port, requests } = await httpServer((_, res) => res.end('ok'));
    // Nothing listens on 127.0.0.2: a probe aimed at the pod IP would be refused.
    const p = probed('readiness', { httpGet: { port, host: '127.0.0.1' } });
    await expect(prober.probe('readiness', target(p, { podIP: '127.0.0.2' }))).resolves.toBe('Success');
    expect(requests).toHaveLength(1);
  });

  test('httpGet at a pod IP where nothing listens is a Failure', async () => {
    setup();
    const { port } = await httpServer((_, res) => res.end('ok'));
    await expect(prober.probe('readiness', target(probed('readiness', { httpGet: { port } }), { podIP: '127.0.0.2' }))).resolves.toBe('Failure');
    expect(recorder.events[0]!.message).toBe(`Readiness probe failed: Get "http://127.0.0.2:${port}/": dial tcp 127.0.0.2:${port}: connect: connection refused`);
  });

  test("httpGet resolves a named port from the container's ports, and sends its httpHeaders", async () => {
    setup();
    const { port, requests } = await httpServer((_, res) => res.end('ok'));
    const p = probed('liveness', { httpGet: { port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } }, { ports: [{ name: 'http', containerPort: port }] });
    await expect(prober.probe('liveness', target(p))).resolves.toBe('Success');
    expect(requests[0]!.headers['x-probe']).toBe('yes');
  });

  test('httpGet with a 500 is a Failure: "Readiness probe failed: HTTP probe failed with statuscode: 500"', async () => {
    setup();
    const { port } = await httpServer((_, res) => res.writeHead(500).end());
    await expect(prober.probe('readiness', target(probed('readiness', { httpGet: { port } })))).resolves.toBe('Failure');
    expect(recorder.events.map((e) => e.message)).toEqual(['Readiness probe failed: HTTP probe failed with statuscode: 500']);
  });

  test('tcpSocket connects to the pod IP', async () => {
    setup();
    const { port } = await httpServer((_, res) => res.end());
    await expect(prober.probe('liveness', target(probed('liveness', { tcpSocket: { port } })))).resolves.toBe('Success');
  });

  test('tcpSocket with nothing listening is a Failure naming the address', async () => {
    setup();
    const port = await closedPort();
    await expect(prober.probe('liveness', target(probed('liveness', { tcpSocket: { port } })))).resolves.toBe('Failure');
    expect(recorder.events.map((e) => e.message)).toEqual([`Liveness probe failed: dial tcp 127.0.0.1:${port}: connect: connection refused`]);
  });

  test('grpc asks the health service at the pod IP, for the named service', async () => {
    setup();
    grpc = new Server();
    new HealthImplementation({ '': 'NOT_SERVING', cart: 'SERVING' }).addToServer(grpc);
    const port = await new Promise<number>((resolve, reject) =>
      grpc!.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    await expect(prober.probe('readiness', target(probed('readiness', { grpc: { port, service: 'cart' } })))).resolves.toBe('Success');
    await expect(prober.probe('readiness', target(probed('readiness', { grpc: { port } })))).resolves.toBe('Failure');
    expect(recorder.events.map((e) => e.message)).toEqual(['Readiness probe failed: service unhealthy (responded with "NOT_SERVING")']);
  });
});
