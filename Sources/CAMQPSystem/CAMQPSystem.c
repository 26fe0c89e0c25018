// GNU extensions, compiled with _GNU_SOURCE so that glibc declares them.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
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

int camqp_set_signal_handler(int signal, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(signal, &action, NULL);
}
