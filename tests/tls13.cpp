// TLS 1.3 on Botan 3 beside TLS 1.2 (issue 12): what the version changes
// for a stream. Each test runs on both engines and says what each does:
// Botan 3 negotiates TLS 1.3 by default, Botan 2 only ever TLS 1.2.

// Test that header file is self-contained.
#include <tlsw/tls_stream.hpp>

#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;
using tlsw::tls_version;

namespace {

bool engine_has_tls13() { return default_version() == "TLS v1.3"; }

template <class P>
struct pair_of {
    using stream = typename P::template stream<tlsw::memory_pair::end>;

    explicit pair_of(const tlsw::context& client_ctx, std::size_t capacity = 64 * 1024,
                     const tlsw::context& server_ctx = server_context())
        : pair_of(tlsw::memory_pair::make(capacity), client_ctx, server_ctx) {}

    stream client;
    stream server;

    stream& side(bool client_side) noexcept { return client_side ? client : server; }
    stream& other(bool client_side) noexcept { return client_side ? server : client; }

private:
    pair_of(std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends, const tlsw::context& client_ctx,
            const tlsw::context& server_ctx)
        : client(client_ctx, std::move(ends.first), localhost()), server(server_ctx, std::move(ends.second)) {}
};

}  // namespace

TEST_CASE("a default client and server negotiate the engine's highest version; a client limited to TLS 1.2 gets it",
          "[tls13][versions]") {
    pair_of<policies<>> fresh(client_context());
    handshake_both(fresh.client, fresh.server);
    CHECK(fresh.client.info().version == default_version());
    CHECK(fresh.server.info().version == default_version());

    pair_of<policies<>> old(tls12(client_context()));
    handshake_both(old.client, old.server);
    CHECK(old.client.info().version == "TLS v1.2");
    CHECK(old.server.info().version == "TLS v1.2");
}

TEST_CASE("versions() refuses an empty range, and TLS 1.3 only on an engine without it", "[tls13][versions]") {
    auto ctx = client_context();
    auto r = ctx.versions(tls_version::tls13, tls_version::tls12);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    auto only13 = ctx.versions(tls_version::tls13, tls_version::tls13);
    CHECK(only13.has_value() == engine_has_tls13());
    if (!only13)
        CHECK(only13.error() == errc::invalid_argument);

    // A TLS 1.3-only server refuses a TLS 1.2-only client: no version in common.
    if (engine_has_tls13()) {
        auto server_ctx = server_context();
        REQUIRE(server_ctx.versions(tls_version::tls13, tls_version::tls13));
        pair_of<policies<>> p(tls12(client_context()), 64 * 1024, server_ctx);
        std::optional<tlsw::tls_error> failure;
        for (int i = 0; i < 50 && !failure; ++i) {
            auto c = p.client.handshake();
            auto s = p.server.handshake();
            if (!c && !c.error().retryable())
                failure = c.error();
            else if (!s && !s.error().retryable())
                failure = s.error();
        }
        REQUIRE(failure);
        CHECK(*failure == errc::protocol);
    }
}

TEMPLATE_LIST_TEST_CASE("under the default version, write performs the handshake, retries after want_*, and every "
                        "byte arrives once and in order, partial writes taking at most one record",
                        "[tls13][write][handshake][nonblocking]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    const std::size_t capacity = GENERATE(std::size_t{97}, std::size_t{4096}, std::size_t{64 * 1024});
    const std::size_t chunk = GENERATE(std::size_t{1}, std::size_t{1000}, std::size_t{40000});
    CAPTURE(client_writes, capacity, chunk);
    pair_of<TestType> p(client_context(), capacity);
    auto& writer = p.side(client_writes);
    auto& reader = p.other(client_writes);
    const auto data = pattern(chunk == 1 ? 3000 : 100000, 5);

    // No handshake() call: the first write runs it.
    std::vector<std::byte> received;
    std::size_t offset = 0;
    for (int i = 0; i < 1000000 && (offset < data.size() || received.size() < data.size()); ++i) {
        if (offset < data.size()) {
            const auto piece = std::span(data).subspan(offset, std::min(chunk, data.size() - offset));
            auto n = writer.write(piece);
            if (n) {
                REQUIRE(*n > 0);
                if constexpr (std::remove_reference_t<decltype(writer)>::partial_write)
                    REQUIRE(*n <= tlsw::tls_stream<tlsw::memory_pair::end>::max_record);
                else
                    REQUIRE(*n == piece.size());
                offset += *n;
            } else {
                INFO(n.error().message());
                REQUIRE(n.error().retryable());
            }
        }
        auto e = drain(reader, received);
        INFO(e.message());
        REQUIRE(e.retryable());
    }
    CHECK(writer.info().version == default_version());
    CHECK_SAME_BYTES(received, data);

    // An empty write sends nothing and returns 0.
    auto zero = writer.write(std::span<const std::byte>());
    REQUIRE(zero);
    CHECK(*zero == 0);
}

TEMPLATE_LIST_TEST_CASE("update_keys renews the keys under TLS 1.3 and data keeps flowing both ways; under TLS 1.2 "
                        "it is wrong_tls_version",
                        "[tls13][update_keys]", all_policies) {
    const bool client_updates = GENERATE(true, false);
    const bool request_peer = GENERATE(true, false);
    const bool limit12 = GENERATE(false, true);
    CAPTURE(client_updates, request_peer, limit12);
    pair_of<TestType> p(limit12 ? tls12(client_context()) : client_context());
    auto& a = p.side(client_updates);
    auto& b = p.other(client_updates);
    // Before the handshake there are no keys to renew.
    auto early = a.update_keys(request_peer);
    REQUIRE_FALSE(early);
    CHECK(early.error() == errc::invalid_state);
    handshake_both(p.client, p.server);

    auto r = a.update_keys(request_peer);
    if (limit12 || !engine_has_tls13()) {
        REQUIRE_FALSE(r);
        CHECK(r.error() == errc::wrong_tls_version);
    } else {
        INFO((r ? std::string("ok") : r.error().message()));
        REQUIRE(r);
    }
    // Both directions, several rounds: the peer's KeyUpdate (and its
    // answer to request_peer) is handled inside read and write.
    for (int round = 0; round < 3; ++round) {
        const auto there = pattern(30000, 10 + round);
        const auto back = pattern(20000, 20 + round);
        CHECK_SAME_BYTES(transfer(a, b, there, 7000), there);
        CHECK_SAME_BYTES(transfer(b, a, back, 5000), back);
        if (!limit12 && engine_has_tls13())
            REQUIRE(a.update_keys(request_peer));
    }
    CHECK(a.info().handshakes == 1);
}

TEMPLATE_LIST_TEST_CASE("renegotiate() under TLS 1.3 sends nothing and returns wrong_tls_version; the stream keeps "
                        "working",
                        "[tls13][renegotiation]", all_policies) {
    if (!engine_has_tls13())
        return;  // Botan 2 never negotiates TLS 1.3: tests/renegotiation.cpp covers TLS 1.2
    const bool client_starts = GENERATE(true, false);
    CAPTURE(client_starts);
    auto server_ctx = server_context();
    server_ctx.allow_client_renegotiation(true);
    pair_of<TestType> p(client_context(), 64 * 1024, server_ctx);
    handshake_both(p.client, p.server);
    auto& a = p.side(client_starts);
    auto& b = p.other(client_starts);
    const auto before = b.transport().available();
    auto r = a.renegotiate();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::wrong_tls_version);
    CHECK(b.transport().available() == before);  // nothing was sent
    CHECK_FALSE(a.handshake_pending());
    const auto data = pattern(50000, 3);
    CHECK_SAME_BYTES(transfer(a, b, data, 16384), data);
    CHECK(a.info().handshakes == 1);
    CHECK(a.info().renegotiations_refused == 0);
}

TEST_CASE("a client resumes with the session ticket it read after the handshake; under TLS 1.3 one that did not read "
          "makes a full handshake",
          "[tls13][resumption]") {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    using stream = tlsw::tls_stream<tlsw::memory_pair::end>;
    auto connect = [&](bool read_after) {
        auto ends = tlsw::memory_pair::make(64 * 1024);
        stream client(client_ctx, std::move(ends.first), localhost());
        stream server(server_ctx, std::move(ends.second));
        bool c_done = false, s_done = false;
        for (int i = 0; i < 50 && !(c_done && s_done); ++i) {
            if (!c_done) {
                auto c = client.handshake();
                REQUIRE((c || c.error().retryable()));
                c_done = c.has_value();
            }
            if (!s_done) {
                auto s = server.handshake();
                REQUIRE((s || s.error().retryable()));
                s_done = s.has_value();
            }
        }
        REQUIRE((c_done && s_done));
        if (read_after) {
            std::byte none[1];
            auto r = client.read(none);  // takes the NewSessionTicket, no data
            REQUIRE_FALSE(r);
            CHECK(r.error() == errc::want_read);
        }
        return client.info().resumed;
    };
    CHECK_FALSE(connect(false));
    // TLS 1.2 puts the ticket (or session ID) inside the handshake.
    CHECK(connect(true) == !engine_has_tls13());
    CHECK(connect(false));  // the ticket the previous client read
}

TEST_CASE("after our shutdown, TLS 1.3 still delivers what the peer sends (half-close); TLS 1.2 reads closed",
          "[tls13][shutdown]") {
    const bool limit12 = GENERATE(false, true);
    CAPTURE(limit12);
    pair_of<policies<>> p(limit12 ? tls12(client_context()) : client_context());
    handshake_both(p.client, p.server);
    const bool tls13 = p.client.info().version == "TLS v1.3";
    REQUIRE(p.client.shutdown());
    // The server writes before it reads the client's close_notify.
    const auto late = pattern(3000, 8);
    REQUIRE(write_all(p.server, late, [] {}));
    std::vector<std::byte> at_server;
    CHECK(drain(p.server, at_server) == errc::closed);  // it answers with its own close_notify
    CHECK(at_server.empty());

    std::vector<std::byte> at_client;
    CHECK(drain(p.client, at_client) == errc::closed);
    if (tls13)
        CHECK_SAME_BYTES(at_client, late);
    else
        CHECK(at_client.empty());
    // Writing after our own close_notify is refused either way.
    auto w = p.client.write(late);
    REQUIRE_FALSE(w);
    CHECK(w.error() == errc::closed);
}
