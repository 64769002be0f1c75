import { describe, expect, test } from 'vitest';
import { checkServiceGuard } from '../../../proxy/host-guard.js';
import { FakeRunner } from './fake-runner.js';

/** What `iptables -S DOCKERLET-SERVICE-GUARD` prints after scripts/setup-host.sh. */
const guardRules = (cidr: string): string =>
  [
    '-N DOCKERLET-SERVICE-GUARD',
    `-A DOCKERLET-SERVICE-GUARD -d ${cidr} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A DOCKERLET-SERVICE-GUARD -d ${cidr} -j REJECT --reject-with icmp-port-unreachable`,
    '',
  ].join('\n');

describe('checkServiceGuard', () => {
  test('covered when the guard chain rejects the service CIDR', async () => {
    const runner = new FakeRunner().when('iptables', ['-w', '5', '-S', 'DOCKERLET-SERVICE-GUARD'], { stdout: guardRules('10.96.0.0/16') });
    expect(await checkServiceGuard(runner, '10.96.0.0/16')).toEqual({ covered: true });
    expect(runner.lines()).toEqual(['iptables -w 5 -S DOCKERLET-SERVICE-GUARD']);
  });

  test('not covered when the guard protects another CIDR', async () => {
    const runner = new FakeRunner().when('iptables', ['-w'], { stdout: guardRules('10.96.0.0/16') });
    expect(await checkServiceGuard(runner, '10.97.0.0/16')).toEqual({
      covered: false,
      reason: 'the DOCKERLET-SERVICE-GUARD chain does not reject 10.97.0.0/16',
    });
  });

  test('covered when the service CIDR lies inside a guarded one', async () => {
    const runner = new FakeRunner().when('iptables', ['-w'], { stdout: guardRules('10.96.0.0/16') + guardRules('10.97.0.0/16') });
    expect(await checkServiceGuard(runner, '10.97.12.0/24')).toEqual({ covered: true });
    expect(await checkServiceGuard(runner, '10.96.0.0/15')).toEqual({ covered: false, reason: 'the DOCKERLET-SERVICE-GUARD chain does not reject 10.96.0.0/15' });
  });

  test('a rule that rejects everything but a CIDR does not guard it', async () => {
    const runner = new FakeRunner().when('iptables', ['-w'], { stdout: '-N DOCKERLET-SERVICE-GUARD\n-A DOCKERLET-SERVICE-GUARD ! -d 10.97.0.0/16 -j REJECT --reject-with icmp-port-unreachable\n' });
    expect(await checkServiceGuard(runner, '10.97.0.0/16')).toEqual({ covered: false, reason: 'the DOCKERLET-SERVICE-GUARD chain does not reject 10.97.0.0/16' });
  });

  test('not covered when the chain is missing, with iptables\' own words', async () => {
    const runner = new FakeRunner().when('iptables', ['-w'], { code: 1, stderr: 'iptables: No chain/target/match by that name.\n' });
    expect(await checkServiceGuard(runner, '10.96.0.0/16')).toEqual({
      covered: false,
      reason: 'the DOCKERLET-SERVICE-GUARD chain is not installed (iptables: No chain/target/match by that name.)',
    });
  });

  test('not covered when iptables is not installed', async () => {
    const runner = new FakeRunner().when('iptables', [], { code: 127 });
    expect(await checkServiceGuard(runner, '10.96.0.0/16')).toEqual({ covered: false, reason: 'the DOCKERLET-SERVICE-GUARD chain is not installed (exit code 127)' });
  });
});
