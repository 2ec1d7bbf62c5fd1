// Two tls_streams talking over an in-process memory pair: a client sends a
// greeting, the server answers, both shut down cleanly.

#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tlsw.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

// Repeats a call while it only needs the other side to make progress.
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
    auto pki = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    if (!creds) {
        std::fprintf(stderr, "credentials: %s\n", creds.error().message().c_str());
        return 1;
    }
    auto server_ctx = tlsw::context::server(*creds);
    auto client_ctx = tlsw::context::client();
    if (!client_ctx.trust(pki.ca_cert_pem))
        return 1;

    auto [a, b] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> client(client_ctx, std::move(a), {.server_name = "localhost"});
    tlsw::tls_stream<tlsw::memory_pair::end> server(server_ctx, std::move(b));

    char buffer[256];
    auto server_read = [&] { return server.read(std::as_writable_bytes(std::span(buffer))); };
    auto client_read = [&] { return client.read(std::as_writable_bytes(std::span(buffer))); };

    const std::string_view hello = "hello over TLS";
    auto sent = drive([&] { return client.write(std::as_bytes(std::span(hello))); }, [&] { (void)server_read(); });
    if (!sent) {
        std::fprintf(stderr, "client write: %s\n", sent.error().message().c_str());
        return 1;
    }
    auto got = drive(server_read, [] {});
    if (!got) {
        std::fprintf(stderr, "server read: %s\n", got.error().message().c_str());
        return 1;
    }
    std::printf("server got: %.*s\n", static_cast<int>(*got), buffer);
    std::printf("negotiated: %s, %s\n", server.info().version.c_str(), server.info().cipher_suite.c_str());

    const std::string_view answer = "hello back";
    if (!server.write(std::as_bytes(std::span(answer))))
        return 1;
    auto back = drive(client_read, [] {});
    if (!back)
        return 1;
    std::printf("client got: %.*s\n", static_cast<int>(*back), buffer);

    if (!client.shutdown())
        return 1;
    auto end = server_read();
    std::printf("server sees: %s\n", end ? "data" : end.error().message().c_str());
    return !end && end.error() == tlsw::errc::closed ? 0 : 1;
}
