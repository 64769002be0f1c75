/**
 * UserspaceProxier on loopback only: the "ClusterIPs" are addresses of 127.77.0.0/16 (every
 * 127/8 address is already local on lo, so nothing has to be added to the host), NodePorts
 * listen on 127.0.0.1, endpoints are real servers on 127.0.0.1, and the AddressManager is a fake
 * that records what the proxier asked for.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../../../proxy/datapath/proxier.js';
import type { AddressManager } from '../../../proxy/datapath/userspace/address-manager.js';
import { UserspaceProxier, type UserspaceProxierOptions } from '../../../proxy/datapath/userspace/userspace-proxier.js';
import { closeAll, freePort, onCleanup, request, silentLogger, tcpBackend, udpAsk, udpBackend, udpClient } from './userspace-fixtures.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';

const ServiceCIDR = parseIpv4Cidr('127.77.0.0/16')!;

class FakeAddresses implements AddressManager {
  readonly present = new Set<string>();
  readonly calls: string[] = [];
  failing = false;

  async list(): Promise<string[]> {
    this.calls.push('list');
    if (this.failing) throw new Error('ip: command not found');
    return [...this.present];
  }

  async add(ip: string): Promise<void> {
    this.calls.push(`add ${ip}`);
    this.present.add(ip);
  }

  async remove(ip: string): Promise<void> {
    this.calls.push(`remove ${ip}`);
    this.present.delete(ip);
  }

  /** The calls other than list, then forgets them. */
  changes(): string[] {
    return this.calls.splice(0).filter((call) => call !== 'list');
  }
}

let addresses: FakeAddresses;

beforeEach(() => {
  addresses = new FakeAddresses();
});

afterEach(closeAll);

function proxier(extra: Partial<UserspaceProxierOptions> = {}): UserspaceProxier {
  const made = new UserspaceProxier({ serviceCIDR: ServiceCIDR, logger: silentLogger, addresses, nodePortAddress: '127.0.0.1', ...extra });
  onCleanup(() => made.stop());
  return made;
}

function servicePort(name: string, clusterIP: string, port: number, extra: Partial<ServicePortInfo> = {}): ServicePortInfo {
  return { id: `default/${name}:`, namespace: 'default', name, portName: '', protocol: 'TCP', clusterIP, port, ...extra };
}

function state(entries: [ServicePortInfo, EndpointInfo[]][]): ProxyState {
  return { servicePorts: entries.map(([sp]) => sp), endpoints: new Map(entries.map(([sp, endpoints]) => [sp.id, endpoints])) };
}

const text = async (reply: Promise<Buffer>): Promise<string> => (await reply).toString();

/** Two client addresses on lo: tests call the first inside the node and the second outside it. */
const [Inside, Outside] = ['127.0.0.2', '127.0.0.3'];

/** Which backends answer 4 connections to host:port (from `from`), each name once, sorted. */
const answers = async (port: number, host: string, from?: string): Promise<string[]> =>
  [...new Set(await Promise.all(Array.from({ length: 4 }, () => text(request(port, host, undefined, from)))))].sort();

describe('UserspaceProxier.sync', () => {
  test('listens on clusterIP:port and on the NodePort, TCP and UDP, after putting the ClusterIPs on lo', async () => {
    const web = await tcpBackend('web');
    const dns = await udpBackend('dns');
    const [webPort, webNodePort, dnsPort, dnsNodePort] = [
      await freePort('127.77.0.1'),
      await freePort('127.0.0.1'),
      await freePort('127.77.0.2', 'UDP'),
      await freePort('127.0.0.1', 'UDP'),
    ];
    const p = proxier();
    await p.sync(
      state([
        [servicePort('web', '127.77.0.1', webPort, { nodePort: webNodePort }), [web.endpoint]],
        [servicePort('dns', '127.77.0.2', dnsPort, { protocol: 'UDP', nodePort: dnsNodePort }), [dns.endpoint]],
      ]),
    );
    expect(addresses.changes().sort()).toEqual(['add 127.77.0.1', 'add 127.77.0.2']);
    expect([...p.listeners.keys()].sort()).toEqual(
      [`TCP 127.77.0.1:${webPort}`, `TCP 127.0.0.1:${webNodePort}`, `UDP 127.77.0.2:${dnsPort}`, `UDP 127.0.0.1:${dnsNodePort}`].sort(),
    );
    expect(await text(request(webPort, '127.77.0.1'))).toBe('web');
    expect(await text(request(webNodePort, '127.0.0.1'))).toBe('web');
    const client = await udpClient();
    expect(await udpAsk(client, dnsPort, 'q1', '127.77.0.2')).toBe('dns:q1');
    expect(await udpAsk(client, dnsNodePort, 'q2', '127.0.0.1')).toBe('dns:q2');
  });

  test('a sync of the same state keeps every socket and changes no address', async () => {
    const web = await tcpBackend('web');
    const dns = await udpBackend('dns');
    const desired = state([
      [servicePort('web', '127.77.0.1', await freePort('127.77.0.1')), [web.endpoint]],
      [servicePort('dns', '127.77.0.2', await freePort('127.77.0.2', 'UDP'), { protocol: 'UDP' }), [dns.endpoint]],
    ]);
    const p = proxier();
    await p.sync(desired);
    const before = new Map([...p.listeners].map(([key, listener]) => [key, listener.proxy]));
    addresses.changes();
    await p.sync(desired);
    expect(addresses.changes()).toEqual([]);
    expect(new Map([...p.listeners].map(([key, listener]) => [key, listener.proxy]))).toEqual(before);
    for (const [key, listener] of p.listeners) expect(listener.proxy).toBe(before.get(key));
  });

  test('a service port gone from the state stops listening and its ClusterIP leaves lo', async () => {
    const web = await tcpBackend('web');
    const api = await tcpBackend('api');
    const webSp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'));
    const apiSp = servicePort('api', '127.77.0.3', await freePort('127.77.0.3'));
    const p = proxier();
    await p.sync(
      state([
        [webSp, [web.endpoint]],
        [apiSp, [api.endpoint]],
      ]),
    );
    const kept = p.listeners.get(`TCP 127.77.0.1:${webSp.port}`)!.proxy;
    addresses.changes();
    await p.sync(state([[webSp, [web.endpoint]]]));
    expect(addresses.changes()).toEqual(['remove 127.77.0.3']);
    expect([...p.listeners.keys()]).toEqual([`TCP 127.77.0.1:${webSp.port}`]);
    expect(p.listeners.get(`TCP 127.77.0.1:${webSp.port}`)!.proxy).toBe(kept);
    expect(p.balancer(apiSp.id)).toBeUndefined();
    await expect(request(apiSp.port, '127.77.0.3')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await text(request(webSp.port, '127.77.0.1'))).toBe('web');
  });

  test('a NodePort removed from a service port stops its socket and keeps the ClusterIP one', async () => {
    const web = await tcpBackend('web');
    const sp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'), { nodePort: await freePort() });
    const p = proxier();
    await p.sync(state([[sp, [web.endpoint]]]));
    await p.sync(state([[{ ...sp, nodePort: undefined }, [web.endpoint]]]));
    expect([...p.listeners.keys()]).toEqual([`TCP 127.77.0.1:${sp.port}`]);
    await expect(request(sp.nodePort!)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('new endpoints take the new connections and moved UDP clients re-pick', async () => {
    const [oldWeb, newWeb] = await Promise.all([tcpBackend('old'), tcpBackend('new')]);
    const [oldDns, newDns] = await Promise.all([udpBackend('old'), udpBackend('new')]);
    const webSp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'));
    const dnsSp = servicePort('dns', '127.77.0.2', await freePort('127.77.0.2', 'UDP'), { protocol: 'UDP' });
    const p = proxier();
    await p.sync(
      state([
        [webSp, [oldWeb.endpoint]],
        [dnsSp, [oldDns.endpoint]],
      ]),
    );
    const client = await udpClient();
    expect(await udpAsk(client, dnsSp.port, '1', '127.77.0.2')).toBe('old:1');
    expect(await text(request(webSp.port, '127.77.0.1'))).toBe('old');
    await p.sync(
      state([
        [webSp, [newWeb.endpoint]],
        [dnsSp, [newDns.endpoint]],
      ]),
    );
    expect(await text(request(webSp.port, '127.77.0.1'))).toBe('new');
    expect(await udpAsk(client, dnsSp.port, '2', '127.77.0.2')).toBe('new:2');
  });

  test('a service port without endpoints keeps its socket and resets connections', async () => {
    const sp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'));
    const p = proxier();
    await p.sync({ servicePorts: [sp], endpoints: new Map() });
    expect(p.listeners.has(`TCP 127.77.0.1:${sp.port}`)).toBe(true);
    await expect(request(sp.port, '127.77.0.1')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test('Local traffic policies: the ClusterIP follows internalTrafficPolicy and the NodePort externalTrafficPolicy for clients outside the node, who are refused when there is no local endpoint', async () => {
    const [here, elsewhere] = await Promise.all([tcpBackend('here'), tcpBackend('elsewhere')]);
    const endpoints = [{ ...here.endpoint, isLocal: true }, elsewhere.endpoint];
    const [port, nodePort] = [await freePort('127.77.0.1'), await freePort('127.0.0.1')];
    const p = proxier({ isInsideClient: (ip) => ip === Inside });

    await p.sync(state([[servicePort('web', '127.77.0.1', port, { nodePort, internalPolicyLocal: true }), endpoints]]));
    expect(await answers(port, '127.77.0.1')).toEqual(['here']);
    expect(await answers(nodePort, '127.0.0.1', Outside)).toEqual(['elsewhere', 'here']);

    await p.sync(state([[servicePort('web', '127.77.0.1', port, { nodePort, externalPolicyLocal: true }), endpoints]]));
    expect(await answers(port, '127.77.0.1')).toEqual(['elsewhere', 'here']);
    expect(await answers(nodePort, '127.0.0.1', Outside)).toEqual(['here']);
    expect(p.balancer('default/web:', true)?.endpoints).toEqual([here.endpoint]);

    await p.sync(state([[servicePort('web', '127.77.0.1', port, { nodePort, externalPolicyLocal: true }), [elsewhere.endpoint]]]));
    await expect(request(nodePort, '127.0.0.1', undefined, Outside)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await text(request(port, '127.77.0.1'))).toBe('elsewhere');
  });

  test('externalTrafficPolicy Local: a client inside the node gets every endpoint of the NodePort, one on another node too, with or without a local one', async () => {
    const [here, elsewhere] = await Promise.all([tcpBackend('here'), tcpBackend('elsewhere')]);
    const nodePort = await freePort('127.0.0.1');
    const sp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'), { nodePort, externalPolicyLocal: true });
    const p = proxier({ isInsideClient: (ip) => ip === Inside });

    await p.sync(state([[sp, [{ ...here.endpoint, isLocal: true }, elsewhere.endpoint]]]));
    expect(await answers(nodePort, '127.0.0.1', Inside)).toEqual(['elsewhere', 'here']);

    await p.sync(state([[sp, [elsewhere.endpoint]]]));
    expect(await answers(nodePort, '127.0.0.1', Inside)).toEqual(['elsewhere']);
    await expect(request(nodePort, '127.0.0.1', undefined, Outside)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test("externalTrafficPolicy Local over UDP: when the policy turns Local, a client outside is forgotten and dropped, a client inside keeps its endpoint on another node", async () => {
    const elsewhere = await udpBackend('elsewhere');
    const nodePort = await freePort('127.0.0.1', 'UDP');
    const sp = servicePort('dns', '127.77.0.2', await freePort('127.77.0.2', 'UDP'), { protocol: 'UDP', nodePort });
    const p = proxier({ isInsideClient: (ip) => ip === Inside });
    await p.sync(state([[sp, [elsewhere.endpoint]]]));
    const [inside, outside] = [await udpClient(Inside), await udpClient(Outside)];
    expect(await udpAsk(inside, nodePort, 'in1', '127.0.0.1')).toBe('elsewhere:in1');
    expect(await udpAsk(outside, nodePort, 'out1', '127.0.0.1')).toBe('elsewhere:out1');
    const socket = p.listeners.get(`UDP 127.0.0.1:${nodePort}`)!;
    if (socket.protocol !== 'UDP') throw new Error('not a UDP listener');

    await p.sync(state([[{ ...sp, externalPolicyLocal: true }, [elsewhere.endpoint]]]));
    expect([...socket.proxy.clients.keys()]).toEqual([`${Inside}:${inside.address().port}`]);
    expect(await udpAsk(inside, nodePort, 'in2', '127.0.0.1')).toBe('elsewhere:in2');
    const dropped = once(socket.proxy, 'drop');
    outside.send('out2', nodePort, '127.0.0.1');
    expect(await dropped).toEqual([`${Outside}:${outside.address().port}`]);
  });

  test('without isInsideClient, a client on loopback (the node itself) is inside', async () => {
    const elsewhere = await tcpBackend('elsewhere');
    const nodePort = await freePort('127.0.0.1');
    const p = proxier();
    await p.sync(state([[servicePort('web', '127.77.0.1', await freePort('127.77.0.1'), { nodePort, externalPolicyLocal: true }), [elsewhere.endpoint]]]));
    expect(await text(request(nodePort, '127.0.0.1'))).toBe('elsewhere');
  });

  test('session affinity from the state pins a client', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((name) => tcpBackend(name)));
    const sp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'), { affinityTimeoutSeconds: 60 });
    const p = proxier({ clock: { now: () => 0 } });
    await p.sync(state([[sp, backends.map((backend) => backend.endpoint)]]));
    const replies = new Set<string>();
    for (let i = 0; i < 4; i++) replies.add(await text(request(sp.port, '127.77.0.1')));
    expect(replies.size).toBe(1);
  });

  test('a ClusterIP outside the service CIDR is not served and never put on lo', async () => {
    const web = await tcpBackend('web');
    const p = proxier();
    await p.sync(state([[servicePort('web', '127.78.0.1', await freePort('127.78.0.1')), [web.endpoint]]]));
    expect(p.listeners.size).toBe(0);
    expect(addresses.changes()).toEqual([]);
  });

  test('of two service ports wanting one socket the first is served', async () => {
    const [first, second] = await Promise.all([tcpBackend('first'), tcpBackend('second')]);
    const port = await freePort('127.77.0.1');
    const p = proxier();
    await p.sync(
      state([
        [servicePort('first', '127.77.0.1', port), [first.endpoint]],
        [servicePort('second', '127.77.0.1', port), [second.endpoint]],
      ]),
    );
    expect(p.listeners.size).toBe(1);
    expect(await text(request(port, '127.77.0.1'))).toBe('first');
  });

  test('a listener that cannot bind fails the sync with a coded error, the others serve, the next sync retries it', async () => {
    const web = await tcpBackend('web');
    const api = await tcpBackend('api');
    const blocker = createServer();
    blocker.listen(0, '127.77.0.3');
    await once(blocker, 'listening');
    const taken = (blocker.address() as { port: number }).port;
    const webSp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'));
    const apiSp = servicePort('api', '127.77.0.3', taken);
    const desired = state([
      [webSp, [web.endpoint]],
      [apiSp, [api.endpoint]],
    ]);
    const p = proxier();
    await expect(p.sync(desired)).rejects.toMatchObject({ code: 'DKL_ERR_RUNTIME', message: expect.stringContaining('default/api:') });
    expect(await text(request(webSp.port, '127.77.0.1'))).toBe('web');
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await p.sync(desired);
    expect(await text(request(apiSp.port, '127.77.0.3'))).toBe('api');
  });

  test('an address manager that fails fails the sync, and NodePorts still serve', async () => {
    const web = await tcpBackend('web');
    const sp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'), { nodePort: await freePort() });
    addresses.failing = true;
    const p = proxier();
    await expect(p.sync(state([[sp, [web.endpoint]]]))).rejects.toMatchObject({ code: 'DKL_ERR_RUNTIME', message: expect.stringContaining('ip: command not found') });
    expect(await text(request(sp.nodePort!))).toBe('web');
  });

  test('a /32 in the service CIDR that no service wants (left by an earlier process) is removed', async () => {
    addresses.present.add('127.77.9.9');
    addresses.present.add('10.1.2.3');
    const p = proxier();
    await p.sync(state([]));
    expect(addresses.changes()).toEqual(['remove 127.77.9.9']);
    expect([...addresses.present]).toEqual(['10.1.2.3']);
  });

  test('concurrent syncs run one after the other and end in the last state', async () => {
    const web = await tcpBackend('web');
    const sp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'));
    const p = proxier();
    await Promise.all([p.sync(state([[sp, [web.endpoint]]])), p.sync(state([])), p.sync(state([[sp, [web.endpoint]]]))]);
    expect([...p.listeners.keys()]).toEqual([`TCP 127.77.0.1:${sp.port}`]);
    expect(await text(request(sp.port, '127.77.0.1'))).toBe('web');
  });
});

describe('UserspaceProxier.stop and cleanup', () => {
  test('stop closes every listener and leaves the addresses; a later sync is ignored', async () => {
    const web = await tcpBackend('web');
    const sp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'));
    const p = proxier();
    await p.sync(state([[sp, [web.endpoint]]]));
    addresses.changes();
    await p.stop();
    await p.stop();
    expect(p.listeners.size).toBe(0);
    expect(addresses.changes()).toEqual([]);
    expect([...addresses.present]).toEqual(['127.77.0.1']);
    await expect(request(sp.port, '127.77.0.1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await p.sync(state([[sp, [web.endpoint]]]));
    expect(p.listeners.size).toBe(0);
  });

  test('cleanup closes everything and removes every /32 of the service CIDR, also ones it did not add', async () => {
    const web = await tcpBackend('web');
    const dns = await udpBackend('dns');
    addresses.present.add('127.77.5.5');
    addresses.present.add('10.1.2.3');
    const webSp = servicePort('web', '127.77.0.1', await freePort('127.77.0.1'));
    const dnsSp = servicePort('dns', '127.77.0.2', await freePort('127.77.0.2', 'UDP'), { protocol: 'UDP' });
    const p = proxier();
    await p.sync(
      state([
        [webSp, [web.endpoint]],
        [dnsSp, [dns.endpoint]],
      ]),
    );
    addresses.changes();
    await p.cleanup();
    expect(p.listeners.size).toBe(0);
    expect(addresses.changes().sort()).toEqual(['remove 127.77.0.1', 'remove 127.77.0.2']);
    expect([...addresses.present]).toEqual(['10.1.2.3']);
    await expect(request(webSp.port, '127.77.0.1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await p.cleanup();
    expect(addresses.changes()).toEqual([]);
  });

  test('cleanup on a fresh proxier removes what an earlier process left', async () => {
    addresses.present.add('127.77.0.10');
    await proxier().cleanup();
    expect(addresses.changes()).toEqual(['remove 127.77.0.10']);
  });
});
