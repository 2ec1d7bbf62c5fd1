// Key-exchange groups: post-quantum X25519MLKEM768 by default on Botan 3
// (TLS 1.3), classical ECDHE under TLS 1.2 and on Botan 2, the groups a
// context narrows to, HelloRetryRequest, and the names session_info gives
// (group, version, cipher suite). In-process pairs; the OpenSSL interop
// is in interop_key_exchange.cpp.

// Test that header file is self-contained.
#include <tlsw/context.hpp>

#include "support/harness.hpp"
#include "support/stream_pair.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/tls_stream.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;
using tlsw::group_set;
using tlsw::tls_version;

namespace {

bool kx_engine_has_tls13() { return default_version() == "TLS v1.3"; }

/** `ctx` with the groups `names`; the test fails if the context refuses them. */
tlsw::context with_groups(tlsw::context ctx, const std::vector<std::string>& names) {
    auto r = ctx.key_exchange_groups(names);
    INFO((r ? std::string() : r.error().detail()));
    REQUIRE(r);
    return ctx;
}

/** Handshakes, then sends 64 KiB each way and checks it arrived once and in order. */
template <class Pair>
void handshake_and_exchange(Pair& p) {
    handshake_both(p.client, p.server);
    const auto up = pattern(64 * 1024, 3);
    const auto down = pattern(64 * 1024, 4);
    CHECK_SAME_BYTES(transfer(p.client, p.server, up, 16384), up);
    CHECK_SAME_BYTES(transfer(p.server, p.client, down, 16384), down);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a default client and server use X25519MLKEM768 under TLS 1.3, x25519 under TLS 1.2",
                        "[key_exchange][post_quantum]", all_policies) {
    SECTION("the engine's highest version") {
        stream_pair<TestType> p(client_context(), server_context());
        handshake_and_exchange(p);
        for (const auto* s : {&p.client, &p.server}) {
            const auto& info = s->info();
            if (kx_engine_has_tls13()) {
                CHECK(info.group == "X25519MLKEM768");
                CHECK(info.post_quantum);
                CHECK(info.protocol_version == tls_version::tls13);
                CHECK(info.standard_cipher_suite.starts_with("TLS_AES_"));
            } else {
                // Botan 2 has no ML-KEM and no TLS 1.3.
                CHECK(info.group == "x25519");
                CHECK_FALSE(info.post_quantum);
                CHECK(info.protocol_version == tls_version::tls12);
            }
        }
    }
    SECTION("a client limited to TLS 1.2: classical ECDHE, the suite named as IANA does") {
        stream_pair<TestType> p(tls12(client_context()), server_context());
        handshake_and_exchange(p);
        for (const auto* s : {&p.client, &p.server}) {
            CHECK(s->info().group == "x25519");
            CHECK_FALSE(s->info().post_quantum);
            CHECK(s->info().protocol_version == tls_version::tls12);
            CHECK(s->info().standard_cipher_suite == "TLS_" + s->info().cipher_suite);
            CHECK(s->info().standard_cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_"));
        }
    }
}

TEST_CASE("session_info names nothing before the handshake and no group on a TLS 1.2 resumption",
          "[key_exchange][resumption]") {
    const auto client_ctx = tls12(client_context());
    const auto server_ctx = server_context();
    stream_pair<policies<>> first(client_ctx, server_ctx);
    CHECK(first.client.info().group.empty());
    CHECK_FALSE(first.client.info().protocol_version.has_value());
    CHECK(first.client.info().standard_cipher_suite.empty());
    handshake_both(first.client, first.server);
    CHECK(first.client.info().group == "x25519");

    // A resumed TLS 1.2 session exchanges no key: no group.
    stream_pair<policies<>> again(client_ctx, server_ctx);
    handshake_both(again.client, again.server);
    REQUIRE(again.client.info().resumed);
    CHECK(again.client.info().group.empty());
    CHECK(again.server.info().group.empty());
    CHECK(again.client.info().protocol_version == tls_version::tls12);
}

TEST_CASE("a client offering only P-384, only X448 or only ffdhe2048 completes with a default server",
          "[key_exchange]") {
    const std::string group = GENERATE(as<std::string>(), "secp384r1", "x448", "ffdhe2048", "secp521r1", "ffdhe3072");
    CAPTURE(group);
    auto client_ctx = client_context();
    auto r = client_ctx.key_exchange_groups(std::vector<std::string>{group});
    if (!kx_engine_has_tls13() && (group == "x448" || group.starts_with("ffdhe"))) {
        // Botan 2: no X448, and FFDHE would need finite-field TLS 1.2 suites.
        REQUIRE_FALSE(r);
        CHECK(r.error().error() == errc::invalid_argument);
        CHECK_THAT(r.error().detail(), Catch::Contains(group) && Catch::Contains("not available"));
        return;
    }
    REQUIRE(r);
    stream_pair<policies<tlsw::partial_write>> p(client_ctx, server_context());
    handshake_and_exchange(p);
    CHECK(p.client.info().group == group);
    CHECK(p.server.info().group == group);
    CHECK_FALSE(p.server.info().post_quantum);
}

TEST_CASE("a server that takes none of the client's key shares asks for another (HelloRetryRequest)",
          "[key_exchange][hello_retry]") {
    if (!kx_engine_has_tls13()) {
        SUCCEED("TLS 1.2 has no key shares (Botan 2)");
        return;
    }
    SECTION("the client's share is x25519, the server takes secp384r1 only") {
        // The client sends a share for x25519 alone (its only classical
        // group before secp384r1, and it lists no post-quantum one).
        stream_pair<policies<>> p(with_groups(client_context(), {"x25519", "secp384r1"}),
                                  with_groups(server_context(), {"secp384r1"}));
        handshake_and_exchange(p);
        CHECK(p.client.info().group == "secp384r1");
        CHECK(p.server.info().group == "secp384r1");
    }
    SECTION("a client that supports X25519MLKEM768 but sent only an x25519 share gets asked for ML-KEM") {
        auto client_ctx = client_context();
        REQUIRE(client_ctx.policy("key_exchange_groups = x25519 x25519/ML-KEM-768\n"
                                  "key_exchange_groups_to_offer = x25519\n"));
        stream_pair<policies<>> p(client_ctx, server_context());
        handshake_and_exchange(p);
        CHECK(p.server.info().group == "X25519MLKEM768");
        CHECK(p.client.info().post_quantum);
    }
}

TEST_CASE("a server prefers X25519MLKEM768 over the client's order and takes a classical share otherwise",
          "[key_exchange][post_quantum]") {
    if (!kx_engine_has_tls13()) {
        SUCCEED("Botan 2 has no ML-KEM");
        return;
    }
    SECTION("the client lists x25519 first") {
        stream_pair<policies<>> p(with_groups(client_context(), {"x25519", "X25519MLKEM768"}), server_context());
        handshake_both(p.client, p.server);
        CHECK(p.server.info().group == "X25519MLKEM768");
    }
    SECTION("a classical client") {
        auto client_ctx = client_context();
        REQUIRE(client_ctx.key_exchange_groups(group_set::classical));
        stream_pair<policies<>> p(client_ctx, server_context());
        handshake_both(p.client, p.server);
        CHECK(p.server.info().group == "x25519");
        CHECK_FALSE(p.server.info().post_quantum);
    }
    SECTION("a post-quantum-only client and server") {
        auto client_ctx = client_context();
        auto server_ctx = server_context();
        REQUIRE(client_ctx.key_exchange_groups(group_set::post_quantum));
        REQUIRE(server_ctx.key_exchange_groups(group_set::post_quantum));
        stream_pair<policies<>> p(client_ctx, server_ctx);
        handshake_both(p.client, p.server);
        CHECK(p.client.info().group == "X25519MLKEM768");
    }
    SECTION("a classical server with a default client") {
        auto server_ctx = server_context();
        REQUIRE(server_ctx.key_exchange_groups(group_set::classical));
        stream_pair<policies<>> p(client_context(), server_ctx);
        handshake_both(p.client, p.server);
        CHECK(p.client.info().group == "x25519");
    }
}

TEST_CASE("a post-quantum-only server refuses a classical client", "[key_exchange][post_quantum]") {
    auto server_ctx = server_context();
    auto pq = server_ctx.key_exchange_groups(group_set::post_quantum);
    if (!kx_engine_has_tls13()) {
        REQUIRE_FALSE(pq);
        CHECK(pq.error().error() == errc::invalid_argument);
        return;
    }
    REQUIRE(pq);
    auto client_ctx = client_context();
    REQUIRE(client_ctx.key_exchange_groups(group_set::classical));
    stream_pair<policies<>> p(client_ctx, server_ctx);
    std::optional<tlsw::tls_error> failure;
    for (int i = 0; i < 20 && !failure; ++i) {
        if (auto r = p.client.handshake(); !r && !r.error().retryable())
            failure = r.error();
        if (auto r = p.server.handshake(); !r && !r.error().retryable())
            failure = r.error();
    }
    REQUIRE(failure);
    CHECK(failure->code() == errc::protocol);
}

TEST_CASE("key_exchange_groups refuses unknown, unavailable, repeated and empty lists, and keeps its groups",
          "[key_exchange][context]") {
    auto ctx = client_context();
    REQUIRE(ctx.key_exchange_groups(std::vector<std::string>{"P-256", "X25519"}));
    for (const auto& [names, words] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"x25519", "curve9999"}, "'curve9999': unknown"},
             {{"x25519", "X25519"}, "'X25519': repeated"},
             {{"SecP384r1MLKEM1024"}, "not available on this engine"},
             {{}, "none given"}}) {
        auto r = ctx.key_exchange_groups(names);
        REQUIRE_FALSE(r);
        CHECK(r.error().error() == errc::invalid_argument);
        CHECK_THAT(r.error().detail(), Catch::Contains(words));
    }
    // The context still has secp256r1 then x25519. Under TLS 1.3 a
    // default server takes the client's one share (secp256r1); under TLS
    // 1.2 (Botan 2) it takes its own preference among the client's groups.
    stream_pair<policies<>> p(ctx, server_context());
    handshake_both(p.client, p.server);
    CHECK(p.server.info().group == (kx_engine_has_tls13() ? "secp256r1" : "x25519"));
    // group_set::standard brings the default back.
    REQUIRE(ctx.key_exchange_groups(group_set::standard));
    stream_pair<policies<>> q(ctx, server_context());
    handshake_both(q.client, q.server);
    CHECK(q.server.info().group == (kx_engine_has_tls13() ? "X25519MLKEM768" : "x25519"));
}
