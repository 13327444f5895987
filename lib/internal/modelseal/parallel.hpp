// A pool of threads for one loop: the hashing engine, the content checker.
#pragma once

#include <cstddef>
#include <functional>

namespace modelseal {

unsigned default_threads();

// Runs fn(i, worker) for i in 0 ... n-1 on `threads` threads (0: one per core), each index exactly
// once, taken in order from a shared counter; `worker` < max(threads, 1) (or default_threads())
// tells which thread runs it, for per-thread scratch space. If fn throws, no further index is
// handed out, every thread is joined, and the first exception is rethrown to the caller.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t, unsigned)>& fn);

}  // namespace modelseal
