// The write contract of SSL_write.txt, sentence by sentence (issue 5):
// negotiation by write, want_read / want_write over a nonblocking
// transport, blocking transports, full and partial writes, writes of 0
// bytes, and the compat wrappers' int conventions.
//
// Retries, partial processing and failures: write_contract_retry.cpp.
// Renegotiation: renegotiation.cpp. docs/write_contract.md maps every
// sentence of SSL_write.txt to the tests that show it. Each behaviour runs
// over all four policy combinations and, where it applies, both roles;
// the wire is checked with recording_transport (tests/support/botan_peer.hpp).

#include "support/botan_peer.hpp"
#include "support/harness.hpp"

#include <tlsw/compat.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/nonblocking_socket.hpp>
#include <tlsw/tcp_listener.hpp>
#include <tlsw/tls_stream.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <climits>
#include <string>
#include <thread>

using namespace tlsw_test;
using tlsw::errc;
using namespace std::chrono_literals;

namespace {

/** The largest plaintext one record carries. */
constexpr std::size_t record_size = 16384;

}  // namespace

// ---- "If necessary, a write function will negotiate a TLS/SSL session" ----

TEMPLATE_LIST_TEST_CASE("write negotiates the session when no handshake ran, in either role, returning want_read "
                        "over a nonblocking pair until the peer answers",
                        "[write][handshake][nonblocking]", all_policies) {
    // "If necessary, a write function will negotiate a TLS/SSL session, if
    // not already explicitly performed by SSL_connect(3) or SSL_accept(3)."
    // (tls_stream.cpp has the one-call transfer() form of this for each
    // role; this test checks every return and the wire.)
    const bool client_writes = GENERATE(true, false);
    const bool explicit_handshake = GENERATE(false, true);
    CAPTURE(client_writes, explicit_handshake);
    wired<TestType> d;
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    std::vector<std::byte> at_peer;
    auto peer_reads = [&] { (void)drain(peer, at_peer); };  // the peer only ever reads

    if (explicit_handshake) {
        REQUIRE(retry([&] { return writer.handshake(); }, peer_reads));
        CHECK(writer.info().handshakes == 1);
    }
    const auto data = pattern(1000, 1);
    const std::size_t mark = writer.transport().log().mark();
    auto n = writer.write(data);
    const auto& log = writer.transport().log();
    if (explicit_handshake) {
        // Negotiated already: the write goes straight out as one record.
        REQUIRE(n);
        CHECK(*n == data.size());
        CHECK(log.describe(mark) == "23");
    } else {
        REQUIRE_FALSE(n);
        CHECK(n.error() == errc::want_read);
        if (client_writes)
            CHECK(log.describe() == "22");  // the ClientHello, nothing else
        else
            CHECK(log.bytes() == 0);  // a server has nothing to say before the ClientHello
        int want_reads = 0;
        while (!n) {
            REQUIRE(n.error() == errc::want_read);  // the pair never fills: no want_write
            REQUIRE(++want_reads < 100);
            peer_reads();
            n = writer.write(data);  // the same arguments
        }
        CHECK(*n == data.size());
        CHECK(want_reads >= 2);  // two round trips
        // No application data before our Finished.
        const std::size_t ccs = log.find(record_type::change_cipher_spec);
        REQUIRE(ccs != record_log::npos);
        CHECK(log.find(record_type::application_data) == ccs + 2);
        CHECK(log.count(record_type::application_data) == 1);
    }
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, data);
    CHECK(writer.info().handshakes == 1);
    CHECK(peer.info().handshakes == 1);
    CHECK_FALSE(writer.handshake_pending());
    const auto reply = pattern(2000, 2);
    CHECK_SAME_BYTES(transfer(peer, writer, reply, reply.size()), reply);
}

TEMPLATE_LIST_TEST_CASE("a write that negotiates over a 64-byte pair returns want_read and want_write by turns "
                        "and completes when repeated",
                        "[write][handshake][nonblocking][want_write]", all_policies) {
    // "In this case a call to SSL_get_error(3) with the return value of the
    // write function will yield SSL_ERROR_WANT_READ or
    // SSL_ERROR_WANT_WRITE." No handshake flight fits in 64 bytes, so the
    // negotiating write needs both.
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d(64);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const auto data = pattern(1000, 1);
    std::vector<std::byte> at_peer;
    int want_reads = 0, want_writes = 0;
    auto n = writer.write(data);
    for (int i = 0; !n && i < 10000; ++i) {
        REQUIRE(n.error().retryable());
        ++(n.error() == errc::want_read ? want_reads : want_writes);
        (void)drain(peer, at_peer);
        n = writer.write(data);
    }
    REQUIRE(n);
    CHECK(*n == data.size());
    CHECK(want_reads > 0);
    CHECK(want_writes > 0);
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, data);
    CHECK(writer.transport().log().count(record_type::application_data) == 1);
}

TEMPLATE_LIST_TEST_CASE("write negotiates the session in either role over a blocking pair in two threads and "
                        "returns only once the write is finished",
                        "[write][handshake][blocking]", all_policies) {
    // "If the underlying BIO is blocking, the write functions will only
    // return, once the write operation has been finished or an error
    // occurred." The pair holds 8 KiB: the write finishes only because the
    // other thread reads, and no call ever returns want_read / want_write.
    using stream = typename TestType::template stream<tlsw::blocking_memory_pair::end>;
    const bool client_writes = GENERATE(true, false);
    const bool explicit_handshake = GENERATE(false, true);
    CAPTURE(client_writes, explicit_handshake);
    auto [a, b] = tlsw::blocking_memory_pair::make(8 * 1024);
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    stream& writer = client_writes ? client : server;
    stream& peer = client_writes ? server : client;

    const auto data = pattern(100000, 3);
    const auto reply = pattern(5000, 4);
    std::vector<std::byte> at_peer, at_writer;
    std::string peer_failure;
    std::thread t([&] {
        auto r = read_until(peer, at_peer, data.size(), [] {});
        if (!r) {
            peer_failure = r.error().message();
            return;
        }
        auto n = peer.write(reply);
        if (!n)
            peer_failure = n.error().message();
    });
    std::string failure;
    std::vector<std::size_t> returns;
    if (explicit_handshake) {
        if (auto h = writer.handshake(); !h)
            failure = h.error().message();
    }
    for (std::size_t offset = 0; failure.empty() && offset < data.size();) {
        auto n = writer.write(std::span(data).subspan(offset));
        if (!n) {
            failure = n.error().message();
            break;
        }
        returns.push_back(*n);
        offset += *n;
    }
    if (failure.empty()) {
        if (auto r = read_until(writer, at_writer, reply.size(), [] {}); !r)
            failure = r.error().message();
    }
    t.join();
    REQUIRE(failure == "");
    REQUIRE(peer_failure == "");
    CHECK_SAME_BYTES(at_peer, data);
    CHECK_SAME_BYTES(at_writer, reply);
    if (is_partial<stream>)
        CHECK(returns == std::vector<std::size_t>{16384, 16384, 16384, 16384, 16384, 16384, 1696});
    else
        CHECK(returns == std::vector<std::size_t>{data.size()});
    CHECK(writer.info().handshakes == 1);
}

TEMPLATE_LIST_TEST_CASE("a blocking write returns with an error, not a hang, when the transport fails midway",
                        "[write][blocking][failure]", all_policies) {
    // "... will only return, once the write operation has been finished or
    // an error occurred." The reader takes 50,000 bytes of 1 MiB, then
    // closes its end; the writer, blocked on a full pair, gets the error.
    using stream = typename TestType::template stream<tlsw::blocking_memory_pair::end>;
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    auto [a, b] = tlsw::blocking_memory_pair::make(8 * 1024);
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    stream& writer = client_writes ? client : server;
    stream& peer = client_writes ? server : client;
    std::vector<std::byte> at_peer;
    bool peer_ok = false;
    std::thread t([&] {
        peer_ok = read_until(peer, at_peer, 50000, [] {}).has_value();
        peer.transport().close();
    });
    const auto data = pattern(1 << 20, 5);
    tlsw::result<std::size_t> n;
    std::size_t offset = 0;
    while (offset < data.size()) {
        n = writer.write(std::span(data).subspan(offset));
        if (!n)
            break;
        offset += *n;
    }
    t.join();
    REQUIRE(peer_ok);
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::transport);
    CHECK(n.error().transport_error() == std::errc::broken_pipe);
    CHECK_FALSE(n.error().retryable());
    CHECK(offset < data.size());
    CHECK(first_difference(at_peer, std::span(data).first(at_peer.size())) == std::string::npos);
}

TEMPLATE_LIST_TEST_CASE("the role comes from the context: two streams in the same role never negotiate, and the "
                        "write fails or waits instead of hanging or sending data",
                        "[write][handshake][nonblocking]", all_policies) {
    // "For the transparent negotiation to succeed, the ssl must have been
    // initialized to client or server mode." In tlsw the context fixes the
    // role when the stream is made (there is no unset state); this shows
    // the role decides what the first write does.
    using stream = typename TestType::template stream<recorded_end>;
    const bool clients = GENERATE(true, false);
    CAPTURE(clients);
    auto [a, b] = tlsw::memory_pair::make();
    auto make = [&](tlsw::memory_pair::end e) {
        return clients ? stream(client_context(), recorded_end(std::move(e)), localhost())
                       : stream(server_context(), recorded_end(std::move(e)));
    };
    stream one = make(std::move(a));
    stream two = make(std::move(b));
    const auto data = pattern(100, 1);
    tlsw::result<std::size_t> r1, r2;
    for (int i = 0; i < 10; ++i) {
        r1 = one.write(data);
        r2 = two.write(data);
    }
    REQUIRE_FALSE(r1);
    REQUIRE_FALSE(r2);
    if (clients) {
        // Each got a ClientHello where it expected a ServerHello.
        CHECK(r1.error() == errc::protocol);
        CHECK(r2.error() == errc::protocol);
        CHECK_FALSE(r1.error().retryable());
        CHECK(((r1.error().alert_from_peer() && !r2.error().alert_from_peer()) ||
               (!r1.error().alert_from_peer() && r2.error().alert_from_peer()) ||
               (r1.error().alert() == tlsw::alert::unexpected_message &&
                r2.error().alert() == tlsw::alert::unexpected_message)));
    } else {
        // Two servers wait for a ClientHello that never comes.
        CHECK(r1.error() == errc::want_read);
        CHECK(r2.error() == errc::want_read);
        CHECK(one.transport().log().bytes() == 0);
        CHECK(two.transport().log().bytes() == 0);
    }
    CHECK(one.transport().log().count(record_type::application_data) == 0);
    CHECK(two.transport().log().count(record_type::application_data) == 0);
}

// ---- "If the underlying BIO is nonblocking ..." -----------------------------

TEMPLATE_LIST_TEST_CASE("write returns want_write while the pair is full, and the retry after the peer drains it "
                        "completes",
                        "[write][nonblocking][want_write]", all_policies) {
    // "If the underlying BIO is nonblocking the write functions will also
    // return when the underlying BIO could not satisfy the needs of the
    // function to continue the operation." ... "When using a buffering BIO,
    // like a BIO pair, data must be written into or retrieved out of the
    // BIO before being able to continue."
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    constexpr std::size_t capacity = 4096;
    wired<TestType> d(capacity);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);

    const auto data = pattern(100000, 2);
    std::vector<std::byte> at_peer;
    int want_writes = 0;
    for (std::size_t offset = 0; offset < data.size();) {
        auto n = writer.write(std::span(data).subspan(offset));
        if (n) {
            offset += *n;
            continue;
        }
        // An established stream writing never needs to read.
        REQUIRE(n.error() == errc::want_write);
        REQUIRE(++want_writes < 10000);
        CHECK(peer.transport().next().available() == capacity);  // the pair is full
        const auto before = at_peer.size();
        CHECK(drain(peer, at_peer) == errc::want_read);
        CHECK(peer.transport().next().available() == 0);
        CHECK(at_peer.size() >= before);
    }
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK(want_writes > 10);
    CHECK_SAME_BYTES(at_peer, data);
}

TEMPLATE_LIST_TEST_CASE("read returns want_read while nothing has arrived, and the data once it has",
                        "[read][nonblocking][want_read]", all_policies) {
    const bool client_reads = GENERATE(true, false);
    CAPTURE(client_reads);
    wired<TestType> d;
    handshake_both(d.client, d.server);
    auto& reader = d.side(client_reads);
    auto& peer = d.other(client_reads);
    std::vector<std::byte> buffer(100);
    const auto sent_before = reader.transport().log().bytes();
    for (int i = 0; i < 3; ++i) {
        auto r = reader.read(buffer);
        REQUIRE_FALSE(r);
        CHECK(r.error() == errc::want_read);
        CHECK(r.error().retryable());
    }
    CHECK(reader.transport().log().bytes() == sent_before);  // a read with nothing to answer writes nothing
    const auto data = pattern(50, 1);
    REQUIRE(peer.write(data));
    auto r = reader.read(buffer);
    REQUIRE(r);
    CHECK(*r == data.size());
    CHECK(first_difference(std::span(buffer).first(*r), data) == std::string::npos);
}

TEMPLATE_LIST_TEST_CASE("read returns want_write when it must send a handshake message and the pair is full",
                        "[read][nonblocking][want_write]", all_policies) {
    // "As at any time a re-negotiation is possible, a call to a write
    // function can also cause read operations!" The converse holds too: a
    // read can have to write. With a 64-byte pair no handshake flight fits.
    const bool initial = GENERATE(true, false);
    CAPTURE(initial);
    wired<TestType> d(64, renegotiating_server_context());
    std::vector<std::byte> at_reader;
    int want_writes = 0;
    if (initial) {
        // The server only reads: its answer to the ClientHello does not fit.
        for (int i = 0; i < 1000 && (d.client.handshake_pending() || d.server.handshake_pending()); ++i) {
            (void)d.client.handshake();
            const auto e = drain(d.server, at_reader);
            REQUIRE(e.retryable());
            want_writes += e == errc::want_write;
        }
        CHECK(d.server.info().handshakes == 1);
    } else {
        // The client only reads: its ClientHello answering the server's
        // HelloRequest does not fit.
        handshake_both(d.client, d.server);
        REQUIRE(d.server.renegotiate());
        for (int i = 0; i < 1000 && (d.client.handshake_pending() || d.server.handshake_pending()); ++i) {
            const auto e = drain(d.client, at_reader);
            REQUIRE(e.retryable());
            want_writes += e == errc::want_write;
            (void)d.server.handshake();
        }
        CHECK(d.client.info().handshakes == 2);
    }
    CHECK(want_writes > 0);
    CHECK(at_reader.empty());
    CHECK_FALSE(d.client.handshake_pending());
    CHECK_FALSE(d.server.handshake_pending());
    const auto data = pattern(3000, 1);
    CHECK_SAME_BYTES(transfer(d.client, d.server, data, data.size()), data);
    CHECK_SAME_BYTES(transfer(d.server, d.client, data, data.size()), data);
}

namespace {

/** The select()/poll() loop of an application: after want_read it waits
    until its transport is readable, after want_write until it is writable,
    and repeats the call. Nothing else. 200,000 bytes each way, the server
    in a second thread. Returns each side's failure text (empty: none). */
template <class Stream>
void select_style_exchange(Stream& client, Stream& server) {
    const auto up = pattern(200000, 1);
    const auto down = pattern(200000, 2);
    struct outcome {
        std::string failure;
        std::vector<std::byte> received;
        int want_reads = 0;
        int want_writes = 0;
    };
    auto wait = [](Stream& s, const tlsw::tls_error& e, outcome& o) {
        const bool reading = e == errc::want_read;
        ++(reading ? o.want_reads : o.want_writes);
        if (!s.transport().wait(reading ? tlsw::readiness::readable : tlsw::readiness::writable, 10s))
            o.failure = "no readiness within 10 s";
    };
    auto send = [&](Stream& s, const std::vector<std::byte>& data, outcome& o) {
        for (std::size_t offset = 0; o.failure.empty() && offset < data.size();) {
            auto n = s.write(std::span(data).subspan(offset));
            if (n)
                offset += *n;
            else if (n.error().retryable())
                wait(s, n.error(), o);
            else
                o.failure = n.error().message();
        }
    };
    auto receive = [&](Stream& s, std::size_t size, outcome& o) {
        std::vector<std::byte> buffer(16384);
        while (o.failure.empty() && o.received.size() < size) {
            auto r = s.read(buffer);
            if (r)
                o.received.insert(o.received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*r));
            else if (r.error().retryable())
                wait(s, r.error(), o);
            else
                o.failure = r.error().message();
        }
    };
    outcome at_client, at_server;
    std::thread t([&] {
        receive(server, up.size(), at_server);
        send(server, down, at_server);
    });
    send(client, up, at_client);
    receive(client, down.size(), at_client);
    t.join();
    REQUIRE(at_client.failure == "");
    REQUIRE(at_server.failure == "");
    CHECK_SAME_BYTES(at_server.received, up);
    CHECK_SAME_BYTES(at_client.received, down);
    // The writes did have to wait (the handshake's want_read at least).
    CHECK(at_client.want_reads + at_server.want_reads > 0);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("over a nonblocking pair nothing is needed between retries but waiting for readiness "
                        "(select/poll style), two threads",
                        "[write][read][nonblocking][thread]", all_policies) {
    // "When using a nonblocking socket, nothing is to be done, but select()
    // can be used to check for the required condition." Each thread waits
    // on its own end: readable after want_read, writable after want_write.
    using stream = typename TestType::template stream<tlsw::memory_pair::end>;
    auto [a, b] = tlsw::memory_pair::make(4096);
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    select_style_exchange(client, server);
}

TEMPLATE_LIST_TEST_CASE("over a nonblocking TCP socket nothing is needed between retries but poll() for readiness",
                        "[write][read][nonblocking][socket][thread]", all_policies) {
    // The same sentence over the transport it names: a nonblocking socket
    // on loopback, waited on with poll() (nonblocking_socket::wait).
    using stream = typename TestType::template stream<tlsw::nonblocking_socket>;
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    auto connected = tlsw::nonblocking_socket::connect("127.0.0.1", listener->port());
    REQUIRE(connected);
    auto accepted = listener->accept_nonblocking();
    REQUIRE(accepted);
    stream client(client_context(), std::move(*connected), localhost());
    stream server(server_context(), std::move(*accepted));
    select_style_exchange(client, server);
}

// ---- "The write functions will only return with success when ..." ---------

TEMPLATE_LIST_TEST_CASE("full_write succeeds only once every byte is written; partial_write succeeds after each "
                        "record of at most 16384 bytes, also across want_write",
                        "[write][partial][nonblocking]", all_policies) {
    // "The write functions will only return with success when the complete
    // contents of buf of length num has been written." / "When this flag is
    // set the write functions will also return with success when a partial
    // write has been successfully completed." / "A partial write is
    // performed with the size of a message block, which is 16kB."
    // tls_stream.cpp shows the 7 calls for 100,000 bytes without
    // back-pressure; here a 10,000-byte pair makes calls fail in between.
    using stream = typename wired<TestType>::stream;
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const std::size_t mark = writer.transport().log().mark();

    const auto data = pattern(100000, 3);
    std::vector<std::byte> at_peer;
    std::vector<std::size_t> successes;
    int failures = 0;
    bool failed_after_bytes_went_out = false;
    for (std::size_t offset = 0; offset < data.size();) {
        // After a success the next call is a new write with a new buffer
        // ("with the already sent bytes removed"), never a bad retry.
        auto n = writer.write(std::span(data).subspan(offset));
        if (!n) {
            REQUIRE(n.error() == errc::want_write);
            REQUIRE(++failures < 1000);
            failed_after_bytes_went_out |= writer.transport().log().count(record_type::application_data, mark) > 0;
            (void)drain(peer, at_peer);
            continue;
        }
        successes.push_back(*n);
        offset += *n;
    }
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, data);
    CHECK(failures > 0);
    if (is_partial<stream>) {
        CHECK(successes == std::vector<std::size_t>{16384, 16384, 16384, 16384, 16384, 16384, 1696});
    } else {
        // A want_write in the middle, with bytes already on the wire, is
        // still a failure: one success, for everything.
        CHECK(failed_after_bytes_went_out);
        CHECK(successes == std::vector<std::size_t>{data.size()});
    }
    // Either way: 7 records, none longer than 16 KiB of plaintext.
    const auto& log = writer.transport().log();
    const std::size_t overhead = record_overhead(writer.info().cipher_suite);
    CHECK(log.count(record_type::application_data, mark) == 7);
    for (std::size_t i = mark; i < log.records().size(); ++i)
        CHECK(log.records()[i].length + 5 <= record_size + overhead);
}

// ---- "SSL_write_ex() can be called with num=0" ------------------------------

TEMPLATE_LIST_TEST_CASE("a write of 0 bytes on an established stream sends nothing and returns 0",
                        "[write][zero]", all_policies) {
    // "SSL_write_ex() can be called with num=0, but will not send
    // application data to the peer."
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d;
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const auto bytes = writer.transport().log().bytes();
    for (int i = 0; i < 3; ++i) {
        auto n = writer.write(std::span<const std::byte>{});
        REQUIRE(n);
        CHECK(*n == 0);
    }
    // Not even an empty application-data record.
    CHECK(writer.transport().log().bytes() == bytes);
    std::vector<std::byte> at_peer;
    CHECK(drain(peer, at_peer) == errc::want_read);
    CHECK(at_peer.empty());
}

TEMPLATE_LIST_TEST_CASE("a write of 0 bytes completes a pending handshake in either role without an "
                        "application-data record",
                        "[write][zero][handshake]", all_policies) {
    // DESIGN: "write of an empty buffer sends no application data; it
    // finishes a pending handshake or flush and returns 0." tls_stream.cpp
    // shows it for the client; this adds the server and the wire.
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d;
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    std::vector<std::byte> at_peer;
    auto n = retry([&] { return writer.write(std::span<const std::byte>{}); }, [&] { (void)drain(peer, at_peer); });
    REQUIRE(n);
    CHECK(*n == 0);
    CHECK(writer.info().handshakes == 1);
    CHECK_FALSE(writer.handshake_pending());
    CHECK(writer.transport().log().count(record_type::change_cipher_spec) == 1);
    CHECK(writer.transport().log().count(record_type::application_data) == 0);
    CHECK(drain(peer, at_peer) == errc::want_read);
    CHECK(at_peer.empty());
}

TEMPLATE_LIST_TEST_CASE("a write of 0 bytes flushes what a read left queued and completes the renegotiation it "
                        "belongs to",
                        "[write][zero][renegotiation]", all_policies) {
    // The client's read answered a HelloRequest, but its ClientHello did
    // not fit in the pair: the read returned want_write. The application
    // then calls write with nothing to write.
    wired<TestType> d(64, renegotiating_server_context());
    handshake_both(d.client, d.server);
    REQUIRE(d.server.renegotiate());
    const std::size_t mark = d.client.transport().log().mark();
    std::vector<std::byte> at_client, at_server;
    REQUIRE(drain(d.client, at_client) == errc::want_write);
    CHECK_FALSE(d.client.transport().log().at_boundary());  // the ClientHello is cut off

    auto n = retry([&] { return d.client.write(std::span<const std::byte>{}); },
                   [&] {
                       (void)drain(d.server, at_server);
                       (void)d.server.handshake();
                   });
    REQUIRE(n);
    CHECK(*n == 0);
    CHECK(d.client.info().handshakes == 2);
    CHECK(d.client.transport().log().at_boundary());
    CHECK(d.client.transport().log().count(record_type::application_data, mark) == 0);
    check_no_application_data_inside_handshake(d.client.transport().log(), mark);
    REQUIRE(retry([&] { return d.server.handshake(); }, [&] { (void)drain(d.client, at_client); }));
    CHECK(d.server.info().handshakes == 2);
    CHECK(at_client.empty());
    CHECK(at_server.empty());
}

TEMPLATE_LIST_TEST_CASE("a write of 0 bytes while a write is owed a retry is a shorter retry: bad_write_retry, "
                        "nothing sent; after the owed retry it returns 0",
                        "[write][zero][retry]", all_policies) {
    // "it must be repeated with the same arguments": 0 is a shorter length
    // than the bytes the first call already took. tlsw refuses it like any
    // shorter retry (OpenSSL 3 fails the connection with "bad length";
    // tlsw keeps the stream usable for the correct retry). See
    // docs/write_contract.md, "A write of 0 bytes".
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    const auto data = pattern(100000, 1);
    auto first = d.client.write(data);
    REQUIRE_FALSE(first);
    REQUIRE(first.error() == errc::want_write);
    std::vector<std::byte> at_server;
    (void)drain(d.server, at_server);

    const auto bytes = d.client.transport().log().bytes();
    auto zero = d.client.write(std::span<const std::byte>{});
    REQUIRE_FALSE(zero);
    CHECK(zero.error() == errc::bad_write_retry);
    CHECK_FALSE(zero.error().retryable());
    CHECK(d.client.transport().log().bytes() == bytes);  // not even the pending flush

    REQUIRE(write_all(d.client, data, [&] { (void)drain(d.server, at_server); }));
    REQUIRE(read_until(d.server, at_server, data.size(), [] {}));
    CHECK_SAME_BYTES(at_server, data);
    auto n = d.client.write(std::span<const std::byte>{});
    REQUIRE(n);
    CHECK(*n == 0);
}

// ---- compat: SSL_write's and SSL_write_ex's int conventions -----------------

TEMPLATE_LIST_TEST_CASE("compat::ssl_write refuses num=0 with -1 and invalid_argument; compat::ssl_write_ex with "
                        "num=0 returns 1 with written=0; neither sends application data",
                        "[write][zero][compat]", all_policies) {
    // "You should not call SSL_write() with num=0, it will return an error.
    // SSL_write_ex() can be called with num=0, but will not send
    // application data to the peer."
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d;
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    const auto bytes = writer.transport().log().bytes();
    const char text[] = "x";

    tlsw::tls_error error;
    CHECK(tlsw::compat::ssl_write(writer, text, 0, &error) == -1);
    CHECK(error == errc::invalid_argument);
    CHECK_FALSE(error.retryable());
    CHECK(tlsw::compat::ssl_write(writer, nullptr, 0) == -1);

    std::size_t written = 12345;
    CHECK(tlsw::compat::ssl_write_ex(writer, text, 0, &written) == 1);
    CHECK(written == 0);
    written = 12345;
    CHECK(tlsw::compat::ssl_write_ex(writer, nullptr, 0, &written) == 1);
    CHECK(written == 0);
    CHECK(writer.transport().log().bytes() == bytes);

    // Other arguments SSL_write refuses.
    CHECK(tlsw::compat::ssl_write(writer, text, -1, &error) == -1);
    CHECK(error == errc::invalid_argument);
    CHECK(tlsw::compat::ssl_write(writer, nullptr, 1, &error) == -1);
    CHECK(error == errc::invalid_argument);
    CHECK(tlsw::compat::ssl_write_ex(writer, nullptr, 1, &written, &error) == 0);
    CHECK(error == errc::invalid_argument);
    CHECK(writer.transport().log().bytes() == bytes);
}

TEMPLATE_LIST_TEST_CASE("compat::ssl_write returns the count written on success and -1, never 0, on every failure",
                        "[write][compat]", all_policies) {
    // "> 0: The write operation was successful, the return value is the
    // number of bytes actually written" / "<= 0: ... either the connection
    // was closed, an error occurred or action must be taken by the calling
    // process" / "Old documentation indicated a difference between 0 and
    // -1, and that -1 was retryable. You should instead call
    // SSL_get_error() to find out if it's retryable." tlsw's compat returns
    // -1 for every failure; the tls_error says whether it is retryable.
    using stream = typename wired<TestType>::stream;
    wired<TestType> d;
    const auto data = pattern(40000, 1);
    const int num = static_cast<int>(data.size());
    tlsw::tls_error error;

    // Retryable: the handshake needs the server.
    CHECK(tlsw::compat::ssl_write(d.client, data.data(), num, &error) == -1);
    CHECK(error == errc::want_read);
    CHECK(error.retryable());
    std::vector<std::byte> at_server;
    int r = -1;
    for (int i = 0; i < 100 && r < 0; ++i) {
        (void)drain(d.server, at_server);
        r = tlsw::compat::ssl_write(d.client, data.data(), num, &error);
        if (r < 0)
            REQUIRE(error.retryable());
    }
    CHECK(r == (is_partial<stream> ? 16384 : num));

    // Final: after the peer's close_notify.
    REQUIRE(d.server.shutdown());
    std::vector<std::byte> at_client;
    REQUIRE(drain(d.client, at_client) == errc::closed);
    CHECK(tlsw::compat::ssl_write(d.client, data.data(), num, &error) == -1);
    CHECK(error == errc::closed);
    CHECK_FALSE(error.retryable());
    CHECK(tlsw::compat::ssl_write(d.server, data.data(), num, &error) == -1);
    CHECK(error == errc::closed);

    // Final: an error occurred (the transport broke).
    wired<TestType> e;
    handshake_both(e.client, e.server);
    e.server.transport().next().close();
    CHECK(tlsw::compat::ssl_write(e.client, data.data(), num, &error) == -1);
    CHECK(error == errc::transport);
    CHECK_FALSE(error.retryable());
}

TEMPLATE_LIST_TEST_CASE("compat::ssl_write_ex returns 1 and stores the count on success, 0 and the reason on failure",
                        "[write][compat]", all_policies) {
    // "On success SSL_write_ex() will store the number of bytes written in
    // *written." / "SSL_write_ex() will return 1 for success or 0 for
    // failure." / "Success means that all requested application data bytes
    // have been written to the SSL connection or, if
    // SSL_MODE_ENABLE_PARTIAL_WRITE is in use, at least 1 application data
    // byte has been written" / "Failures can be retryable (e.g. the network
    // write buffer has temporarily filled up) or non-retryable (e.g. a
    // fatal network error)."
    using stream = typename wired<TestType>::stream;
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    const auto data = pattern(100000, 2);
    tlsw::tls_error error;
    std::size_t written = 0;

    // Retryable: the network buffer filled up.
    CHECK(tlsw::compat::ssl_write_ex(d.client, data.data(), data.size(), &written, &error) == 0);
    CHECK(error == errc::want_write);
    CHECK(error.retryable());
    std::vector<std::byte> at_server;
    int ok = 0;
    for (int i = 0; i < 1000 && ok == 0; ++i) {
        (void)drain(d.server, at_server);
        ok = tlsw::compat::ssl_write_ex(d.client, data.data(), data.size(), &written, &error);
        if (ok == 0)
            REQUIRE(error.retryable());
    }
    REQUIRE(ok == 1);
    CHECK(written == (is_partial<stream> ? 16384 : data.size()));
    REQUIRE(read_until(d.server, at_server, written, [] {}));
    CHECK(first_difference(at_server, std::span(data).first(written)) == std::string::npos);

    // Non-retryable: a fatal network error.
    d.server.transport().next().close();
    CHECK(tlsw::compat::ssl_write_ex(d.client, data.data(), 100, &written, &error) == 0);
    CHECK(error == errc::transport);
    CHECK_FALSE(error.retryable());
}
