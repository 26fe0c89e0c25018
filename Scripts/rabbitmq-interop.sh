#!/usr/bin/env bash
# The amqp command against RabbitMQ (Debian's rabbitmq-server with its AMQP 1.0 plugin): a node of
# our own on a free port, started here and stopped at the end, with SASL PLAIN (guest/guest) and
# ANONYMOUS (mapped to guest), on the epoll and io_uring backends, through /queue/NAME addresses.
# Needs the amqp command built (swift build --build-tests builds it); run by Scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
# RabbitMQ itself, with its AMQP 1.0 plugin (installing it may start a node on 5672 where there is
# an init system; this script uses a node of its own on a free port).
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y rabbitmq-server >/dev/null 2>&1 || { $sudo apt-get update >/dev/null; $sudo apt-get install -y rabbitmq-server >/dev/null; }
fi
amqp=.build/debug/amqp
[ -x "$amqp" ] || swift build --product amqp

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
dir=$(mktemp -d)
export HOME=$dir   # the Erlang cookie
export RABBITMQ_NODENAME="amqp-interop-$$@localhost"
export RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$(free_port)
export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log
export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_CONFIG_FILE=$dir/rabbitmq
echo "[rabbitmq_amqp1_0]." > "$dir/enabled_plugins"
printf 'loopback_users = none\namqp1_0.default_user = guest\nlisteners.tcp.default = %s\n' "$port" > "$dir/rabbitmq.conf"

/usr/lib/rabbitmq/bin/rabbitmq-server > "$dir/server.log" 2>&1 &
server=$!
stop() {
  /usr/lib/rabbitmq/bin/rabbitmqctl stop >/dev/null 2>&1 || kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT

hex=$(printf '%04X' "$port")
for _ in $(seq 120); do
  grep -q ":$hex 00000000:0000 0A\|:$hex 00000000000000000000000000000000:0000 0A" /proc/net/tcp /proc/net/tcp6 && break
  kill -0 "$server" 2>/dev/null || { cat "$dir/server.log" >&2; echo "RabbitMQ did not start" >&2; exit 1; }
  sleep 0.5
done
echo "RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server) listening on $port"

expect() {  # expect "OUTPUT" command...
  local want=$1; shift
  local got
  got=$(timeout 120 "$@") || { echo "FAILED: $* exited $? (124: still running after 120 s)" >&2; exit 1; }
  [ "$got" = "$want" ] || { echo "FAILED: $*: got '$got', wanted '$want'" >&2; exit 1; }
  echo "ok: $*"
}
for backend in epoll io_uring; do
  for auth in plain anonymous; do
    if [ $auth = plain ]; then who="guest:guest@"; else who=""; fi
    url="amqp://${who}127.0.0.1:$port//queue/interop-$backend-$auth"
    expect "1000 messages sent and accepted" "$amqp" send "$url" --count 1000 --size 100 --backend $backend
    expect "1000 messages received" "$amqp" receive "$url" --count 1000 --backend $backend
  done
done
# A wrong password is refused by RabbitMQ, and said so in one line.
if out=$("$amqp" send "amqp://guest:wrong@127.0.0.1:$port//queue/x" --backend epoll 2>&1); then
  echo "FAILED: a wrong password was accepted" >&2; exit 1
fi
echo "ok: a wrong password fails: $out"
