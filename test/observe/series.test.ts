// Room: src/observe/series.ts
// The plain counter and histogram print exactly what prom-client's own Counter and Histogram print for the same
// admissions: a dashboard or an alert cannot tell them apart.
import t from 'tap'
import { Counter, Histogram, Registry } from 'prom-client'
import { PlainCounter, PlainHistogram } from '../../src/observe/series.ts'

const bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
// Below the first bound, on a bound, between bounds, above the last (only +Inf holds it).
const observed: [string, number][] = [['Pod', 0.0001], ['Pod', 0.001], ['Pod', 0.003], ['Deployment', 7], ['Pod', 0.3], ['Deployment', 0.0005]]

t.test('the same lines as prom-client, for the same observations', async (t) => {
  const theirs = new Registry()
  const counter = new Counter({ name: 'x_total', help: 'h', labelNames: ['kind', 'outcome'] as const, registers: [theirs] })
  const histogram = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['kind'] as const, buckets: bounds, registers: [theirs] })
  const ours = new Registry()
  const plainCounter = new PlainCounter('x_total', 'h', ours)
  const plainHistogram = new PlainHistogram('x_seconds', 'h', ours, bounds)
  for (const [kind, seconds] of observed) {
    counter.inc({ kind, outcome: 'patched' })
    histogram.observe({ kind }, seconds)
    plainCounter.series({ kind, outcome: 'patched' }).inc()
    plainHistogram.series({ kind }).observe(seconds)
  }
  const text = await ours.metrics()
  t.equal(text, await theirs.metrics())
  t.match(text, /x_seconds_bucket\{le="\+Inf",kind="Deployment"\} 2\n/, 'an observation above every bound counts in +Inf alone')
  t.match(text, /x_seconds_bucket\{le="0.001",kind="Pod"\} 2\n/, 'one on a bound counts in that bucket')
})

t.test('a series kept by its caller is the one scraped; a label set is one series however often asked for', async (t) => {
  const registry = new Registry()
  const counter = new PlainCounter('y_total', 'h', registry)
  const kept = counter.series({ kind: 'Pod' })
  kept.inc()
  counter.series({ kind: 'Pod' }).inc()
  t.match(await registry.metrics(), /^y_total\{kind="Pod"\} 2$/m)
  t.equal((await registry.metrics()).split('\n').filter((l) => l.startsWith('y_total')).length, 1)
})
