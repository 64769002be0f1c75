/**
 * What a benchmark reports, and how the run is written: a Markdown table per benchmark (printed,
 * and written as latest.md) and the same figures as JSON (latest.json). Targets are the issue's
 * goals, each evaluated on the run's figures and reported met or not, never hidden.
 */
import type { Stat } from './stats.js';

export type Value = Stat | number | null;

export interface Row {
  metric: string;
  unit: string;
  /** One value per column of the benchmark; null where that subject could not be measured. */
  values: Record<string, Value>;
  /** Ratios side by side, such as "dockerlet / docker API". */
  ratios?: Record<string, number | null>;
}

export interface TargetResult {
  target: string;
  unit: string;
  measured: number | null;
  comparison: '<=' | '>=';
  limit: number;
  /** null when the figure could not be measured (the notes say why). */
  met: boolean | null;
}

export interface BenchmarkResult {
  id: string;
  title: string;
  columns: string[];
  rows: Row[];
  targets: TargetResult[];
  notes: string[];
}

export interface RunMeta {
  mode: 'full' | 'quick';
  startedAt: string;
  durationSeconds: number;
  commit: string;
  machine: Record<string, string>;
}

export interface RunResult {
  meta: RunMeta;
  benchmarks: BenchmarkResult[];
}

export function target(description: string, measured: number | null, comparison: '<=' | '>=', limit: number, unit: string): TargetResult {
  const met = measured === null || !Number.isFinite(measured) ? null : comparison === '<=' ? measured <= limit : measured >= limit;
  return { target: description, unit, measured: measured !== null && Number.isFinite(measured) ? measured : null, comparison, limit, met };
}

/** A number with a precision that suits its size: 0.123, 1.23, 12.3, 123, 1234. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs >= 100) return Math.round(value).toString();
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

function formatValue(value: Value | undefined): string {
  if (value === null || value === undefined) return 'n/a';
  if (typeof value === 'number') return formatNumber(value);
  return value.n > 1 ? `${formatNumber(value.median)} (p99 ${formatNumber(value.p99)})` : formatNumber(value.median);
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function renderBenchmark(result: BenchmarkResult): string {
  const ratioNames = [...new Set(result.rows.flatMap((row) => Object.keys(row.ratios ?? {})))];
  const header = ['metric', ...result.columns, ...ratioNames];
  const lines = [`### ${result.title}`, '', `| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of result.rows) {
    const values = result.columns.map((column) => formatValue(row.values[column]));
    const ratios = ratioNames.map((name) => {
      const value = row.ratios?.[name];
      return value === undefined ? '' : value === null ? 'n/a' : `${formatNumber(value)}x`;
    });
    lines.push(`| ${cell(`${row.metric} (${row.unit})`)} | ${[...values, ...ratios].map(cell).join(' | ')} |`);
  }
  if (result.targets.length > 0) {
    lines.push('', '| target | measured | met |', '|---|---|---|');
    for (const t of result.targets) {
      const measured = t.measured === null ? 'n/a' : `${formatNumber(t.measured)} ${t.unit}`;
      const met = t.met === null ? 'not measured' : t.met ? 'yes' : '**no**';
      lines.push(`| ${cell(`${t.target} (${t.comparison} ${formatNumber(t.limit)} ${t.unit})`)} | ${measured} | ${met} |`);
    }
  }
  for (const note of result.notes) lines.push('', `- ${note}`);
  return lines.join('\n');
}

export function renderRun(run: RunResult): string {
  const { meta } = run;
  const machine = Object.entries(meta.machine)
    .map(([key, value]) => `${key} ${value}`)
    .join(' · ');
  const targets = run.benchmarks.flatMap((b) => b.targets);
  const met = targets.filter((t) => t.met === true).length;
  const missed = targets.filter((t) => t.met === false).map((t) => t.target);
  const head = [
    `# dockerlet benchmarks (${meta.mode} run)`,
    '',
    `${meta.startedAt}, ${Math.round(meta.durationSeconds)} s, commit ${meta.commit}. ${machine}.`,
    '',
    'Medians over repeated runs, p99 in brackets; ratios are medians measured side by side in the same run.',
    `Targets met: ${met} of ${targets.length}${missed.length > 0 ? `; not met: ${missed.join('; ')}` : ''}.`,
  ];
  return [...head, ...run.benchmarks.map((b) => `\n${renderBenchmark(b)}`)].join('\n') + '\n';
}
