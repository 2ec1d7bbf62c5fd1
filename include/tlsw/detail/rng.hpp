#ifndef TLSW_DETAIL_RNG_HPP
#define TLSW_DETAIL_RNG_HPP

// The one source of randomness for everything tlsw makes: engines, session
// caches, ticket keys. Normally the operating system's generator (thread
// safe, never seeded by us). A fuzzing build (TLSW_FUZZING defined) swaps in
// a seeded deterministic generator instead, so that an input found by the
// fuzzer replays to the same handshake: never define it in a real build.

#include <botan/rng.h>

#ifdef TLSW_FUZZING
#include <botan/chacha_rng.h>

#include <cstdint>
#include <memory>
#else
#include <botan/system_rng.h>
#endif

namespace tlsw::detail {

#ifdef TLSW_FUZZING
/** The deterministic generator of a fuzzing build: restarts from `seed`. */
inline Botan::RandomNumberGenerator& fuzzing_rng(std::uint64_t seed, bool reseed) {
    static Botan::ChaCha_RNG rng(Botan::secure_vector<std::uint8_t>(32, 0x5a));
    if (reseed) {
        Botan::secure_vector<std::uint8_t> bytes(32, 0x5a);
        for (int i = 0; i < 8; ++i)
            bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seed >> (8 * i));
        rng.clear();
        rng.add_entropy(bytes.data(), bytes.size());
    }
    return rng;
}

/** Restarts the fuzzing generator: call at the start of every input. */
inline void reseed_fuzzing_rng(std::uint64_t seed) { fuzzing_rng(seed, true); }

inline Botan::RandomNumberGenerator& rng() { return fuzzing_rng(0, false); }
#else
inline Botan::RandomNumberGenerator& rng() { return Botan::system_rng(); }
#endif

}  // namespace tlsw::detail

#endif
