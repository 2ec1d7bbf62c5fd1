// Renegotiation and the write contract (issue 5): "If the peer requests a
// re-negotiation, it will be performed transparently during the write
// function operation." and "As at any time a re-negotiation is possible, a
// call to a write function can also cause read operations!"
// (SSL_write.txt, DESCRIPTION).
//
// Every test checks content (no byte lost or sent twice) and, with a
// recording_transport, the wire: no application-data record (type 23) goes
// out between our first handshake record of a renegotiation and our
// Finished. A real Botan peer (tests/support/botan_peer.hpp) is the judge
// where tlsw on both sides could hide a shared mistake: Botan 2 ends a
// connection that sends it application data inside a handshake.
//
// docs/write_contract.md maps each sentence of SSL_write.txt to these tests.

#include "support/botan_peer.hpp"
#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/tls_stream.hpp>

#include <catch2/catch.hpp>

#include <thread>

using namespace tlsw_test;

// Renegotiation is TLS 1.2 only: every client here offers TLS 1.2 (on Botan 3
// too; tests/tls13.cpp has renegotiate() under TLS 1.3).
using tlsw::errc;

namespace {

/** Moves `size` bytes from `writer` to `reader` and checks that exactly
    those bytes arrived. */
template <class W, class R>
void exchange(W& writer, R& reader, std::size_t size, std::uint32_t seed) {
    const auto data = pattern(size, seed);
    const auto received = transfer(writer, reader, data, data.size());
    CHECK_SAME_BYTES(received, data);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a renegotiation our side starts is completed by the next write, which holds application "
                        "data back until the new keys are active",
                        "[renegotiation][write][nonblocking]", all_policies) {
    // "If the peer requests a re-negotiation, it will be performed
    // transparently during the write function operation": here our side
    // requested it (SSL_renegotiate), and the write completes it.
    const bool client_starts = GENERATE(true, false);
    CAPTURE(client_starts);
    wired<TestType> d(64 * 1024, renegotiating_server_context());
    auto& us = d.side(client_starts);
    auto& peer = d.other(client_starts);
    handshake_both(d.client, d.server);
    exchange(us, peer, 5000, 1);
    exchange(peer, us, 5000, 2);

    const std::size_t mark = us.transport().log().mark();
    const std::size_t peer_mark = peer.transport().log().mark();
    REQUIRE(us.renegotiate());
    CHECK(us.handshake_pending());

    // The peer has not answered yet: over a nonblocking pair the write can
    // only report want_read, and it has sent no application data.
    const auto data = pattern(40000, 3);
    auto first = us.write(data);
    REQUIRE_FALSE(first);
    CHECK(first.error() == errc::want_read);
    CHECK(us.transport().log().count(record_type::application_data, mark) == 0);

    // The retried write (same arguments) completes the handshake, then writes.
    std::vector<std::byte> received;
    REQUIRE(write_all(us, data, [&] { (void)drain(peer, received); }));
    REQUIRE(read_until(peer, received, data.size(), [] {}));
    CHECK_SAME_BYTES(received, data);
    CHECK(us.info().handshakes == 2);
    CHECK(peer.info().handshakes == 2);
    CHECK_FALSE(us.handshake_pending());
    CHECK_FALSE(peer.handshake_pending());

    check_no_application_data_inside_handshake(us.transport().log(), mark);
    check_no_application_data_inside_handshake(peer.transport().log(), peer_mark);
    // Everything we wrote after the renegotiation went out once: the
    // type-23 bytes are the plaintext plus one record overhead per record.
    const auto overhead = record_overhead(us.info().cipher_suite);
    const auto records = us.transport().log().count(record_type::application_data, mark);
    CHECK(records == (data.size() + 16383) / 16384);
    CHECK(us.transport().log().wire_bytes(record_type::application_data, mark) == data.size() + records * overhead);

    // Data keeps flowing both ways after it.
    exchange(us, peer, 20000, 4);
    exchange(peer, us, 20000, 5);
}

TEMPLATE_LIST_TEST_CASE("a renegotiation our side starts completes inside a blocking write in two threads",
                        "[renegotiation][write][blocking]", all_policies) {
    // "If the underlying BIO is blocking, the write functions will only
    // return, once the write operation has been finished or an error
    // occurred": the renegotiation is part of the operation.
    using stream = typename TestType::template stream<recording_transport<tlsw::blocking_memory_pair::end>>;
    const bool client_starts = GENERATE(true, false);
    CAPTURE(client_starts);
    auto [a, b] = tlsw::blocking_memory_pair::make(8 * 1024);
    stream client(tls12(client_context()), recording_transport(std::move(a)), localhost());
    stream server(renegotiating_server_context(), recording_transport(std::move(b)));
    stream& us = client_starts ? client : server;
    stream& peer = client_starts ? server : client;

    const auto data = pattern(100000, 6);
    const auto reply = pattern(30000, 7);
    std::vector<std::byte> at_peer, at_us;
    bool peer_ok = true;
    std::size_t mark = 0;
    bool renegotiated = false;
    bool us_ok = true;
    std::thread t([&] {
        // The peer only reads (it is idle, as a server-initiated
        // renegotiation needs), then replies.
        std::vector<std::byte> buffer(16384);
        while (peer_ok && at_peer.size() < data.size()) {
            auto r = peer.read(buffer);
            peer_ok = r.has_value();
            if (r)
                at_peer.insert(at_peer.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*r));
        }
        for (std::size_t offset = 0; peer_ok && offset < reply.size();) {
            auto n = peer.write(std::span(reply).subspan(offset));
            peer_ok = n.has_value();
            offset += n.value_or(0);
        }
    });
    {
        auto h = us.handshake();
        us_ok = h.has_value();
        mark = us.transport().log().mark();
        renegotiated = us_ok && us.renegotiate().has_value();
        // Every call returns done or a final error: a blocking transport
        // never yields want_read / want_write.
        for (std::size_t offset = 0; us_ok && renegotiated && offset < data.size();) {
            auto n = us.write(std::span(data).subspan(offset));
            us_ok = n.has_value();
            offset += n.value_or(0);
        }
        us_ok = us_ok && read_until(us, at_us, reply.size(), [] {}).has_value();
    }
    t.join();
    REQUIRE(us_ok);
    REQUIRE(renegotiated);
    REQUIRE(peer_ok);
    CHECK_SAME_BYTES(at_peer, data);
    CHECK_SAME_BYTES(at_us, reply);
    CHECK(us.info().handshakes == 2);
    CHECK(peer.info().handshakes == 2);
    check_no_application_data_inside_handshake(us.transport().log(), mark);
}

TEMPLATE_LIST_TEST_CASE("a tlsw client notices a server's HelloRequest in read() and accepts it; the next write or "
                        "read completes it",
                        "[renegotiation][read][write][nonblocking]", all_policies) {
    // DESIGN: "Outside a handshake, write does not read: a peer's
    // HelloRequest is noticed by the next read, and the handshake it starts
    // is then completed by whichever call comes next, read or write."
    const bool complete_by_write = GENERATE(true, false);
    CAPTURE(complete_by_write);
    // The client accepts a HelloRequest by default. The server context
    // allows client renegotiation only because Botan's server refuses the
    // ClientHello that answers its own HelloRequest otherwise: see "a tlsw
    // server's renegotiate() completes with the default server context".
    wired<TestType> d(64 * 1024, renegotiating_server_context());
    handshake_both(d.client, d.server);
    exchange(d.client, d.server, 3000, 1);
    exchange(d.server, d.client, 3000, 2);

    const std::size_t client_mark = d.client.transport().log().mark();
    const std::size_t server_mark = d.server.transport().log().mark();
    REQUIRE(d.server.renegotiate());
    CHECK(d.server.handshake_pending());
    // The HelloRequest is one encrypted handshake record.
    CHECK(d.server.transport().log().describe(server_mark) == "22");

    std::vector<std::byte> at_client;
    CHECK(drain(d.client, at_client) == errc::want_read);
    CHECK(at_client.empty());
    CHECK(d.client.handshake_pending());
    // The client answered with a ClientHello.
    CHECK(d.client.transport().log().count(record_type::handshake, client_mark) == 1);

    if (complete_by_write) {
        const auto data = pattern(30000, 3);
        std::vector<std::byte> at_server;
        auto first = d.client.write(data);
        REQUIRE_FALSE(first);
        CHECK(first.error() == errc::want_read);
        REQUIRE(write_all(d.client, data, [&] { (void)drain(d.server, at_server); }));
        REQUIRE(read_until(d.server, at_server, data.size(), [] {}));
        CHECK_SAME_BYTES(at_server, data);
    } else {
        // The server waits in handshake(); the client's reads complete it.
        for (int i = 0; i < 100 && (d.client.handshake_pending() || d.server.handshake_pending()); ++i) {
            CHECK(drain(d.client, at_client) == errc::want_read);
            if (auto h = d.server.handshake(); !h)
                REQUIRE(h.error() == errc::want_read);
        }
        CHECK(at_client.empty());
        exchange(d.server, d.client, 30000, 3);
    }
    CHECK_FALSE(d.client.handshake_pending());
    CHECK_FALSE(d.server.handshake_pending());
    CHECK(d.client.info().handshakes == 2);
    CHECK(d.server.info().handshakes == 2);
    check_no_application_data_inside_handshake(d.client.transport().log(), client_mark);
    check_no_application_data_inside_handshake(d.server.transport().log(), server_mark);
    exchange(d.client, d.server, 20000, 4);
    exchange(d.server, d.client, 20000, 5);
}

TEMPLATE_LIST_TEST_CASE("a tlsw server refuses a client's renegotiation by default with a warning no_renegotiation "
                        "and data keeps flowing both ways; allow_client_renegotiation(true) accepts it",
                        "[renegotiation][write][nonblocking]", all_policies) {
    const bool allow = GENERATE(false, true);
    CAPTURE(allow);
    wired<TestType> d(64 * 1024, allow ? renegotiating_server_context() : server_context());
    handshake_both(d.client, d.server);
    exchange(d.client, d.server, 3000, 1);

    const std::size_t server_mark = d.server.transport().log().mark();
    REQUIRE(d.client.renegotiate());
    const auto data = pattern(20000, 2);
    std::vector<std::byte> at_server;
    auto first = d.client.write(data);
    REQUIRE_FALSE(first);
    CHECK(first.error() == errc::want_read);
    REQUIRE(write_all(d.client, data, [&] { (void)drain(d.server, at_server); }));
    REQUIRE(read_until(d.server, at_server, data.size(), [] {}));
    CHECK_SAME_BYTES(at_server, data);
    CHECK_FALSE(d.client.handshake_pending());
    CHECK_FALSE(d.server.handshake_pending());

    const auto& log = d.server.transport().log();
    INFO("server records after the ClientHello: " << log.describe(server_mark));
    if (allow) {
        CHECK(d.client.info().handshakes == 2);
        CHECK(d.server.info().handshakes == 2);
        CHECK(d.client.info().renegotiations_refused == 0);
        check_no_application_data_inside_handshake(log, server_mark);
    } else {
        CHECK(d.client.info().handshakes == 1);
        CHECK(d.server.info().handshakes == 1);
        // The client learned of the refusal from the alert.
        CHECK(d.client.info().renegotiations_refused == 1);
        // The server's answer was one alert record and no handshake record.
        REQUIRE(log.mark() > server_mark);
        CHECK(log.records()[server_mark].type == record_type::alert);
        CHECK(log.count(record_type::handshake, server_mark) == 0);
    }
    // Data keeps flowing in both directions.
    exchange(d.server, d.client, 30000, 3);
    exchange(d.client, d.server, 30000, 4);
}

TEMPLATE_LIST_TEST_CASE("a tlsw server counts a client renegotiation it refuses in info().renegotiations_refused",
                        "[renegotiation]", all_policies) {
    // session_info::renegotiations_refused counts refusals by either side;
    // Botan gives the refusing side no callback, only the alert it sends.
    wired<TestType> d;
    handshake_both(d.client, d.server);
    REQUIRE(d.client.renegotiate());
    std::vector<std::byte> ignored;
    REQUIRE(retry([&] { return d.client.handshake(); }, [&] { (void)drain(d.server, ignored); }));
    REQUIRE(d.client.info().renegotiations_refused == 1);
    CHECK(d.server.info().renegotiations_refused == 1);
}

TEMPLATE_LIST_TEST_CASE("a tlsw server's renegotiate() completes with the default server context",
                        "[renegotiation]", all_policies) {
    // The default context refuses *client-initiated* renegotiation (as
    // OpenSSL 3 does). Botan 2's server checks
    // allow_client_initiated_renegotiation() on every ClientHello of an
    // established connection, including the one that answers its own
    // HelloRequest: without the engine's own policy it would refuse the
    // renegotiation it asked for and stay handshake_pending() for good.
    wired<TestType> d;
    handshake_both(d.client, d.server);
    REQUIRE(d.server.renegotiate());
    std::vector<std::byte> at_client;
    for (int i = 0; i < 50 && (d.client.handshake_pending() || d.server.handshake_pending()); ++i) {
        (void)drain(d.client, at_client);
        (void)d.server.handshake();
    }
    CHECK(d.client.info().renegotiations_refused == 0);
    CHECK_FALSE(d.server.handshake_pending());
    CHECK(d.server.info().handshakes == 2);
    // Whatever happened to the renegotiation, the server's writes must not
    // wait for a handshake that no longer exists.
    const auto data = pattern(1000, 1);
    auto n = retry([&] { return d.server.write(data); }, [&] { (void)drain(d.client, at_client); }, 1000);
    CHECK(n);
}

TEMPLATE_LIST_TEST_CASE("tlsw and a real Botan peer renegotiate twice with data before, during and after in both "
                        "directions",
                        "[renegotiation][botan][nonblocking]", all_policies) {
    using stream = typename TestType::template stream<recorded_end>;
    const bool tlsw_client = GENERATE(true, false);
    const bool tlsw_starts = GENERATE(true, false);
    CAPTURE(tlsw_client, tlsw_starts);

    auto [a, b] = tlsw::memory_pair::make(64 * 1024);
    stream us = tlsw_client ? stream(tls12(client_context()), recorded_end(std::move(a)), localhost())
                            : stream(renegotiating_server_context(), recorded_end(std::move(a)));
    botan_peer peer(tlsw_client ? botan_peer::side::server : botan_peer::side::client, std::move(b));
    auto pump = [&] { peer.pump(); };

    REQUIRE(retry([&] { return us.handshake(); }, pump));
    peer.pump();
    REQUIRE(peer.failure() == "");
    REQUIRE(peer.active());
    CHECK(peer.cipher_suite() == us.info().cipher_suite);

    std::vector<std::byte> sent_by_us, sent_by_peer, at_us;
    auto we_send = [&](std::size_t size, std::uint32_t seed) {
        const auto data = pattern(size, seed);
        REQUIRE(write_all(us, data, pump));
        peer.pump();
        sent_by_us.insert(sent_by_us.end(), data.begin(), data.end());
    };
    auto peer_sends = [&](std::size_t size, std::uint32_t seed) {
        const auto data = pattern(size, seed);
        peer.send(data);
        sent_by_peer.insert(sent_by_peer.end(), data.begin(), data.end());
    };

    // Before.
    we_send(30000, 1);
    peer_sends(30000, 2);
    REQUIRE(read_until(us, at_us, sent_by_peer.size(), pump));

    for (unsigned round = 1; round <= 2; ++round) {
        CAPTURE(round);
        const std::size_t mark = us.transport().log().mark();
        // Data from the peer in flight as the renegotiation starts: it
        // travels ahead of the request and is read before it.
        peer_sends(20000, 10 * round);
        if (tlsw_starts) {
            // Botan fails on application data inside its own pending
            // handshake, so read what arrived first (see the test
            // "application data that arrived before renegotiate() ...").
            REQUIRE(read_until(us, at_us, sent_by_peer.size(), pump));
            REQUIRE(us.renegotiate());
        } else {
            peer.renegotiate();
            // Outside a handshake write does not read: the next read
            // notices the request (and returns the data ahead of it first).
            REQUIRE(read_until(us, at_us, sent_by_peer.size(), pump));
            CHECK(drain(us, at_us) == errc::want_read);
        }
        CHECK(us.handshake_pending());

        // During: a write issued while the handshake is in flight waits
        // for it (want_read), then goes out under the new keys. (The Botan
        // peer sends nothing during: Botan's send() does not hold back, and
        // our side would fail on it like Botan does.)
        const auto during = pattern(40000, 10 * round + 1);
        auto first = us.write(during);
        REQUIRE_FALSE(first);
        CHECK(first.error() == errc::want_read);
        REQUIRE(write_all(us, during, pump));
        sent_by_us.insert(sent_by_us.end(), during.begin(), during.end());
        peer.pump();
        REQUIRE(peer.failure() == "");
        CHECK(peer.activations() == 1 + round);
        CHECK(us.info().handshakes == 1 + round);
        CHECK_FALSE(us.handshake_pending());
        check_no_application_data_inside_handshake(us.transport().log(), mark);

        // After.
        peer_sends(25000, 10 * round + 2);
        REQUIRE(read_until(us, at_us, sent_by_peer.size(), pump));
        we_send(25000, 10 * round + 3);
    }
    REQUIRE(peer.failure() == "");
    CHECK(peer.alerts().empty());
    CHECK_SAME_BYTES(peer.received(), sent_by_us);
    CHECK_SAME_BYTES(at_us, sent_by_peer);
}

TEMPLATE_LIST_TEST_CASE("a Botan peer that refuses our renegotiation answers no_renegotiation and data keeps flowing",
                        "[renegotiation][botan][nonblocking]", all_policies) {
    using stream = typename TestType::template stream<recorded_end>;
    const bool tlsw_client = GENERATE(true, false);
    CAPTURE(tlsw_client);
    auto [a, b] = tlsw::memory_pair::make(64 * 1024);
    stream us = tlsw_client ? stream(tls12(client_context()), recorded_end(std::move(a)), localhost())
                            : stream(server_context(), recorded_end(std::move(a)));
    botan_peer peer(tlsw_client ? botan_peer::side::server : botan_peer::side::client, std::move(b),
                    /*allow_renegotiation=*/false);
    auto pump = [&] { peer.pump(); };
    REQUIRE(retry([&] { return us.handshake(); }, pump));
    peer.pump();
    REQUIRE(peer.active());

    REQUIRE(us.renegotiate());
    const auto data = pattern(30000, 1);
    REQUIRE(write_all(us, data, pump));
    peer.pump();
    REQUIRE(peer.failure() == "");
    CHECK_SAME_BYTES(peer.received(), data);
    CHECK(us.info().renegotiations_refused == 1);
    CHECK(us.info().handshakes == 1);
    CHECK(peer.activations() == 1);

    const auto reply = pattern(30000, 2);
    peer.send(reply);
    std::vector<std::byte> at_us;
    REQUIRE(read_until(us, at_us, reply.size(), pump));
    CHECK_SAME_BYTES(at_us, reply);
}

TEMPLATE_LIST_TEST_CASE("a renegotiation started while a write is owed a retry: the retry flushes the committed "
                        "record, completes the handshake and writes the rest once",
                        "[renegotiation][write][retry][botan]", all_policies) {
    // "The data that was passed might have been partially processed": the
    // record committed before renegotiate() goes out under the old keys,
    // ahead of the request; the rest waits for the new keys.
    using stream = typename TestType::template stream<recorded_end>;
    const bool tlsw_client = GENERATE(true, false);
    CAPTURE(tlsw_client);
    auto [a, b] = tlsw::memory_pair::make(10000);
    stream us = tlsw_client ? stream(tls12(client_context()), recorded_end(std::move(a)), localhost())
                            : stream(renegotiating_server_context(), recorded_end(std::move(a)));
    botan_peer peer(tlsw_client ? botan_peer::side::server : botan_peer::side::client, std::move(b));
    auto pump = [&] { peer.pump(); };
    REQUIRE(retry([&] { return us.handshake(); }, pump));
    peer.pump();

    const auto data = pattern(100000, 1);
    auto first = us.write(data);
    REQUIRE_FALSE(first);
    REQUIRE(first.error() == errc::want_write);
    const std::size_t mark = us.transport().log().mark();

    // renegotiate() queues its request behind the committed record; the
    // pair is full, so it reports want_write, and the renegotiation is on.
    auto r = us.renegotiate();
    if (!r)
        CHECK(r.error() == errc::want_write);
    CHECK(us.handshake_pending());

    // The owed retry, with the same arguments, finishes everything.
    std::size_t offset = 0;
    while (offset < data.size()) {
        auto n = retry([&] { return us.write(std::span(data).subspan(offset)); }, pump);
        REQUIRE(n);
        offset += *n;
    }
    for (int i = 0; i < 10 && peer.received().size() < data.size(); ++i)
        peer.pump();
    REQUIRE(peer.failure() == "");
    CHECK_SAME_BYTES(peer.received(), data);
    CHECK(us.info().handshakes == 2);
    CHECK(peer.activations() == 2);
    check_no_application_data_inside_handshake(us.transport().log(), mark);
    // Seven records of plaintext, each encrypted once.
    const auto& log = us.transport().log();
    CHECK(log.count(record_type::application_data) == 7);
    CHECK(log.wire_bytes(record_type::application_data) == data.size() + 7 * record_overhead(us.info().cipher_suite));
}

TEMPLATE_LIST_TEST_CASE("renegotiate() needs an established stream with no handshake in flight",
                        "[renegotiation]", all_policies) {
    wired<TestType> d(64 * 1024, renegotiating_server_context());
    // Before the first handshake.
    auto early = d.client.renegotiate();
    REQUIRE_FALSE(early);
    CHECK(early.error() == errc::invalid_state);
    CHECK(d.server.renegotiate().error() == errc::invalid_state);

    handshake_both(d.client, d.server);
    REQUIRE(d.client.renegotiate());
    // While one is in flight.
    auto twice = d.client.renegotiate();
    REQUIRE_FALSE(twice);
    CHECK(twice.error() == errc::invalid_state);
    // The server has no handshake in flight until it reads the ClientHello.
    std::vector<std::byte> ignored;
    REQUIRE(retry([&] { return d.client.handshake(); }, [&] { (void)drain(d.server, ignored); }));
    CHECK(d.client.info().handshakes == 2);

    // After shutdown.
    REQUIRE(d.client.shutdown());
    auto late = d.client.renegotiate();
    REQUIRE_FALSE(late);
    CHECK(late.error() == errc::closed);
}

TEMPLATE_LIST_TEST_CASE("renegotiate() that returned want_write is repeated like any call once the transport drains",
                        "[renegotiation][nonblocking]", all_policies) {
    // The class contract: "Over a nonblocking transport every call can
    // return errc::want_read or errc::want_write; the caller waits for that
    // readiness and repeats the same call". renegotiate() starts the
    // handshake before it reports want_write, so the repeat must finish the
    // flush rather than find a handshake in flight.
    wired<TestType> d(64, renegotiating_server_context());
    handshake_both(d.client, d.server);
    auto r = d.client.renegotiate();  // a ClientHello does not fit in 64 bytes
    REQUIRE_FALSE(r);
    REQUIRE(r.error() == errc::want_write);
    std::vector<std::byte> ignored;
    (void)drain(d.server, ignored);
    auto again = d.client.renegotiate();
    INFO((again ? std::string("ok") : again.error().message()));
    CHECK((again || again.error() == errc::want_write));
}

TEMPLATE_LIST_TEST_CASE("application data that arrived before renegotiate() is delivered, not fatal",
                        "[renegotiation][botan]", all_policies) {
    // The peer wrote before it saw our request: its records already sit in
    // our transport when renegotiate() is called. Botan 2 fails a channel
    // with a pending handshake on application data ("Can't interleave
    // application and handshake data"), so the stream must take in what
    // has arrived before it starts the handshake.
    using stream = typename TestType::template stream<recorded_end>;
    const bool tlsw_client = GENERATE(true, false);
    CAPTURE(tlsw_client);
    auto [a, b] = tlsw::memory_pair::make(64 * 1024);
    stream us = tlsw_client ? stream(tls12(client_context()), recorded_end(std::move(a)), localhost())
                            : stream(server_context(), recorded_end(std::move(a)));
    botan_peer peer(tlsw_client ? botan_peer::side::server : botan_peer::side::client, std::move(b));
    auto pump = [&] { peer.pump(); };
    REQUIRE(retry([&] { return us.handshake(); }, pump));
    peer.pump();

    const auto early = pattern(5000, 1);
    peer.send(early);  // now in our transport, unread
    REQUIRE(us.renegotiate());
    std::vector<std::byte> at_us;
    auto r = read_until(us, at_us, early.size(), pump);
    INFO((r ? std::string("read ok") : r.error().message()));
    CHECK(r);
    CHECK_SAME_BYTES(at_us, early);
    REQUIRE(retry([&] { return us.handshake(); }, pump));
    CHECK(us.info().handshakes == 2);
}

TEMPLATE_LIST_TEST_CASE("a client write that crosses a server's HelloRequest is fatal under Botan 2 and ends in a "
                        "clean protocol error",
                        "[renegotiation][limitation]", all_policies) {
    // botan-2.19-tls.md section 7: a Botan server has a pending handshake
    // from the moment it sends HelloRequest, and application data then
    // kills it. A write does not read outside a handshake, so a client
    // that writes before it reads the request sends exactly that. This
    // pins the limitation documented at tls_stream::renegotiate(): a
    // server may start one only while the client is idle. No exception, no
    // hang: both sides end with a protocol error.
    wired<TestType> d;
    handshake_both(d.client, d.server);
    REQUIRE(d.server.renegotiate());
    const std::size_t client_mark = d.client.transport().log().mark();
    const auto data = pattern(1000, 1);
    auto n = d.client.write(data);  // the HelloRequest is still unread
    REQUIRE(n);
    CHECK(d.client.transport().log().describe(client_mark) == "23");

    std::vector<std::byte> at_server;
    auto s = drain(d.server, at_server);
    CHECK(s == errc::protocol);
    CHECK(s.alert() == tlsw::alert::unexpected_message);
    CHECK_FALSE(s.alert_from_peer());
    CHECK(at_server.empty());
    std::vector<std::byte> at_client;
    auto c = drain(d.client, at_client);
    CHECK(c == errc::protocol);
    CHECK(c.alert_from_peer());
    CHECK(c.alert() == tlsw::alert::unexpected_message);
}

TEMPLATE_LIST_TEST_CASE("a server write that crosses a client's renegotiation request is fatal to the client under "
                        "Botan 2",
                        "[renegotiation][limitation]", all_policies) {
    // The mirror image of the test above, for client-initiated
    // renegotiation: the client's channel has a pending handshake from its
    // ClientHello on, and a server that writes before it reads that
    // ClientHello sends application data into it. Unlike the case of data
    // that had already arrived (taken in before the request), no stream
    // can avoid this one: the data was on its way when the request left.
    // A server that allows client renegotiation should expect it.
    wired<TestType> d(64 * 1024, renegotiating_server_context());
    handshake_both(d.client, d.server);
    REQUIRE(d.client.renegotiate());
    REQUIRE(d.server.write(pattern(1000, 1)));  // the ClientHello is still unread
    std::vector<std::byte> at_client;
    auto c = retry([&] { return d.client.handshake(); }, [&] { (void)drain(d.server, at_client); });
    REQUIRE_FALSE(c);
    CHECK(c.error() == errc::protocol);
    CHECK(c.error().alert() == tlsw::alert::unexpected_message);
    CHECK_FALSE(c.error().alert_from_peer());
    std::vector<std::byte> at_server;
    auto s = drain(d.server, at_server);
    CHECK(s == errc::protocol);
    CHECK(s.alert_from_peer());
}
