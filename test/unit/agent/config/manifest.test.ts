import { describe, expect, test } from 'vitest';
import { decodeManifest, MaxManifestBytes, type DecodeResult } from '../../../../agent/config/manifest.js';

const podYaml = (name: string): string => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers: [{name: main, image: busybox}]\n`;

function objects(result: DecodeResult): Array<{ kind: string; apiVersion: string; document: number; name: unknown }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.error}`);
  return result.objects.map(({ kind, apiVersion, document, object }) => ({
    kind,
    apiVersion,
    document,
    name: (object['metadata'] as { name?: unknown } | undefined)?.name,
  }));
}

describe('decodeManifest', () => {
  test('a single YAML document is one object', () => {
    expect(objects(decodeManifest(podYaml('one')))).toEqual([{ kind: 'Pod', apiVersion: 'v1', document: 1, name: 'one' }]);
  });

  test('several YAML documents are numbered from 1 in order', () => {
    const result = decodeManifest(`${podYaml('first')}---\n${podYaml('second')}`);
    expect(objects(result)).toEqual([
      { kind: 'Pod', apiVersion: 'v1', document: 1, name: 'first' },
      { kind: 'Pod', apiVersion: 'v1', document: 2, name: 'second' },
    ]);
  });

  test('empty documents are skipped but still counted', () => {
    const result = decodeManifest(`${podYaml('first')}---\n# only a comment\n---\n${podYaml('third')}`);
    expect(objects(result)).toEqual([
      { kind: 'Pod', apiVersion: 'v1', document: 1, name: 'first' },
      { kind: 'Pod', apiVersion: 'v1', document: 3, name: 'third' },
    ]);
  });

  test('an empty manifest declares nothing', () => {
    expect(decodeManifest('')).toEqual({ ok: true, objects: [] });
  });

  test('JSON is read as YAML', () => {
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'from-json' }, spec: { containers: [] } });
    expect(objects(decodeManifest(json))).toEqual([{ kind: 'Pod', apiVersion: 'v1', document: 1, name: 'from-json' }]);
  });

  test('a List is unrolled into its items, which share the List document number', () => {
    const list = `${podYaml('before')}---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n`;
    expect(objects(decodeManifest(list))).toEqual([
      { kind: 'Pod', apiVersion: 'v1', document: 1, name: 'before' },
      { kind: 'Pod', apiVersion: 'v1', document: 2, name: 'a' },
      { kind: 'Pod', apiVersion: 'v1', document: 2, name: 'b' },
    ]);
  });

  test("a PodList's items without kind or apiVersion take them from the list", () => {
    const list = 'apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: bare}\n';
    expect(objects(decodeManifest(list))).toEqual([{ kind: 'Pod', apiVersion: 'v1', document: 1, name: 'bare' }]);
  });

  test('YAML 1.1, as go-yaml v2 reads it: 0644 is octal 420 and yes is true', () => {
    const result = decodeManifest('apiVersion: v1\nkind: Pod\nmode: 0644\nflag: yes\n');
    expect(result.ok && result.objects[0]!.object).toMatchObject({ mode: 420, flag: true });
  });

  test('timestamps stay strings', () => {
    const result = decodeManifest('apiVersion: v1\nkind: Pod\nmetadata: {creationTimestamp: 2024-01-02T03:04:05Z}\n');
    expect(result.ok && result.objects[0]!.object['metadata']).toEqual({ creationTimestamp: '2024-01-02T03:04:05Z' });
  });

  test('a YAML syntax error names its document', () => {
    const result = decodeManifest(`${podYaml('fine')}---\nkind: Pod\nspec: [unclosed\n`);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^document 2: /);
  });

  test('a duplicate key is an error', () => {
    const result = decodeManifest('apiVersion: v1\nkind: Pod\nkind: Pod\n');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^document 1: .*unique/i);
  });

  test('a document that is not an object is reported with its number', () => {
    expect(decodeManifest(`${podYaml('ok')}---\njust a string\n`)).toEqual({ ok: false, error: 'document 2: expected an object with apiVersion and kind' });
  });

  test('a document without kind is reported with its number', () => {
    expect(decodeManifest(`${podYaml('ok')}---\napiVersion: v1\nmetadata: {name: x}\n`)).toEqual({ ok: false, error: 'document 2: kind: Required value' });
  });

  test('a document without apiVersion is reported with its number', () => {
    expect(decodeManifest('kind: Pod\n')).toEqual({ ok: false, error: 'document 1: apiVersion: Required value' });
  });

  test('a List without items is an error', () => {
    expect(decodeManifest('apiVersion: v1\nkind: List\n')).toEqual({ ok: false, error: 'document 1: items: Required value' });
  });

  test('a List item that is not an object is reported by index', () => {
    expect(decodeManifest('apiVersion: v1\nkind: List\nitems: [{kind: Pod}, 3]\n')).toEqual({ ok: false, error: 'document 1: items[1]: expected an object' });
  });

  test('a manifest over 10 MB is refused whole', () => {
    const result = decodeManifest(`# ${'x'.repeat(MaxManifestBytes)}\n`);
    expect(result).toEqual({ ok: false, error: `manifest is larger than ${MaxManifestBytes} bytes` });
  });
});
