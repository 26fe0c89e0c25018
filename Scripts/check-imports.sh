#!/usr/bin/env bash
# The system-call check: the backends, the proactor, the conformance suite and PollPoller call the
# C library only through AMQPSystem's wrappers (Sources/AMQPSystem/Syscalls.swift), so that every
# call has one typed wrapper and a test can fault it (SyscallMock). Scripts/test.sh runs it; it
# fails listing each offending line.
#
# Checked: Sources/AMQPProactor, Sources/AMQPEpoll, Sources/AMQPURing,
# Sources/AMQPProactorConformance, Integrations/PollPoller.
#
# Allowed, and why:
#   - Sources/AMQPSystem: the wrappers themselves (Glibc, and CAMQPSystem for what Glibc's module
#     leaves out). Not checked.
#   - Sources/CAMQPSystem: AMQPSystem's C shims (accept4, sigaction, pthread names). Not checked;
#     importing it anywhere else is an error (its header includes libc headers).
#   - `import CURing` in Sources/AMQPURing only: liburing, whose calls (io_uring_setup, _enter,
#     _register) AMQPURing wraps in URing.swift, as AMQPSystem must build without liburing. CURing's
#     header includes libc headers, so Swift sees libc functions through it without `import Glibc`:
#     a file that imports CURing must not call a libc system-call function by name either (the list
#     below; a method call such as `socket.close()` is fine).
#   - COpenSSL (TLS in Sources/AMQPTLS, SCRAM in Sources/AMQPSASL): outside these modules, so not
#     checked; importing it here is an error (its header includes libc headers too).
#
# Forbidden in the checked files: importing Glibc, SwiftGlibc, Musl, Darwin, Foundation (which
# re-exports Glibc), FoundationEssentials, CAMQPSystem or COpenSSL, in any form (`import`,
# `@_exported import`, `internal import`, `import func Glibc.close`); any `Glibc.` reference.
set -euo pipefail
cd "$(dirname "$0")/.."

checked=(Sources/AMQPProactor Sources/AMQPEpoll Sources/AMQPURing Sources/AMQPProactorConformance Integrations/PollPoller)
# libc functions that make (or are) system calls, for files that import CURing.
libc_calls='read|write|pread|pwrite|readv|writev|send|sendto|sendmsg|recv|recvfrom|recvmsg|close|open|openat|creat|fcntl|ioctl|poll|ppoll|select|pselect|socket|socketpair|connect|bind|listen|accept|accept4|getsockname|getpeername|setsockopt|getsockopt|shutdown|epoll_create|epoll_create1|epoll_ctl|epoll_wait|epoll_pwait|eventfd|eventfd_read|eventfd_write|pipe|pipe2|dup|dup2|dup3|mmap|munmap|mprotect|madvise|getrlimit|setrlimit|getrusage|kill|raise|signal|sigaction|sigprocmask|pthread_sigmask|sigwait|getpid|usleep|sleep|nanosleep|clock_nanosleep|syscall|io_uring_enter|io_uring_setup|io_uring_register|fork|execve|waitpid|unlink|fsync|lseek|stat|fstat'

failed=0
report() {
  echo "check-imports: $1" >&2
  failed=1
}

for dir in "${checked[@]}"; do
  [ -d "$dir" ] || { report "$dir is missing: update the list in Scripts/check-imports.sh"; continue; }
done

files=$(find "${checked[@]}" -name '*.swift' 2>/dev/null | sort)
[ -n "$files" ] || { echo "check-imports: no Swift files under ${checked[*]}" >&2; exit 1; }

for f in $files; do
  # Comments are not code: drop // lines and /* */ blocks before looking.
  code=$(sed -e 's://.*$::' "$f" | awk '
    { line = $0 }
    inblock { if (index(line, "*/")) { line = substr(line, index(line, "*/") + 2); inblock = 0 } else { print ""; next } }
    { while (index(line, "/*")) { start = index(line, "/*"); rest = substr(line, start + 2)
        if (index(rest, "*/")) { line = substr(line, 1, start - 1) substr(rest, index(rest, "*/") + 2) }
        else { line = substr(line, 1, start - 1); inblock = 1; break } } }
    { print line }')
  if hits=$(grep -nE '^\s*(@[A-Za-z_]+(\([^)]*\))?\s+)*((public|package|internal|fileprivate|private)\s+)?import\s+((typealias|struct|class|enum|protocol|let|var|func)\s+)?(Glibc|SwiftGlibc|Musl|Darwin|Foundation|FoundationEssentials|CAMQPSystem|COpenSSL)\b' <<<"$code"); then
    while IFS= read -r h; do report "$f:${h%%:*}: imports a C library module; call it through AMQPSystem: ${h#*:}"; done <<<"$hits"
  fi
  if hits=$(grep -nE '\bGlibc\.' <<<"$code"); then
    while IFS= read -r h; do report "$f:${h%%:*}: calls Glibc directly; use AMQPSystem: ${h#*:}"; done <<<"$hits"
  fi
  if grep -qE '^\s*(@[A-Za-z_]+\s+)*((public|package|internal|fileprivate|private)\s+)?import\s+((typealias|struct|class|enum|protocol|let|var|func)\s+)?CURing\b' <<<"$code"; then
    case "$f" in
      Sources/AMQPURing/*) ;;
      *) report "$f: imports CURing, which only Sources/AMQPURing may" ;;
    esac
    # A bare call by name (not a member: no `.` before it; not a `func` or enum `case` declaring it).
    if hits=$(grep -nE "(^|[^.A-Za-z0-9_])($libc_calls)\s*\(" <<<"$code" | grep -vE "(func|case)\s+($libc_calls)\s*\("); then
      while IFS= read -r h; do report "$f:${h%%:*}: calls a libc function through CURing's headers; use AMQPSystem: ${h#*:}"; done <<<"$hits"
    fi
  fi
done

if [ "$failed" != 0 ]; then
  echo "check-imports: the modules above must call the C library only through AMQPSystem (see Scripts/check-imports.sh)" >&2
  exit 1
fi
echo "check-imports: $(wc -w <<<"$files") files in ${checked[*]} call the C library only through AMQPSystem"
