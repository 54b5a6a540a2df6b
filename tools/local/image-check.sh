#!/usr/bin/env bash
# No Docker engine runs on the build machines, so `docker build` cannot be tested here. This replays the
# Dockerfile's steps in a scratch directory: production dependencies only, the compiled code, Node.js 24, and
# checks that the result starts (`secretwire render` and `secretwire serve` up to a ready /readyz).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
node24=${NODE24:?set NODE24 to a Node.js 24 binary}
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

cp "$root/package.json" "$root/package-lock.json" "$root/tsconfig.json" "$root/tsconfig.build.json" "$work/"
cp -r "$root/src" "$work/src"
cd "$work"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
npm run build --silent
npm run prune:runtime --silent
rm -rf src tsconfig.json tsconfig.build.json
echo "image-check: $(du -sh node_modules | cut -f1) of production node_modules, $("$node24" --version)"

"$node24" dist/cli.js render -f "$root/examples/grafana.yaml" | grep -q 'kind: Password'
port=$(( 20000 + RANDOM % 20000 ))
KUBECONFIG="${SECRETWIRE_TEST_KUBECONFIG:?run under tools/local/with-controlplane.ts}" PORT=$port "$node24" dist/cli.js serve > serve.log 2>&1 &
pid=$!
for _ in $(seq 100); do
  if curl -ksf "https://127.0.0.1:$port/readyz" >/dev/null; then
    echo "image-check: production build renders and serves on $("$node24" --version)"
    exit 0
  fi
  sleep 0.1
done
cat serve.log
echo "image-check: the production build did not become ready" >&2
exit 1
