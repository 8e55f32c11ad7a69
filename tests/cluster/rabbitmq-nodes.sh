#!/usr/bin/env bash
# Private RabbitMQ nodes for fault tests: each node is a separate Erlang VM with its own node
# name, ports and data directory, so tests can stop, restart or kill -9 it without touching the
# machine's shared broker. With a count above one the nodes are joined into a cluster.
#
#   rabbitmq-nodes.sh start <dir> <prefix> <count> <base-port>
#   rabbitmq-nodes.sh stop  <dir> <prefix> <count>
#   rabbitmq-nodes.sh kill  <dir> <index>                 # kill -9 node <index>
#   rabbitmq-nodes.sh ctl   <node-name> <rabbitmqctl arguments...>
#
# Node i (1-based) is <prefix>-<i>@localhost with AMQP on <base-port>+i-1 and Erlang
# distribution on <base-port>+i-1+20000. Its files live in <dir>/node-<i>.
set -euo pipefail

BIN=${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}
[ -x "$BIN/rabbitmq-server" ] || BIN=$(dirname "$(command -v rabbitmq-server)")

# The nodes run as the broker's own user when there is one (the server refuses nothing as root,
# but the Erlang cookie and file ownership must match what the CLI uses).
as_broker() {
  if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    local home
    home=$(getent passwd rabbitmq | cut -d: -f6)
    runuser -u rabbitmq -- env HOME="$home" "$@"
  else
    "$@"
  fi
}

ctl() { # ctl <node> <args...>
  local node=$1
  shift
  as_broker "$BIN/rabbitmqctl" -q -n "$node" "$@"
}

start_node() { # start_node <dir> <prefix> <index> <base-port>
  local dir=$1 prefix=$2 index=$3 base=$4
  local port=$((base + index - 1))
  local node="$prefix-$index@localhost"
  local home="$dir/node-$index"
  mkdir -p "$home"
  printf 'listeners.tcp.local = 127.0.0.1:%s\nloopback_users = none\n' "$port" >"$home/rabbitmq.conf"
  printf '[].\n' >"$home/enabled_plugins"
  if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then chown -R rabbitmq: "$dir"; fi
  as_broker env \
    RABBITMQ_NODENAME="$node" \
    RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT=$((port + 20000)) \
    RABBITMQ_CONFIG_FILE="$home/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$home/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$home/mnesia" \
    RABBITMQ_LOG_BASE="$home/log" \
    RABBITMQ_PID_FILE="$home/pid" \
    "$BIN/rabbitmq-server" -detached
}

await_node() { # await_node <node>
  for _ in $(seq 90); do
    if ctl "$1" await_startup >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "node $1 did not start" >&2
  return 1
}

command=${1:-}
case "$command" in
start)
  dir=$2 prefix=$3 count=$4 base=$5
  mkdir -p "$dir"
  for i in $(seq "$count"); do start_node "$dir" "$prefix" "$i" "$base"; done
  for i in $(seq "$count"); do await_node "$prefix-$i@localhost"; done
  for i in $(seq 2 "$count"); do
    node="$prefix-$i@localhost"
    ctl "$node" stop_app
    ctl "$node" join_cluster "$prefix-1@localhost"
    ctl "$node" start_app
  done
  for i in $(seq "$count"); do await_node "$prefix-$i@localhost"; done
  ;;
stop)
  dir=$2 prefix=$3 count=$4
  for i in $(seq "$count"); do ctl "$prefix-$i@localhost" stop >/dev/null 2>&1 || true; done
  for i in $(seq "$count"); do
    pid_file="$dir/node-$i/pid"
    if [ -f "$pid_file" ]; then kill -9 "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  ;;
kill)
  dir=$2 index=$3
  kill -9 "$(cat "$dir/node-$index/pid")"
  ;;
ctl)
  node=$2
  shift 2
  ctl "$node" "$@"
  ;;
*)
  sed -n '2,14p' "$0" >&2
  exit 2
  ;;
esac
