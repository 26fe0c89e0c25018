#!/usr/bin/env bash
# proactor-arrow (the proactor API on epoll, on Integrations/PollPoller and on io_uring) against Qpid Proton C's
# arrow over real TCP: 20,000 messages each way, our listener and Proton's, every backend; then our
# arrows over TLS, each backend against another.
# Each check prints PASS or FAIL with the reason; the script exits 1 if any failed.
# Usage: Integrations/ProactorArrow/interop.sh [path/to/proactor-arrow]
set -uo pipefail
cd "$(dirname "$0")/../.."
arrow=${1:-}
if [ -z "$arrow" ]; then
  swift build --product proactor-arrow >&2 || exit 1
  arrow=.build/debug/proactor-arrow
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/proton-c-arrow" Benchmarks/ProtonC/proton-c-arrow.c -lqpid-proton \
  || { echo "FAIL: cannot build Benchmarks/ProtonC/proton-c-arrow.c (Scripts/install-deps.sh installs libqpid-proton11-dev)"; exit 1; }
count=${MESSAGES:-20000}
failures=0

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# check NAME SERVER-CMD CLIENT-CMD: runs the server, waits for its port, runs the client; both
# must exit 0 and report COUNT transfers.
check() {
  local name=$1 server=$2 client=$3 port
  port=$(free_port)
  $server port="$port" count="$count" quiet=1 2> "$work/server.err" &
  local pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  timeout 120 $client port="$port" count="$count" quiet=1 2> "$work/client.err"
  local crc=$?
  timeout 30 tail --pid="$pid" -f /dev/null
  wait "$pid"; local src=$?
  if [ $crc = 0 ] && [ $src = 0 ] && grep -q ": $count transfers" "$work/server.err" && grep -q ": $count transfers" "$work/client.err"; then
    echo "PASS: $name ($count messages)"
  else
    echo "FAIL: $name: client exit $crc, server exit $src"
    sed 's/^/  client: /' "$work/client.err"; sed 's/^/  server: /' "$work/server.err"
    failures=$((failures + 1))
  fi
}

proton="$work/proton-c-arrow"
for backend in epoll poll io_uring; do
  ours="$arrow backend=$backend"
  check "Proton C client sends to our $backend listener" "$ours connection-mode=server operation=receive" "$proton connection-mode=client operation=send"
  check "Proton C client receives from our $backend listener" "$ours connection-mode=server operation=send" "$proton connection-mode=client operation=receive"
  check "our $backend client sends to Proton C's listener" "$proton connection-mode=server operation=receive" "$ours connection-mode=client operation=send"
  check "our $backend client receives from Proton C's listener" "$proton connection-mode=server operation=send" "$ours connection-mode=client operation=receive"
done
# Our arrows over TLS (tls=1; a CA and a certificate for 127.0.0.1 made here with openssl): each
# backend as a TLS listener with another as its TLS client, which checks the certificate and the
# address against it.
pki="$work/pki"; mkdir -p "$pki"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
if (cd "$pki" && openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=interop-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
    openssl req $ec -keyout server.key -out server.csr -subj /CN=localhost &&
    printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext) \
    >/dev/null 2>&1; then
  tls_server="tls=1 tls-cert=$pki/server.pem tls-key=$pki/server.key"
  tls_client="tls=1 tls-ca=$pki/ca.pem"
  for pair in "epoll io_uring" "io_uring poll" "poll epoll"; do
    set -- $pair
    check "our $2 TLS client sends to our $1 TLS listener" "$arrow backend=$1 $tls_server connection-mode=server operation=receive" \
      "$arrow backend=$2 $tls_client connection-mode=client operation=send"
    check "our $2 TLS client receives from our $1 TLS listener" "$arrow backend=$1 $tls_server connection-mode=server operation=send" \
      "$arrow backend=$2 $tls_client connection-mode=client operation=receive"
  done
else
  echo "FAIL: cannot make TLS certificates with openssl"; failures=$((failures + 1))
fi
# automatic takes io_uring where it works, and says so; with io_uring made unusable it says why
# and runs on epoll.
check_automatic() {
  local name=$1 want=$2; shift 2
  local port; port=$(free_port)
  env "$@" $arrow backend=automatic connection-mode=server operation=receive port="$port" count=1000 quiet=1 2> "$work/auto.err" &
  local pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  timeout 60 "$proton" connection-mode=client operation=send port="$port" count=1000 quiet=1 2>/dev/null
  timeout 30 tail --pid="$pid" -f /dev/null; wait "$pid"; local rc=$?
  if [ $rc = 0 ] && grep -qF "$want" "$work/auto.err" && grep -q ": 1000 transfers" "$work/auto.err"; then
    echo "PASS: $name"
  else
    echo "FAIL: $name (exit $rc)"; sed 's/^/  /' "$work/auto.err"; failures=$((failures + 1))
  fi
}
if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ]; then
  check_automatic "automatic picks io_uring" "proactor backend: io_uring"
fi
check_automatic "automatic falls back to epoll when io_uring is disabled" \
  "proactor backend: epoll (io_uring unusable: io_uring is disabled on this machine" AMQP_URING_SIMULATE=disabled
check_automatic "automatic falls back to epoll under a seccomp-style EPERM" \
  "proactor backend: epoll (io_uring unusable: io_uring_setup is not permitted (EPERM)" AMQP_URING_SIMULATE=eperm
[ $failures = 0 ] || { echo "$failures check(s) failed"; exit 1; }
