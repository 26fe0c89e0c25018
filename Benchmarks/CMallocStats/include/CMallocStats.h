// Heap statistics for the benchmarks: bytes in use (glibc's mallinfo2, which Swift's Glibc module
// does not export) and allocation counts per side (counting.c, which interposes malloc).
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

/// Bytes the heap has handed out and not taken back, mmapped chunks included.
static inline size_t cmallocstats_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

/// How many sides allocations are counted for (0: sender, 1: receiver).
#define CMALLOCSTATS_SIDES 2
/// Turns counting on (non-zero) or off for the calling thread.
void cmallocstats_count(int on);
/// Charges the calling thread's next allocations to side `s`.
void cmallocstats_side(int s);
/// Allocations (malloc, calloc, realloc, aligned) charged to side `s` on the calling thread since
/// the last reset.
uint64_t cmallocstats_allocations(int s);
/// Sets every side's count to zero.
void cmallocstats_reset(void);
