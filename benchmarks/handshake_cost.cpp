// The cost of a full handshake by key-exchange group: bytes on the wire
// each way, and (run under callgrind by handshake_cost.sh) instructions.
// One process runs N full handshakes (no resumption) between a tlsw client
// and a tlsw server over an in-memory pair, on whichever engine this build
// uses, then prints the group negotiated and the bytes per handshake.
//
// Usage: tlsw_handshake_cost KIND N
//   KIND: default (the engine's default groups: X25519MLKEM768 on Botan 3)
//         x25519 (the client offers x25519 only)
//         tls12  (TLS 1.2, the default groups: x25519)

#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tlsw.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

namespace {

/** A memory_pair end that counts the bytes written through it. */
class counting_end {
public:
    static constexpr bool can_block = false;
    static constexpr bool can_would_block = true;

    counting_end(tlsw::memory_pair::end end, std::size_t& written) : end_(std::move(end)), written_(&written) {}

    tlsw::io_result read_some(std::span<std::byte> in) noexcept { return end_.read_some(in); }
    tlsw::io_result write_some(std::span<const std::byte> out) noexcept {
        auto n = end_.write_some(out);
        if (n)
            *written_ += *n;
        return n;
    }

private:
    tlsw::memory_pair::end end_;
    std::size_t* written_;
};

int fail(const std::string& what) {
    std::fprintf(stderr, "tlsw_handshake_cost: %s\n", what.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3)
        return fail("usage: tlsw_handshake_cost default|x25519|tls12 N");
    const std::string_view kind = argv[1];
    const long count = std::atol(argv[2]);
    if ((kind != "default" && kind != "x25519" && kind != "tls12") || count < 1)
        return fail("usage: tlsw_handshake_cost default|x25519|tls12 N");

    const auto pki = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    if (!creds)
        return fail("credentials");
    auto server_ctx = tlsw::context::server(*creds);
    server_ctx.session_tickets(false);
    server_ctx.session_cache(false);
    auto client_ctx = tlsw::context::client();
    client_ctx.use_system_trust(false);
    client_ctx.session_cache(false);
    if (!client_ctx.trust(pki.ca_cert_pem))
        return fail("trust");
    if (kind == "x25519" && !client_ctx.key_exchange_groups(std::vector<std::string>{"x25519"}))
        return fail("groups");
    if (kind == "tls12" && !client_ctx.versions(tlsw::tls_version::tls12, tlsw::tls_version::tls12))
        return fail("versions");

    std::size_t up = 0, down = 0;
    std::string group, version;
    for (long i = 0; i < count; ++i) {
        auto [a, b] = tlsw::memory_pair::make(64 * 1024);
        tlsw::tls_stream<counting_end> client(client_ctx, counting_end(std::move(a), up), {.server_name = "localhost"});
        tlsw::tls_stream<counting_end> server(server_ctx, counting_end(std::move(b), down));
        bool client_done = false, server_done = false;
        for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
            if (!client_done) {
                auto r = client.handshake();
                if (!r && !r.error().retryable())
                    return fail("client: " + r.error().message());
                client_done = r.has_value();
            }
            if (!server_done) {
                auto r = server.handshake();
                if (!r && !r.error().retryable())
                    return fail("server: " + r.error().message());
                server_done = r.has_value();
            }
        }
        if (!client_done || !server_done)
            return fail("the handshake did not complete");
        group = client.info().group;
        version = client.info().version;
    }
    std::printf("%s %s group=%s handshakes=%ld client_to_server=%zu server_to_client=%zu\n", kind.data(),
                version.c_str(), group.c_str(), count, up / static_cast<std::size_t>(count),
                down / static_cast<std::size_t>(count));
    return 0;
}
