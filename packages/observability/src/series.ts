import type { Metric, Registry } from 'prom-client';

/**
 * Counters and histograms for the engine's hot path. prom-client's own `inc({labels})` and
 * `observe({labels}, v)` hash the label object on every call (~0.4 µs); these keep a child
 * per label set that callers hold on to, so counting is a field increment, and render the
 * same exposition as prom-client's at scrape time (registered in a prom-client Registry
 * through its metric interface: `name`, `help`, `type`, `get()`, `reset()`).
 */
abstract class Series<C> {
  readonly aggregator = 'sum';
  protected readonly children = new Map<string, { labels: Record<string, string>; child: C }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The child for these label values (in `labelNames` order); keep it to count without lookups. */
  labels(...values: string[]): C {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let entry = this.children.get(key);
    if (entry === undefined) {
      const labels: Record<string, string> = {};
      for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]!] = values[i] ?? '';
      entry = { labels, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  reset(): void {
    this.children.clear();
  }

  protected abstract create(): C;
}

export interface CounterChild {
  value: number;
}

export class FastCounter extends Series<CounterChild> {
  readonly type = 'counter';

  inc(...values: string[]): void {
    this.labels(...values).value++;
  }

  get() {
    const out = [];
    for (const { labels, child } of this.children.values()) out.push({ labels, value: child.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: out };
  }

  protected create(): CounterChild {
    return { value: 0 };
  }
}

export class HistogramChild {
  /** Per bucket, not cumulative: counts[i] holds values in (buckets[i-1], buckets[i]]; the last, +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly upper: readonly number[]) {
    this.counts = new Float64Array(upper.length + 1);
  }

  observe(value: number): void {
    const upper = this.upper;
    let i = 0;
    while (i < upper.length && value > upper[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class FastHistogram extends Series<HistogramChild> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  get() {
    const out: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, child } of this.children.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += child.counts[i]!;
        out.push({
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le: i < this.buckets.length ? this.buckets[i]! : '+Inf' },
          value: cumulative,
        });
      }
      out.push({ metricName: `${this.name}_sum`, labels, value: child.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: child.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: out };
  }

  protected create(): HistogramChild {
    return new HistogramChild(this.buckets);
  }
}
