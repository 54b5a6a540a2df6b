// The RBAC that ESO's own Helm chart installs, read from the chart in ESO's Go module at the version tools/go/eso
// pins: the controller's ClusterRole (what ESO's controller may do) and the view/edit ClusterRoles it aggregates
// into the built-in `view`, `edit` and `admin` roles (what every namespace editor may do with ESO). The local
// cluster runs ESO and its tenants with exactly these rights, not as cluster admins.
//
// The chart's rules sit between template conditionals on chart values (`{{- if .Values.processPushSecret }}`).
// With the chart's default values every one of them is true; this module checks that against the chart's
// values.yaml and then keeps every line, which is what `helm template` with default values renders.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { V1PolicyRule } from '@kubernetes/client-node'
import { parse } from 'yaml'
import { goModuleDir } from '../build/gomodules.ts'

export interface EsoChartRbac {
  /** Rules of ClusterRole <release>-controller, bound to ESO's ServiceAccount. */
  readonly controller: V1PolicyRule[]
  /** Rules of <release>-view, aggregated into view, edit and admin. */
  readonly view: V1PolicyRule[]
  /** Rules of <release>-edit, aggregated into edit and admin. */
  readonly edit: V1PolicyRule[]
  /** Where they were read from. */
  readonly source: string
}

export async function esoChartRbac(): Promise<EsoChartRbac> {
  const chart = join(await goModuleDir('eso'), 'deploy', 'charts', 'external-secrets')
  const source = join(chart, 'templates', 'rbac.yaml')
  const [template, valuesText] = await Promise.all([readFile(source, 'utf8'), readFile(join(chart, 'values.yaml'), 'utf8')])
  const values = parse(valuesText) as Record<string, unknown>
  const rules = (suffix: string): V1PolicyRule[] => {
    const doc = template.split(/^---$/m).find((d) => d.includes(`name: {{ include "external-secrets.fullname" . }}-${suffix}\n`))
    if (doc === undefined) throw new Error(`${source}: no ClusterRole <release>-${suffix}`)
    const body = doc.slice(doc.indexOf('\nrules:'))
    for (const [, name] of body.matchAll(/\{\{-? if \.Values\.(\w+) \}\}/g)) {
      if (values[name!] !== true) {
        throw new Error(`${source}: rule conditional on ${name}, which the chart's values.yaml does not set to true`)
      }
    }
    const rendered = body.split('\n').filter((line) => !/^\s*\{\{-? (if|else|end)\b.*\}\}\s*$/.test(line)).join('\n')
    if (rendered.includes('{{')) throw new Error(`${source}: unexpected template in the rules of <release>-${suffix}`)
    return (parse(rendered) as { rules: V1PolicyRule[] }).rules
  }
  return { controller: rules('controller'), view: rules('view'), edit: rules('edit'), source }
}
