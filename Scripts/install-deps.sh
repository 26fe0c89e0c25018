#!/usr/bin/env bash
# Installs the system packages the tests and benchmarks need, when they are missing (Debian).
# Proton C 0.37 and its Python binding are the interop peers; liburing (with pkg-config) is for the io_uring backend;
# python3-venv and python3-dev let Scripts/proton-venv.sh build Proton 0.40 from PyPI, the second peer.
set -euo pipefail
need=()
[ -f /usr/include/proton/message.h ] || need+=(libqpid-proton11-dev)
[ -d /usr/share/proton/examples/c ] || need+=(libqpid-proton11-dev-examples)
/usr/bin/python3 -c 'import proton' 2>/dev/null || need+=(python3-qpid-proton)
# Proton C++ and g++ build Proton's C++ examples (their sources come with libqpid-proton11-dev-examples),
# which ProtonCppExamplesTests runs through amqp broker.
[ -f /usr/include/proton/container.hpp ] || need+=(libqpid-proton-cpp12-dev)
command -v g++ >/dev/null || need+=(g++)
[ -f /usr/include/liburing.h ] || need+=(liburing-dev)
# OpenSSL 3 for the TLS layer and SCRAM (the COpenSSL system library, found with pkg-config), and its
# command line, which the TLS tests use to make a test CA and certificates.
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
command -v openssl >/dev/null || need+=(openssl)
# SwiftPM finds liburing (the CURing system library) through pkg-config.
command -v pkg-config >/dev/null || need+=(pkg-config)
# Benchmarks/proactor.sh times both processes with GNU time; strace counts system calls without perf.
[ -x /usr/bin/time ] || need+=(time)
command -v strace >/dev/null || need+=(strace)
command -v gcc >/dev/null || need+=(gcc)
# script(1) gives AMQPCommandTests a terminal, to check the command's progress display.
[ -x /usr/bin/script ] || need+=(bsdutils)

dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q 'ok installed' || need+=(python3-venv)
[ -f "$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("include"))')/Python.h" ] || need+=(python3-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing: ${need[*]}" >&2
  $sudo apt-get install -y "${need[@]}" >/dev/null 2>&1 || {
    $sudo apt-get update >/dev/null
    $sudo apt-get install -y "${need[@]}" >/dev/null
  }
fi
