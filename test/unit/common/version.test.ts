import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { DockerletVersion, KubeletVersion, KubernetesMinorVersion, userAgent } from '../../../common/version.js';

describe('versions', () => {
  test("dockerlet's version is its package's", async () => {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(DockerletVersion).toBe(pkg.version);
  });

  test('the kubelet version, its minor for probes, and the User-Agent in client-go\'s shape', () => {
    expect(KubeletVersion).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(KubernetesMinorVersion).toBe(KubeletVersion.slice(1).split('.').slice(0, 2).join('.'));
    expect(userAgent('dockerlet')).toMatch(/^dockerlet\/v\d+\.\d+\.\d+ \(linux\/\w+\) kubernetes\/dockerlet$/);
  });
});
