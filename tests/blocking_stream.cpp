// A tls_stream over a transport that waits blocks like any blocking API:
// it returns want_read / want_write only when the transport itself said
// would-block, never because of a bound of the stream's own. Here: handshake
// flights far larger than one call's read budget of a nonblocking stream.

#include <tlsw/blocking_socket.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/tcp_listener.hpp>
#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tls_stream.hpp>

#include "support/harness.hpp"
#include "support/sockets.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** A CA and a leaf for "localhost" of over 200 KiB (10,000 names), made once. */
const tlsw::testing::test_pki& huge_pki() {
    static const tlsw::testing::test_pki pki = [] {
        tlsw::testing::pki_options options;
        options.filler_names = 10000;
        return tlsw::testing::make_test_pki(options);
    }();
    return pki;
}

/** A server presenting the huge leaf; no session cache or tickets, so that
    every renegotiation is a full handshake that sends it again. */
tlsw::context huge_server() {
    static const tlsw::credentials creds = [] {
        auto c = tlsw::credentials::from_pem(huge_pki().chain_pem, huge_pki().leaf_key_pem);
        if (!c)
            throw std::runtime_error(c.error().message());
        return *c;
    }();
    auto ctx = tlsw::context::server(creds);
    ctx.session_cache(false).session_tickets(false);
    return ctx;
}

tlsw::context huge_client() {
    auto ctx = tlsw::context::client();
    ctx.use_system_trust(false);
    REQUIRE(ctx.trust(huge_pki().ca_cert_pem));
    return ctx;
}

template <class S>
std::string outcome(const tlsw::result<S>& r) {
    return r ? std::string("ok") : r.error().message();
}

/** Reads exactly `size` bytes; every call must succeed (blocking: no want_*). */
template <class Stream>
tlsw::result<std::vector<std::byte>> read_blocking(Stream& s, std::size_t size) {
    std::vector<std::byte> got(size);
    std::size_t done = 0;
    while (done < size) {
        auto n = s.read(std::span(got).subspan(done));
        if (!n)
            return tlsw::unexpected(n.error());
        done += *n;
    }
    return got;
}

// Each handshake verifies a leaf of 10,000 names (about half a second):
// the write modes, not every combination.
using two_policies = std::tuple<policies<>, policies<tlsw::partial_write, tlsw::moving_buffer>>;

}  // namespace

TEST_CASE("the leaf of the huge test PKI is over 200 KiB", "[blocking][pki]") {
    CHECK(huge_pki().leaf_cert_pem.size() * 3 / 4 > 200 * 1024);
}

TEMPLATE_LIST_TEST_CASE("a handshake with a 200 KiB certificate chain runs inside the first write over blocking "
                        "sockets, with no want_read",
                        "[blocking][handshake][write]", two_policies) {
    // The server's flight is three times a nonblocking call's read budget.
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    using stream = typename TestType::template stream<tlsw::blocking_socket>;
    auto pair = connect_pair<tlsw::blocking_socket>();
    stream client(huge_client(), std::move(pair.client), localhost());
    stream server(huge_server(), std::move(pair.server));
    const auto data = pattern(100000, 3);
    stream& writer = client_writes ? client : server;
    stream& reader = client_writes ? server : client;

    tlsw::result<std::vector<std::byte>> got = tlsw::unexpected(tlsw::tls_error(errc::invalid_state));
    std::thread t([&] { got = read_blocking(reader, data.size()); });
    std::size_t offset = 0;
    tlsw::result<std::size_t> n = 0;
    while (offset < data.size() && (n = writer.write(std::span(data).subspan(offset))))
        offset += *n;
    t.join();
    INFO("write: " << outcome(n) << ", read: " << outcome(got));
    REQUIRE(n);
    REQUIRE(got);
    CHECK_SAME_BYTES(*got, data);
    REQUIRE(client.info().peer_chain.size() == 2);
}

namespace {

/** Connects a client and a server over blocking sockets, runs the
    handshake, then has `starter` (client or server) call `start` and write
    1000 bytes, while the other side, in a thread, reads them (taking in
    whatever `start` began) and answers with 2000 bytes. Every call is a
    blocking one: none may return want_*. */
template <class Start>
void start_then_exchange(tlsw::context client_ctx, tlsw::context server_ctx, bool client_starts, Start start) {
    using stream = tlsw::tls_stream<tlsw::blocking_socket>;
    auto pair = connect_pair<tlsw::blocking_socket>();
    stream client(client_ctx, std::move(pair.client), localhost());
    stream server(server_ctx, std::move(pair.server));
    const auto ping = pattern(1000, 1), pong = pattern(2000, 2);

    bool server_ok = false;
    std::thread t([&] { server_ok = server.handshake().has_value(); });
    REQUIRE(client.handshake());
    t.join();
    REQUIRE(server_ok);

    stream& starter = client_starts ? client : server;
    stream& other = client_starts ? server : client;
    tlsw::result<std::vector<std::byte>> got = tlsw::unexpected(tlsw::tls_error(errc::invalid_state));
    tlsw::result<std::size_t> answered = 0;
    std::thread peer([&] {
        got = read_blocking(other, ping.size());  // takes in what start() began, then the data
        if (got)
            answered = other.write(pong);
    });
    tlsw::result<void> started = start(starter);
    auto w = started ? starter.write(ping) : tlsw::unexpected(started.error());  // completes it first
    auto back = w ? read_blocking(starter, pong.size()) : tlsw::unexpected(w.error());
    peer.join();
    INFO("start: " << outcome(started) << ", write: " << outcome(w) << ", peer read: " << outcome(got)
                   << ", peer write: " << outcome(answered) << ", read: " << outcome(back));
    REQUIRE(back);
    REQUIRE(got);
    REQUIRE(answered);
    CHECK_SAME_BYTES(*got, ping);
    CHECK_SAME_BYTES(*back, pong);
    if (client.info().version == "TLS v1.2") {  // a renegotiation: a second handshake
        CHECK(client.info().handshakes == 2);
        CHECK(server.info().handshakes == 2);
    }
}

}  // namespace

TEST_CASE("a TLS 1.2 renegotiation with a 200 KiB certificate chain completes inside blocking reads and writes",
          "[blocking][renegotiation]") {
    // Started by either side; the other side's read() takes the request
    // and the full handshake (the server has no cache to resume from).
    const bool client_starts = GENERATE(true, false);
    CAPTURE(client_starts);
    auto server_ctx = tls12(huge_server());
    server_ctx.allow_client_renegotiation(true);
    start_then_exchange(tls12(huge_client()), server_ctx, client_starts, [](auto& s) { return s.renegotiate(); });
}

TEST_CASE("a TLS 1.3 KeyUpdate over a session with a 200 KiB certificate chain completes inside blocking calls",
          "[blocking][tls13][key_update]") {
    if (default_version() != "TLS v1.3")
        return;  // TLS 1.3 needs Botan 3
    const bool client_starts = GENERATE(true, false);
    CAPTURE(client_starts);
    start_then_exchange(huge_client(), huge_server(), client_starts, [](auto& s) { return s.update_keys(true); });
}

// ---- application data ahead of a handshake (max_held) -------------------------

namespace {

using blocking_pair_stream = tlsw::tls_stream<tlsw::blocking_memory_pair::end>;

/** A client and a server over a blocking memory pair of `capacity` bytes
    each way, connected (TLS 1.2 when `tls12_only`; the server accepts a
    client's renegotiation). */
struct blocking_pair {
    explicit blocking_pair(bool tls12_only, std::size_t capacity)
        : blocking_pair(tlsw::blocking_memory_pair::make(capacity), tls12_only) {}

    void connect() {
        bool server_ok = false;
        std::thread t([&] { server_ok = server.handshake().has_value(); });
        REQUIRE(client.handshake());
        t.join();
        REQUIRE(server_ok);
    }

    blocking_pair_stream client;
    blocking_pair_stream server;

private:
    static tlsw::context server_ctx(bool tls12_only) {
        auto ctx = tls12_only ? tls12(server_context()) : server_context();
        ctx.allow_client_renegotiation(true);
        return ctx;
    }
    blocking_pair(std::pair<tlsw::blocking_memory_pair::end, tlsw::blocking_memory_pair::end> ends, bool tls12_only)
        : client(tls12_only ? tls12(client_context()) : client_context(), std::move(ends.first), localhost()),
          server(server_ctx(tls12_only), std::move(ends.second)) {}
};

/** A TLS 1.2 blocking_pair with 4 MiB each way, connected; `us` is the
    side that starts a renegotiation (the client or the server). */
struct renegotiating_pair : blocking_pair {
    explicit renegotiating_pair(bool client_starts)
        : blocking_pair(true, 4 << 20), us(client_starts ? client : server), peer(client_starts ? server : client) {
        connect();
    }
    blocking_pair_stream& us;
    blocking_pair_stream& peer;
};

}  // namespace

TEST_CASE("a blocking renegotiate() holds the application data that arrived ahead of it instead of returning "
          "want_read; the write completes the renegotiation and read() returns the data in order",
          "[blocking][renegotiation][held]") {
    // Either side starts it, with 300 KB of the peer's data (far more than
    // one record, less than max_held) already in its transport.
    const bool client_starts = GENERATE(true, false);
    CAPTURE(client_starts);
    renegotiating_pair p(client_starts);
    auto& us = p.us;
    auto& peer = p.peer;
    const auto ahead = pattern(300000, 11), ping = pattern(1000, 12);
    REQUIRE(peer.write(ahead));  // all of it fits in the pair

    auto started = us.renegotiate();
    INFO("renegotiate: " << outcome(started));
    REQUIRE(started);
    CHECK(us.pending() > blocking_pair_stream::max_pending);  // held, not refused
    CHECK(us.pending() <= blocking_pair_stream::max_pending + blocking_pair_stream::max_held);

    tlsw::result<std::vector<std::byte>> got = tlsw::unexpected(tlsw::tls_error(errc::invalid_state));
    std::thread t([&] { got = read_blocking(peer, ping.size()); });  // answers the request
    auto w = us.write(ping);  // completes the renegotiation first
    t.join();
    INFO("write: " << outcome(w) << ", peer read: " << outcome(got));
    REQUIRE(w);
    REQUIRE(got);
    CHECK_SAME_BYTES(*got, ping);
    auto back = read_blocking(us, ahead.size());
    INFO("read: " << outcome(back));
    REQUIRE(back);
    CHECK_SAME_BYTES(*back, ahead);
    CHECK(us.pending() == 0);
    CHECK(us.info().handshakes == 2);
    CHECK(peer.info().handshakes == 2);
}

TEST_CASE("a peer that sends more than max_held ahead of a blocking renegotiate() ends the stream with a "
          "protocol error and unexpected_message, never want_read",
          "[blocking][renegotiation][held][hostile]") {
    const bool client_starts = GENERATE(true, false);
    CAPTURE(client_starts);
    renegotiating_pair p(client_starts);
    auto& us = p.us;
    auto& peer = p.peer;
    REQUIRE(peer.write(pattern(blocking_pair_stream::max_held + 200000, 13)));

    auto started = us.renegotiate();
    REQUIRE_FALSE(started);
    INFO(started.error().message());
    REQUIRE(started.error() == errc::protocol);  // (want_read here would leave the peer's read below waiting)
    REQUIRE(started.error().alert() == tlsw::alert::unexpected_message);
    CHECK_FALSE(started.error().alert_from_peer());
    CHECK(us.describe().find("max_held") != std::string::npos);
    // Bounded on the way: the held data never grew past max_held.
    CHECK(us.buffer_capacity() <= blocking_pair_stream::rx_size + blocking_pair_stream::max_held + 4 * 16384);
    // Final, and the peer got the alert.
    CHECK(us.write(std::string_view("x")).error() == errc::protocol);
    std::array<std::byte, 4096> buffer{};
    tlsw::result<std::size_t> n = 0;
    while ((n = peer.read(buffer)))
        ;
    CHECK(n.error() == errc::protocol);
    CHECK(n.error().alert() == tlsw::alert::unexpected_message);
    CHECK(n.error().alert_from_peer());
}

TEST_CASE("a blocking write completes while the peer sends 200 KB and then a KeyUpdate; read() then returns the "
          "data in order and answers the KeyUpdate",
          "[blocking][tls13][key_update][held]") {
    if (default_version() != "TLS v1.3")
        return;  // TLS 1.3 needs Botan 3
    // A pair of 256 KiB each way: the peer's data and KeyUpdate fit, our
    // 1 MiB write does not, so it blocks until the peer reads.
    blocking_pair p(false, 256 * 1024);
    p.connect();
    const auto ahead = pattern(200000, 14), big = pattern(1 << 20, 15);
    tlsw::result<std::vector<std::byte>> got = tlsw::unexpected(tlsw::tls_error(errc::invalid_state));
    tlsw::result<void> updated{};
    std::thread t([&] {
        auto w = p.server.write(ahead);
        updated = w ? p.server.update_keys(true) : tlsw::unexpected(w.error());
        got = read_blocking(p.server, big.size());
    });
    auto w = p.client.write(big);
    t.join();
    INFO("write: " << outcome(w) << ", peer update_keys: " << outcome(updated) << ", peer read: " << outcome(got));
    REQUIRE(w);
    REQUIRE(updated);
    REQUIRE(got);
    CHECK_SAME_BYTES(*got, big);
    auto back = read_blocking(p.client, ahead.size());
    INFO("read: " << outcome(back));
    REQUIRE(back);
    CHECK_SAME_BYTES(*back, ahead);
    // Our answer went out under the old keys; the peer reads on under new ones.
    std::thread t2([&] { got = read_blocking(p.server, 5); });
    REQUIRE(p.client.write(std::string_view("after")));
    t2.join();
    REQUIRE(got);
}
