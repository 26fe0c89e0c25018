#!/usr/bin/env bash
# Builds and tests the AMQPNIO package against real Proton peers, then again under TSan.
#
#   Integrations/NIO/test.sh
#
# Installs what is missing (Scripts/install-deps.sh: Proton C and Python, gcc; and openssl),
# builds proton-c-arrow from <repo>/Benchmarks/ProtonC/proton-c-arrow.c, generates a test CA,
# server, client and unrelated-CA certificates with openssl into a temporary folder, then runs
# `swift test`, the example against a Proton Python TLS peer, and `swift test --sanitize=thread`
# (scratch path .build-tsan). Exits non-zero on any failure. AMQP_NIO_SKIP_TSAN=1 leaves out the
# sanitizer run (for quick local runs only).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/amqp-nio-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
die() { echo "test.sh: $*" >&2; exit 1; }

# --- dependencies --------------------------------------------------------------------------
"$repo/Scripts/install-deps.sh"
if ! command -v openssl >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y openssl >/dev/null 2>&1 || { $sudo apt-get update >/dev/null; $sudo apt-get install -y openssl >/dev/null; }
fi
/usr/bin/python3 -c 'import proton' || die "the Proton Python binding is missing (python3-qpid-proton)"

# --- peers and certificates ----------------------------------------------------------------
gcc -O2 -o "$work/proton-c-arrow" "$repo/Benchmarks/ProtonC/proton-c-arrow.c" -lqpid-proton || die "cannot build proton-c-arrow"

certs=$work/certs
mkdir -p "$certs"
(
  cd "$certs"
  key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
  key ca.key
  openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=AMQPNIO Test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  key other-ca.key
  openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 2 -subj "/CN=Unrelated CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  key server.key
  openssl req -new -key server.key -out server.csr -subj "/CN=localhost"
  printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
  key client.key
  openssl req -new -key client.key -out client.csr -subj "/CN=amqp-nio-client"
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null
) || die "cannot generate certificates"

export AMQP_NIO_ARROW=$work/proton-c-arrow AMQP_NIO_CERTS=$certs

# --- build and test ------------------------------------------------------------------------
# SwiftPM names a path dependency after its folder: a checkout folder called "nio" would clash
# with this package's own folder. Then build from a copy of the tracked files.
package=$here
if [ "$(basename "$repo" | tr '[:upper:]' '[:lower:]')" = nio ]; then
  mkdir -p "$work/swift-amqp"
  (cd "$repo" && git ls-files -z | xargs -0 tar -cf - ) | tar -C "$work/swift-amqp" -xf -
  package=$work/swift-amqp/Integrations/NIO
  echo "test.sh: building from a copy in $package (the checkout folder is named nio)" >&2
fi
cd "$package"
swift build --build-tests
swift test --skip-build

# --- the example, against the Proton Python peer over TLS ------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 "$here/Tests/AMQPNIOTests/proton_peer.py" "$port" --tls "$certs/server.pem" "$certs/server.key" >"$work/peer.out" 2>&1 &
peer_pid=$!
trap 'kill -9 $peer_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^listening' "$work/peer.out" && break; sleep 0.1; done
want=$'500 messages sent and accepted\n500 messages received\nreply to request-1: HELLO'
got=$(timeout 120 "$(swift build --show-bin-path)/amqp-nio-example" "amqps://localhost:$port/examples" 500 --ca "$certs/ca.pem") \
  || die "amqp-nio-example failed: $got"
[ "$got" = "$want" ] || die "amqp-nio-example printed '$got', want '$want'"
echo "PASS: amqp-nio-example against Proton Python over TLS"
{ kill -9 "$peer_pid"; wait "$peer_pid"; } 2>/dev/null || true

# --- everything again under the thread sanitizer ---------------------------------------------
if [ "${AMQP_NIO_SKIP_TSAN:-0}" != 1 ]; then
  swift build --build-tests --sanitize=thread --scratch-path .build-tsan
  swift test --skip-build --sanitize=thread --scratch-path .build-tsan
fi
echo "test.sh: all AMQPNIO tests passed"
