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

export function memo<V extends object>(max: number): Memo<V> {
  const cache = new LRUCache<string, V>({ max })
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
