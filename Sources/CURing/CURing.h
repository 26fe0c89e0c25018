// liburing 2.3 for AMQPURing, and the little Swift cannot reach in it.
//
// The libc headers come first: liburing.h pulls in linux/ headers whose fd_set and sigset types
// clash with glibc's unless glibc's are already defined. Static inline functions of liburing import
// into Swift as they are; what follows covers macros built on enums (IOSQE_*), which do not import,
// and the one submit-and-wait call liburing 2.3 has no public form for.
#ifndef C_URING_H
#define C_URING_H

#include <sys/select.h>
#include <sys/socket.h>
#include <signal.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <liburing.h>

/// IOSQE_BUFFER_SELECT: the operation takes a buffer from the group in `sqe->buf_group`.
static const unsigned char CURING_IOSQE_BUFFER_SELECT = IOSQE_BUFFER_SELECT;

/// Publishes the submission entries prepared since the last flush to the kernel (liburing's
/// internal __io_uring_flush_sq, without SQPOLL) and returns how many the kernel has not consumed.
/// Call it with the lock that guards io_uring_get_sqe held, so no half-written entry is published.
static inline unsigned curing_flush_submissions(struct io_uring *ring) {
    struct io_uring_sq *sq = &ring->sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        io_uring_smp_store_release(sq->ktail, tail);
    }
    return tail - io_uring_smp_load_acquire(sq->khead);
}

/// Whether the kernel keeps completions that did not fit in the completion queue
/// (IORING_SQ_CQ_OVERFLOW in the submission ring's flags, which only the kernel writes).
static inline bool curing_completions_overflowed(struct io_uring *ring) {
    return (io_uring_smp_load_acquire(ring->sq.kflags) & IORING_SQ_CQ_OVERFLOW) != 0;
}

/// Starts a ring set up with IORING_SETUP_R_DISABLED: io_uring_enable_rings is declared by
/// liburing 2.3 but missing from its shared library, so this makes the io_uring_register(2) call.
/// Returns 0 or -errno.
static inline int curing_enable_rings(struct io_uring *ring) {
    long result = syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return result < 0 ? -errno : 0;
}

/// One io_uring_enter(2): submits `submit` flushed entries and waits for `wait` completions or
/// `timeout_ns` nanoseconds (negative: no limit), whichever comes first. Needs IORING_FEAT_EXT_ARG.
/// Returns the number submitted, or -errno (-ETIME on timeout, -EINTR on a signal).
static inline int curing_submit_and_wait(struct io_uring *ring, unsigned submit, unsigned wait, long long timeout_ns) {
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000LL;
        ts.tv_nsec = timeout_ns % 1000000000LL;
        arg.ts = (unsigned long long)(uintptr_t)&ts;
    }
    unsigned flags = IORING_ENTER_EXT_ARG | (wait > 0 || timeout_ns >= 0 ? IORING_ENTER_GETEVENTS : 0);
    return io_uring_enter2(ring->ring_fd, submit, wait, flags, (sigset_t *)&arg, sizeof(arg));
}

#endif
