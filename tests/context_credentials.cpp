// A server's credentials replaced and removed while streams run (issue 22,
// item 5): streams made before keep theirs, new handshakes see the change,
// and a server left without credentials fails handshakes saying why.
// tests/context_threads.cpp replaces them while other threads handshake.

// Test that header file is self-contained.
#include <tlsw/context.hpp>

#include "support/botan_peer.hpp"
#include "support/connection.hpp"
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** Credentials from the test CA for localhost (a new key each time). */
tlsw::credentials fresh_localhost_leaf() {
    auto leaf = tlsw::testing::issue_leaf(env().pki, {});
    return *tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem);
}

/** Whether `info` shows the leaf of `creds` as the server's certificate. */
bool presented(const tlsw::session_info& info, const tlsw::credentials& creds) {
    const auto der = creds.data()->chain.front().BER_encode();
    const auto bytes = std::as_bytes(std::span(der));
    return !info.peer_chain.empty() && std::equal(bytes.begin(), bytes.end(), info.peer_chain.front().der.begin(),
                                                  info.peer_chain.front().der.end());
}

/** Moves `size` bytes each way and checks they arrived. */
template <class S>
void both_ways(S& a, S& b, std::uint32_t seed) {
    for (auto* from : {&a, &b}) {
        auto* to = from == &a ? &b : &a;
        const auto data = pattern(3000, seed++);
        const auto received = transfer(*from, *to, data, data.size());
        CHECK_SAME_BYTES(received, data);
    }
}

}  // namespace

TEST_CASE("after replace_credentials new handshakes present the replacement while a stream made before keeps its "
          "certificate, renegotiations included, and its session makes a full handshake",
          "[context][credentials][snapshot]") {
    const bool only12 = GENERATE(true, false);  // TLS 1.2 renegotiates; TLS 1.3 (Botan 3) updates keys
    CAPTURE(only12);
    const auto first = fresh_localhost_leaf();
    const auto second = fresh_localhost_leaf();
    auto server_ctx = tlsw::context::server(first);
    server_ctx.allow_client_renegotiation(true);
    auto client_ctx = only12 ? tls12(client_context()) : client_context();

    connection old(client_ctx, server_ctx);
    REQUIRE_FALSE(old.handshake());
    CHECK(presented(old.client.info(), first));

    REQUIRE(server_ctx.replace_credentials(first, second));
    both_ways(old.client, old.server, 1);
    if (old.client.info().protocol_version == tlsw::tls_version::tls12) {
        REQUIRE(old.client.renegotiate());
        const auto data = pattern(500, 9);
        std::vector<std::byte> got;
        REQUIRE(write_all(old.client, data, [&] { (void)drain(old.server, got); }));
        REQUIRE(read_until(old.server, got, data.size(), [] {}));
        CHECK(old.client.info().handshakes == 2);
        // Under its own snapshot: Botan resumes the stream's session there.
        CHECK(old.server.info().handshakes == 2);
    } else {
        REQUIRE(old.client.update_keys(true));
    }
    CHECK(presented(old.client.info(), first));
    both_ways(old.client, old.server, 3);

    // The client offers the session it has from `old`: the server's
    // configuration changed, so it makes a full handshake.
    connection fresh(client_ctx, server_ctx);
    REQUIRE_FALSE(fresh.handshake());
    CHECK_FALSE(fresh.client.info().resumed);
    CHECK(presented(fresh.client.info(), second));
    connection resumed(client_ctx, server_ctx);  // the control: sessions resume again
    REQUIRE_FALSE(resumed.handshake());
    CHECK(resumed.client.info().resumed);
    CHECK(presented(resumed.client.info(), second));
}

TEST_CASE("removing a server's last credentials fails new handshakes with handshake_failure and says why, while a "
          "stream made before keeps working; adding credentials again restores them",
          "[context][credentials][snapshot]") {
    const auto creds = fresh_localhost_leaf();
    auto server_ctx = tlsw::context::server(creds);
    const auto client_ctx = client_context();
    connection old(client_ctx, server_ctx);
    REQUIRE_FALSE(old.handshake());

    REQUIRE(server_ctx.remove_credentials(creds));
    connection none(client_ctx, server_ctx);
    auto e = none.handshake();
    REQUIRE(e);
    CHECK(*e == errc::protocol);
    CHECK(e->alert() == tlsw::alert::handshake_failure);
    CHECK_FALSE(e->alert_from_peer());  // the server's own error comes first
    CHECK(std::string(none.server.last_error_detail()).find("no credentials") != std::string::npos);
    auto c = none.client.handshake();
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::protocol);
    CHECK(c.error().alert() == tlsw::alert::handshake_failure);
    CHECK(c.error().alert_from_peer());

    both_ways(old.client, old.server, 5);

    const auto again = fresh_localhost_leaf();
    REQUIRE(server_ctx.add_credentials(again));
    connection back(client_ctx, server_ctx);
    REQUIRE_FALSE(back.handshake());
    CHECK(presented(back.client.info(), again));
}

TEST_CASE("removing a server's default credentials makes the added ones present to every client",
          "[context][credentials]") {
    const auto first = fresh_localhost_leaf();
    const auto added = fresh_localhost_leaf();
    auto server_ctx = tlsw::context::server(first);
    REQUIRE(server_ctx.add_credentials(added));
    const auto client_ctx = client_context();
    connection before(client_ctx, server_ctx);
    REQUIRE_FALSE(before.handshake());
    CHECK(presented(before.client.info(), first));

    const auto copy = first;  // copies are the same credentials
    REQUIRE(server_ctx.remove_credentials(copy));
    connection after(client_ctx, server_ctx);
    REQUIRE_FALSE(after.handshake());
    CHECK(presented(after.client.info(), added));
}

TEST_CASE("replace_credentials and remove_credentials refuse credentials the context does not hold and client "
          "contexts, changing nothing",
          "[context][credentials]") {
    const auto held = fresh_localhost_leaf();
    const auto other = fresh_localhost_leaf();
    auto server_ctx = tlsw::context::server(held);
    const auto before = server_ctx.state();

    auto r = server_ctx.replace_credentials(other, held);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    r = server_ctx.remove_credentials(other);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(server_ctx.state() == before);  // nothing published

    auto client_ctx = client_context();
    client_ctx.client_certificate(held);
    r = client_ctx.replace_credentials(held, other);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_state);
    r = client_ctx.remove_credentials(held);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_state);
}
