// Fuzz target: the server role fed mutated client flights.
//
// Input: the 4-byte header of fuzz_common.hpp (policy combination, whether
// client renegotiation is allowed, the fault plan of the server's
// transport), then every byte a client sends: ClientHello, its second
// flight, application data, renegotiations, alerts. A tlsw server over a
// fault_transport<memory_pair> reads them, echoes application data and
// checks each result against the contract (fuzz_common.hpp play_side).
// The seed corpus (make_seeds) holds real clients' bytes recorded against
// this same server, so a seed completes the handshake and mutations reach
// the established stream. Run: see README.md in this directory.

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tlsw_fuzz::guarded([&] {
        std::span<const std::uint8_t> in(data, size);
        const auto cfg = tlsw_fuzz::config::decode(in);
        tlsw::detail::reseed_fuzzing_rng(tlsw_fuzz::rng_seed);
        auto ctx = tlsw_fuzz::server_context(cfg);
        auto ends = tlsw::memory_pair::make(cfg.capacity);
        tlsw_fuzz::with_policies(cfg, [&]<class P>() {
            typename P::template stream<tlsw_fuzz::faulty_end> server(
                ctx, tlsw_fuzz::faulty_end(std::move(ends.second), cfg.faults));
            tlsw_fuzz::input_peer client{ends.first, in};
            client.push();
            tlsw_fuzz::play_side(server, false, [&](tlsw::errc) { return client.wait(server.transport().next()); });
        });
    });
}
