// Renegotiation cannot be abused (issue 8, item 9): a server rate-limits a
// client's renegotiations per connection and ends the connection of a
// client that keeps asking; a server whose HelloRequest the client ignores
// does not hold its writes back forever.

// Test that header file is self-contained.
#include <tlsw/tls_stream.hpp>

#include "support/botan_peer.hpp"
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

using server_stream = tlsw::tls_stream<tlsw::memory_pair::end>;

/** A tlsw server and a hand-driven Botan client, handshaken. */
struct session {
    explicit session(const tlsw::context& server_ctx, bool peer_renegotiates = true)
        : session(server_ctx, tlsw::memory_pair::make(), peer_renegotiates) {}

    /** Lets both sides run until neither moves. Returns the server's
        first final error, if any. */
    std::optional<tlsw::tls_error> settle() {
        std::vector<std::byte> buffer(4096);
        for (int i = 0; i < 100; ++i) {
            const bool moved = peer.pump();
            auto r = server.read(buffer);
            if (r)
                received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*r));
            else if (!r.error().retryable())
                return r.error();
            if (!moved && !r && !server.handshake_pending() && !peer.pump())
                break;
        }
        return std::nullopt;
    }

    std::size_t refusals_seen() const {
        return static_cast<std::size_t>(std::count(peer.alerts().begin(), peer.alerts().end(), tlsw::alert::no_renegotiation));
    }

    server_stream server;
    botan_peer peer;
    std::vector<std::byte> received;

private:
    session(const tlsw::context& server_ctx, std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends,
            bool peer_renegotiates)
        : server(server_ctx, std::move(ends.second)),
          peer(botan_peer::side::client, std::move(ends.first), peer_renegotiates) {
        for (int i = 0; i < 100 && !(peer.active() && !server.handshake_pending()); ++i) {
            peer.pump();
            auto r = server.handshake();
            REQUIRE((r || r.error().retryable()));
        }
        REQUIRE(peer.active());
    }
};

}  // namespace

TEST_CASE("a server that allows client renegotiation accepts 3 a minute, refuses more with a warning, and ends the "
          "connection of a client that keeps asking",
          "[renegotiation][limits]") {
    session s(renegotiating_server_context());
    for (unsigned k = 1; k <= 3; ++k) {
        s.peer.renegotiate();
        REQUIRE_FALSE(s.settle());
        CHECK(s.peer.activations() == 1 + k);
        CHECK(s.server.info().handshakes == 1 + k);
    }
    CHECK(s.refusals_seen() == 0);

    // The 4th in the same minute: refused with a warning, data keeps flowing.
    s.peer.renegotiate();
    REQUIRE_FALSE(s.settle());
    CHECK(s.peer.activations() == 4);
    CHECK(s.refusals_seen() == 1);
    const auto data = pattern(1000);
    s.peer.send(data);
    REQUIRE_FALSE(s.settle());
    CHECK_SAME_BYTES(s.received, data);
    CHECK(s.peer.failure().empty());

    // Refusals 2 to 8 are warnings too; the 9th ends the connection.
    for (unsigned refused = 2; refused <= 8; ++refused) {
        s.peer.renegotiate();
        REQUIRE_FALSE(s.settle());
        CHECK(s.refusals_seen() == refused);
    }
    s.peer.renegotiate();
    auto e = s.settle();
    REQUIRE(e);
    CHECK(*e == errc::protocol);
    CHECK(e->alert() == tlsw::alert::no_renegotiation);
    CHECK_FALSE(e->alert_from_peer());
    s.peer.pump();
    CHECK(s.peer.closed());
}

TEST_CASE("a server that refuses client renegotiation ends the connection of a client that keeps asking",
          "[renegotiation][limits]") {
    session s(server_context());
    for (unsigned refused = 1; refused <= 8; ++refused) {
        s.peer.renegotiate();
        REQUIRE_FALSE(s.settle());
        CHECK(s.refusals_seen() == refused);
        CHECK(s.peer.active());
    }
    s.peer.renegotiate();
    auto e = s.settle();
    REQUIRE(e);
    CHECK(e->alert() == tlsw::alert::no_renegotiation);
    s.peer.pump();
    CHECK(s.peer.closed());
}

TEST_CASE("a server whose HelloRequest the client ignores stops holding its writes back and fails",
          "[renegotiation][limits]") {
    session s(server_context());
    REQUIRE(s.server.renegotiate());
    // The client never reads the request; it keeps talking (warning
    // alerts: application data would be fatal to a Botan server at once).
    std::optional<tlsw::tls_error> error;
    const auto data = pattern(100);
    for (int i = 0; i < 20 && !error; ++i) {
        s.peer.alert(tlsw::alert::user_canceled, false);
        auto w = s.server.write(data);
        REQUIRE_FALSE(w);  // held back: the request is outstanding
        if (!w.error().retryable())
            error = w.error();
    }
    REQUIRE(error);
    CHECK(*error == errc::protocol);
    CHECK(error->alert() == tlsw::alert::handshake_failure);
}
