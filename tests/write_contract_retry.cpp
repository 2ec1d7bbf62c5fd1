// The write contract of SSL_write.txt (issue 5), second part: repeating a
// write after want_read / want_write, "The data that was passed might have
// been partially processed", how failures are classified, and writes on a
// closed or failed stream.
//
// First part (negotiation, nonblocking, partial writes, empty writes,
// compat): write_contract.cpp. docs/write_contract.md maps every sentence of
// SSL_write.txt to the tests that show it.

#include "support/botan_peer.hpp"
#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/testing/fault_transport.hpp>
#include <tlsw/tls_stream.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>

using namespace tlsw_test;
using tlsw::errc;
using tlsw::testing::fault_plan;
using faulty = tlsw::testing::fault_transport<tlsw::memory_pair::end>;

namespace {

template <class S>
constexpr bool is_moving = S::moving_buffer;

/** Starts a 100,000-byte write from `writer` over a 10,000-byte pair: the
    first record does not fit, so the call returns want_write with one
    record (16,384 bytes) taken. Then makes room. */
template <class W, class R>
void start_owed_write(W& writer, R& peer, std::span<const std::byte> data, std::vector<std::byte>& at_peer) {
    auto first = writer.write(data);
    REQUIRE_FALSE(first);
    REQUIRE(first.error() == errc::want_write);
    (void)drain(peer, at_peer);
}

}  // namespace

// ---- "it must be repeated with the same arguments" --------------------------

TEMPLATE_LIST_TEST_CASE("a retry with another pointer to the same bytes is bad_write_retry with fixed_buffer and "
                        "accepted with moving_buffer",
                        "[write][retry][nonblocking]", all_policies) {
    // "When a write function call has to be repeated because
    // SSL_get_error(3) returned SSL_ERROR_WANT_READ or
    // SSL_ERROR_WANT_WRITE, it must be repeated with the same arguments."
    // / "When SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER was set using
    // SSL_CTX_set_mode(3) the pointer can be different, but the data and
    // length should still be the same."
    using stream = typename wired<TestType>::stream;
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const auto data = pattern(100000, 1);
    const std::vector<std::byte> copy = data;  // the same bytes at another address
    std::vector<std::byte> at_peer;
    start_owed_write(writer, peer, data, at_peer);

    const auto bytes = writer.transport().log().bytes();
    auto moved = writer.write(copy);
    if (is_moving<stream>) {
        // Accepted: it goes on from where the first call stopped.
        CHECK((moved || moved.error() == errc::want_write));
        CHECK(writer.transport().log().bytes() > bytes);
        // A success completes the write (one record in partial_write);
        // a want_write is repeated with the same arguments.
        const std::size_t done = moved ? *moved : 0;
        REQUIRE(write_all(writer, std::span(copy).subspan(done), [&] { (void)drain(peer, at_peer); }));
    } else {
        REQUIRE_FALSE(moved);
        CHECK(moved.error() == errc::bad_write_retry);
        CHECK_FALSE(moved.error().retryable());
        CHECK_THAT(moved.error().message(), Catch::Contains("retried"));
        CHECK(writer.transport().log().bytes() == bytes);  // nothing sent, not even the pending flush
        // The stream stays usable: the correct retry goes on.
        REQUIRE(write_all(writer, data, [&] { (void)drain(peer, at_peer); }));
    }
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, data);  // every byte once, in order
}

TEMPLATE_LIST_TEST_CASE("a retry shorter than what the first call took is bad_write_retry with either buffer "
                        "policy, and the correct retry still delivers every byte once",
                        "[write][retry][nonblocking]", all_policies) {
    // "... the data and length should still be the same."
    using stream = typename wired<TestType>::stream;
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const auto data = pattern(100000, 2);
    const std::vector<std::byte> copy = data;
    std::vector<std::byte> at_peer;
    start_owed_write(writer, peer, data, at_peer);

    const auto bytes = writer.transport().log().bytes();
    // Same pointer, 100 bytes: fewer than the 16,384 already taken.
    auto shorter = writer.write(std::span(data).first(100));
    REQUIRE_FALSE(shorter);
    CHECK(shorter.error() == errc::bad_write_retry);
    if (is_moving<stream>) {
        auto moved_shorter = writer.write(std::span(copy).first(100));
        REQUIRE_FALSE(moved_shorter);
        CHECK(moved_shorter.error() == errc::bad_write_retry);
    }
    CHECK(writer.transport().log().bytes() == bytes);
    REQUIRE(write_all(writer, data, [&] { (void)drain(peer, at_peer); }));
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, data);
}

TEMPLATE_LIST_TEST_CASE("a gather write is a write function too: its retry passes the same array of buffers "
                        "(fixed_buffer) or the same bytes (moving_buffer)",
                        "[write][retry][gather][nonblocking]", all_policies) {
    // 'In the paragraphs below a "write function" is defined as one of
    // either SSL_write_ex(), or SSL_write().' In tlsw: write(span),
    // write(buffers) and the compat wrappers. tls_stream.cpp shows how a
    // gather write packs records; this shows it keeps the retry rules.
    using stream = typename wired<TestType>::stream;
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    const auto data = pattern(100000, 9);
    std::vector<std::span<const std::byte>> buffers;
    for (std::size_t i = 0; i < data.size(); i += 1000)
        buffers.push_back(std::span(data).subspan(i, 1000));
    const auto other_array = buffers;  // the same spans, another array
    std::vector<std::byte> at_server;
    auto first = d.client.write(buffers);
    REQUIRE_FALSE(first);
    REQUIRE(first.error() == errc::want_write);
    (void)drain(d.server, at_server);

    auto moved = d.client.write(other_array);
    if (!is_moving<stream>) {
        REQUIRE_FALSE(moved);
        CHECK(moved.error() == errc::bad_write_retry);
        moved = retry([&] { return d.client.write(buffers); }, [&] { (void)drain(d.server, at_server); });
    } else if (!moved) {
        REQUIRE(moved.error() == errc::want_write);
        moved = retry([&] { return d.client.write(other_array); }, [&] { (void)drain(d.server, at_server); });
    }
    REQUIRE(moved);
    CHECK(*moved == (is_partial<stream> ? 16384 : data.size()));
    REQUIRE(write_all(d.client, std::span(data).subspan(*moved), [&] { (void)drain(d.server, at_server); }));
    REQUIRE(read_until(d.server, at_server, data.size(), [] {}));
    CHECK_SAME_BYTES(at_server, data);
    // Packed: 7 full records, not 100 small ones.
    CHECK(d.client.transport().log().count(record_type::application_data) == 7);
}

TEMPLATE_LIST_TEST_CASE("a retry may be longer than the first call: full_write then writes the longer buffer",
                        "[write][retry][nonblocking]", all_policies) {
    // tlsw relaxes "the same arguments" to "the same pointer (fixed_buffer)
    // and a length not shorter than what was taken" (DESIGN.md). What was
    // taken is committed; the rest is read from the retry's buffer.
    using stream = typename wired<TestType>::stream;
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    const auto data = pattern(120000, 3);
    std::vector<std::byte> at_server;
    start_owed_write(d.client, d.server, std::span(data).first(100000), at_server);
    auto n = retry([&] { return d.client.write(data); }, [&] { (void)drain(d.server, at_server); });
    REQUIRE(n);
    CHECK(*n == (is_partial<stream> ? 16384 : data.size()));
    REQUIRE(write_all(d.client, std::span(data).subspan(*n), [&] { (void)drain(d.server, at_server); }));
    REQUIRE(read_until(d.server, at_server, data.size(), [] {}));
    CHECK_SAME_BYTES(at_server, data);
}

TEMPLATE_LIST_TEST_CASE("a write that returned want_read before it took any byte may be repeated with any buffer",
                        "[write][retry][handshake][nonblocking]", all_policies) {
    // Nothing was committed, so nothing binds the retry (OpenSSL checks
    // only a pending record too): the data of the call that succeeds is
    // what is sent.
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d;
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const auto first_data = pattern(1000, 4);
    const auto second_data = pattern(500, 5);
    auto first = writer.write(first_data);
    REQUIRE_FALSE(first);
    REQUIRE(first.error() == errc::want_read);
    std::vector<std::byte> at_peer;
    auto n = retry([&] { return writer.write(second_data); }, [&] { (void)drain(peer, at_peer); });
    REQUIRE(n);
    CHECK(*n == second_data.size());
    REQUIRE(read_until(peer, at_peer, second_data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, second_data);
    CHECK(drain(peer, at_peer) == errc::want_read);
    CHECK(at_peer.size() == second_data.size());
}

// ---- "The data that was passed might have been partially processed." --------

TEMPLATE_LIST_TEST_CASE("a retry resumes where the taken bytes end: every plaintext byte is encrypted once",
                        "[write][retry][nonblocking][wire]", all_policies) {
    // Counted on the wire: 100,000 bytes make 7 records (6 x 16,384 +
    // 1,696), so the type-23 bytes are exactly 100,000 + 7 x overhead
    // (29 for AES-GCM), however many retries it takes. With moving_buffer
    // each retry passes the other of two copies.
    using stream = typename wired<TestType>::stream;
    const bool client_writes = GENERATE(true, false);
    const std::size_t capacity = GENERATE(std::size_t{97}, std::size_t{4096}, std::size_t{20000});
    CAPTURE(client_writes, capacity);
    wired<TestType> d(capacity);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const std::size_t mark = writer.transport().log().mark();
    const auto data = pattern(100000, 6);
    const std::vector<std::byte> copy = data;

    std::vector<std::byte> at_peer;
    int retries = 0;
    bool use_copy = false;
    for (std::size_t offset = 0; offset < data.size();) {
        const auto& source = is_moving<stream> && use_copy ? copy : data;
        auto n = writer.write(std::span(source).subspan(offset));
        if (n) {
            offset += *n;
            continue;
        }
        REQUIRE(n.error() == errc::want_write);
        REQUIRE(++retries < 100000);
        use_copy = !use_copy;
        (void)drain(peer, at_peer);
    }
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, data);
    CHECK(retries > 0);

    const auto& log = writer.transport().log();
    const std::size_t overhead = record_overhead(writer.info().cipher_suite);
    CHECK(overhead == 29);  // tlsw prefers AES-GCM on this CPU
    CHECK(log.count(record_type::application_data, mark) == 7);
    CHECK(log.wire_bytes(record_type::application_data, mark) == data.size() + 7 * overhead);
    CHECK(log.bytes() - log.wire_bytes(record_type::handshake) - log.wire_bytes(record_type::change_cipher_spec) ==
          data.size() + 7 * overhead);
}

TEMPLATE_LIST_TEST_CASE("under short writes and random would_block every plaintext byte is still encrypted once",
                        "[write][retry][nonblocking][wire][fault]", all_policies) {
    // The same count with the writer's transport taking random short
    // pieces and refusing at random (tlsw::testing::fault_transport); the
    // fault loops in fault_loop.cpp check content under many more seeds.
    using stream = typename TestType::template stream<recording_transport<faulty>>;
    using peer_stream = typename TestType::template stream<tlsw::memory_pair::end>;
    const std::uint64_t seed = GENERATE(1, 2, 3, 4);
    CAPTURE(seed);
    fault_plan plan;
    plan.seed = seed;
    plan.would_block_percent = 30;
    plan.max_write = 5000;
    plan.max_read = 3000;
    auto [a, b] = tlsw::memory_pair::make(30000);
    // TLS 1.2: the count below uses its per-record overhead.
    stream writer(tls12(client_context()), recording_transport<faulty>(faulty(std::move(a), plan)), localhost());
    peer_stream peer(server_context(), std::move(b));
    std::vector<std::byte> at_peer;
    auto pump = [&] { (void)drain(peer, at_peer); };
    REQUIRE(retry([&] { return writer.handshake(); }, pump));
    const std::size_t mark = writer.transport().log().mark();

    const auto data = pattern(100000, static_cast<std::uint32_t>(seed));
    REQUIRE(write_all(writer, data, pump));
    REQUIRE(read_until(peer, at_peer, data.size(), [] {}));
    CHECK_SAME_BYTES(at_peer, data);
    CHECK(writer.transport().next().counters().would_blocks > 0);
    const auto& log = writer.transport().log();
    const std::size_t overhead = record_overhead(writer.info().cipher_suite);
    CHECK(log.count(record_type::application_data, mark) == 7);
    CHECK(log.wire_bytes(record_type::application_data, mark) == data.size() + 7 * overhead);
}

// ---- "Failures can be retryable ... or non-retryable" -------------------------
// (error.cpp: "retryable() is true exactly for want_read and want_write".)

TEMPLATE_LIST_TEST_CASE("a fatal transport error during a write is final, not retryable, and message() names it",
                        "[write][failure][transport]", all_policies) {
    // "Failures can be retryable (e.g. the network write buffer has
    // temporarily filled up) or non-retryable (e.g. a fatal network
    // error)."
    using stream = typename TestType::template stream<faulty>;
    using peer_stream = typename TestType::template stream<tlsw::memory_pair::end>;
    const bool client_writes = GENERATE(true, false);
    const std::uint64_t later = GENERATE(0, 1, 3);
    CAPTURE(client_writes, later);
    struct pair_of_streams {
        stream writer;
        peer_stream peer;
    };
    // The writer's transport fails at operation `fail_at` (none: count only).
    auto make = [&](std::optional<std::uint64_t> fail_at) {
        fault_plan plan;
        plan.fail_at = fail_at;
        plan.fail_error = std::make_error_code(std::errc::connection_reset);
        auto [a, b] = tlsw::memory_pair::make(10000);
        return client_writes ? pair_of_streams{stream(client_context(), faulty(std::move(a), plan), localhost()),
                                               peer_stream(server_context(), std::move(b))}
                             : pair_of_streams{stream(server_context(), faulty(std::move(a), plan)),
                                               peer_stream(client_context(), std::move(b), localhost())};
    };
    std::vector<std::byte> ignored;
    // A dry run counts the writer's transport operations of the handshake.
    std::uint64_t handshake_ops = 0;
    {
        auto s = make(std::nullopt);
        REQUIRE(retry([&] { return s.writer.handshake(); }, [&] { (void)drain(s.peer, ignored); }));
        handshake_ops = s.writer.transport().counters().operations;
    }
    auto s = make(handshake_ops + later);
    REQUIRE(retry([&] { return s.writer.handshake(); }, [&] { (void)drain(s.peer, ignored); }));
    const auto data = pattern(100000, 7);
    auto n = retry([&] { return s.writer.write(data); }, [&] { (void)drain(s.peer, ignored); });
    REQUIRE(s.writer.transport().counters().fault_hit);
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::transport);
    CHECK(n.error().transport_error() == std::errc::connection_reset);
    CHECK_FALSE(n.error().retryable());
    CHECK_THAT(n.error().message(), Catch::Contains("transport error") &&
                                        Catch::Contains(std::make_error_code(std::errc::connection_reset).message()));
    // Final: the next call says the same and touches nothing.
    const auto ops = s.writer.transport().counters().operations;
    auto again = s.writer.write(data);
    REQUIRE_FALSE(again);
    CHECK(again.error() == errc::transport);
    CHECK(s.writer.transport().counters().operations == ops);
}

TEMPLATE_LIST_TEST_CASE("a peer's alert ends a write with a final error that says the peer sent it",
                        "[write][failure][alert]", all_policies) {
    // The client refuses the server's certificate (it expected another
    // name); the server learns it from the client's alert inside write().
    using stream = typename TestType::template stream<tlsw::memory_pair::end>;
    auto [a, b] = tlsw::memory_pair::make();
    stream client(client_context(), std::move(a), {.server_name = "example.com"});
    stream server(server_context(), std::move(b));
    const auto data = pattern(1000, 8);
    tlsw::result<std::size_t> c, s;
    for (int i = 0; i < 100; ++i) {
        s = server.write(data);
        c = client.write(data);
        if (!s && !s.error().retryable() && !c && !c.error().retryable())
            break;
    }
    REQUIRE_FALSE(s);
    CHECK_FALSE(s.error().retryable());
    CHECK(s.error().has_alert());
    CHECK(s.error().alert_from_peer());
    CHECK(s.error() == errc::certificate);
    CHECK(s.error().alert() == tlsw::alert::bad_certificate);
    CHECK_THAT(s.error().message(), Catch::Contains("alert from peer: bad_certificate"));

    REQUIRE_FALSE(c);
    CHECK_FALSE(c.error().retryable());
    CHECK(c.error() == errc::certificate);
    CHECK(c.error().certificate() == tlsw::certificate_reason::name_mismatch);
    CHECK_FALSE(c.error().alert_from_peer());
    CHECK_THAT(c.error().message(), Catch::Contains("does not match the host name") && Catch::Contains("alert sent"));
}

TEMPLATE_LIST_TEST_CASE("a transport that ends while a write negotiates is truncated, final, and message() says so",
                        "[write][failure][truncation]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d;
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    // The peer's end will write no more: the writer reads EOF, no close_notify.
    peer.transport().next().shutdown_write();
    auto n = writer.write(pattern(100, 9));
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::truncated);
    CHECK_FALSE(n.error().retryable());
    CHECK_THAT(n.error().message(), Catch::Contains("truncated"));
    CHECK(writer.write(pattern(100, 9)).error() == errc::truncated);
    CHECK(writer.transport().log().count(record_type::application_data) == 0);
}

// ---- closed and failed streams -------------------------------------------------

TEMPLATE_LIST_TEST_CASE("a write after our shutdown returns closed, sends nothing and does not throw",
                        "[write][shutdown][wire]", all_policies) {
    // tls_stream.cpp checks the client's case by the pair's byte count;
    // this adds the server and the record log.
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d;
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    REQUIRE(writer.shutdown());
    const auto& log = writer.transport().log();
    REQUIRE(log.records().back().type == record_type::alert);  // close_notify
    const auto bytes = log.bytes();
    tlsw::result<std::size_t> n;
    CHECK_NOTHROW(n = writer.write(pattern(10, 1)));
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::closed);
    CHECK_FALSE(n.error().retryable());
    CHECK_NOTHROW(n = writer.write(std::span<const std::byte>{}));
    CHECK(n.error() == errc::closed);
    CHECK(log.bytes() == bytes);
}

TEMPLATE_LIST_TEST_CASE("a write after the peer's close_notify returns closed and sends nothing more than the "
                        "close_notify reply",
                        "[write][shutdown][wire]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d;
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    REQUIRE(peer.shutdown());
    const std::size_t mark = writer.transport().log().mark();
    std::vector<std::byte> ignored;
    REQUIRE(drain(writer, ignored) == errc::closed);
    CHECK(writer.transport().log().describe(mark) == "21");  // Botan's close_notify reply
    const auto bytes = writer.transport().log().bytes();
    tlsw::result<std::size_t> n;
    CHECK_NOTHROW(n = writer.write(pattern(10, 2)));
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::closed);
    CHECK_FALSE(n.error().retryable());
    CHECK(writer.transport().log().bytes() == bytes);
}

TEMPLATE_LIST_TEST_CASE("a write after a fatal error returns that error again, sends nothing and does not throw",
                        "[write][failure][wire]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    const bool protocol = GENERATE(true, false);
    CAPTURE(client_writes, protocol);
    wired<TestType> d;
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    tlsw::tls_error failure;
    if (protocol) {
        // Bytes that are no TLS record, straight into the writer's inbox.
        const std::string junk = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        REQUIRE(peer.transport().next().write_some(std::as_bytes(std::span(junk))));
        std::vector<std::byte> ignored;
        failure = drain(writer, ignored);
        CHECK(failure == errc::protocol);
        CHECK_FALSE(failure.alert_from_peer());
        // We told the peer with a fatal alert.
        CHECK(writer.transport().log().records().back().type == record_type::alert);
    } else {
        peer.transport().next().close();
        auto n = writer.write(pattern(10, 3));
        REQUIRE_FALSE(n);
        failure = n.error();
        CHECK(failure == errc::transport);
    }
    CHECK_FALSE(failure.retryable());
    const auto bytes = writer.transport().log().bytes();
    for (std::size_t size : {std::size_t{0}, std::size_t{10}, std::size_t{50000}}) {
        tlsw::result<std::size_t> n;
        CHECK_NOTHROW(n = writer.write(pattern(size, 4)));
        REQUIRE_FALSE(n);
        CHECK(n.error().code() == failure.code());
        CHECK(n.error().message() == failure.message());
    }
    CHECK(writer.transport().log().bytes() == bytes);
    CHECK(writer.transport().log().count(record_type::application_data) == 0);
}

// ---- giving up a repeat: what was committed is still sent, once ------------

TEMPLATE_LIST_TEST_CASE("abandon_write() keeps the committed bytes, sends them ahead of the next write, and lifts "
                        "the retry rules",
                        "[write][retry][nonblocking]", all_policies) {
    // The layer under an Asio write that is cancelled while it waits: it
    // reports write_committed() as the count, and the next write may pass
    // anything.
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const auto data = pattern(100000, 1);
    std::vector<std::byte> at_peer;
    CHECK(writer.write_committed() == 0);
    start_owed_write(writer, peer, data, at_peer);
    const std::size_t committed = writer.write_committed();
    CHECK(committed > 0);
    CHECK(committed < data.size());
    CHECK(writer.abandon_write() == committed);
    CHECK(writer.write_committed() == 0);

    // Another buffer, of any length, is new data, not a bad retry.
    const auto next = pattern(5000, 2);
    REQUIRE(write_all(writer, next, [&] { (void)drain(peer, at_peer); }));
    (void)drain(peer, at_peer);
    std::vector<std::byte> want(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(committed));
    want.insert(want.end(), next.begin(), next.end());
    CHECK_SAME_BYTES(at_peer, want);
}
