// Test that header file is self-contained.
#include <tlsw/tls_stream.hpp>

#include "support/connection.hpp"
#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/testing/fault_transport.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <optional>
#include <thread>

#include <tlsw/nonblocking_socket.hpp>

#include <sys/socket.h>

using namespace tlsw_test;
using tlsw::errc;

namespace {

template <class P>
struct duplex {
    using stream = typename P::template stream<tlsw::memory_pair::end>;

    explicit duplex(std::size_t capacity = 64 * 1024) : duplex(tlsw::memory_pair::make(capacity)) {}

    stream client;
    stream server;

private:
    explicit duplex(std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends)
        : client(client_context(), std::move(ends.first), localhost()),
          server(server_context(), std::move(ends.second)) {}
};

}  // namespace

TEMPLATE_LIST_TEST_CASE("handshake completes and data flows both directions over a memory pair",
                        "[tls_stream][handshake]", all_policies) {
    duplex<TestType> d;
    handshake_both(d.client, d.server);
    CHECK(d.client.info().handshakes == 1);
    CHECK(d.server.info().handshakes == 1);
    CHECK(d.client.info().version == default_version());  // TLS 1.3 on Botan 3
    CHECK(d.server.info().server_name == "localhost");  // the SNI the client sent
    CHECK_FALSE(d.client.handshake_pending());

    const auto hello = pattern(100, 1);
    CHECK(transfer(d.client, d.server, hello, hello.size()) == hello);
    const auto reply = pattern(200, 2);
    CHECK(transfer(d.server, d.client, reply, reply.size()) == reply);
}

// Issue 11: an idle stream costs what Botan's channel costs, no more.
TEMPLATE_LIST_TEST_CASE("an established stream gone idle holds no I/O buffer; release_buffers off keeps them",
                        "[tls_stream][memory]", all_policies) {
    using stream = typename TestType::template stream<tlsw::memory_pair::end>;
    const bool release = GENERATE(true, false);
    CAPTURE(release);
    auto [a, b] = tlsw::memory_pair::make(64 * 1024);
    tlsw::stream_options client_options = localhost();
    client_options.release_buffers = release;
    tlsw::stream_options server_options;
    server_options.release_buffers = release;
    stream client(client_context(), std::move(a), client_options);
    stream server(server_context(), std::move(b), server_options);
    // Before the first call: no receive buffer; a client's queue holds its
    // ClientHello (about 1.5 KB on Botan 3: an X25519MLKEM768 key share).
    CHECK(server.buffer_capacity() == 0);
    CHECK(client.buffer_capacity() < 2048);
    handshake_both(client, server);
    if (release) {
        CHECK(client.buffer_capacity() == 0);
        CHECK(server.buffer_capacity() == 0);
    }

    // Traffic both ways, larger than the pair holds: queues and inboxes grow.
    const auto data = pattern(300 * 1024, 3);
    CHECK_SAME_BYTES(transfer(client, server, data, data.size()), data);
    CHECK_SAME_BYTES(transfer(server, client, data, data.size()), data);
    std::array<std::byte, 100> buffer{};
    const bool moved = client.buffer_capacity() > 0 || server.buffer_capacity() > 0;
    CHECK(moved);  // the reader kept its receive buffer while data flowed

    // A read that finds nothing: the stream is idle.
    CHECK(client.read(buffer).error() == errc::want_read);
    CHECK(server.read(buffer).error() == errc::want_read);
    if (release) {
        CHECK(client.buffer_capacity() == 0);
        CHECK(server.buffer_capacity() == 0);
    } else {
        CHECK(client.buffer_capacity() >= stream::rx_size);
        CHECK(server.buffer_capacity() >= stream::rx_size);
    }

    // The buffers come back when data does.
    const auto again = pattern(20000, 4);
    CHECK_SAME_BYTES(transfer(client, server, again, again.size()), again);
}

TEMPLATE_LIST_TEST_CASE("every byte arrives once and in order whatever the write size",
                        "[tls_stream][write][read]", all_policies) {
    const std::size_t size = GENERATE(std::size_t{0}, 1, 16383, 16384, 16385, 1 << 20);
    const bool client_writes = GENERATE(true, false);
    CAPTURE(size, client_writes);

    duplex<TestType> d;
    const auto data = pattern(size, static_cast<std::uint32_t>(size));
    const auto received = client_writes ? transfer(d.client, d.server, data, data.size())
                                        : transfer(d.server, d.client, data, data.size());
    CHECK_SAME_BYTES(received, data);
}

TEMPLATE_LIST_TEST_CASE("write performs the handshake when it has not run", "[tls_stream][write][handshake]",
                        all_policies) {
    duplex<TestType> d;
    REQUIRE(d.client.handshake_pending());
    const auto data = pattern(10);
    CHECK(transfer(d.client, d.server, data, data.size()) == data);
    CHECK(d.client.info().handshakes == 1);
    CHECK_FALSE(d.client.handshake_pending());
}

TEMPLATE_LIST_TEST_CASE("a server's write performs the handshake too", "[tls_stream][write][handshake]",
                        all_policies) {
    duplex<TestType> d;
    const auto data = pattern(10);
    CHECK(transfer(d.server, d.client, data, data.size()) == data);
    CHECK(d.server.info().handshakes == 1);
}

TEMPLATE_LIST_TEST_CASE("a write of 0 bytes finishes the handshake, sends no application data and returns 0",
                        "[tls_stream][write][zero]", all_policies) {
    duplex<TestType> d;
    auto n = retry([&] { return d.client.write({}); }, [&] { (void)d.server.read(std::span<std::byte>{}); (void)d.server.handshake(); });
    REQUIRE(n);
    CHECK(*n == 0);
    CHECK_FALSE(d.client.handshake_pending());
    // The server finished too and has nothing to read.
    REQUIRE(d.server.handshake());
    std::byte byte{};
    auto r = d.server.read(std::span(&byte, 1));
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::want_read);
}

TEMPLATE_LIST_TEST_CASE("partial_write returns one record of at most 16384 bytes; full_write returns everything",
                        "[tls_stream][write][partial]", all_policies) {
    duplex<TestType> d(1 << 21);
    handshake_both(d.client, d.server);
    const auto data = pattern(100000);
    std::size_t offset = 0;
    int calls = 0;
    while (offset < data.size()) {
        auto n = d.client.write(std::span(data).subspan(offset));
        REQUIRE(n);
        ++calls;
        if (TestType::template stream<tlsw::memory_pair::end>::partial_write)
            CHECK(*n == std::min<std::size_t>(16384, data.size() - offset));
        else
            CHECK(*n == data.size() - offset);
        offset += *n;
    }
    CHECK(calls == (TestType::template stream<tlsw::memory_pair::end>::partial_write ? 7 : 1));
    std::vector<std::byte> received(data.size());
    std::size_t got = 0;
    while (got < data.size()) {
        auto m = d.server.read(std::span(received).subspan(got));
        REQUIRE(m);
        got += *m;
    }
    CHECK_SAME_BYTES(received, data);
}

TEMPLATE_LIST_TEST_CASE("read returns closed after the peer's close_notify", "[tls_stream][read][shutdown]",
                        all_policies) {
    duplex<TestType> d;
    const auto data = pattern(5000);
    REQUIRE(transfer(d.client, d.server, data, data.size()) == data);
    REQUIRE(retry([&] { return d.client.shutdown(); }, [] {}));

    std::vector<std::byte> buffer(100);
    auto r = d.server.read(buffer);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::closed);
    CHECK_FALSE(r.error().retryable());
    // It stays closed, and writes after it say so too.
    CHECK(d.server.read(buffer).error() == errc::closed);
    CHECK(d.server.write(std::span(data).first(10)).error() == errc::closed);
    CHECK(d.client.write(std::span(data).first(10)).error() == errc::closed);

    // The client waits for the server's close_notify (Botan answers one).
    auto wait = d.client.shutdown(tlsw::shutdown_mode::send_and_wait);
    CHECK(wait);
}

TEMPLATE_LIST_TEST_CASE("read returns truncated when the transport ends without close_notify",
                        "[tls_stream][read][truncation]", all_policies) {
    duplex<TestType> d;
    const auto data = pattern(3000);
    REQUIRE(transfer(d.client, d.server, data, data.size()) == data);
    d.client.transport().close();

    std::vector<std::byte> buffer(100);
    auto r = d.server.read(buffer);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::truncated);
    CHECK_FALSE(r.error().retryable());
    CHECK(d.server.read(buffer).error() == errc::truncated);
    CHECK(d.server.write(std::span(data).first(1)).error() == errc::truncated);
}

TEMPLATE_LIST_TEST_CASE("data written before the close_notify is read before closed is reported",
                        "[tls_stream][read][shutdown]", all_policies) {
    duplex<TestType> d;
    handshake_both(d.client, d.server);
    const auto data = pattern(40000);
    REQUIRE(write_all(d.client, data, [] {}));
    REQUIRE(retry([&] { return d.client.shutdown(); }, [] {}));
    std::vector<std::byte> received;
    std::vector<std::byte> buffer(7000);
    for (;;) {
        auto r = d.server.read(buffer);
        if (!r) {
            CHECK(r.error() == errc::closed);
            break;
        }
        received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*r));
    }
    CHECK_SAME_BYTES(received, data);
}

// The side that completes a handshake last receives the peer's Finished,
// the data behind it and its close_notify in one transport read: the
// client in a full handshake, the server in a resumed one. Its write ends
// the handshake there (one record at a time) and sends; had it met the
// close_notify it would return closed; neither may cost the data that
// came first.
TEMPLATE_LIST_TEST_CASE("a write that completes the handshake while the peer's data and close_notify wait does not "
                        "fail the stream; the data before the close_notify stays readable",
                        "[tls_stream][write][shutdown]", all_policies) {
    using connection = basic_connection<typename TestType::template stream<tlsw::memory_pair::end>>;
    const bool resumed = GENERATE(false, true);
    CAPTURE(resumed);
    const auto server_ctx = server_context();
    // TLS 1.2's order of flights: the client sends the last one of a full
    // handshake, the server of a resumed one (under TLS 1.3 the client's
    // Finished always comes last).
    const auto client_ctx = tls12(client_context());
    if (resumed)
        REQUIRE_FALSE(connection(client_ctx, server_ctx).handshake());
    connection c(client_ctx, server_ctx);
    auto& first = c.handshake_until_one_finished();
    auto& last = &first == &c.client ? c.server : c.client;
    REQUIRE(first.info().resumed == resumed);
    REQUIRE(&first == (resumed ? &c.client : &c.server));

    const auto data = pattern(5000);
    REQUIRE(write_all(first, data, [] {}));
    REQUIRE(first.shutdown());
    const auto mine = pattern(100, 3);
    // The write stops at the end of the handshake, one record at a time,
    // so it does not reach the close_notify behind the data (then it
    // succeeds, as SSL_write would); had it met it, closed.
    auto w = last.write(mine);
    CHECK((w || w.error() == errc::closed));
    CHECK(last.info().handshakes == 1);

    std::vector<std::byte> received;
    std::vector<std::byte> buffer(1000);
    for (;;) {
        auto r = last.read(buffer);
        if (!r) {
            CHECK(r.error() == errc::closed);
            break;
        }
        received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*r));
    }
    CHECK_SAME_BYTES(received, data);
}

TEST_CASE("the default policy negotiates ECDHE with an AEAD cipher", "[tls_stream][policy]") {
    duplex<policies<>> d;
    handshake_both(d.client, d.server);
    const auto& suite = d.client.info().cipher_suite;
    CAPTURE(suite);
    // TLS 1.3 suite names carry no key exchange (it is always (EC)DHE).
    CHECK((suite.rfind("ECDHE_", 0) == 0 || d.client.info().version == "TLS v1.3"));
    CHECK((suite.find("_GCM_") != std::string::npos || suite.find("CHACHA20_POLY1305") != std::string::npos));
    CHECK(suite.find("CECPQ1") == std::string::npos);
    CHECK(suite.find("CBC") == std::string::npos);
    CHECK(d.server.info().cipher_suite == suite);
}

TEST_CASE("a client refuses a certificate for another host name", "[tls_stream][certificate]") {
    auto [a, b] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> client(client_context(), std::move(a), {.server_name = "example.com"});
    tlsw::tls_stream<tlsw::memory_pair::end> server(server_context(), std::move(b));
    tlsw::result<void> c, s;
    for (int i = 0; i < 100; ++i) {
        c = client.handshake();
        s = server.handshake();
        if ((!c && !c.error().retryable()) && (!s && !s.error().retryable()))
            break;
    }
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::certificate);
    CHECK(c.error().certificate() == tlsw::certificate_reason::name_mismatch);
    CHECK_FALSE(c.error().alert_from_peer());
    // The server learns of it through the client's alert.
    REQUIRE_FALSE(s);
    CHECK(s.error().alert_from_peer());
    CHECK((s.error() == errc::certificate || s.error() == errc::protocol));
}

TEST_CASE("a client refuses a server whose CA it does not trust", "[tls_stream][certificate]") {
    auto [a, b] = tlsw::memory_pair::make();
    auto other = tlsw::testing::make_test_pki("localhost");
    auto ctx = tlsw::context::client();
    ctx.use_system_trust(false);
    REQUIRE(ctx.trust(other.ca_cert_pem));
    tlsw::tls_stream<tlsw::memory_pair::end> client(ctx, std::move(a), localhost());
    tlsw::tls_stream<tlsw::memory_pair::end> server(server_context(), std::move(b));
    auto c = retry([&] { return client.handshake(); }, [&] { (void)server.handshake(); });
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::certificate);
    CHECK(c.error().certificate() == tlsw::certificate_reason::unknown_issuer);
    CHECK(c.error().alert() == tlsw::alert::unknown_ca);
    CHECK_THAT(c.error().message(), Catch::Contains("issuer"));
}

TEST_CASE("a verifying client without a server name is refused before any byte is sent", "[tls_stream][certificate]") {
    auto [a, b] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> client(client_context(), std::move(a));
    auto r = client.handshake();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::missing_server_name);  // its message says why (tests/server_name.cpp)
    CHECK(b.available() == 0);
}

TEST_CASE("danger_disable_verification accepts any certificate", "[tls_stream][certificate]") {
    auto [a, b] = tlsw::memory_pair::make();
    auto ctx = tlsw::context::client();
    ctx.danger_disable_verification();
    tlsw::tls_stream<tlsw::memory_pair::end> client(ctx, std::move(a), {.server_name = "wrong.example"});
    tlsw::tls_stream<tlsw::memory_pair::end> server(server_context(), std::move(b));
    handshake_both(client, server);
}

TEMPLATE_LIST_TEST_CASE("a write after shutdown returns closed and sends nothing", "[tls_stream][write][shutdown]",
                        all_policies) {
    duplex<TestType> d;
    handshake_both(d.client, d.server);
    REQUIRE(d.client.shutdown());
    const auto before = d.server.transport().available();
    auto n = d.client.write(pattern(10));
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::closed);
    CHECK(d.server.transport().available() == before);
}

TEST_CASE("a write after the transport failed returns the transport error and never throws",
          "[tls_stream][write][transport]") {
    duplex<policies<>> d;
    handshake_both(d.client, d.server);
    d.server.transport().close();
    auto n = d.client.write(pattern(10));
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::transport);
    CHECK(n.error().transport_error() == std::errc::broken_pipe);
    CHECK_FALSE(n.error().retryable());
    // Sticky: the same error again.
    CHECK(d.client.write(pattern(10)).error() == errc::transport);
}

TEST_CASE("garbage from the peer ends in a protocol error with an alert, not an exception", "[tls_stream][read]") {
    auto [a, b] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> server(server_context(), std::move(b));
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(a.write_some(std::as_bytes(std::span(request))));
    std::vector<std::byte> buffer(100);
    auto r = server.read(buffer);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::protocol);
    CHECK(r.error().has_alert());
    CHECK_FALSE(r.error().alert_from_peer());
}

TEMPLATE_LIST_TEST_CASE("streams over blocking pairs in two threads move 1 MiB each way",
                        "[tls_stream][blocking]", all_policies) {
    using stream = typename TestType::template stream<tlsw::blocking_memory_pair::end>;
    auto [a, b] = tlsw::blocking_memory_pair::make(32 * 1024);
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    const auto up = pattern(1 << 20, 11);
    const auto down = pattern(1 << 20, 12);

    // The client writes everything, then reads; the server reads, then
    // writes. The pair buffers less than the data, so each write finishes
    // only because the other thread reads.
    auto send_all = [](stream& s, const std::vector<std::byte>& out) {
        for (std::size_t offset = 0; offset < out.size();) {
            auto n = s.write(std::span(out).subspan(offset));
            if (!n)
                return false;
            offset += *n;
        }
        return true;
    };
    auto receive_all = [](stream& s, std::vector<std::byte>& in, std::size_t size) {
        std::vector<std::byte> buffer(16384);
        while (in.size() < size) {
            auto m = s.read(buffer);
            if (!m)
                return false;
            in.insert(in.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*m));
        }
        return true;
    };
    std::vector<std::byte> at_server, at_client;
    bool server_ok = false, client_ok = false;
    std::thread t([&] { server_ok = receive_all(server, at_server, up.size()) && send_all(server, down); });
    client_ok = send_all(client, up) && receive_all(client, at_client, down.size());
    t.join();
    CHECK(client_ok);
    CHECK(server_ok);
    CHECK_SAME_BYTES(at_server, up);
    CHECK_SAME_BYTES(at_client, down);
}

TEMPLATE_LIST_TEST_CASE("a gather write packs small buffers into as few records as possible",
                        "[tls_stream][write][gather]", all_policies) {
    duplex<TestType> d(1 << 20);
    handshake_both(d.client, d.server);
    // 1000 messages of 10 bytes: one record of 10000 bytes, not 1000 records.
    const auto data = pattern(10000);
    std::vector<std::span<const std::byte>> buffers;
    for (std::size_t i = 0; i < data.size(); i += 10)
        buffers.push_back(std::span(data).subspan(i, 10));
    const auto before = d.server.transport().available();
    auto n = d.client.write(buffers);
    REQUIRE(n);
    CHECK(*n == data.size());
    // One AES-GCM record: 29 bytes more under TLS 1.2, 22 under TLS 1.3.
    CHECK(d.server.transport().available() - before == data.size() + (default_version() == "TLS v1.3" ? 22 : 29));

    // Across record boundaries and with empty pieces, bytes keep their order.
    const auto big = pattern(50000, 3);
    std::vector<std::span<const std::byte>> pieces{std::span(big).first(5), {}, std::span(big).subspan(5, 20000),
                                                   std::span(big).subspan(20005)};
    std::size_t offset = 0;
    while (offset < big.size()) {
        auto m = d.client.write(pieces);
        REQUIRE(m);
        offset += *m;
        // In partial mode each call returns one record; drop what was written.
        std::size_t skip = *m;
        std::vector<std::span<const std::byte>> rest;
        for (auto p : pieces) {
            const std::size_t drop = std::min(skip, p.size());
            skip -= drop;
            if (p.size() > drop)
                rest.push_back(p.subspan(drop));
        }
        pieces = rest;
    }
    std::vector<std::byte> received(data.size() + big.size());
    std::size_t got = 0;
    while (got < received.size()) {
        auto m = d.server.read(std::span(received).subspan(got));
        REQUIRE(m);
        got += *m;
    }
    CHECK(first_difference(std::span(received).first(data.size()), data) == std::string::npos);
    CHECK(first_difference(std::span(received).subspan(data.size()), big) == std::string::npos);
}

TEST_CASE("a client refuses an expired or not yet valid certificate and says which", "[tls_stream][certificate]") {
    using namespace std::chrono_literals;
    struct validity {
        std::chrono::seconds not_before, not_after;
        tlsw::certificate_reason reason;
        tlsw::alert alert;
    };
    const auto v = GENERATE(validity{-48h, -24h, tlsw::certificate_reason::expired, tlsw::alert::certificate_expired},
                            validity{24h, 48h, tlsw::certificate_reason::not_yet_valid, tlsw::alert::bad_certificate});
    tlsw::testing::pki_options options;
    options.not_before_offset = v.not_before;
    options.not_after_offset = v.not_after;
    auto pki = tlsw::testing::make_test_pki(options);
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    REQUIRE(creds);
    auto client_ctx = tlsw::context::client();
    client_ctx.use_system_trust(false);
    REQUIRE(client_ctx.trust(pki.ca_cert_pem));

    auto [a, b] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> client(client_ctx, std::move(a), localhost());
    tlsw::tls_stream<tlsw::memory_pair::end> server(tlsw::context::server(*creds), std::move(b));
    auto c = retry([&] { return client.handshake(); }, [&] { (void)server.handshake(); });
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::certificate);
    CHECK(c.error().certificate() == v.reason);
    CHECK(c.error().alert() == v.alert);
    // The server hears why through the alert.
    auto s = server.handshake();
    REQUIRE_FALSE(s);
    CHECK(s.error().alert_from_peer());
    CHECK(s.error().alert() == v.alert);
}

TEMPLATE_LIST_TEST_CASE("a read returns the plaintext of one record at most, as SSL_read_ex does",
                        "[tls_stream][read][records]", all_policies) {
    // An echo server answers each record with a record of the same length
    // only if reads keep the boundaries, whatever arrives together.
    duplex<TestType> d;
    handshake_both(d.client, d.server);
    REQUIRE(d.client.write(pattern(10, 1)));
    REQUIRE(d.client.write(pattern(20, 2)));
    REQUIRE(d.client.write(pattern(30, 3)));
    std::array<std::byte, 16384> buffer;
    for (std::size_t size : {10u, 20u, 30u}) {
        auto n = d.server.read(buffer);
        REQUIRE(n);
        CHECK(*n == size);
    }
    // A short buffer takes the rest of the record next, not the next record.
    REQUIRE(d.client.write(pattern(100, 4)));
    REQUIRE(d.client.write(pattern(50, 5)));
    CHECK(d.server.read(std::span(buffer).first(60)) == 60u);
    CHECK(d.server.read(buffer) == 40u);
    CHECK(d.server.read(buffer) == 50u);
}

TEST_CASE("shutdown with send_and_wait ends cleanly when the peer still had data in flight",
          "[tls_stream][shutdown]") {
    // After our close_notify Botan 2 refuses the peer's application data and
    // cannot read its close_notify behind it; TLS 1.2 lets that data be
    // dropped (RFC 5246 7.2.1), so the wait ends as closed, not as an error.
    duplex<policies<>> d;
    handshake_both(d.client, d.server);
    REQUIRE(d.server.write(pattern(1000)) == 1000u);
    REQUIRE(d.client.shutdown());
    std::array<std::byte, 16384> buffer;
    (void)d.server.read(buffer);  // takes the close_notify and answers it
    auto wait = d.client.shutdown(tlsw::shutdown_mode::send_and_wait);
    INFO((wait ? std::string("ok") : wait.error().message()));
    CHECK((wait || wait.error() == errc::closed));
    CHECK(d.client.read(buffer).error() == errc::closed);
}

TEST_CASE("read returns closed when the peer closes its socket right after close_notify", "[tls_stream][shutdown]") {
    // openssl s_client does this at stdin EOF: our close_notify reply then
    // cannot be delivered, and that must not hide the clean close.
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    auto a = tlsw::nonblocking_socket::from_fd(fds[0]);
    auto b = tlsw::nonblocking_socket::from_fd(fds[1]);
    REQUIRE(a);
    REQUIRE(b);
    tlsw::tls_stream<tlsw::nonblocking_socket> client(client_context(), std::move(*a), localhost());
    tlsw::tls_stream<tlsw::nonblocking_socket> server(server_context(), std::move(*b));
    handshake_both(client, server);

    REQUIRE(client.shutdown());
    client.transport().close();
    std::array<std::byte, 256> buffer;
    auto r = server.read(buffer);
    REQUIRE_FALSE(r);
    INFO(r.error().message());
    CHECK(r.error() == errc::closed);
}

// ---- receiving: several records per transport read (issue 11) ---------------

namespace {

/** Two streams over fault_transport-wrapped memory pair ends (no faults:
    the wrapper counts the transport calls). */
template <class P>
struct counted_duplex {
    using transport = tlsw::testing::fault_transport<tlsw::memory_pair::end>;
    using stream = typename P::template stream<transport>;

    explicit counted_duplex(std::size_t capacity) : counted_duplex(tlsw::memory_pair::make(capacity)) {}

    stream client;
    stream server;

private:
    explicit counted_duplex(std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends)
        : client(client_context(), transport(std::move(ends.first), tlsw::testing::fault_plan{}), localhost()),
          server(server_context(), transport(std::move(ends.second), tlsw::testing::fault_plan{})) {}
};

}  // namespace

TEMPLATE_LIST_TEST_CASE("one transport read brings several records and read() returns them one per call without "
                        "touching the transport again",
                        "[tls_stream][read][receive]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    counted_duplex<TestType> d(128 * 1024);
    handshake_both(d.client, d.server);
    auto& writer = client_writes ? d.client : d.server;
    auto& reader = client_writes ? d.server : d.client;

    // Three full records, 3 x 16,413 bytes on the wire: more than one old
    // 18 KiB receive, less than one read of rx_size.
    std::vector<std::vector<std::byte>> records;
    for (std::uint32_t i = 0; i < 3; ++i) {
        records.push_back(pattern(decltype(d)::stream::max_record, 40 + i));
        REQUIRE(writer.write(records.back()) == records.back().size());
    }
    REQUIRE_FALSE(reader.has_pending());  // nothing received yet

    // An idle reader has no receive buffer: its first transport read
    // takes idle_read_size bytes into the stack, the next one the rest;
    // one that kept its buffer reads once.
    std::vector<std::byte> buffer(64 * 1024);
    const auto reads_before = reader.transport().counters().reads;
    std::uint64_t first_call_reads = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        auto n = reader.read(buffer);
        REQUIRE(n);
        CHECK_SAME_BYTES(std::span(buffer).first(*n), records[i]);
        if (i == 0)
            first_call_reads = reader.transport().counters().reads - reads_before;
        CHECK((first_call_reads == 1 || first_call_reads == 2));
        CHECK(reader.transport().counters().reads - reads_before == first_call_reads);
        CHECK(reader.pending() == 0);  // straight into the caller's buffer
        CHECK(reader.has_pending() == (i + 1 < records.size()));
    }
    auto none = reader.read(buffer);
    REQUIRE_FALSE(none);
    CHECK(none.error() == errc::want_read);
}

TEMPLATE_LIST_TEST_CASE("has_pending() is false while only part of a record has arrived, and true once it is complete",
                        "[tls_stream][read][receive]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    counted_duplex<TestType> d(10000);  // less than one full record
    handshake_both(d.client, d.server);
    auto& writer = client_writes ? d.client : d.server;
    auto& reader = client_writes ? d.server : d.client;

    const auto data = pattern(decltype(d)::stream::max_record, 50);
    auto w = writer.write(data);  // the pair takes 10,000 of the 16,413 bytes
    REQUIRE_FALSE(w);
    REQUIRE(w.error() == errc::want_write);
    std::vector<std::byte> buffer(1000);
    auto r = reader.read(buffer);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::want_read);
    CHECK_FALSE(reader.has_pending());  // part of a record: read() needs the transport

    REQUIRE(writer.write(data) == data.size());  // the rest
    r = reader.read(buffer);
    REQUIRE(r);
    CHECK(*r == buffer.size());
    // The rest of the record is decrypted and waits in the stream.
    CHECK(reader.pending() == data.size() - buffer.size());
    CHECK(reader.has_pending());
}

TEST_CASE("a blocking reader that emptied its receive buffer holds no receive buffer",
          "[tls_stream][read][blocking][memory]") {
    using stream = tlsw::tls_stream<tlsw::blocking_memory_pair::end>;
    auto [a, b] = tlsw::blocking_memory_pair::make(64 * 1024);
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    const auto data = pattern(3000, 60);
    std::vector<std::byte> at_client;
    bool server_ok = false;
    std::thread t([&] { server_ok = server.handshake() && server.write(data) == data.size(); });
    std::vector<std::byte> buffer(16384);
    while (at_client.size() < data.size()) {
        auto n = client.read(buffer);
        REQUIRE(n);
        at_client.insert(at_client.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    t.join();
    REQUIRE(server_ok);
    CHECK_SAME_BYTES(at_client, data);
    // A blocking transport never says would-block: the read that left the
    // buffer empty released it (its next read would wait in the kernel).
    CHECK_FALSE(client.has_pending());
    CHECK(client.buffer_capacity() == 0);
}
