// GNU extensions, compiled with _GNU_SOURCE so that glibc declares them.
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>

#include "CAMQPSystem.h"

int camqp_accept4(int fd, int flags) {
    return accept4(fd, NULL, NULL, flags);
}

int camqp_pthread_setname(pthread_t thread, const char *name) {
    return pthread_setname_np(thread, name);
}

int camqp_pthread_getname(pthread_t thread, char *buffer, size_t length) {
    return pthread_getname_np(thread, buffer, length);
}
