// Bounded memory for pure functions on the admission path. Every Pod of a workload carries the same annotations
// and names the same shared secrets, so most admissions repeat work already done; a bounded LRU keeps the
// repeats free without letting varied (or hostile) input grow memory. Values are deep-frozen because they are
// shared between admissions: a caller that tried to change one would throw instead of corrupting the next.
import { LRUCache } from 'lru-cache'

/** Longest key worth remembering; longer inputs are computed every time (and cannot fill memory). */
const maxKeyLength = 2048

export interface Memo<V> {
  get(key: string, make: () => V): V
}

// Every memo made, weakly (plan.ts makes a set per reloaded policy, which must stay collectable): counted by
// memoEntries() for the soak bench and the memory bound.
const made = new Set<WeakRef<{ readonly size: number }>>()

/** Entries held across all live memos. */
export function memoEntries(): number {
  let entries = 0
  for (const ref of made) {
    const cache = ref.deref()
    if (cache === undefined) made.delete(ref)
    else entries += cache.size
  }
  return entries
}

export function memo<V extends object>(max: number): Memo<V> {
  const cache = new LRUCache<string, V>({ max })
  made.add(new WeakRef(cache))
  return {
    get(key, make) {
      if (key.length > maxKeyLength) return make()
      let value = cache.get(key)
      if (value === undefined) {
        value = deepFreeze(make())
        cache.set(key, value)
      }
      return value
    },
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
