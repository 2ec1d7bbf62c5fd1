// A tiny tlsw consumer, built by consumer_test.sh against tlsw as a Meson
// subproject, through pkg-config and through CMake's find_package: one
// round trip between two tls_streams over a memory pair. Exits 0 on success.

#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tlsw.hpp>

#include <cstdio>
#include <span>
#include <string_view>
#include <utility>

namespace {

// Repeats call while it only waits for the peer, letting the peer run in between.
template <class Call, class Peer>
auto drive(Call call, Peer peer) {
    auto r = call();
    for (int i = 0; !r && r.error().retryable() && i < 1000; ++i) {
        peer();
        r = call();
    }
    return r;
}

}  // namespace

int main() {
    const auto pki = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    auto client_ctx = tlsw::context::client();
    if (!creds || !client_ctx.trust(pki.ca_cert_pem))
        return 1;
    auto server_ctx = tlsw::context::server(*creds);
    auto [a, b] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> client(client_ctx, std::move(a), {.server_name = "localhost"});
    tlsw::tls_stream<tlsw::memory_pair::end> server(server_ctx, std::move(b));

    char in[64];
    const auto server_read = [&] { return server.read(std::as_writable_bytes(std::span(in))); };
    const std::string_view ping = "ping", pong = "pong";
    if (!drive([&] { return client.write(std::as_bytes(std::span(ping))); }, [&] { (void)server_read(); }))
        return 1;
    const auto got = drive(server_read, [] {});
    if (!got || std::string_view(in, *got) != ping || !server.write(std::as_bytes(std::span(pong))))
        return 1;
    const auto back = drive([&] { return client.read(std::as_writable_bytes(std::span(in))); }, [] {});
    if (!back || std::string_view(in, *back) != pong)
        return 1;
    std::printf("round trip ok: %s, %s\n", server.info().version.c_str(), server.info().cipher_suite.c_str());
    return 0;
}
