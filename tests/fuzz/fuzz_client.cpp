// Fuzz target: the client role fed mutated server flights.
//
// Input: the 4-byte header of fuzz_common.hpp (policy combination, the
// fault plan of the client's transport), then every byte a server sends:
// its first flight (ServerHello to ServerHelloDone), its second
// (NewSessionTicket, ChangeCipherSpec, Finished), application data,
// HelloRequests and the renegotiations they start, alerts. A tlsw client
// that trusts the fixed CA and expects "localhost" sends a 64-byte request,
// reads everything, and checks each result against the contract
// (fuzz_common.hpp play_side). The seed corpus (make_seeds) holds real
// servers' bytes recorded against this same client, so a seed completes
// the handshake, certificate verification included. Run: see README.md.

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tlsw_fuzz::guarded([&] {
        std::span<const std::uint8_t> in(data, size);
        const auto cfg = tlsw_fuzz::config::decode(in);
        tlsw::detail::reseed_fuzzing_rng(tlsw_fuzz::rng_seed);
        auto ctx = tlsw_fuzz::client_context();
        auto ends = tlsw::memory_pair::make(cfg.capacity);
        tlsw_fuzz::with_policies(cfg, [&]<class P>() {
            typename P::template stream<tlsw_fuzz::faulty_end> client(
                ctx, tlsw_fuzz::faulty_end(std::move(ends.first), cfg.faults), tlsw_fuzz::localhost());
            tlsw_fuzz::input_peer server{ends.second, in};
            server.push();
            tlsw_fuzz::play_side(client, true, [&](tlsw::errc) { return server.wait(client.transport().next()); });
        });
    });
}
