// Room: src/util/memo.ts
// The bounded memo on the admission path: repeats are free, values are shared frozen, memory stays bounded.
import t from 'tap'
import { memo } from '../../src/util/memo.ts'
import { readWiring } from '../../src/core/annotations.ts'

t.test('remembers a value per key, frozen all the way down', async (t) => {
  const m = memo<{ list: { n: number }[] }>(10)
  let made = 0
  const make = () => ({ list: [{ n: ++made }] })
  const a = m.get('k', make)
  t.equal(m.get('k', make), a, 'the same object the second time')
  t.equal(made, 1)
  t.ok(Object.isFrozen(a) && Object.isFrozen(a.list) && Object.isFrozen(a.list[0]))
  t.throws(() => { a.list[0]!.n = 9 }, TypeError, 'a shared value cannot be changed by a caller')
})

t.test('bounded: the least recently used key is forgotten, long keys are never kept', async (t) => {
  const m = memo<{ key: string, made: number }>(3)
  let made = 0
  const get = (key: string) => m.get(key, () => ({ key, made: ++made }))
  for (const key of ['a', 'b', 'c']) get(key)
  get('a')
  get('d')
  t.equal(made, 4)
  get('a')
  t.equal(made, 4, 'a was used recently and is kept')
  get('b')
  t.equal(made, 5, 'b was the least recently used and was forgotten')
  const long = 'x'.repeat(4096)
  get(long)
  get(long)
  t.equal(made, 7, 'a key longer than 2 KiB is computed each time')
})

t.test('annotations: a parse is remembered only when valid', async (t) => {
  const sources = [{ 'secretwire.io/shared-secret': 'db, cache=CACHE_PW' }]
  const first = readWiring(sources)
  t.equal(readWiring([{ ...sources[0] }]), first, 'equal annotations share one parse')
  t.ok(Object.isFrozen(first?.entries))
  const other = readWiring([{ 'secretwire.io/shared-secret': 'db, cache=CACHE' }])
  t.not(other, first, 'other annotations, another parse')
  for (let i = 0; i < 2; i++) {
    t.throws(() => readWiring([{ 'secretwire.io/shared-secret': 'Bad' }]), /"Bad" is not a valid NAME/, `invalid, attempt ${i + 1}`)
  }
})
