// A counter and a histogram for what is recorded on every admission, counted in plain numbers and turned into
// Prometheus lines only when /metrics is scraped. prom-client hashes the label set on every inc() and observe(),
// through a labelled child too: measured at 2–4 µs per admission for the two of them (bench/profile.ts), where
// these take a few additions. Their label sets are few and closed (metrics.ts), so each caller keeps the series it
// got for a label set. Served by the same prom-client Registry as every other metric, in its exposition format.
import type { Registry } from 'prom-client'

type Labels = Readonly<Record<string, string>>

/** What prom-client's Registry reads of a metric on a scrape (its `get()`). */
interface MetricValue { readonly labels: Labels, readonly value: number, readonly metricName?: string }

abstract class PlainMetric<S extends { readonly labels: Labels }> {
  readonly aggregator = 'sum'
  private readonly all = new Map<string, S>()
  abstract readonly type: 'counter' | 'histogram'

  constructor(readonly name: string, readonly help: string, registry: Registry) {
    registry.registerMetric(this as never)
  }

  /** The series of one label set: made on first use, kept by the caller. */
  protected seriesOf(labels: Labels, make: () => S): S {
    const key = JSON.stringify(labels)
    let series = this.all.get(key)
    if (series === undefined) this.all.set(key, series = make())
    return series
  }

  protected abstract values(series: S): MetricValue[]

  get(): { name: string, help: string, type: string, aggregator: string, values: MetricValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.all.values()].flatMap((s) => this.values(s)) }
  }

  reset(): void {
    this.all.clear()
  }
}

export interface CounterSeries { inc(): void }

export class PlainCounter extends PlainMetric<{ readonly labels: Labels, value: number }> {
  readonly type = 'counter'

  series(labels: Labels): CounterSeries {
    const s = this.seriesOf(labels, () => ({ labels, value: 0 }))
    return { inc: () => { s.value++ } }
  }

  protected values(s: { labels: Labels, value: number }): MetricValue[] {
    return [{ labels: s.labels, value: s.value }]
  }
}

export interface HistogramSeries { observe(value: number): void }

interface Buckets { readonly labels: Labels, readonly counts: Float64Array, sum: number, count: number }

export class PlainHistogram extends PlainMetric<Buckets> {
  readonly type = 'histogram'

  constructor(name: string, help: string, registry: Registry, private readonly bounds: readonly number[]) {
    super(name, help, registry)
  }

  series(labels: Labels): HistogramSeries {
    const s = this.seriesOf(labels, () => ({ labels, counts: new Float64Array(this.bounds.length), sum: 0, count: 0 }))
    const { bounds } = this
    return {
      observe: (value) => {
        // Counted in the first bucket it fits (none: only +Inf, which is the count); made cumulative when scraped.
        for (let i = 0; i < bounds.length; i++) {
          if (value <= bounds[i]!) {
            s.counts[i]!++
            break
          }
        }
        s.sum += value
        s.count++
      },
    }
  }

  protected values(s: Buckets): MetricValue[] {
    const out: MetricValue[] = []
    let cumulative = 0
    this.bounds.forEach((le, i) => {
      cumulative += s.counts[i]!
      out.push({ metricName: `${this.name}_bucket`, labels: { le: String(le), ...s.labels }, value: cumulative })
    })
    out.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count })
    out.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum })
    out.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count })
    return out
  }
}
