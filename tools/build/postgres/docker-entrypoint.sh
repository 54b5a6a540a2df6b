#!/bin/sh
# Entrypoint of the test image localhost/secretwire-test/postgres (tools/build/postgres.ts): Debian's PostgreSQL 15,
# started the way the official postgres image's docker-entrypoint.sh starts it, for the settings the project's
# manifests use. On first start (no $PGDATA/PG_VERSION) it runs initdb with the superuser POSTGRES_USER (default
# postgres) and its password from POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD), creates POSTGRES_DB (default
# POSTGRES_USER), runs /docker-entrypoint-initdb.d/*.sh and *.sql against a server on the Unix socket only, then
# starts PostgreSQL listening on every address, password (SCRAM-SHA-256) required for every TCP connection.
# Unlike the official image it never runs as root: the image's user is postgres (999); a Pod reading a 0400
# password file runs with fsGroup so that user can read it. The password never enters an env var or an argument.
set -eu

PGDATA=${PGDATA:-/var/lib/postgresql/data}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
socket=/var/run/postgresql
export PGDATA

if [ "$(id -u)" = 0 ]; then
  echo "docker-entrypoint.sh: this image runs PostgreSQL as the postgres user (uid 999), never as root: set runAsUser: 999" >&2
  exit 1
fi
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=${POSTGRES_PASSWORD_FILE:-}
  if [ -n "$pwfile" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then
    echo "docker-entrypoint.sh: both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set; set one" >&2
    exit 1
  fi
  if [ -z "$pwfile" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
      echo "docker-entrypoint.sh: the superuser needs a password: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)" >&2
      exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  fi
  if [ ! -r "$pwfile" ]; then
    echo "docker-entrypoint.sh: cannot read the password file $pwfile as uid $(id -u) (a 0400 Secret file needs the Pod's fsGroup)" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >/dev/null
  [ "$pwfile" = "${POSTGRES_PASSWORD_FILE:-}" ] || rm -f "$pwfile"
  printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"

  pg_ctl --wait --silent --options="-c listen_addresses='' -k $socket" start
  psql_local() { psql -X -v ON_ERROR_STOP=1 --no-password -h "$socket" -U "$POSTGRES_USER" "$@"; }
  if [ "$POSTGRES_DB" != postgres ]; then
    psql_local -d postgres -q -v db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "docker-entrypoint.sh: running $f"; PSQL="psql -X -v ON_ERROR_STOP=1 --no-password -h $socket -U $POSTGRES_USER -d $POSTGRES_DB" . "$f" ;;
      *.sql) echo "docker-entrypoint.sh: running $f"; psql_local -d "$POSTGRES_DB" -q -f "$f" ;;
      *) ;;
    esac
  done
  pg_ctl --wait --silent --mode=fast stop
  echo "docker-entrypoint.sh: PostgreSQL init process complete; ready for start up."
fi

if [ "$1" = postgres ]; then
  shift
  exec postgres -c listen_addresses='*' -k "$socket" "$@"
fi
exec "$@"
