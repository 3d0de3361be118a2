#!/usr/bin/env bash
# node-redis 5, installed from npm into WORK once, against cachet-redis in
# direct and message mode (client_test.mjs says what it checks).
#
# usage: run.sh CACHET_REDIS WORK
set -euo pipefail
cachet=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
if [ ! -f "$work/node_modules/redis/package.json" ]; then
  npm install --prefix "$work" --no-audit --no-fund --silent redis@5
fi
# Node resolves 'redis' from the script's own directory.
cp "$here/client_test.mjs" "$work/"
export NODE_REDIS_VERSION
NODE_REDIS_VERSION=$(node -p "require('$work/node_modules/redis/package.json').version")

status=0
for mode in direct message; do
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$cachet" --port="$port" --mode="$mode" >/dev/null &
  pid=$!
  for _ in $(seq 200); do # bounded wait for the port
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
  done
  timeout 60 node "$work/client_test.mjs" "$port" || status=1
  kill "$pid"
  wait "$pid" || true
done
exit $status
