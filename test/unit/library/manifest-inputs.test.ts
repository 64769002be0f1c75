import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readInputs } from '../../../library/manifest-inputs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inputs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'main', image: 'busybox' }] } });

describe('readInputs', () => {
  test('objects, YAML text and files become one object each, keyed and named for the manifest directory', async () => {
    const file = join(dir, 'service.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n');
    const objects = await readInputs([pod('a'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n', file], 'n1');
    expect(objects.map(({ key, fileName, from }) => ({ key, fileName, from }))).toEqual([
      { key: 'v1/Pod/default/a', fileName: 'pod_default_a.json', from: 'argument 1 document 1' },
      { key: 'v1/ConfigMap/default/c', fileName: 'configmap_default_c.json', from: 'argument 2 (YAML text) document 1' },
      { key: 'v1/Service/shop/web', fileName: 'service_shop_web.json', from: `${file} document 1` },
    ]);
    expect(JSON.parse(objects[0]!.text)).toEqual(pod('a'));
  });

  test("a directory's manifest files, in name order, skipping hidden and other files; cluster-scoped kinds have no namespace", async () => {
    await mkdir(join(dir, 'm'));
    await writeFile(join(dir, 'm', 'b.yml'), 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: dockerlet.io/local-path\n');
    await writeFile(join(dir, 'm', 'a.json'), JSON.stringify(pod('first')));
    await writeFile(join(dir, 'm', '.hidden.yaml'), 'not: [valid');
    await writeFile(join(dir, 'm', 'notes.txt'), 'not a manifest');
    const objects = await readInputs([join(dir, 'm')], 'n1');
    expect(objects.map((object) => [object.key, object.fileName])).toEqual([
      ['v1/Pod/default/first', 'pod_default_first.json'],
      ['storage.k8s.io/v1/StorageClass//fast', 'storageclass_fast.json'],
    ]);
  });

  test('an object given twice is taken as last given', async () => {
    const updated = { ...pod('a'), metadata: { name: 'a', labels: { v: '2' } } };
    const objects = await readInputs([[pod('a'), pod('b')], updated], 'n1');
    expect(objects.map((object) => object.name)).toEqual(['b', 'a']);
    expect(JSON.parse(objects[1]!.text).metadata.labels).toEqual({ v: '2' });
  });

  test('every bad manifest is named, with its document and field', async () => {
    const bad = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'main' }] } };
    await expect(readInputs([bad, 'kind: Deployment\napiVersion: apps/v1\n'], 'n1')).rejects.toThrow(
      '[argument 1: document 1 (Pod "x"): spec.containers[0].image: Required value, argument 2 (YAML text): document 1: kind: Unsupported value: "apps/v1/Deployment"',
    );
  });

  test('a string without a line break is a path, and a missing one says so', async () => {
    await expect(readInputs(['kind: Pod'], 'n1')).rejects.toThrow('kind: Pod: no such file or directory (a string without a line break is read as a path; YAML text has at least one)');
  });
});
