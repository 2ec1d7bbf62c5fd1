// Fuzz target: an established stream fed mutated records.
//
// Input: the 4-byte header of fuzz_common.hpp (policy combination, which
// role is under test, the fault plan of its transport), then the bytes its
// peer sends after the handshake. Each input first runs a full handshake
// in-process between a tlsw client and server over a memory_pair; with
// tlsw's randomness seeded (TLSW_FUZZING) and hello randoms clock-free, the
// session keys are the same in every run, so the recorded records of the
// seed corpus (make_seeds: application data, gather writes, renegotiation
// requests, close_notify) decrypt, and mutations probe the record layer,
// alerts and handshake messages inside an established session. The stream
// under test reads, echoes what it reads, and checks every result against
// the contract (fuzz_common.hpp play_side). Run: see README.md.

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tlsw_fuzz::guarded([&] {
        std::span<const std::uint8_t> in(data, size);
        const auto cfg = tlsw_fuzz::config::decode(in);
        tlsw_fuzz::with_policies(cfg, [&]<class P>() {
            tlsw_fuzz::with_established_pair<P>(cfg, [&](auto& victim, auto&, tlsw::memory_pair::end& peer_end) {
                tlsw_fuzz::input_peer peer{peer_end, in};
                peer.drain();  // the last handshake bytes the peer already read
                peer.push();
                tlsw_fuzz::play_side(victim, cfg.victim_is_client,
                                     [&](tlsw::errc) { return peer.wait(victim.transport().next()); });
            });
        });
    });
}
