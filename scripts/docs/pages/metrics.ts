/**
 * The metrics reference: every Prometheus metric `createMetrics()` of
 * @orchestr8/observability registers (what `GET /metrics` of `orchestr8 serve` serves,
 * besides the Node.js process metrics).
 */
import { code, generatedHeader, prose, table } from '../markdown.js';

export interface MetricDoc {
  name: string;
  type: string;
  help: string;
  labels: readonly string[];
}

export function metricsPage(metrics: readonly MetricDoc[]): string {
  if (metrics.length === 0) throw new Error('metrics: createMetrics() registers no metrics');
  const out = [
    generatedHeader('createMetrics() of packages/observability'),
    '',
    '# Metrics',
    '',
    '`orchestr8 serve` serves these at `GET /metrics` in the Prometheus text format, with the process and Node.js metrics of prom-client (CPU, memory, event-loop lag, GC). ' +
      'In your own host, `createMetrics()` of `@orchestr8/observability` gives the same: see [Observability](../concepts/observability.md).',
    '',
    table(
      ['Metric', 'Type', 'Labels', 'Meaning'],
      metrics.map((m) => [code(m.name), m.type, m.labels.map((l) => code(l)).join(', '), prose(m.help)]),
    ),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}
