// A real PostgreSQL and real libpq clients on the node (the demo and test/node/): one server whose superuser and
// roles take their passwords from secretwire's file form, and a psql client that logs in as each role twice, with
// the percent-encoded form in a URL written as the README writes it and with the raw form in PGPASSWORD. Nothing
// prints a password: the server prints which of the generator's symbols each password holds, so a run shows that
// passwords with @, $, - and _ were all used.
import type { V1Pod } from '@kubernetes/client-node'
import { defaultEnvVar } from '../../src/core/contract.ts'
import { images } from '../build/images.ts'

/** The shared-secret NAMEs of the many-password check: 16, the most one object may name (limits.sharedSecretsPerObject). */
export const manyNames = Array.from({ length: 16 }, (_, i) => `pg-${String(i + 1).padStart(2, '0')}`)

/** PostgreSQL's port, and the host name the README's URL uses (no cluster DNS on the node: a hostAliases entry). */
export const postgresHost = 'postgres.db'

/**
 * Run by the server's entrypoint at first start (/docker-entrypoint-initdb.d, as the official image does): a role
 * and a database for every password file secretwire mounted, the password read by psql itself (`\set` with a
 * backquoted `cat`), never put in an argument or an env var.
 */
export const rolesScript = String.raw`set -eu
for dir in /var/run/secretwire/*/; do
  name=$(basename "$dir")
  pw=$(cat "$dir/password")
  has=""
  for c in @ '$' - _; do case "$pw" in *"$c"*) has="$has $c" ;; esac; done
  unset pw
  [ "$name" = "$POSTGRES_USER" ] || $PSQL -q -v name="$name" <<SQL
\set pw \`cat "$dir/password"\`
CREATE ROLE :"name" LOGIN PASSWORD :'pw';
CREATE DATABASE :"name" OWNER :"name";
SQL
  echo "role $name ready; its password holds:$has"
done
`

/**
 * The server Pod: superuser `names[0]` (its password file in POSTGRES_PASSWORD_FILE, as examples/postgres.yaml
 * does), one more role per NAME. Runs as postgres (999) with fsGroup 999, which is how that user reads 0400 files.
 */
export function postgresServer(namespace: string, names: readonly string[], initConfigMap: string): V1Pod {
  const [superuser] = names
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'postgres', namespace, labels: { app: 'postgres' },
      annotations: { 'secretwire.io/shared-secret': [`${superuser}:file=POSTGRES_PASSWORD_FILE`, ...names.slice(1).map((n) => `${n}:file`)].join(',') },
    },
    spec: {
      securityContext: { runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
      containers: [{
        name: 'postgres', image: images.postgres, imagePullPolicy: 'IfNotPresent',
        env: [{ name: 'POSTGRES_USER', value: superuser }],
        ports: [{ containerPort: 5432 }],
        // Ready once it takes TCP connections: the entrypoint's setup server listens on its socket only.
        readinessProbe: { exec: { command: ['pg_isready', '-q', '-h', '127.0.0.1'] }, periodSeconds: 1 },
        volumeMounts: [{ name: 'init', mountPath: '/docker-entrypoint-initdb.d' }],
      }],
      volumes: [{ name: 'init', configMap: { name: initConfigMap } }],
    },
  }
}

/** The ConfigMap holding rolesScript, for postgresServer's initConfigMap. */
export function initConfigMap(namespace: string, name: string) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { 'roles.sh': rolesScript } }
}

/** Each line of the client's log: `NAME FORM: logged in as ROLE` or `NAME FORM: FAILED ...`. */
export const loginLine = /^(\S+) (url|raw): (.*)$/

/**
 * The client Pod: psql (libpq) logs in as every NAME, first with `postgres://NAME:$(NAME_URLENCODED)@postgres.db:5432/NAME`
 * (the README's URL, the kubelet expanding $(VAR)), then with the raw form in PGPASSWORD and the rest as keywords.
 * Each prints `select current_user`. It runs once; `serverIP` is where postgres.db points.
 */
export function psqlClient(namespace: string, names: readonly string[], serverIP: string): V1Pod {
  const urlVar = (n: string) => `URL_${defaultEnvVar(n)}`
  const lines = names.map((n) => [
    `r=$(psql "$${urlVar(n)}" -XtAc 'select current_user' 2>&1) && echo "${n} url: logged in as $r" || echo "${n} url: FAILED $r"`,
    `r=$(PGPASSWORD="$${defaultEnvVar(n)}" psql -h ${postgresHost} -U ${n} -d ${n} -XtAc 'select current_user' 2>&1) && echo "${n} raw: logged in as $r" || echo "${n} raw: FAILED $r"`,
  ].join('\n'))
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'psql', namespace,
      annotations: { 'secretwire.io/shared-secret': names.flatMap((n) => [`${n}:url`, n]).join(',') },
    },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsUser: 999, runAsGroup: 999 },
      hostAliases: [{ ip: serverIP, hostnames: [postgresHost] }],
      containers: [{
        name: 'psql', image: images.postgres, imagePullPolicy: 'IfNotPresent',
        // $$ is Kubernetes' escape for $: the kubelet expands nothing in the script, the shell everything.
        command: ['/bin/sh', '-c', lines.join('\n').replaceAll('$', '$$$$')],
        env: names.map((n) => ({ name: urlVar(n), value: `postgres://${n}:$(${defaultEnvVar(n, 'url')})@${postgresHost}:5432/${n}` })),
      }],
    },
  }
}
