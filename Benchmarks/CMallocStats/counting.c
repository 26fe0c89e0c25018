// A counting allocator for the benchmarks' allocations-per-message figures, in the manner of
// SwiftNIO's allocation-counter tests: this file defines malloc and its siblings in the
// executable, so every allocation in the process (the Swift runtime's, Proton C's) comes here
// first and goes on to glibc's allocator. Counting is off until a benchmark turns it on for an
// untimed run, so the timed runs pay one predictable branch per call and nothing else.
// glibc only (the __libc_* entry points); the benchmarks run on Debian.
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include "CMallocStats.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

// Per thread, so a multithreaded benchmark races on nothing; the side is whatever the benchmark
// says it is working for (sender or receiver).
static __thread int counting;
static __thread int side;
static __thread uint64_t counts[CMALLOCSTATS_SIDES];

void cmallocstats_count(int on) { counting = on; }
void cmallocstats_side(int s) { side = (s >= 0 && s < CMALLOCSTATS_SIDES) ? s : 0; }
uint64_t cmallocstats_allocations(int s) { return (s >= 0 && s < CMALLOCSTATS_SIDES) ? counts[s] : 0; }
void cmallocstats_reset(void) { for (int i = 0; i < CMALLOCSTATS_SIDES; i++) counts[i] = 0; }

#define COUNT() do { if (__builtin_expect(counting, 0)) counts[side]++; } while (0)

void *malloc(size_t n) { COUNT(); return __libc_malloc(n); }
void *calloc(size_t k, size_t n) { COUNT(); return __libc_calloc(k, n); }
void *realloc(void *p, size_t n) { COUNT(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    if (a < sizeof(void *) || (a & (a - 1)) != 0) return EINVAL;
    COUNT();
    void *p = __libc_memalign(a, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
