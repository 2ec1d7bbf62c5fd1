// A server's credentials chosen per handshake by a callback that sees the
// ClientHello (context::choose_credentials, issue 22 item 5), on both
// engines: what the callback sees, what its choice presents, and how a
// refusal or an exception fails the handshake.

// Test that header file is self-contained.
#include <tlsw/client_hello.hpp>

#include "support/botan_peer.hpp"
#include "support/connection.hpp"
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** Credentials from the test CA for `hosts`. */
tlsw::credentials hello_leaf(std::vector<std::string> hosts,
                             tlsw::testing::key_type key = tlsw::testing::key_type::ecdsa_p256) {
    tlsw::testing::pki_options options;
    options.hosts = std::move(hosts);
    options.key = key;
    auto leaf = tlsw::testing::issue_leaf(env().pki, options);
    return *tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem);
}

/** The DER of the leaf of `creds`, to tell which credentials a client saw. */
std::vector<std::byte> hello_der(const tlsw::credentials& creds) {
    const auto der = creds.data()->chain.front().BER_encode();
    const auto bytes = std::as_bytes(std::span(der));
    return {bytes.begin(), bytes.end()};
}

/** The handshake of fresh streams: the client connects to `name`. */
struct hello_outcome {
    std::optional<tlsw::tls_error> error;  ///< the client's
    tlsw::session_info client;
    tlsw::session_info server;
    std::optional<tlsw::tls_error> server_error;
    std::string server_detail;
};

hello_outcome hello_connect(const tlsw::context& client_ctx, const tlsw::context& server_ctx, std::string name,
                            std::vector<std::string> alpn = {}) {
    connection c(client_ctx, server_ctx, {.server_name = std::move(name), .alpn = std::move(alpn)});
    const auto errors = run_handshakes(c);
    return {errors.client, c.client.info(), c.server.info(), errors.server, std::string(c.server.last_error_detail())};
}

}  // namespace

TEST_CASE("a credentials callback sees the client's server name, ALPN offers, signature schemes, groups and "
          "versions, and the client gets the credentials it returns",
          "[client_hello][credentials]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    auto client_ctx = only12 ? tls12(client_context()) : client_context();
    const auto alpha = hello_leaf({"alpha.test"});
    auto server_ctx = server_context();  // its own leaf names localhost only
    std::vector<tlsw::client_hello> seen;
    REQUIRE(server_ctx.choose_credentials([&](const tlsw::client_hello& hello) -> std::optional<tlsw::credentials> {
        seen.push_back(hello);
        return alpha;
    }));
    server_ctx.alpn({"h2"});

    const auto r = hello_connect(client_ctx, server_ctx, "alpha.test", {"h2", "http/1.1"});
    INFO((r.error ? r.error->message() : std::string("ok")));
    REQUIRE_FALSE(r.error);
    CHECK(r.client.peer_common_name == "alpha.test");
    CHECK(r.client.peer_chain.front().der == hello_der(alpha));
    CHECK(r.client.alpn == "h2");

    REQUIRE(seen.size() == 1);
    const auto& hello = seen.front();
    CHECK(hello.server_name == "alpha.test");
    CHECK(hello.alpn == std::vector<std::string>{"h2", "http/1.1"});
    CHECK(hello.offers_alpn("http/1.1"));
    CHECK_FALSE(hello.offers_alpn("spdy/3"));
    // tlsw's default policy signs with ECDSA or RSA and offers x25519.
    CHECK(std::count(hello.signature_schemes.begin(), hello.signature_schemes.end(), 0x0403) == 1);
    CHECK(hello.accepts(alpha));
    CHECK(hello.offers_group("x25519"));
    CHECK(hello.offers_group("P-256"));
    CHECK_FALSE(hello.offers_group("no-such-group"));
    const auto names = hello.group_names();
    CHECK(std::count(names.begin(), names.end(), "secp256r1") == 1);
    const bool tls13 = !only12 && default_version() == "TLS v1.3";
    CHECK(hello.offers_version(tlsw::tls_version::tls12));
    CHECK(hello.offers_version(tlsw::tls_version::tls13) == tls13);
    CHECK(hello.versions.front() == (tls13 ? tlsw::tls_version::tls13 : tlsw::tls_version::tls12));
    CHECK(hello.offers_group("X25519MLKEM768") == tls13);  // post-quantum only where TLS 1.3 is offered
}

TEST_CASE("a credentials callback picks credentials by the server name, and by the signature schemes the client "
          "accepts",
          "[client_hello][credentials]") {
    const auto ecdsa = hello_leaf({"shop.test"});
    const auto rsa = hello_leaf({"shop.test"}, tlsw::testing::key_type::rsa_2048);
    const auto blog = hello_leaf({"blog.test"});
    auto server_ctx = server_context();
    REQUIRE(server_ctx.choose_credentials([&](const tlsw::client_hello& hello) -> std::optional<tlsw::credentials> {
        if (hello.server_name == "blog.test")
            return blog;
        return hello.accepts(ecdsa) ? ecdsa : rsa;
    }));

    auto client_ctx = client_context();
    const auto shop = hello_connect(client_ctx, server_ctx, "shop.test");
    REQUIRE_FALSE(shop.error);
    CHECK(shop.client.peer_chain.front().der == hello_der(ecdsa));
    const auto other = hello_connect(client_ctx, server_ctx, "blog.test");
    REQUIRE_FALSE(other.error);
    CHECK(other.client.peer_chain.front().der == hello_der(blog));

    // A client that signs with RSA only offers no ECDSA scheme.
    auto rsa_client = client_context();
    REQUIRE(rsa_client.policy("signature_methods = RSA\n"));
    const auto r = hello_connect(rsa_client, server_ctx, "shop.test");
    INFO((r.error ? r.error->message() : std::string("ok")));
    REQUIRE_FALSE(r.error);
    CHECK(r.client.peer_chain.front().der == hello_der(rsa));

    // Credentials whose key the client does not take fail the handshake.
    auto ecdsa_only = server_context();
    REQUIRE(ecdsa_only.choose_credentials([&](const tlsw::client_hello&) { return std::optional<tlsw::credentials>(ecdsa); }));
    const auto unsuited = hello_connect(rsa_client, ecdsa_only, "shop.test");
    REQUIRE(unsuited.server_error);
    CHECK(*unsuited.server_error == errc::protocol);
    CHECK(unsuited.server_error->alert() == tlsw::alert::handshake_failure);
    REQUIRE(unsuited.error);
    CHECK(unsuited.error->alert() == tlsw::alert::handshake_failure);
}

TEST_CASE("a credentials callback that chooses none fails the handshake with unrecognized_name, or "
          "handshake_failure for a client without a server name",
          "[client_hello][credentials]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    auto server_ctx = server_context();
    REQUIRE(server_ctx.choose_credentials(
        [](const tlsw::client_hello&) -> std::optional<tlsw::credentials> { return std::nullopt; }));
    auto client_ctx = only12 ? tls12(client_context()) : client_context();

    const auto named = hello_connect(client_ctx, server_ctx, "unknown.test");
    REQUIRE(named.error);
    CHECK(*named.error == errc::protocol);
    CHECK(named.error->alert() == tlsw::alert::unrecognized_name);
    CHECK(named.error->alert_from_peer());  // the client heard it from the server
    REQUIRE(named.server_error);
    CHECK(*named.server_error == errc::protocol);
    CHECK(named.server_error->alert() == tlsw::alert::unrecognized_name);
    CHECK_FALSE(named.server_error->alert_from_peer());
    CHECK(named.server_detail.find("unknown.test") != std::string::npos);

    // An address is sent as no SNI (RFC 6066 section 3).
    const auto unnamed = hello_connect(client_ctx, server_ctx, "127.0.0.1");
    REQUIRE(unnamed.error);
    CHECK(*unnamed.error == errc::protocol);
    CHECK(unnamed.error->alert() == tlsw::alert::handshake_failure);
    REQUIRE(unnamed.server_error);
    CHECK(unnamed.server_error->alert() == tlsw::alert::handshake_failure);
}

TEST_CASE("a credentials callback that throws fails the handshake with internal_error and nothing escapes",
          "[client_hello][credentials]") {
    auto server_ctx = server_context();
    REQUIRE(server_ctx.choose_credentials([](const tlsw::client_hello&) -> std::optional<tlsw::credentials> {
        throw std::runtime_error("certificate store offline");
    }));
    const auto r = hello_connect(client_context(), server_ctx, "localhost");
    REQUIRE(r.error);
    CHECK(r.error->alert() == tlsw::alert::internal_error);
    REQUIRE(r.server_error);
    CHECK(*r.server_error == errc::protocol);
    CHECK(r.server_error->alert() == tlsw::alert::internal_error);
    CHECK(r.server_detail.find("certificate store offline") != std::string::npos);
}

TEST_CASE("a credentials callback runs once per handshake: once across a HelloRetryRequest, again for a "
          "renegotiation and for a resumption",
          "[client_hello][credentials]") {
    std::atomic<int> calls{0};
    auto server_ctx = server_context();
    server_ctx.allow_client_renegotiation(true);
    // Only secp384r1: a TLS 1.3 client's first key shares (X25519MLKEM768,
    // x25519) do not fit, and the server asks again (HelloRetryRequest).
    REQUIRE(server_ctx.key_exchange_groups(std::vector<std::string>{"secp384r1"}));
    REQUIRE(server_ctx.choose_credentials([&](const tlsw::client_hello&) -> std::optional<tlsw::credentials> {
        ++calls;
        return env().server_credentials;
    }));
    auto client_ctx = client_context();
    {
        connection c(client_ctx, server_ctx);
        REQUIRE_FALSE(c.handshake());
        CHECK(c.client.info().group == "secp384r1");
        CHECK(calls == 1);
    }
    {
        connection again(client_ctx, server_ctx);
        REQUIRE_FALSE(again.handshake());
        CHECK(again.server.info().resumed);
        CHECK(calls == 2);
    }
    // A TLS 1.2 renegotiation is a handshake of its own.
    connection c(tls12(client_context()), server_ctx);
    REQUIRE_FALSE(c.handshake());
    CHECK(calls == 3);
    REQUIRE(c.client.renegotiate());
    const auto data = pattern(100, 5);
    std::vector<std::byte> got;
    REQUIRE(write_all(c.client, data, [&] { (void)drain(c.server, got); }));
    REQUIRE(read_until(c.server, got, data.size(), [] {}));
    CHECK(c.client.info().handshakes == 2);
    CHECK(calls == 4);
}

TEST_CASE("a client context refuses a credentials callback", "[client_hello][credentials]") {
    auto ctx = client_context();
    auto r = ctx.choose_credentials([](const tlsw::client_hello&) { return std::optional<tlsw::credentials>(); });
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_state);
}

TEST_CASE("sessions resume under the same credentials callback and not after it is replaced or removed",
          "[client_hello][credentials][resumption]") {
    auto server_ctx = server_context();
    const auto pick = [](const tlsw::client_hello&) { return std::optional<tlsw::credentials>(env().server_credentials); };
    REQUIRE(server_ctx.choose_credentials(pick));
    auto client_ctx = client_context();
    REQUIRE_FALSE(hello_connect(client_ctx, server_ctx, "localhost").error);
    const auto again = hello_connect(client_ctx, server_ctx, "localhost");
    REQUIRE_FALSE(again.error);
    CHECK(again.client.resumed);

    REQUIRE(server_ctx.choose_credentials(pick));  // another callback, though it does the same
    const auto replaced = hello_connect(client_ctx, server_ctx, "localhost");
    REQUIRE_FALSE(replaced.error);
    CHECK_FALSE(replaced.client.resumed);

    REQUIRE(server_ctx.choose_credentials(nullptr));  // server()'s credentials again
    const auto removed = hello_connect(client_ctx, server_ctx, "localhost");
    REQUIRE_FALSE(removed.error);
    CHECK_FALSE(removed.client.resumed);
    CHECK(removed.client.peer_chain.front().der == hello_der(env().server_credentials));
}
