// The few C declarations that Glibc's Swift module leaves out, for AMQPSystem only.
//
// sys/epoll.h and sys/eventfd.h are in no module of the toolchain, so they are included here;
// Swift imports `struct epoll_event` with glibc's packed layout (12 bytes on x86_64, checked by
// EpollTests). accept4(2) and pthread_setname_np(3) are GNU extensions declared only under
// _GNU_SOURCE, which the Glibc module is built without, so they are wrapped in CAMQPSystem.c.
// So is sigaction(2), which Swift cannot call by name.
#ifndef C_AMQP_SYSTEM_H
#define C_AMQP_SYSTEM_H

#include <pthread.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

/// accept4(2) without the peer address: returns the new descriptor, or -1 with errno set.
int camqp_accept4(int fd, int flags);

/// sigaction(2) installing `handler` for `signal` with SA_RESTART and an empty mask, as glibc's
/// signal(3) does; Swift cannot call sigaction by name (the struct of the same name wins).
/// Returns 0, or -1 with errno set.
int camqp_set_signal_handler(int signal, void (*handler)(int));

/// pthread_setname_np(3): returns 0 or an error number (ERANGE when `name` is over 15 bytes).
int camqp_pthread_setname(pthread_t thread, const char *name);

/// pthread_getname_np(3) into `buffer` of `length` bytes: returns 0 or an error number.
int camqp_pthread_getname(pthread_t thread, char *buffer, size_t length);

#endif
