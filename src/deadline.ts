// The time an admission may spend on Kubernetes API calls. Its AbortSignal (a timer) is made only when a call
// needs it: the warm path makes no call, and timers per admission cost measurable throughput.
export interface Deadline {
  readonly signal: AbortSignal
}

export function deadline(ms: number): Deadline {
  const start = performance.now()
  let signal: AbortSignal | undefined
  return {
    get signal() {
      signal ??= AbortSignal.timeout(Math.max(1, Math.round(ms - (performance.now() - start))))
      return signal
    },
  }
}
