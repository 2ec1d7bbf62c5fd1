#ifndef TLSW_BENCHMARKS_ALLOC_COUNT_HPP
#define TLSW_BENCHMARKS_ALLOC_COUNT_HPP

// Heap allocation counting for the benchmark executables. alloc_count.cpp
// replaces the global operator new / delete (so it sees every allocation
// made through std::allocator, in tlsw and in Botan) and offers counting
// malloc functions to OpenSSL (CRYPTO_set_mem_functions).
//
// Not counted: Botan's secure_vector memory (Botan::allocate_memory: its
// mlock pool, or calloc above 256 bytes). The callgrind run in README.md
// counts those calls separately.

#include <cstddef>

namespace bench {

struct alloc_totals {
    std::size_t count = 0;  ///< allocations since the process started
    std::size_t bytes = 0;  ///< bytes requested by them
};

/** Allocations so far. The counters are relaxed atomics updated without a
    read-modify-write, so they are exact for one thread (every benchmark
    here runs in one) and cheap enough to leave on everywhere. */
alloc_totals allocations() noexcept;

/** Routes OpenSSL's allocations through the counters. Must run before the
    first OpenSSL call; returns false when that is too late. */
bool count_openssl_allocations() noexcept;

}  // namespace bench

#endif
