// Writing generated manifests as the YAML files in deploy/: one document per object, each with its comment.
import { Document } from 'yaml'

export interface Manifest<T = object> {
  /** Why the object is there and what it does: written above it. */
  readonly comment: string
  readonly object: T
}

export function toYaml(header: string, manifests: readonly Manifest[]): string {
  const docs = manifests.map((m, i) => {
    const doc = new Document(m.object)
    doc.commentBefore = [...(i === 0 ? [header, ''] : []), m.comment].join('\n').replace(/^/gm, ' ').replace(/^ $/gm, '')
    return doc.toString({ lineWidth: 0, blockQuote: 'literal' })
  })
  return docs.join('---\n')
}
