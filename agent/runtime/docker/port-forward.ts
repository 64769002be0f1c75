/**
 * CRI PortForward on Docker, as dockershim's portForward does it: Docker has no call for it, so
 * the node runs `nsenter -t <sandbox pid> -n socat - TCP4:localhost:<port>`, a socat in the pod's
 * network namespace (and the host's everything else) joining its stdin and stdout to one TCP
 * connection to the pod's own localhost.
 *
 * The connection is the returned Duplex: what is written goes to the port, end() half-closes
 * it (socat then waits half a second for the other direction, as upstream), and the readable
 * side ends when socat exits cleanly. A socat that fails (a closed port: connection refused)
 * destroys the Duplex with an error carrying what it printed; destroying the Duplex kills it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { Duplex } from 'node:stream';
import { DockerletError } from '../../../common/api/errors.js';
import { inspectRunning, type StreamingDeps } from './streaming.js';

/** What is kept of socat's complaints for the error message. */
const MaxStderrBytes = 4096;

export async function dockerPortForward(deps: StreamingDeps, sandboxId: string, port: number): Promise<Duplex> {
  const what = `port forward to port ${port} of pod sandbox ${sandboxId.slice(0, 12)}`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DockerletError('DKL_ERR_BAD_REQUEST', `${what}: invalid port ${port}`);
  const sandbox = await inspectRunning(deps.docker.getContainer(sandboxId), what, deps.quick());
  const socat = await requireTool('socat');
  const nsenter = await requireTool('nsenter');
  const args = ['-t', String(sandbox.State.Pid), '-n', socat, '-', `TCP4:localhost:${port}`];
  const child = spawn(nsenter, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new DockerletError('DKL_ERR_RUNTIME', `${what}: cannot run ${nsenter}: ${err.message}`, { cause: err })));
  });
  deps.log.debug({ containerID: sandboxId.slice(0, 12), port, pid: child.pid }, 'port forward started');
  return connectionOf(child, what);
}

/** The tool's absolute path, found on PATH as the kubelet's exec.LookPath finds it. */
async function requireTool(name: string): Promise<string> {
  // The PATH the agent was started with: the one spawn() would search too.
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    const executable = await access(candidate, constants.X_OK).then(
      async () => (await stat(candidate)).isFile(),
      () => false,
    );
    if (executable) return candidate;
  }
  throw new DockerletError('DKL_ERR_RUNTIME', `unable to do port forwarding: ${name} not found (scripts/setup-host.sh installs it)`);
}

/** The child's stdin and stdout as one Duplex, at the reader's pace, that ends or fails as the child does. */
function connectionOf(child: ChildProcessWithoutNullStreams, what: string): Duplex {
  let complaints = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    complaints = (complaints + text).slice(0, MaxStderrBytes);
  });
  // Writes racing socat's exit fail with EPIPE; the exit itself says what happened.
  child.stdin.on('error', () => undefined);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const connection = new Duplex({
    read() {
      child.stdout.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      if (child.stdin.destroyed || child.stdin.writableEnded) return done();
      child.stdin.write(chunk, () => done());
    },
    final(done) {
      child.stdin.end();
      done();
    },
    destroy(err, done) {
      if (running()) child.kill();
      done(err);
    },
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!connection.push(chunk)) child.stdout.pause();
  });
  child.on('error', (err) => connection.destroy(new DockerletError('DKL_ERR_RUNTIME', `${what}: ${err.message}`, { cause: err })));
  child.on('close', (code, signal) => {
    if (code === 0) {
      connection.push(null);
      return;
    }
    const how = code === null ? `socat was killed (${signal})` : `socat failed (exit code ${code})`;
    connection.destroy(new DockerletError('DKL_ERR_RUNTIME', `${what}: ${how}: ${complaints.trim() || 'no message'}`));
  });
  return connection;
}
