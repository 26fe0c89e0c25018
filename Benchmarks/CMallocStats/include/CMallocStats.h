// Heap statistics for the benchmarks' memory figures (glibc's mallinfo2, which Swift's Glibc
// module does not export).
#include <malloc.h>
#include <stddef.h>

/// Bytes the heap has handed out and not taken back, mmapped chunks included.
static inline size_t cmallocstats_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
