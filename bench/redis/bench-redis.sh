#!/usr/bin/env bash
# bench-redis: cachet-redis (direct mode with one event loop per core and
# with one, and message mode) against redis-server 7.0 with
# redis-benchmark, in one run: for each load (plain, then -P 16) the
# servers are measured one after the other, ROUNDS times,
# alternating, and the best of the rounds is printed with its ratio to
# redis-server, then each server's CPU per request at -P 1 (user and
# system); the same for HSET and HGET on one hash of FIELDS fields.
# Then memory per key (key_memory.py): fresh servers (redis-server, and
# cachet-redis without and with a maxmemory bound, whose keys then carry an
# eviction slot) take KEYS SETs of 100-byte values to keys of 9 to 24
# bytes; INFO used_memory after minus before, over DBSIZE. Then
# MULTI/EXEC of 10 SETs from 50 connections (cachet-redis-multi-bench),
# the servers alternating, best of ROUNDS. Then hit ratios at a
# memory bound (hit_ratio.py); last, what a BGSAVE of 1 M keys costs the
# clients and what a restart on its file takes (save_pause.py).
#
# usage: bench/redis/bench-redis.sh path/to/cachet-redis
# env:   N (requests, default 1000000), CLIENTS (50), ROUNDS (1),
#        KEYS (150000), FIELDS (100000)
set -euo pipefail

CACHET=${1:?usage: bench-redis.sh path/to/cachet-redis}
N=${N:-1000000}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-1}
KEYS=${KEYS:-150000}

source "$(dirname "$0")/servers.sh"

declare -A port pid
port[redis-server]=$(free_port)
redis-server --port "${port[redis-server]}" --bind 127.0.0.1 --save '' \
  --appendonly no --daemonize no --protected-mode no >/dev/null &
pid[redis-server]=$!
port[cachet-direct]=$(free_port)
"$CACHET" --port="${port[cachet-direct]}" --mode=direct >/dev/null &
pid[cachet-direct]=$!
# Direct mode again with one event loop, as redis-server has one thread:
# on a machine of few cores that redis-benchmark shares, a second loop
# competes with the client for them.
port[cachet-direct-1]=$(free_port)
"$CACHET" --port="${port[cachet-direct-1]}" --mode=direct --threads=1 \
  >/dev/null &
pid[cachet-direct-1]=$!
port[cachet-message]=$(free_port)
"$CACHET" --port="${port[cachet-message]}" --mode=message >/dev/null &
pid[cachet-message]=$!
pids+=("${pid[@]}")
servers=(redis-server cachet-direct cachet-direct-1 cachet-message)
for s in "${servers[@]}"; do wait_port "${port[$s]}"; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: redis-benchmark -t set,get -n $N -c $CLIENTS [-P 16] (rounds: $ROUNDS, best shown)"
echo

declare -A best

# Runs `$1 PORT [-P 16]` (which prints "TEST REQ/S" lines) for each load
# and server, ROUNDS times with the servers alternating, keeping the best
# of each test in best[load/server/test]; then prints the table of tests
# $2 and $3 with their ratios to redis-server.
measure() {
  local run=$1 load r s t rps key line
  for load in plain P16; do
    local extra=()
    [[ $load == P16 ]] && extra=(-P 16)
    for ((r = 0; r < ROUNDS; r++)); do
      for s in "${servers[@]}"; do
        while read -r t rps; do
          key="$load/$s/$t"
          if [[ -z ${best[$key]:-} ]] \
             || awk "BEGIN{exit !($rps > ${best[$key]})}"; then
            best[$key]=$rps
          fi
        done < <("$run" "${port[$s]}" "${extra[@]}")
      done
    done
  done
  printf '%-10s %-15s %14s %8s %14s %8s\n' load server "$2 req/s" ratio \
    "$3 req/s" ratio
  for load in plain P16; do
    for s in "${servers[@]}"; do
      line=$(printf '%-10s %-15s' \
               "$([[ $load == P16 ]] && echo '-P 16' || echo '-P 1')" "$s")
      for t in "$2" "$3"; do
        line+=$(awk -v v="${best[$load/$s/$t]}" \
                    -v r="${best[$load/redis-server/$t]}" \
                    'BEGIN{printf " %14.0f %7.2fx", v, v/r}')
      done
      echo "$line"
    done
  done
}

# redis-benchmark --csv's rows as "TEST REQ/S".
rows() { awk -F'","' 'NR > 1 {gsub(/"/, "", $1); print $1, $2}'; }

set_get() {
  redis-benchmark -p "$1" -t set,get -n "$N" -c "$CLIENTS" "${@:2}" --csv | rows
}
measure set_get SET GET

# Where -P 1's time goes: each server's own CPU per request, in user space
# and in the kernel, from /proc/PID/stat around one -P 1 run of each test
# (redis-benchmark, on the same cores, is not counted).
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
echo
echo "server CPU per request at -P 1 (us; user, system):"
printf '%-15s %16s %16s\n' server SET GET
for s in "${servers[@]}"; do
  line=$(printf '%-15s' "$s")
  for t in set get; do
    read -r u0 s0 < <(cpu_ticks "${pid[$s]}")
    redis-benchmark -p "${port[$s]}" -t "$t" -n "$N" -c "$CLIENTS" -q \
      >/dev/null
    read -r u1 s1 < <(cpu_ticks "${pid[$s]}")
    line+=$(awk -v u="$((u1 - u0))" -v k="$((s1 - s0))" -v n="$N" \
                -v hz="$(getconf CLK_TCK)" \
                'BEGIN{us = 1e6 / hz / n; printf " %7.2f, %6.2f", u * us, k * us}')
  done
  echo "$line"
done

# Hashes: HSET grows one hash to FIELDS fields (redis-benchmark's myhash,
# a hashtable in both servers), then HGET reads them; same rounds.
FIELDS=${FIELDS:-100000}
hset_hget() {
  redis-benchmark -p "$1" -t hset -r "$FIELDS" -n "$N" -c "$CLIENTS" "${@:2}" \
    --csv | rows
  redis-benchmark -p "$1" -r "$FIELDS" -n "$N" -c "$CLIENTS" "${@:2}" --csv \
    hget myhash element:__rand_int__ | rows | sed 's/^hget [^ ]* [^ ]*/HGET/'
}
echo
echo "hashes: redis-benchmark -t hset -r $FIELDS, then 'hget myhash element:__rand_int__', -n $N -c $CLIENTS [-P 16] (best of $ROUNDS):"
measure hset_hget HSET HGET

MULTI_BENCH=${MULTI_BENCH:-$(dirname "$CACHET")/../bench/cachet-redis-multi-bench}
echo
echo "MULTI, 10 x SET, EXEC from $CLIENTS connections, 5 s (transactions/s, best of $ROUNDS):"
declare -A tx
for ((r = 0; r < ROUNDS; r++)); do
  for s in "${servers[@]}"; do
    v=$("$MULTI_BENCH" "${port[$s]}" "$CLIENTS" 5 10)
    if [[ -z ${tx[$s]:-} ]] || ((v > tx[$s])); then tx[$s]=$v; fi
  done
done
for s in "${servers[@]}"; do
  awk -v n="$s" -v v="${tx[$s]}" -v r="${tx[redis-server]}" \
    'BEGIN{printf "  %-15s %10d %7.2fx\n", n, v, v/r}'
done

echo
KEYS=$KEYS /usr/bin/python3 "$(dirname "$0")/key_memory.py" "$CACHET"

echo
/usr/bin/python3 "$(dirname "$0")/hit_ratio.py" "$CACHET"

echo
/usr/bin/python3 "$(dirname "$0")/save_pause.py" "$CACHET"
