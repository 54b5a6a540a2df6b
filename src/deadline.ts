// The time an admission may spend on Kubernetes API calls. Its AbortSignal (a timer) is made only when a call
// needs it: the warm path makes no call, and timers per admission cost measurable throughput.
export interface Deadline {
  readonly signal: AbortSignal
}

export function deadline(ms: number): Deadline {
  return new LazyDeadline(Date.now() + ms)
}

class LazyDeadline implements Deadline {
  private made: AbortSignal | undefined
  constructor(private readonly at: number) {}
  get signal(): AbortSignal {
    this.made ??= AbortSignal.timeout(Math.max(1, this.at - Date.now()))
    return this.made
  }
}
