// Output a call leaves owed is sent by the next call of any kind, and a
// want_* result names the readiness the call waits for: read() does not
// report want_write for records an earlier write() left queued.

#include <tlsw/memory_pair.hpp>
#include <tlsw/tls_stream.hpp>

#include "support/botan_peer.hpp"
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** A memory_pair end whose writes can be refused (would_block) on demand. */
class gated_end {
public:
    [[maybe_unused]] static constexpr bool can_block = false;
    [[maybe_unused]] static constexpr bool can_would_block = true;

    explicit gated_end(tlsw::memory_pair::end next) : next_(std::move(next)) {}
    tlsw::io_result read_some(std::span<std::byte> in) { return next_.read_some(in); }
    tlsw::io_result write_some(std::span<const std::byte> out) {
        if (closed)
            return tlsw::unexpected(tlsw::would_block());
        auto n = next_.write_some(out);
        if (n)
            written += *n;
        return n;
    }

    bool closed = false;
    std::size_t written = 0;

private:
    tlsw::memory_pair::end next_;
};

using gated_stream = tlsw::tls_stream<gated_end>;

struct gated_pair {
    explicit gated_pair(bool tls12_only) : gated_pair(tlsw::memory_pair::make(1u << 20), tls12_only) {}
    gated_pair(std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends, bool tls12_only)
        : client(tls12_only ? tls12(client_context()) : client_context(), gated_end(std::move(ends.first)), localhost()),
          server(tls12_only ? tls12(server_context()) : server_context(), gated_end(std::move(ends.second))) {
        handshake_both(client, server);
    }
    gated_stream client;
    gated_stream server;
};

bool tls13_available() { return default_version() == "TLS v1.3"; }

/** The next call of each kind, after one that left output owed. */
enum class next_call { write, read, read_empty, handshake, shutdown, same_again };

const char* name(next_call c) {
    switch (c) {
    case next_call::write: return "write";
    case next_call::read: return "read";
    case next_call::read_empty: return "read of an empty buffer";
    case next_call::handshake: return "handshake";
    case next_call::shutdown: return "shutdown";
    case next_call::same_again: return "the same call again";
    }
    return "";
}

/** Makes `call` on `s` with the transport open again. */
template <class Again>
void make(next_call call, gated_stream& s, Again&& again) {
    std::byte buffer[100];
    switch (call) {
    case next_call::write: (void)s.write(std::string_view("x")); break;
    case next_call::read: (void)s.read(std::span(buffer)); break;
    case next_call::read_empty: (void)s.read(std::span(buffer).first(0)); break;
    case next_call::handshake: (void)s.handshake(); break;
    case next_call::shutdown: (void)s.shutdown(); break;
    case next_call::same_again: (void)again(); break;
    }
}

}  // namespace

TEST_CASE("after renegotiate() or update_keys() returned want_write, the next call of any kind sends the message",
          "[owed][renegotiation][key_update]") {
    const bool key_update = GENERATE(false, true);
    if (key_update && !tls13_available())
        return;  // KeyUpdate needs TLS 1.3 (Botan 3)
    const bool client_side = GENERATE(true, false);
    const auto call = GENERATE(next_call::write, next_call::read, next_call::read_empty, next_call::handshake,
                               next_call::shutdown, next_call::same_again);
    CAPTURE(key_update, client_side, name(call));
    gated_pair p(!key_update);
    gated_stream& us = client_side ? p.client : p.server;
    auto start = [&] { return key_update ? us.update_keys(true) : us.renegotiate(); };
    us.transport().closed = true;
    auto r = start();
    REQUIRE_FALSE(r);
    REQUIRE(r.error() == errc::want_write);
    us.transport().closed = false;
    const auto before = us.transport().written;
    make(call, us, start);
    CHECK(us.transport().written > before);
}

TEST_CASE("update_keys() and renegotiate() after an owed one was sent by another call send their own message",
          "[owed][renegotiation][key_update]") {
    // The repeat of a call that returned want_write only flushes; once the
    // message left through another call, a new call is a new request.
    const bool key_update = GENERATE(false, true);
    if (key_update && !tls13_available())
        return;
    CAPTURE(key_update);
    gated_pair p(!key_update);
    // The server starts: a client's renegotiation is refused by default.
    gated_stream& us = p.server;
    gated_stream& peer = p.client;
    auto start = [&] { return key_update ? us.update_keys() : us.renegotiate(); };
    us.transport().closed = true;
    REQUIRE(start().error() == errc::want_write);
    us.transport().closed = false;
    // A write sends the owed message first (and under TLS 1.2 completes
    // the renegotiation, with the client's reads).
    auto pump_client = [&] {
        std::byte b[1];
        (void)peer.read(b);
    };
    REQUIRE(retry([&] { return us.write(std::string_view("x")); }, pump_client));
    std::vector<std::byte> got;
    REQUIRE(read_until(peer, got, 1, [] {}));
    if (!key_update)
        REQUIRE(us.info().handshakes == 2);
    const auto before = us.transport().written;
    REQUIRE(start());
    CHECK(us.transport().written > before);
}

TEST_CASE("read() reports want_read, not want_write, while only an earlier write's records wait for the transport",
          "[owed][read][duplex]") {
    const bool client_side = GENERATE(true, false);
    CAPTURE(client_side);
    gated_pair p(false);
    gated_stream& us = client_side ? p.client : p.server;
    gated_stream& peer = client_side ? p.server : p.client;
    us.transport().closed = true;
    const auto data = pattern(50000, 4);
    auto w = us.write(data);
    REQUIRE_FALSE(w);
    REQUIRE(w.error() == errc::want_write);
    std::byte buffer[1000];
    auto r = us.read(buffer);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::want_read);
    // The peer's data still arrives while ours waits.
    REQUIRE(peer.write(std::string_view("hello")));
    auto r2 = us.read(buffer);
    REQUIRE(r2);
    CHECK(std::string_view(reinterpret_cast<const char*>(buffer), *r2) == "hello");
    // And the write completes once the transport takes it, every byte once.
    us.transport().closed = false;
    std::vector<std::byte> got;
    auto n = retry([&] { return us.write(data); }, [&] { (void)drain(peer, got); });
    REQUIRE(n);
    (void)drain(peer, got);
    CHECK_SAME_BYTES(got, data);
}

TEST_CASE("read() reports want_write when a handshake message it must send itself is stuck",
          "[owed][read][renegotiation]") {
    // The server's HelloRequest reaches the client's read(), whose
    // ClientHello the transport refuses: the peer waits for it.
    gated_pair p(true);
    REQUIRE(p.server.renegotiate());
    p.client.transport().closed = true;
    std::byte buffer[100];
    auto r = p.client.read(buffer);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::want_write);
}
