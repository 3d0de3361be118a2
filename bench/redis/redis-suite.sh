#!/usr/bin/env bash
# redis-suite: redis 7.0's own test suite (tests/unit/*.tcl, from Debian's
# source package of the installed redis-server) in external mode, against
# redis-server and against cachet-redis (direct mode), one unit at a time:
# per unit, the tests each passes; then every test redis-server passes and
# cachet-redis does not, with the first line of why. The yardstick of issue
# 15: a behaviour these units check on a command cachet-redis has must be
# redis's.
#
# External mode runs the units against a server already started (tests
# tagged external:skip are left out, as are those that need DEBUG,
# replication or a maxmemory setting); --durable goes on past a test whose
# command the server lacks. The one change made to the suite's copy: its
# FUNCTION FLUSH before every unit may fail (cachet-redis has no scripts).
#
# usage: bench/redis/redis-suite.sh path/to/cachet-redis [unit ...]
# env:   WORK (build/redis-suite): where the source is fetched, once
set -euo pipefail

CACHET=$(realpath "${1:?usage: redis-suite.sh path/to/cachet-redis [unit ...]}")
shift
UNITS=("$@")
[ ${#UNITS[@]} -gt 0 ] || UNITS=(type/string type/incr type/hash expire
                                 keyspace protocol info-command quit multi)
WORK=$(realpath -m "${WORK:-build/redis-suite}")
command -v tclsh >/dev/null || { echo "redis-suite: needs tclsh (apt-get install tcl)" >&2; exit 1; }

# The source of the installed version, through a source index kept in WORK
# (nothing is added to the system's apt sources).
version=$(dpkg-query -W -f='${source:Version}' redis-server)
upstream=$(dpkg-query -W -f='${source:Upstream-Version}' redis-server)
src="$WORK/redis-$upstream"
if [ ! -f "$src/runtest" ]; then
  mkdir -p "$WORK/lists/partial"
  cat > "$WORK/debsrc.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_opts=(-o "Dir::Etc::sourcelist=$WORK/debsrc.sources"
            -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$WORK/lists"
            -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" -qq update
  (cd "$WORK" && apt-get "${apt_opts[@]}" -qq source --download-only \
    "redis=$version" > /dev/null)
  tar -xzf "$WORK/redis_$upstream.orig.tar.gz" -C "$WORK"
  mkdir -p "$src/src"
  for tool in redis-cli redis-server redis-benchmark; do
    ln -sf "$(command -v $tool)" "$src/src/$tool"
  done
  sed -i 's/^    r function flush$/    catch {r function flush}/' \
    "$src/tests/support/server.tcl"
fi

source "$(dirname "$0")/servers.sh"

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" \
  --appendonly no --dir "$WORK" > "$WORK/redis-server.log" 2>&1 &
pids+=($!)
cachet_port=$(free_port)
"$CACHET" --port "$cachet_port" --dir "$WORK" > "$WORK/cachet-redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"
wait_port "$cachet_port"

# Runs one unit against the server on port $1; its log, colours stripped,
# goes to $2.
run_unit() {
  (cd "$src" && timeout 600 ./runtest --host 127.0.0.1 --port "$1" \
     --singledb --clients 1 --durable --single "unit/$unit" \
     --tags -needs:debug --tags -needs:repl --tags -needs:config-maxmemory \
     2>&1 || true) | sed 's/\x1b\[[0-9;]*m//g' > "$2"
}

passed() { { grep '^\[ok\]: ' "$1" || true; } | sed 's/^\[ok\]: //; s/ ([0-9]* ms)$//' | sort; }

printf '%-14s %14s %14s\n' unit redis-server cachet-redis
total_redis=0
total_both=0
misses="$WORK/misses.txt"
: > "$misses"
for unit in "${UNITS[@]}"; do
  log_r="$WORK/$(echo "$unit" | tr / _).redis.log"
  log_c="$WORK/$(echo "$unit" | tr / _).cachet.log"
  run_unit "$redis_port" "$log_r"
  run_unit "$cachet_port" "$log_c"
  n_r=$(passed "$log_r" | wc -l)
  n_both=$(comm -12 <(passed "$log_r") <(passed "$log_c") | wc -l)
  printf '%-14s %14d %14d\n' "$unit" "$n_r" "$n_both"
  total_redis=$((total_redis + n_r))
  total_both=$((total_both + n_both))
  # Why each test redis-server passes failed here: the line after its
  # [err] (the assertion, or the error the server replied); a test the
  # unit runs only on some servers (e.g. with jemalloc) may not run at all.
  comm -23 <(passed "$log_r") <(passed "$log_c") | while IFS= read -r name; do
    why=$(grep -F -m1 -A2 "[err]: $name in " "$log_c" \
          | awk 'NR == 2 { w = $0 } NR == 3 && /^ERR / { w = $0 } END { print w }' \
          || true)
    printf '%s: %s\n    %s\n' "$unit" "$name" "${why:-(not run here)}" >> "$misses"
  done
done
printf '%-14s %14d %14d\n' total "$total_redis" "$total_both"
echo
echo "passed by redis-server, not by cachet-redis:"
cat "$misses"
