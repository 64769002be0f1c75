import { describe, expect, test } from 'vitest';
import type { Secret } from '../../../../common/api/types.js';
import { credentialsFor, imageLocation } from '../../../../agent/images/pull-secrets.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

function dockerConfigJson(name: string, auths: Record<string, object>): Secret {
  return { metadata: { name, namespace: 'default' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) } };
}

const users = (credentials: ReturnType<typeof credentialsFor>) => credentials.map((c) => `${c.username}@${c.serveraddress}`);

describe('imageLocation', () => {
  test('registry host, port and repository path; Docker Hub for names without a registry', () => {
    expect(imageLocation('127.0.0.1:5000/team/app:1.0')).toEqual({ host: '127.0.0.1', port: '5000', path: 'team/app' });
    expect(imageLocation('registry.example.com/app@sha256:abc')).toEqual({ host: 'registry.example.com', port: '', path: 'app' });
    expect(imageLocation('localhost/app')).toEqual({ host: 'localhost', port: '', path: 'app' });
    expect(imageLocation('busybox:1.36')).toEqual({ host: 'index.docker.io', port: '', path: 'library/busybox' });
    expect(imageLocation('bitnami/redis')).toEqual({ host: 'index.docker.io', port: '', path: 'bitnami/redis' });
  });
});

describe('credentialsFor (the credential keyring)', () => {
  test('the entry of the image\'s registry, with username and password from "auth" when it is there', () => {
    const secret = dockerConfigJson('regcred', {
      'registry.example.com': { auth: b64('alice:s3cret'), email: 'a@example.com' },
      'other.example.com': { username: 'bob', password: 'x' },
    });
    expect(credentialsFor('registry.example.com/team/app:1', [secret])).toEqual([
      { serveraddress: 'registry.example.com', username: 'alice', password: 's3cret', email: 'a@example.com' },
    ]);
    expect(credentialsFor('elsewhere.example.com/app', [secret])).toEqual([]);
  });

  test('port, URL forms and path prefixes: the most specific location first', () => {
    const secret = dockerConfigJson('regcred', {
      'https://127.0.0.1:5000/v2/': { username: 'any' },
      '127.0.0.1:5000/team': { username: 'team' },
      '127.0.0.1:5001': { username: 'wrong-port' },
      '127.0.0.1:5000/other': { username: 'other-path' },
    });
    expect(users(credentialsFor('127.0.0.1:5000/team/app', [secret]))).toEqual(['team@127.0.0.1:5000', 'any@127.0.0.1:5000']);
  });

  test('a host glob matches label by label; Docker Hub aliases stand for Docker Hub', () => {
    const secret = dockerConfigJson('regcred', { '*.example.com': { username: 'glob' }, 'https://index.docker.io/v1/': { username: 'hub' } });
    expect(users(credentialsFor('eu.example.com/app', [secret]))).toEqual(['glob@*.example.com']);
    expect(users(credentialsFor('a.eu.example.com/app', [secret]))).toEqual([]);
    expect(users(credentialsFor('busybox', [secret]))).toEqual(['hub@index.docker.io']);
    expect(users(credentialsFor('docker.io/library/busybox', [secret]))).toEqual(['hub@index.docker.io']);
  });

  test('one keyring for all Secrets: the most specific location first across them, a location\'s credentials in Secret order', () => {
    const first = dockerConfigJson('first', { 'registry.example.com': { username: 'one', password: 'p' } });
    const legacy: Secret = { metadata: { name: 'legacy' }, type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64(JSON.stringify({ 'registry.example.com': { username: 'two', password: 'p' } })) } };
    const team = dockerConfigJson('team', { 'registry.example.com/team': { username: 'three', password: 'p' } });
    const opaque: Secret = { metadata: { name: 'opaque' }, type: 'Opaque', data: { '.dockerconfigjson': first.data!['.dockerconfigjson']! } };
    expect(users(credentialsFor('registry.example.com/team/app', [opaque, first, legacy, team]))).toEqual(['three@registry.example.com', 'one@registry.example.com', 'two@registry.example.com']);
  });

  test("the node's own docker config comes after the pod's Secrets, however specific its locations", () => {
    const pod = dockerConfigJson('pod', { 'registry.example.com': { username: 'pod', password: 'p' } });
    const node = { 'registry.example.com/team': { username: 'node', password: 'p' } };
    expect(users(credentialsFor('registry.example.com/team/app', [pod], node))).toEqual(['pod@registry.example.com', 'node@registry.example.com']);
    expect(users(credentialsFor('registry.example.com/team/app', [], node))).toEqual(['node@registry.example.com']);
  });

  test('a pull Secret whose docker config is not JSON is an error naming it', () => {
    const broken: Secret = { metadata: { name: 'broken', namespace: 'shop' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{not json') } };
    expect(() => credentialsFor('registry.example.com/app', [broken])).toThrow(/^image pull Secret shop\/broken: data\[\.dockerconfigjson\]: /);
  });
});
