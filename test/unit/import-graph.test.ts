import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { describe, expect, test } from 'vitest';
import { AgentLayers, ImportRules } from '../import-rules.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function cruiseTree(): Promise<{ result: ICruiseResult; report: string }> {
  const options = { baseDir: root, ruleSet: { forbidden: ImportRules }, validate: true, tsPreCompilationDeps: true, doNotFollow: { path: 'node_modules' } } as const;
  const transpile = { tsConfig: extractTSConfig(`${root}/tsconfig.json`) };
  const cruised = await cruise(['agent', 'proxy', 'provisioner', 'common', 'cli', 'library'], options, {}, transpile);
  const result = cruised.output as ICruiseResult;
  const report = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((step) => step.name).join(' -> ')})` : ''}`).join('\n');
  return { result, report };
}

describe('the import graph', () => {
  test('keeps every rule of test/import-rules.ts: no cycles, the peers, agent layers, libraries in one place', async () => {
    const { result, report } = await cruiseTree();
    expect(result.summary.totalCruised).toBeGreaterThan(150);
    expect(report).toBe('');
  }, 60_000);

  test("every folder and top-level file of agent/ has a layer", () => {
    const placed = new Set(AgentLayers.flatMap((layer) => layer.parts));
    const present = readdirSync(`${root}/agent`).filter((name) => !name.endsWith('.d.ts'));
    expect(present.filter((name) => !placed.has(name))).toEqual([]);
    expect([...placed].filter((name) => !present.includes(name))).toEqual([]);
  });
});
