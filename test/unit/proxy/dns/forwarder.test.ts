/** The forwarder against resolvers of the test's own on loopback: the order of upstreams, replies that are not the answer, the cache's clock. */
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, test } from 'vitest';
import { Forwarder } from '../../../../proxy/dns/forwarder.js';
import { startFakeUpstream } from '../../../helpers/dns-upstream.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A UDP resolver that answers each query with what `reply` makes of it (nothing when it returns undefined). */
async function rawUpstream(reply: (query: dnsPacket.DecodedPacket) => Buffer[] | undefined): Promise<{ host: string; port: number; asked: number }> {
  const socket: Socket = createSocket('udp4');
  const upstream = { host: '127.0.0.1', port: 0, asked: 0 };
  socket.on('message', (message, peer) => {
    upstream.asked += 1;
    for (const datagram of reply(dnsPacket.decode(message)) ?? []) socket.send(datagram, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  upstream.port = socket.address().port;
  closers.push(() => void socket.close());
  return upstream;
}

const answer = (query: dnsPacket.DecodedPacket, ip: string, overrides: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ type: 'response', id: query.id ?? 0, flags: 0, questions: query.questions ?? [], answers: [{ name: query.questions![0]!.name, type: 'A', ttl: 60, data: ip }], ...overrides });

const question = { name: 'example.test', type: 'A' as const, class: 'IN' as const };
const ips = (records: dnsPacket.Answer[]): string[] => records.map((record) => (record as { data: string }).data);

describe('the forwarder', () => {
  test('replies with another ID or question are ignored, and the real answer taken', async () => {
    const upstream = await rawUpstream((query) => [
      answer(query, '198.51.100.66', { id: ((query.id ?? 0) + 1) & 0xffff }),
      answer(query, '198.51.100.67', { questions: [{ name: 'other.test', type: 'A', class: 'IN' }] }),
      Buffer.from('junk'),
      answer(query, '192.0.2.10'),
    ]);
    const forwarder = new Forwarder({ upstreams: [upstream], timeoutMs: 1_000 });
    expect(ips((await forwarder.resolve(question, true)).answers)).toEqual(['192.0.2.10']);
  });

  test('a silent upstream, or one that answers SERVFAIL, passes the question to the next; the last answer stands when none does better', async () => {
    const silent = await rawUpstream(() => undefined);
    const failing = await rawUpstream((query) => [dnsPacket.encode({ type: 'response', id: query.id ?? 0, flags: 2, questions: query.questions ?? [] })]);
    const good = await startFakeUpstream({ 'example.test': ['192.0.2.10'] });
    closers.push(() => good.close());
    const forwarder = new Forwarder({ upstreams: [silent, failing, good], timeoutMs: 200 });
    expect(ips((await forwarder.resolve(question, true)).answers)).toEqual(['192.0.2.10']);
    expect([silent.asked, failing.asked, good.asked.length]).toEqual([1, 1, 1]);
    const onlyFailing = new Forwarder({ upstreams: [failing], timeoutMs: 200 });
    expect((await onlyFailing.resolve(question, true)).rcode).toBe('SERVFAIL');
    await expect(new Forwarder({ upstreams: [silent], timeoutMs: 100 }).resolve(question, true)).rejects.toThrow(/no answer from 127\.0\.0\.1:\d+ over UDP in 100 ms/);
  });

  test('an answer is kept for its TTL (30 s at most), its TTLs counting down; then asked again', async () => {
    const upstream = await startFakeUpstream({ 'example.test': ['192.0.2.10'] }, { ttl: 10 });
    closers.push(() => upstream.close());
    let now = 1_000_000;
    const forwarder = new Forwarder({ upstreams: [upstream], now: () => now });
    await forwarder.resolve(question, true);
    now += 4_000;
    const cached = await forwarder.resolve(question, true);
    expect(cached.answers.map((record) => (record as { ttl: number }).ttl)).toEqual([6]);
    expect(upstream.asked).toHaveLength(1);
    now += 6_000;
    await forwarder.resolve(question, true);
    expect(upstream.asked).toHaveLength(2);
  });
});
