// tls_stream over Asio sockets, driven by the Asio operations of
// tlsw/asio.hpp from C++20 coroutines (issue 13). tests/meson.build
// compiles this file twice: over standalone Asio (test_asio) and over
// Boost.Asio (test_asio_boost, -DTLSW_ASIO_BOOST). Every connection is on
// 127.0.0.1 with an OS-chosen port; every io_context runs on the test's
// thread with a time limit, so a hang fails the test instead of stalling
// the run.

// Test that header file is self-contained.
#include <tlsw/asio.hpp>

#include "support/asio.hpp"
#include "support/harness.hpp"
#include "support/interop.hpp"

#if defined(TLSW_ASIO_BOOST)  // tests/meson.build compiles test_asio_boost with it
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#define FLAVOUR "[boost]"
#else
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#define FLAVOUR "[standalone]"
#endif

#include <catch2/catch.hpp>

#include <cstddef>
#include <exception>
#include <string>
#include <thread>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;
namespace net = tlsw::asio::net;
using tlsw::errc;
using tlsw::asio::async_handshake;
using tlsw::asio::async_read;
using tlsw::asio::async_renegotiate;
using tlsw::asio::async_shutdown;
using tlsw::asio::async_write;

namespace {

template <class... Policies>
using asio_stream = tlsw::tls_stream<tlsw::asio::nonblocking_socket, Policies...>;

template <class T>
std::string why(const tlsw::expected<T, std::error_code>& r) {
    return r ? std::string("success") : r.error().message();
}

/** Writes all of `data` in pieces of seeded sizes up to 64 KiB. */
template <class Stream>
net::awaitable<void> send_all(Stream& tls, std::span<const std::byte> data, std::uint64_t seed) {
    seeded sizes{seed};
    while (!data.empty()) {
        const auto piece = data.first(std::min(data.size(), sizes.between(1, 64 * 1024)));
        auto n = co_await async_write(tls, piece);
        INFO(why(n));
        REQUIRE(n.has_value());
        REQUIRE(*n > 0);
        REQUIRE(*n <= piece.size());
        data = data.subspan(*n);
    }
}

/** Reads until `into` holds `size` bytes. */
template <class Stream>
net::awaitable<void> receive_exactly(Stream& tls, std::vector<std::byte>& into, std::size_t size) {
    std::vector<std::byte> buffer(16384);
    while (into.size() < size) {
        auto n = co_await async_read(tls, buffer);
        INFO(why(n) << " after " << into.size() << " bytes");
        REQUIRE(n.has_value());
        into.insert(into.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
}

/** Appends what arrives to `into` until a read fails; returns that error. */
template <class Stream>
net::awaitable<std::error_code> read_to_end(Stream& tls, std::string& into) {
    std::vector<std::byte> buffer(16384);
    for (;;) {
        auto n = co_await async_read(tls, buffer);
        if (!n)
            co_return n.error();
        into.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
}

/** Echoes what arrives until the peer closes; then sends close_notify.
    `end` gets what ended the reading. */
template <class Stream>
net::awaitable<void> echo(Stream& tls, std::error_code& end, std::uint64_t& echoed) {
    std::vector<std::byte> buffer(16384);
    for (;;) {
        auto n = co_await async_read(tls, buffer);
        if (!n) {
            end = n.error();
            break;
        }
        co_await send_all(tls, std::span<const std::byte>(buffer).first(*n), echoed);
        echoed += *n;
    }
    if (end == errc::closed) {
        auto s = co_await async_shutdown(tls);
        INFO(why(s));
        CHECK(s.has_value());
    }
}

}  // namespace

TEST_CASE("the Asio sockets model tlsw's transport concepts " FLAVOUR, "[asio][transport]") {
    STATIC_REQUIRE(tlsw::nonblocking_transport<tlsw::asio::nonblocking_socket>);
    STATIC_REQUIRE(tlsw::waitable_transport<tlsw::asio::nonblocking_socket>);
    STATIC_REQUIRE(tlsw::blocking_transport<tlsw::asio::blocking_socket>);
    STATIC_REQUIRE(tlsw::waitable_transport<tlsw::asio::blocking_socket>);
    STATIC_REQUIRE(tlsw::asio::async_stream<asio_stream<>>);
    STATIC_REQUIRE(tlsw::asio::async_stream<tlsw::tls_stream<tlsw::asio::nonblocking_socket&, tlsw::partial_write>>);
    STATIC_REQUIRE_FALSE(tlsw::asio::async_stream<tlsw::tls_stream<tlsw::asio::blocking_socket>>);
}

TEST_CASE("an Asio nonblocking_socket maps would-block, EOF and errors to the transport conventions " FLAVOUR,
          "[asio][transport]") {
    net::io_context io;
    auto [client, server] = connect_pair(io);
    tlsw::asio::nonblocking_socket a(std::move(client));
    tlsw::asio::nonblocking_socket b(std::move(server));
    std::array<std::byte, 64> buffer{};

    auto r = a.read_some(buffer);
    REQUIRE_FALSE(r);
    CHECK(tlsw::is_would_block(r.error()));
    CHECK_FALSE(a.wait(tlsw::readiness::readable, 0ms));
    CHECK(a.wait(tlsw::readiness::writable, 0ms));

    const auto hello = bytes_of("hello");
    REQUIRE(b.write_some(hello) == tlsw::io_result(5));
    CHECK(a.wait(tlsw::readiness::readable, 5s));
    REQUIRE(a.read_some(buffer) == tlsw::io_result(5));
    CHECK(a.read_some({}) == tlsw::io_result(0));

    b.socket().shutdown(net::socket_base::shutdown_send);
    CHECK(a.wait(tlsw::readiness::readable, 5s));
    CHECK(a.read_some(buffer) == tlsw::io_result(0));  // EOF, not Asio's eof error

    // A closed socket: the error keeps its category and value, so it
    // compares equal to the std::errc it stands for (with Boost as well).
    a.socket().close();
    CHECK(a.wait(tlsw::readiness::readable, -1ms));
    auto closed = a.read_some(buffer);
    REQUIRE_FALSE(closed);
    CHECK(closed.error() == std::errc::bad_file_descriptor);
    CHECK(closed.error().category() == std::system_category());

    // Errors come back to Asio's error_code type unchanged in both
    // directions: Asio's own codes compare equal after the round trip, and
    // a tlsw code travels inside it.
    const auto aborted = tlsw::asio::from_std_error(tlsw::asio::to_std_error(net::error::operation_aborted));
    CHECK(aborted == net::error::operation_aborted);
    const tlsw::asio::error_code tlsw_code = tlsw::asio::from_std_error(tlsw::make_error_code(errc::truncated));
    CHECK(tlsw::asio::to_std_error(tlsw_code) == errc::truncated);
    CHECK(tlsw::asio::to_std_error(tlsw_code).category() == tlsw::error_category());
}

TEMPLATE_LIST_TEST_CASE("async_handshake completes on both ends, and the session is the same " FLAVOUR,
                        "[asio][handshake]", all_policies) {
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    typename TestType::template stream<tlsw::asio::nonblocking_socket> client(
        client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    r.spawn([&]() -> net::awaitable<void> {
        auto h = co_await async_handshake(client);
        INFO(why(h));
        CHECK(h.has_value());
    });
    r.spawn([&]() -> net::awaitable<void> {
        auto h = co_await async_handshake(server);
        INFO(why(h));
        CHECK(h.has_value());
    });
    REQUIRE(r.run(30s));
    CHECK(client.info().handshakes == 1);
    CHECK(server.info().handshakes == 1);
    CHECK(client.info().cipher_suite == server.info().cipher_suite);
    CHECK(client.info().version == default_version());
}

TEST_CASE("async_handshake reports a certificate the client does not trust as tlsw's certificate error " FLAVOUR,
          "[asio][handshake]") {
    runner r;
    auto [c, s] = connect_pair(r.io);
    auto client_ctx = tlsw::context::client();
    client_ctx.use_system_trust(false);  // the test CA is not trusted
    const auto server_ctx = server_context();
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    r.spawn([&]() -> net::awaitable<void> {
        auto h = co_await async_handshake(client);
        REQUIRE_FALSE(h);
        CHECK(h.error() == errc::certificate);
        CHECK(h.error().category() == tlsw::error_category());
        // The stream's next call gives the whole tls_error.
        CHECK(client.handshake().error().certificate() == tlsw::certificate_reason::unknown_issuer);
    });
    r.spawn([&]() -> net::awaitable<void> {
        auto h = co_await async_handshake(server);
        CHECK_FALSE(h);
    });
    REQUIRE(r.run(30s));
}

TEMPLATE_LIST_TEST_CASE("4 MiB sent each way through a coroutine echo server arrive byte for byte " FLAVOUR,
                        "[asio][write][read]", all_policies) {
    // The client writes and reads at once, from two coroutines on one
    // stream: without that, both ends would fill their socket buffers and
    // wait on each other.
    constexpr std::size_t size = 4u << 20;
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    typename TestType::template stream<tlsw::asio::nonblocking_socket> client(
        client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    typename TestType::template stream<tlsw::asio::nonblocking_socket> server(
        server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    const auto data = pattern(size, 13);
    std::vector<std::byte> received;
    std::error_code server_end;
    std::uint64_t echoed = 0;

    r.spawn(echo(server, server_end, echoed));
    r.spawn(send_all(client, data, 5));
    r.spawn([&]() -> net::awaitable<void> {
        co_await receive_exactly(client, received, size);
        auto s = co_await async_shutdown(client);
        INFO(why(s));
        REQUIRE(s.has_value());
        std::array<std::byte, 16> tail;
        auto end = co_await async_read(client, tail);
        REQUIRE_FALSE(end);
        CHECK(end.error() == errc::closed);  // the server's close_notify
    });
    REQUIRE(r.run(120s));
    CHECK_SAME_BYTES(received, data);
    CHECK(sha256(std::string_view(reinterpret_cast<const char*>(received.data()), received.size())) ==
          sha256(std::string_view(reinterpret_cast<const char*>(data.data()), data.size())));
    CHECK(echoed == size);
    CHECK(server_end == errc::closed);
}

TEST_CASE("one io_context thread serves 40 concurrent connections, each echoing its own bytes " FLAVOUR,
          "[asio][concurrency]") {
    constexpr int connections = 40;
    constexpr std::size_t size = 96 * 1024;
    runner r;
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    net::ip::tcp::acceptor acceptor(r.io, {net::ip::make_address("127.0.0.1"), 0});
    const auto endpoint = acceptor.local_endpoint();
    int served = 0;
    int verified = 0;
    int in_flight = 0;
    int most_in_flight = 0;

    r.spawn([&]() -> net::awaitable<void> {
        for (int i = 0; i < connections; ++i) {
            auto socket = co_await acceptor.async_accept(net::use_awaitable);
            net::co_spawn(
                r.io,
                [&, sock = std::move(socket)]() mutable -> net::awaitable<void> {
                    asio_stream<> tls(server_ctx, tlsw::asio::nonblocking_socket(std::move(sock)));
                    std::error_code end;
                    std::uint64_t echoed = 0;
                    co_await echo(tls, end, echoed);
                    CHECK(end == errc::closed);
                    CHECK(echoed == size);
                    ++served;
                },
                r.on_done());
        }
    });
    for (int i = 0; i < connections; ++i) {
        r.spawn([&, i]() -> net::awaitable<void> {
            net::ip::tcp::socket sock(r.io);
            co_await sock.async_connect(endpoint, net::use_awaitable);
            asio_stream<tlsw::partial_write> tls(client_ctx, tlsw::asio::nonblocking_socket(std::move(sock)),
                                                 localhost());
            most_in_flight = std::max(most_in_flight, ++in_flight);
            const auto data = pattern(size, static_cast<std::uint32_t>(100 + i));
            std::vector<std::byte> received;
            // Interleaved: write a piece, read its echo, for every piece.
            seeded sizes{static_cast<std::uint64_t>(i)};
            for (std::size_t done = 0; done < size;) {
                const auto piece = std::span(data).subspan(done, std::min(size - done, sizes.between(1, 20000)));
                co_await send_all(tls, piece, static_cast<std::uint64_t>(i));
                co_await receive_exactly(tls, received, done + piece.size());
                done += piece.size();
            }
            auto s = co_await async_shutdown(tls, tlsw::shutdown_mode::send_and_wait);
            INFO(why(s));
            CHECK(s.has_value());
            CHECK(first_difference(received, data) == std::string::npos);
            --in_flight;
            ++verified;
        });
    }
    REQUIRE(r.run(120s));
    CHECK(served == connections);
    CHECK(verified == connections);
    CHECK(most_in_flight == connections);  // every connection was open at once
}

TEST_CASE("a renegotiation the tlsw server starts in the middle of a transfer completes inside the client's "
          "async_read " FLAVOUR,
          "[asio][renegotiation]") {
    // Botan 2 fails a connection whose application data crosses a
    // renegotiation request (tls_stream::renegotiate): the client sends its
    // second half only once the new keys are active, while its reader
    // coroutine, parked in async_read all along, completes the handshake.
    constexpr std::size_t half = 1u << 20;
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = tls12(server_context());  // TLS 1.3 has no renegotiation
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    const auto data = pattern(2 * half, 21);
    std::vector<std::byte> received;
    std::vector<std::byte> at_server;

    r.spawn([&]() -> net::awaitable<void> {
        co_await receive_exactly(server, at_server, half);
        co_await send_all(server, std::span(at_server).first(half), 1);
        auto g = co_await async_renegotiate(server);
        INFO(why(g));
        REQUIRE(g.has_value());
        auto h = co_await async_handshake(server);  // waits for the client's answer
        INFO(why(h));
        REQUIRE(h.has_value());
        CHECK(server.info().handshakes == 2);
        co_await receive_exactly(server, at_server, 2 * half);
        co_await send_all(server, std::span(at_server).subspan(half), 2);
    });
    r.spawn([&]() -> net::awaitable<void> {
        co_await send_all(client, std::span(data).first(half), 3);
        net::steady_timer timer(r.io);
        for (int i = 0; i < 2000 && client.info().handshakes < 2; ++i) {
            timer.expires_after(5ms);
            co_await timer.async_wait(net::use_awaitable);
        }
        REQUIRE(client.info().handshakes == 2);
        co_await send_all(client, std::span(data).subspan(half), 4);
    });
    r.spawn(receive_exactly(client, received, 2 * half));
    REQUIRE(r.run(60s));
    CHECK_SAME_BYTES(received, data);
    CHECK_SAME_BYTES(at_server, data);
    CHECK(client.info().handshakes == 2);
    CHECK(client.info().renegotiations_refused == 0);
}

TEST_CASE("async_read ends with closed after the peer's close_notify, and truncated when the peer's socket "
          "closes without one " FLAVOUR,
          "[asio][read][shutdown][truncated]") {
    const bool clean = GENERATE(true, false);
    CAPTURE(clean);
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    const std::string text = "the last words";
    std::string got;
    std::error_code end;

    r.spawn([&]() -> net::awaitable<void> {
        auto w = co_await async_write(server, bytes_of(text));
        REQUIRE(w.has_value());
        if (clean) {
            auto d = co_await async_shutdown(server);
            REQUIRE(d.has_value());
        } else {
            server.transport().socket().close();
        }
    });
    r.spawn([&]() -> net::awaitable<void> { end = co_await read_to_end(client, got); });
    REQUIRE(r.run(30s));
    CHECK(got == text);  // everything before the end arrives first
    CHECK(end == (clean ? errc::closed : errc::truncated));
    CHECK(end.category() == tlsw::error_category());
}

TEST_CASE("a cancellation slot ends a parked async_read with operation_aborted, and the stream reads on " FLAVOUR,
          "[asio][cancellation][read]") {
    const auto type = GENERATE(net::cancellation_type::terminal, net::cancellation_type::partial,
                               net::cancellation_type::total);
    CAPTURE(static_cast<int>(type));
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    net::cancellation_signal signal;
    std::array<std::byte, 64> buffer;
    std::error_code first;
    std::string after;

    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_handshake(server)).has_value());
    });
    // The reader, through the coroutine's own cancellation slot.
    net::co_spawn(
        r.io,
        [&]() -> net::awaitable<void> {
            // A coroutine lets only terminal cancellation through unless told otherwise.
            co_await net::this_coro::reset_cancellation_state(net::enable_total_cancellation());
            auto n = co_await async_read(client, buffer);  // handshakes, then waits for data
            REQUIRE_FALSE(n);
            first = n.error();
        },
        net::bind_cancellation_slot(signal.slot(), r.on_done()));
    r.spawn([&]() -> net::awaitable<void> {
        net::steady_timer timer(r.io);
        while (client.info().handshakes < 1 || server.handshake_pending()) {
            timer.expires_after(2ms);
            co_await timer.async_wait(net::use_awaitable);
        }
        timer.expires_after(20ms);  // the reader is parked in async_wait by now
        co_await timer.async_wait(net::use_awaitable);
        signal.emit(type);
    });
    REQUIRE(r.run(30s));
    CHECK(first == std::errc::operation_canceled);
    CHECK(tlsw::asio::from_std_error(first) == net::error::operation_aborted);

    // Nothing was lost: the same stream reads what comes next, here through
    // a callback completion handler bound to another cancellation slot.
    net::cancellation_signal unused;
    std::size_t n = 0;
    tlsw::asio::error_code callback_ec = net::error::fault;
    async_read(client, buffer, net::bind_cancellation_slot(unused.slot(), [&](tlsw::asio::error_code ec, std::size_t k) {
                   callback_ec = ec;
                   n = k;
               }));
    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_write(server, bytes_of("after"))).has_value());
    });
    r.io.restart();
    REQUIRE(r.run(30s));
    CHECK_FALSE(callback_ec);
    CHECK(std::string(reinterpret_cast<const char*>(buffer.data()), n) == "after");
}

TEST_CASE("an async_read raced against a timer ends when the timer fires, and the stream reads on " FLAVOUR,
          "[asio][cancellation][read][timeout]") {
    // The way to bound the time an operation waits (tlsw/asio.hpp, "Time"):
    // the awaitable operator || cancels the loser.
    using namespace net::experimental::awaitable_operators;
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    std::array<std::byte, 64> buffer;

    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_handshake(server)).has_value());
    });
    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_handshake(client)).has_value());
        net::steady_timer timer(r.io);
        timer.expires_after(50ms);
        auto first = co_await (async_read(client, buffer) || timer.async_wait(net::use_awaitable));
        CHECK(first.index() == 1);  // the timer won: nothing arrived
        // The server writes now; the next read, raced against a long timer, wins.
        REQUIRE((co_await async_write(server, bytes_of("late"))).has_value());
        timer.expires_after(20s);
        auto second = co_await (async_read(client, buffer) || timer.async_wait(net::use_awaitable));
        REQUIRE(second.index() == 0);
        const auto n = std::get<0>(second);
        INFO(why(n));
        REQUIRE(n.has_value());
        CHECK(std::string(reinterpret_cast<const char*>(buffer.data()), *n) == "late");
    });
    REQUIRE(r.run(30s));
}

TEST_CASE("a cancelled async_write keeps what it took: repeated with the same buffer, every byte arrives once " FLAVOUR,
          "[asio][cancellation][write]") {
    // The server reads nothing until the write is cancelled, so the write
    // fills the socket buffers and waits for writability.
    constexpr std::size_t size = 8u << 20;
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    const auto data = pattern(size, 17);
    net::cancellation_signal signal;
    std::error_code first;

    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_handshake(server)).has_value());
    });
    net::co_spawn(
        r.io,
        [&]() -> net::awaitable<void> {
            auto n = co_await async_write(client, data);
            REQUIRE_FALSE(n);
            first = n.error();
        },
        net::bind_cancellation_slot(signal.slot(), r.on_done()));
    r.spawn([&]() -> net::awaitable<void> {
        net::steady_timer timer(r.io);
        while (client.info().handshakes < 1 || server.handshake_pending()) {
            timer.expires_after(2ms);
            co_await timer.async_wait(net::use_awaitable);
        }
        timer.expires_after(50ms);  // the writer is parked, the buffers full
        co_await timer.async_wait(net::use_awaitable);
        signal.emit(net::cancellation_type::terminal);
    });
    REQUIRE(r.run(30s));
    CHECK(first == std::errc::operation_canceled);

    // Another buffer is refused (the write contract), the same one resumes.
    const auto other = data;
    std::vector<std::byte> received;
    r.spawn([&]() -> net::awaitable<void> {
        auto wrong = co_await async_write(client, other);
        REQUIRE_FALSE(wrong);
        CHECK(wrong.error() == errc::bad_write_retry);
        auto n = co_await async_write(client, data);
        INFO(why(n));
        REQUIRE(n.has_value());
        CHECK(*n == size);
    });
    r.spawn(receive_exactly(server, received, size));
    r.io.restart();
    REQUIRE(r.run(60s));
    CHECK_SAME_BYTES(received, data);
}

TEST_CASE("closing the socket ends a parked async_read with operation_aborted " FLAVOUR,
          "[asio][cancellation][read]") {
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    std::error_code end;
    bool completed = false;

    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_handshake(server)).has_value());
    });
    r.spawn([&]() -> net::awaitable<void> {
        std::array<std::byte, 64> buffer;
        auto n = co_await async_read(client, buffer);
        REQUIRE_FALSE(n);
        end = n.error();
        completed = true;
    });
    r.spawn([&]() -> net::awaitable<void> {
        net::steady_timer timer(r.io);
        while (client.info().handshakes < 1) {
            timer.expires_after(2ms);
            co_await timer.async_wait(net::use_awaitable);
        }
        timer.expires_after(20ms);
        co_await timer.async_wait(net::use_awaitable);
        CHECK_FALSE(completed);
        client.transport().socket().close();
    });
    REQUIRE(r.run(30s));
    CHECK(end == std::errc::operation_canceled);
}

TEST_CASE("an operation that takes in bytes another one waits for wakes it: a parked async_read gets the data "
          "async_renegotiate took in " FLAVOUR,
          "[asio][read][renegotiation]") {
    // renegotiate() first takes in the application data that has arrived
    // (tls_stream.hpp). Here that data arrives while the reader is parked,
    // and is taken in before the reactor has told the reader: the socket
    // will not become readable again for it, and only the wake-up of
    // parked operations (op_access::wake_parked) lets it see the data.
    runner r;
    auto [c, s] = connect_pair(r.io);
    const auto client_ctx = client_context();
    auto server_ctx = tls12(server_context());  // TLS 1.3 has no renegotiation
    asio_stream<> client(client_ctx, tlsw::asio::nonblocking_socket(std::move(c)), localhost());
    asio_stream<> server(server_ctx, tlsw::asio::nonblocking_socket(std::move(s)));
    std::string got;

    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_handshake(server)).has_value());
    });
    r.spawn([&]() -> net::awaitable<void> {
        REQUIRE((co_await async_handshake(client)).has_value());
        net::co_spawn(
            r.io,
            [&]() -> net::awaitable<void> {
                std::array<std::byte, 64> buffer;
                auto n = co_await async_read(client, buffer);
                INFO(why(n));
                REQUIRE(n.has_value());
                got.assign(reinterpret_cast<const char*>(buffer.data()), *n);
            },
            r.on_done());
        net::steady_timer timer(r.io);
        timer.expires_after(20ms);  // the reader parks
        co_await timer.async_wait(net::use_awaitable);
        // In one step, without returning to the reactor: the server sends
        // (a synchronous call over loopback, so the bytes are in the
        // client's socket when it returns), and the client takes them in.
        auto w = server.write(bytes_of("crossing"));
        REQUIRE(w.has_value());
        REQUIRE(client.transport().wait(tlsw::readiness::readable, 5s));
        auto g = co_await async_renegotiate(client);
        INFO(why(g));
        CHECK(g.has_value());
    });
    REQUIRE(r.run(10s));
    CHECK(got == "crossing");
}

TEST_CASE("a blocking Asio socket carries a tls_stream: a client thread talks to a coroutine server " FLAVOUR,
          "[asio][blocking]") {
    runner r;
    net::ip::tcp::acceptor acceptor(r.io, {net::ip::make_address("127.0.0.1"), 0});
    const auto endpoint = acceptor.local_endpoint();
    const auto client_ctx = client_context();
    const auto server_ctx = server_context();
    std::error_code server_end;
    std::uint64_t echoed = 0;
    const auto data = pattern(300000, 9);
    std::vector<std::byte> received;
    std::string client_failure;

    r.spawn([&]() -> net::awaitable<void> {
        auto sock = co_await acceptor.async_accept(net::use_awaitable);
        asio_stream<> tls(server_ctx, tlsw::asio::nonblocking_socket(std::move(sock)));
        co_await echo(tls, server_end, echoed);
    });
    std::thread client_thread([&] {
        net::io_context own;
        net::ip::tcp::socket sock(own);
        sock.connect(endpoint);
        tlsw::tls_stream<tlsw::asio::blocking_socket> tls(client_ctx, tlsw::asio::blocking_socket(std::move(sock)),
                                                          localhost());
        // Write a piece, read its echo: a blocking client has one thread.
        std::vector<std::byte> buffer(16384);
        for (std::size_t done = 0; done < data.size() && client_failure.empty();) {
            const auto piece = std::span(data).subspan(done, std::min<std::size_t>(data.size() - done, 30000));
            if (auto w = tls.write(piece); !w)
                client_failure = "write: " + w.error().message();
            while (client_failure.empty() && received.size() < done + piece.size()) {
                auto n = tls.read(buffer);
                if (!n)
                    client_failure = "read: " + n.error().message();
                else
                    received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
            }
            done += piece.size();
        }
        if (auto s = tls.shutdown(tlsw::shutdown_mode::send_and_wait); !s && client_failure.empty())
            client_failure = "shutdown: " + s.error().message();
    });
    const bool done = r.run(60s);
    client_thread.join();
    REQUIRE(done);
    INFO(client_failure);
    CHECK(client_failure.empty());
    CHECK_SAME_BYTES(received, data);
    CHECK(server_end == errc::closed);
}

// Interoperability: the same operations against OpenSSL's command-line
// peers, driven in the io_context while the child's pipes are pumped.

namespace {

/** Runs `r` and pumps `child` until pred() holds or `limit` passes. */
template <class Pred>
bool run_with(runner& r, child_process& child, Pred pred, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto guard = net::make_work_guard(r.io);
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
        r.io.run_for(2ms);
        r.io.restart();
        child.pump(1ms);
        if (r.failure)
            std::rethrow_exception(r.failure);
    }
    return pred();
}

}  // namespace

TEST_CASE("an awaitable client fetches a page from openssl s_server -www, verifying it " FLAVOUR,
          "[asio][interop][openssl][client]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    auto server = start_s_server(f, port, {"-www"});
    const auto ctx = f.client_context();
    runner r;
    std::string page;
    std::error_code end;
    r.spawn([&]() -> net::awaitable<void> {
        net::ip::tcp::socket sock(r.io);
        co_await sock.async_connect({net::ip::make_address("127.0.0.1"), port}, net::use_awaitable);
        asio_stream<> tls(ctx, tlsw::asio::nonblocking_socket(std::move(sock)), localhost());
        auto w = co_await async_write(tls, bytes_of("GET / HTTP/1.0\r\n\r\n"));
        INFO(why(w));
        REQUIRE(w.has_value());
        end = co_await read_to_end(tls, page);
    });
    const bool done = run_with(r, *server, [&] { return r.finished == r.started; }, 30s);
    INFO(server->transcript() << "\npage: " << page);
    REQUIRE(done);
    CHECK(page.starts_with("HTTP/1.0 200 ok"));
    CHECK(page.find("</HTML>") != std::string::npos);
    // s_server -www ends the response with close_notify (SSL_shutdown).
    CHECK(end == errc::closed);
}

TEST_CASE("openssl s_client exchanges 1 MiB with an awaitable echo server " FLAVOUR,
          "[asio][interop][openssl][server]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    const auto ctx = f.server_context();
    runner r;
    net::ip::tcp::acceptor acceptor(r.io, {net::ip::make_address("127.0.0.1"), 0});
    const auto port = acceptor.local_endpoint().port();
    std::error_code end;
    std::uint64_t echoed = 0;
    r.spawn([&]() -> net::awaitable<void> {
        auto sock = co_await acceptor.async_accept(net::use_awaitable);
        asio_stream<> tls(ctx, tlsw::asio::nonblocking_socket(std::move(sock)));
        co_await echo(tls, end, echoed);
    });
    child_process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
                          "localhost", "-CAfile", f.ca(), "-verify_return_error", "-brief"});
    const std::string payload = text_payload(1u << 20, 51);
    client.write(payload);
    const bool got = run_with(r, client, [&] { return client.out().size() >= payload.size(); }, 60s);
    INFO(client.transcript());
    REQUIRE(got);
    CHECK(sha256(client.out()) == sha256(payload));
    // At the end of its stdin s_client sends close_notify: the server's
    // async_read ends with closed, and the server answers with its own.
    client.close_stdin();
    REQUIRE(run_with(r, client, [&] { return r.finished == r.started; }, 30s));
    CHECK(end == errc::closed);
    CHECK(echoed == payload.size());
    CHECK(client.wait_exit(10s) == 0);
}

TEST_CASE("an awaitable client follows openssl s_server's renegotiation in the middle of a download " FLAVOUR,
          "[asio][interop][openssl][client][renegotiation]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    // Without -brief, s_server reads a line "r" on its stdin as "renegotiate",
    // and "R" as "renegotiate and ask for a client certificate" (the client
    // has none and sends an empty list).
    const std::string command = GENERATE(std::string("r"), std::string("R"));
    CAPTURE(command);
    auto server = start_s_server(f, port, {"-tls1_2"});  // TLS 1.3 has no renegotiation
    const auto ctx = f.client_context();
    runner r;
    net::ip::tcp::socket sock(r.io);
    sock.connect({net::ip::make_address("127.0.0.1"), port});
    asio_stream<> tls(ctx, tlsw::asio::nonblocking_socket(std::move(sock)), localhost());
    std::string received;
    std::error_code end;
    r.spawn([&]() -> net::awaitable<void> {
        auto h = co_await async_handshake(tls);
        INFO(why(h));
        REQUIRE(h.has_value());
        end = co_await read_to_end(tls, received);
    });
    // s_server takes stdin only once the handshake is done (see
    // tests/interop_client.cpp, finish_handshake), and stays idle while the
    // renegotiation runs: Botan 2 fails on application data inside it.
    REQUIRE(run_with(r, *server, [&] { return tls.info().handshakes >= 1 || r.finished > 0; }, 30s));
    const std::string before = text_payload(1u << 20, 41);
    const std::string after = text_payload(1u << 20, 42);
    server->write(before);
    REQUIRE(run_with(r, *server, [&] { return received.size() >= before.size() || r.finished > 0; }, 60s));
    server->write(command + "\n");
    const bool renegotiated = run_with(r, *server, [&] { return tls.info().handshakes >= 2 || r.finished > 0; }, 30s);
    INFO(server->transcript() << "\nend: " << end.message());
    REQUIRE(renegotiated);
    server->write(after);
    REQUIRE(run_with(r, *server, [&] { return received.size() >= before.size() + after.size() || r.finished > 0; },
                     60s));
    CHECK(sha256(received) == sha256(before + after));
    CHECK(tls.info().handshakes == 2);
    CHECK_FALSE(end);
}
