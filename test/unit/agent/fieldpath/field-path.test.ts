import { describe, expect, test } from 'vitest';
import { extractFieldPath, formatMap, goQuote, podFieldValue } from '../../../../agent/fieldpath/field-path.js';
import { containerResourceValue, findContainer, resourceFieldRefValue } from '../../../../agent/fieldpath/resource-field.js';
import { ctr, pod } from '../../fixtures.js';

const allocatable = { milliCpu: 4000, memoryBytes: 8 * 2 ** 30, ephemeralStorageBytes: 100 * 2 ** 30 };

describe('goQuote (strconv.Quote)', () => {
  test.each([
    ['plain', '"plain"'],
    ['', '""'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['a\nb\tc\rd', '"a\\nb\\tc\\rd"'],
    ['\u0007\b\f\v', '"\\a\\b\\f\\v"'],
    ['\u0000\u001b\u007f', '"\\x00\\x1b\\x7f"'],
    ['héllo wörld 日本', '"héllo wörld 日本"'],
    ['emoji 😀', '"emoji 😀"'],
    ['\u0085\u00a0\u200b', '"\\u0085\\u00a0\\u200b"'],
    ['\u{e0001}', '"\\U000e0001"'],
    ['lone \ud800', '"lone \ufffd"'],
  ])('%j -> %s', (input, quoted) => {
    expect(goQuote(input)).toBe(quoted);
  });
});

describe('formatMap (fieldpath.FormatMap)', () => {
  test('sorted key="value" lines, values %q-quoted, no trailing newline', () => {
    expect(formatMap({ zone: 'b', app: 'web', 'example.com/note': 'line1\nline2 "q"' })).toBe(
      'app="web"\nexample.com/note="line1\\nline2 \\"q\\""\nzone="b"',
    );
  });

  test('an empty or missing map is the empty string', () => {
    expect(formatMap({})).toBe('');
    expect(formatMap(undefined)).toBe('');
  });

  test('keys sort by bytes, upper case before lower case', () => {
    expect(formatMap({ b: '1', B: '2', a: '3' })).toBe('B="2"\na="3"\nb="1"');
  });
});

describe('extractFieldPath (ExtractFieldPathAsString)', () => {
  const p = pod({}, { labels: { app: 'web', tier: 'front' }, annotations: { 'example.com/owner': 'team "a"' } });

  test.each([
    ['metadata.name', 'web'],
    ['metadata.namespace', 'default'],
    ['metadata.uid', 'uid-1'],
    ['metadata.labels', 'app="web"\ntier="front"'],
    ['metadata.annotations', 'example.com/owner="team \\"a\\""'],
    ["metadata.labels['tier']", 'front'],
    ["metadata.annotations['example.com/owner']", 'team "a"'],
    ["metadata.labels['absent']", ''],
  ])('%s', (fieldPath, value) => {
    expect(extractFieldPath(p, fieldPath)).toEqual({ ok: true, value });
  });

  test('a field outside metadata is unsupported in a volume', () => {
    expect(extractFieldPath(p, 'spec.nodeName')).toEqual({ ok: false, message: 'unsupported fieldPath: spec.nodeName' });
  });

  test('a subscript on another field is refused', () => {
    expect(extractFieldPath(p, "metadata.name['x']")).toEqual({ ok: false, message: 'fieldPath "metadata.name[\'x\']" does not support subscript' });
  });

  test('a subscript that is not a qualified name is refused with IsQualifiedName\'s error', () => {
    expect(extractFieldPath(p, "metadata.labels['-bad']")).toEqual({
      ok: false,
      message:
        "invalid key subscript in metadata.labels['-bad']: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    });
  });

  test('annotation subscripts are checked in lower case, so an upper-case prefix is fine', () => {
    const q = pod({}, { annotations: { 'Example.com/Owner': 'x' } });
    expect(extractFieldPath(q, "metadata.annotations['Example.com/Owner']")).toEqual({ ok: true, value: 'x' });
  });
});

describe('podFieldValue (podFieldSelectorRuntimeValue)', () => {
  const p = pod({ serviceAccountName: 'robot', nodeName: 'node-1' }, { labels: { app: 'web' }, annotations: { note: 'hi' } });
  const ctx = { pod: p, podIPs: ['10.244.0.5', 'fd00::5'], hostIPs: ['192.168.1.10', 'fd00::10'] };

  test.each([
    ['metadata.name', 'web'],
    ['metadata.namespace', 'default'],
    ['metadata.uid', 'uid-1'],
    ["metadata.labels['app']", 'web'],
    ["metadata.annotations['note']", 'hi'],
    ["metadata.labels['missing']", ''],
    ['spec.nodeName', 'node-1'],
    ['spec.serviceAccountName', 'robot'],
    ['status.hostIP', '192.168.1.10'],
    ['status.hostIPs', '192.168.1.10,fd00::10'],
    ['status.podIP', '10.244.0.5'],
    ['status.podIPs', '10.244.0.5,fd00::5'],
  ])('%s is %j', (fieldPath, value) => {
    expect(podFieldValue(fieldPath, ctx)).toEqual({ ok: true, value });
  });

  test('a field path neither the pod nor its placement has fails as upstream does', () => {
    expect(podFieldValue('spec.hostname', ctx)).toEqual({ ok: false, message: 'unsupported fieldPath: spec.hostname' });
  });

  test('a pod without an IP yet gives empty strings', () => {
    expect([podFieldValue('status.podIP', { ...ctx, podIPs: [] }), podFieldValue('status.podIPs', { ...ctx, podIPs: [] })]).toEqual([
      { ok: true, value: '' },
      { ok: true, value: '' },
    ]);
  });
});

describe('containerResourceValue (ExtractContainerResourceValue after MergeContainerResourceLimits)', () => {
  const limited = ctr('c', { resources: { limits: { cpu: '1500m', memory: '100Mi', 'ephemeral-storage': '1Gi' }, requests: { cpu: '250m', memory: '64Mi' } } });

  test.each([
    ['limits.cpu', undefined, '2'],
    ['limits.cpu', '1m', '1500'],
    ['limits.cpu', '100m', '15'],
    ['requests.cpu', '1m', '250'],
    ['requests.cpu', undefined, '1'],
    ['limits.memory', undefined, String(100 * 2 ** 20)],
    ['limits.memory', '1Mi', '100'],
    ['limits.memory', '1M', '105'],
    ['requests.memory', '1Mi', '64'],
    ['limits.ephemeral-storage', '1Mi', '1024'],
  ])('%s with divisor %s is %s (rounded up)', (resource, divisor, value) => {
    expect(containerResourceValue(limited, resource, divisor, allocatable)).toBe(value);
  });

  test('an unset limit falls back to the node allocatable', () => {
    const bare = ctr('c');
    expect(containerResourceValue(bare, 'limits.cpu', '1m', allocatable)).toBe('4000');
    expect(containerResourceValue(bare, 'limits.memory', '1Gi', allocatable)).toBe('8');
    expect(containerResourceValue(bare, 'limits.ephemeral-storage', '1Gi', allocatable)).toBe('100');
  });

  test('a zero limit falls back to the node allocatable too (MergeContainerResourceLimits)', () => {
    expect(containerResourceValue(ctr('c', { resources: { limits: { cpu: '0' } } }), 'limits.cpu', '1m', allocatable)).toBe('4000');
  });

  test('an unset request is 0', () => {
    expect(containerResourceValue(ctr('c'), 'requests.memory', undefined, allocatable)).toBe('0');
    expect(containerResourceValue(ctr('c'), 'requests.cpu', '1m', allocatable)).toBe('0');
  });

  test('a zero divisor counts as 1', () => {
    expect(containerResourceValue(limited, 'limits.memory', '0', allocatable)).toBe(String(100 * 2 ** 20));
    expect(containerResourceValue(limited, 'limits.cpu', '0', allocatable)).toBe('2');
  });
});

describe('resourceFieldRefValue', () => {
  const p = pod({ containers: [ctr('main', { resources: { limits: { cpu: '500m' } } })], initContainers: [ctr('setup', { resources: { limits: { 'hugepages-2Mi': '4Mi' } } })] });

  test('a named container is found among app and init containers', () => {
    expect(findContainer(p, 'setup')?.name).toBe('setup');
    expect(resourceFieldRefValue(findContainer(p, 'setup'), { containerName: 'setup', resource: 'limits.hugepages-2Mi', divisor: '1Mi' }, allocatable)).toEqual({ ok: true, value: '4' });
  });

  test("a container's own limit, in units of the divisor", () => {
    expect(resourceFieldRefValue(p.spec.containers[0], { resource: 'limits.cpu', divisor: '1m' }, allocatable)).toEqual({ ok: true, value: '500' });
  });

  test('an unset hugepages limit is 0, never the allocatable', () => {
    expect(resourceFieldRefValue(findContainer(p, 'main'), { containerName: 'main', resource: 'limits.hugepages-2Mi' }, allocatable)).toEqual({ ok: true, value: '0' });
  });

  test('a missing container and an unsupported resource fail with upstream\'s messages', () => {
    expect(resourceFieldRefValue(findContainer(p, 'ghost'), { containerName: 'ghost', resource: 'limits.cpu' }, allocatable)).toEqual({ ok: false, message: 'container ghost not found' });
    expect(resourceFieldRefValue(findContainer(p, 'main'), { containerName: 'main', resource: 'limits.nvidia.com/gpu' }, allocatable)).toEqual({
      ok: false,
      message: 'unsupported container resource : limits.nvidia.com/gpu',
    });
  });
});
