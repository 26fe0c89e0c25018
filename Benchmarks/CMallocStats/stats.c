// Everything is in include/CMallocStats.h.
