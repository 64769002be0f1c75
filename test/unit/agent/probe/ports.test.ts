import { describe, expect, test } from 'vitest';
import { resolveContainerPort } from '../../../../agent/probe/ports.js';
import { ctr } from '../../fixtures.js';

const web = ctr('web', { ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9090 }] });

describe('resolveContainerPort', () => {
  test('a number is the port', () => {
    expect(resolveContainerPort(8081, web)).toEqual({ ok: true, port: 8081 });
  });

  test("a name is looked up in the container's ports", () => {
    expect(resolveContainerPort('metrics', web)).toEqual({ ok: true, port: 9090 });
  });

  test('a number written as a string is the port (the last resort, strconv.Atoi)', () => {
    expect(resolveContainerPort('8082', web)).toEqual({ ok: true, port: 8082 });
  });

  test('an unknown name fails with the kubelet\'s words: strconv.Atoi: parsing "grpc": invalid syntax', () => {
    expect(resolveContainerPort('grpc', web)).toEqual({ ok: false, message: 'strconv.Atoi: parsing "grpc": invalid syntax' });
  });

  test.each([0, 65536, -1])('%i is not a port number', (port) => {
    expect(resolveContainerPort(port, web)).toEqual({ ok: false, message: `invalid port number: ${port}` });
  });

  test('a signed number in a string is parsed, then judged', () => {
    expect(resolveContainerPort('-5', web)).toEqual({ ok: false, message: 'invalid port number: -5' });
  });
});
