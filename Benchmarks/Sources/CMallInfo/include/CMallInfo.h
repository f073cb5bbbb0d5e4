#include <stddef.h>
/// Bytes of heap in use (glibc mallinfo2().uordblks), 0 where unavailable.
size_t muxbench_heap_in_use(void);
