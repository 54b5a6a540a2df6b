// Watching objects by their metadata alone (the API server's PartialObjectMetadata form: name, namespace,
// labels, annotations, owners; no spec, no status), filtered by a label selector on the server: how the
// reconciler learns which workloads and Pods consume which shared secret while holding as little as possible.
// @kubernetes/client-node's informers cannot ask for this form (their requests carry no Accept header), so this
// lists and watches with node:https and the kubeconfig's credentials, and keeps nothing but what `keep` returns.
import { request } from 'node:https'
import type { RequestOptions } from 'node:https'
import { createInterface } from 'node:readline'
import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { ControllerRef } from '../core/consumers.ts'

export interface ObjectMeta {
  readonly name: string
  readonly namespace: string
  readonly uid: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  readonly ownerReferences?: readonly OwnerReference[]
  readonly resourceVersion: string
}

export type OwnerReference = ControllerRef & { readonly controller?: boolean }

export interface MetaWatch {
  /** True once the first list has been applied. */
  readonly synced: boolean
  stop(): void
}

export interface MetaWatchOptions {
  /** `/api/v1/pods`, `/apis/apps/v1/deployments`: every namespace. */
  readonly path: string
  readonly labelSelector: string
  /** Called with each object's metadata as it is listed or changes; `deleted` when it goes. */
  onChange(meta: ObjectMeta, deleted: boolean): void
  /** Called after each (re)list, with the uids it held: anything else seen before is gone. */
  onList(uids: ReadonlySet<string>): void
}

// As client-go's metadata client asks: a list as PartialObjectMetadataList, a watch's events as PartialObjectMetadata
// (a watch asked for the list form is answered 200 and then closed with no events).
const acceptList = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json'
const acceptWatch = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json'

/** One object's metadata (`/apis/apps/v1/namespaces/NS/replicasets/NAME`), or undefined when it is gone. */
export async function readMetadata(kc: KubeConfig, path: string): Promise<ObjectMeta | undefined> {
  const url = new URL(kc.getCurrentCluster()!.server + path)
  const options: RequestOptions = { method: 'GET', headers: { Accept: acceptWatch }, timeout: 10_000 }
  await kc.applyToHTTPSOptions(options)
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => {
        if (res.statusCode === 404) resolve(undefined)
        else if (res.statusCode === 200) resolve((JSON.parse(text) as { metadata: ObjectMeta }).metadata)
        else reject(new Error(`get ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))
      }).on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`get ${path}: no answer in 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

export function watchMetadata(kc: KubeConfig, opts: MetaWatchOptions, log: Logger): MetaWatch {
  let synced = false
  let stopped = false
  let current: { destroy(): void } | undefined
  let retry: NodeJS.Timeout | undefined

  const call = async (query: Record<string, string>): Promise<{ options: RequestOptions, url: URL }> => {
    const url = new URL(kc.getCurrentCluster()!.server + opts.path)
    for (const [k, v] of Object.entries({ labelSelector: opts.labelSelector, ...query })) url.searchParams.set(k, v)
    const options: RequestOptions = { method: 'GET', headers: { Accept: query.watch === 'true' ? acceptWatch : acceptList } }
    await kc.applyToHTTPSOptions(options)
    return { options, url }
  }

  const list = async (): Promise<string> => {
    const { options, url } = await call({})
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(url, options, (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`list ${opts.path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`)))
          .on('error', reject)
      })
      req.on('error', reject)
      current = req
      req.end()
    })
    const parsed = JSON.parse(body) as { metadata: { resourceVersion: string }, items?: { metadata: ObjectMeta }[] | null }
    const uids = new Set<string>()
    // An empty list comes back with items null.
    for (const item of parsed.items ?? []) {
      uids.add(item.metadata.uid)
      opts.onChange(item.metadata, false)
    }
    opts.onList(uids)
    synced = true
    return parsed.metadata.resourceVersion
  }

  /** Resolves when the watch ends: 'expired' (410: list again) or 'ended' (closed: watch again from the last version). */
  const watch = async (from: string, seen: (rv: string) => void): Promise<'expired' | 'ended'> => {
    const { options, url } = await call({ watch: 'true', resourceVersion: from, allowWatchBookmarks: 'true', timeoutSeconds: '300' })
    return new Promise((resolve, reject) => {
      const req = request(url, options, (res) => {
        if (res.statusCode === 410) { res.resume(); resolve('expired'); return }
        if (res.statusCode !== 200) { res.resume(); reject(new Error(`watch ${opts.path}: HTTP ${res.statusCode}`)); return }
        const lines = createInterface({ input: res })
        let outcome: 'expired' | 'ended' = 'ended'
        lines.on('line', (line) => {
          let event: { type: string, object: { metadata: ObjectMeta, code?: number } }
          try {
            event = JSON.parse(line) as typeof event
          } catch {
            return
          }
          if (event.type === 'ERROR') {
            if (event.object.code === 410) outcome = 'expired'
            return
          }
          seen(event.object.metadata.resourceVersion)
          if (event.type === 'BOOKMARK') return
          opts.onChange(event.object.metadata, event.type === 'DELETED')
        })
        lines.on('close', () => resolve(outcome))
        // A watch cut (stop() destroys the request, or the API server goes away) errors the response, and readline
        // re-emits that error on the interface: unhandled, it would end the process. The loop watches again from
        // the last version, or ends when stopped.
        res.on('error', () => resolve(outcome))
        lines.on('error', () => resolve(outcome))
      })
      req.on('error', reject)
      current = req
      req.end()
    })
  }

  const run = async () => {
    let from: string | undefined
    while (!stopped) {
      try {
        from ??= await list()
        const outcome = await watch(from, (rv) => { from = rv })
        if (outcome === 'expired') from = undefined
      } catch (err) {
        if (stopped) return
        log.warn({ path: opts.path, err: (err as Error).message }, 'metadata watch failed; retrying')
        from = undefined
        await new Promise<void>((r) => { retry = setTimeout(r, 1000) })
      }
    }
  }
  void run()

  return {
    get synced() { return synced },
    stop() {
      stopped = true
      clearTimeout(retry)
      current?.destroy()
    },
  }
}
