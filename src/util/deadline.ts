// The time an admission may spend on Kubernetes API calls. Its AbortSignal (a timer) is made only when a call
// needs it: the warm path makes no call, and timers per admission cost measurable throughput.
export interface Deadline {
  readonly signal: AbortSignal
  /** Milliseconds left (0 once passed). */
  remainingMs(): number
}

export function deadline(ms: number): Deadline {
  return new LazyDeadline(Date.now() + ms)
}

class LazyDeadline implements Deadline {
  private made: AbortSignal | undefined
  constructor(private readonly at: number) {}
  remainingMs(): number {
    return Math.max(0, this.at - Date.now())
  }
  get signal(): AbortSignal {
    this.made ??= AbortSignal.timeout(Math.max(1, this.at - Date.now()))
    return this.made
  }
}

/**
 * `promise`, or `timedOut()`'s error once the deadline passes, whichever comes first: for a caller that joins
 * someone else's request, whose own deadline may be later (or earlier) than that request's.
 */
export function withinDeadline<T>(promise: Promise<T>, d: Deadline, timedOut: () => Error): Promise<T> {
  const { signal } = d
  if (signal.aborted) return Promise.reject(timedOut())
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timedOut())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
