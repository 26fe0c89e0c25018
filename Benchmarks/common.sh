# Shared by the benchmark scripts (sourced, not run), each of which pits a Swift product against a
# C program on Proton C doing the same work.

# build_pair NAME PRODUCT: installs what is missing (Scripts/install-deps.sh), compiles
# Benchmarks/ProtonC/NAME.c into .build/NAME and builds the Swift PRODUCT in release mode; sets
# $out to a scratch directory that is removed on exit.
build_pair() {
  bash Scripts/install-deps.sh
  mkdir -p .build
  gcc -O2 -Wall -Wextra -IBenchmarks/CMallocStats/include -o ".build/$1" "Benchmarks/ProtonC/$1.c" \
    Benchmarks/CMallocStats/counting.c -lqpid-proton
  swift build -c release --product "$2" >&2
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
}

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# A free TCP port on loopback.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Waits (up to 4 s) until something listens on 127.0.0.1:PORT.
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && break; sleep 0.02; done; }

# build_proton_arrow: compiles Proton C's arrow (Benchmarks/ProtonC/proton-c-arrow.c) into
# .build/proton-c-arrow.
build_proton_arrow() {
  mkdir -p .build
  gcc -O2 -Wall -o .build/proton-c-arrow Benchmarks/ProtonC/proton-c-arrow.c -lqpid-proton
}

# build_arrows: installs what is missing, compiles Proton C's arrow and builds the amqp command in
# release mode.
build_arrows() {
  bash Scripts/install-deps.sh
  build_proton_arrow
  swift build -c release --product amqp >&2
}
