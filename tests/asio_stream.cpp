// tlsw::asio::stream as an Asio AsyncReadStream / AsyncWriteStream: Asio's
// composed operations, completion tokens, strands, full duplex, errors and
// cancellation. tests/meson.build builds it with tests/asio.cpp, over
// standalone Asio and over Boost.Asio (TLSW_ASIO_BOOST). Every connection
// is on 127.0.0.1 with an OS-chosen port; every io_context runs with a
// time limit, so a hang fails the test instead of stalling the run.

// Test that header file is self-contained.
#include <tlsw/asio/stream.hpp>

#include "support/asio.hpp"
#include "support/harness.hpp"

#if defined(TLSW_ASIO_BOOST)
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#define STREAM_FLAVOUR "[boost]"
namespace token_ns = boost::asio;
#else
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#define STREAM_FLAVOUR "[standalone]"
namespace token_ns = asio::experimental;
#endif

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;

namespace {

using tcp_stream = tlsw::asio::stream<>;
using tlsw::asio::error_code;

/** A client and a server stream over a fresh connection. */
template <class... Policies>
struct stream_pair {
    tlsw::context client_ctx = client_context();
    tlsw::context server_ctx = server_context();
    tlsw::asio::stream<net::ip::tcp::socket, Policies...> client;
    tlsw::asio::stream<net::ip::tcp::socket, Policies...> server;

    explicit stream_pair(socket_pair sockets)
        : client(client_ctx, std::move(sockets.client), localhost()),
          server(server_ctx, std::move(sockets.server)) {}
};

/** The stream tests' policy combinations, as lists for tlsw::asio::stream. */
template <class... Policies>
struct stream_policies {
    using pair = stream_pair<Policies...>;
};
using all_stream_policies =
    std::tuple<stream_policies<>, stream_policies<tlsw::partial_write>,
               stream_policies<tlsw::moving_buffer, tlsw::full_write>,
               stream_policies<tlsw::partial_write, tlsw::moving_buffer>>;

/** Reads until `expected` has arrived, checking each byte against it as it comes. */
template <class Stream>
net::awaitable<void> read_checking(Stream& s, std::span<const std::byte> expected, std::size_t& got) {
    std::vector<std::byte> buffer(16384);
    while (got < expected.size()) {
        auto [ec, n] = co_await s.async_read_some(net::buffer(buffer), token_ns::as_tuple(net::use_awaitable));
        // Checked without an assertion per read: 16 MiB make thousands.
        if (ec || n == 0 || n > expected.size() - got || std::memcmp(buffer.data(), expected.data() + got, n) != 0) {
            INFO(ec.message() << " after " << got << " bytes, read " << n);
            REQUIRE_FALSE(ec);
            REQUIRE(n > 0);
            REQUIRE(n <= expected.size() - got);
            REQUIRE(first_difference(std::span<const std::byte>(buffer).first(n), expected.subspan(got, n)) ==
                    std::string::npos);
        }
        got += n;
    }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("asio::async_read_until and asio::async_write carry lines both ways over tlsw::asio::stream "
                        STREAM_FLAVOUR,
                        "[asio][stream]", all_stream_policies) {
    runner r;
    typename TestType::pair p(connect_pair(r.io));
    std::string client_got, server_got;
    r.spawn([&]() -> net::awaitable<void> {
        co_await p.client.async_handshake(net::use_awaitable);
        co_await net::async_write(p.client, net::buffer(std::string("first line\nsecond")), net::use_awaitable);
        co_await net::async_write(p.client, net::buffer(std::string(" line\n")), net::use_awaitable);
        std::string in;
        const auto n = co_await net::async_read_until(p.client, net::dynamic_buffer(in), '\n', net::use_awaitable);
        client_got = in.substr(0, n);
        co_await p.client.async_shutdown(net::use_awaitable);
    });
    r.spawn([&]() -> net::awaitable<void> {
        std::string in;
        auto n = co_await net::async_read_until(p.server, net::dynamic_buffer(in), '\n', net::use_awaitable);
        server_got = in.substr(0, n);
        in.erase(0, n);
        n = co_await net::async_read_until(p.server, net::dynamic_buffer(in), '\n', net::use_awaitable);
        server_got += in.substr(0, n);
        // Several buffers gathered into one record.
        const std::string a = "an ", b = "answer", c = "\n";
        const std::array buffers{net::buffer(a), net::buffer(b), net::buffer(c)};
        co_await net::async_write(p.server, buffers, net::use_awaitable);
        // The client's close_notify ends the stream as a socket's end does.
        std::array<char, 16> rest;
        auto [ec, m] = co_await net::async_read(p.server, net::buffer(rest), token_ns::as_tuple(net::use_awaitable));
        CHECK(ec == net::error::eof);
        CHECK(m == 0);
    });
    REQUIRE(r.run(30s));
    CHECK(server_got == "first line\nsecond line\n");
    CHECK(client_got == "an answer\n");
}

TEST_CASE("tlsw::asio::stream's operations take callbacks, use_awaitable, deferred and as_tuple " STREAM_FLAVOUR,
          "[asio][stream][token]") {
    runner r;
    stream_pair<> p(connect_pair(r.io));
    std::vector<std::string> steps;
    // Callbacks: the server handshakes, then echoes one read.
    std::array<char, 64> server_buffer{};
    p.server.async_handshake([&](const error_code& ec) {
        REQUIRE_FALSE(ec);
        steps.push_back("server handshake");
        p.server.async_read_some(net::buffer(server_buffer), [&](const error_code& rec, std::size_t n) {
            REQUIRE_FALSE(rec);
            net::async_write(p.server, net::buffer(server_buffer.data(), n), [&](const error_code& wec, std::size_t) {
                REQUIRE_FALSE(wec);
                steps.push_back("server echoed");
            });
        });
    });
    // deferred and as_tuple in a coroutine.
    r.spawn([&]() -> net::awaitable<void> {
        auto handshake = p.client.async_handshake(token_ns::deferred);
        co_await std::move(handshake)(net::use_awaitable);
        const std::string ping = "ping";
        auto write = p.client.async_write_some(net::buffer(ping), token_ns::deferred);
        const std::size_t n = co_await std::move(write)(net::use_awaitable);
        CHECK(n == 4);
        std::array<char, 4> echo{};
        auto [ec, m] = co_await net::async_read(p.client, net::buffer(echo), token_ns::as_tuple(net::use_awaitable));
        CHECK_FALSE(ec);
        CHECK(std::string(echo.data(), m) == "ping");
        steps.push_back("client read the echo");
    });
    REQUIRE(r.run(30s));
    // The server's write may complete after the client read its bytes.
    std::sort(steps.begin(), steps.end());
    CHECK(steps == std::vector<std::string>{"client read the echo", "server echoed", "server handshake"});
}

TEST_CASE("an operation that completes at once still completes outside the function that starts it " STREAM_FLAVOUR,
          "[asio][stream][token]") {
    runner r;
    stream_pair<> p(connect_pair(r.io));
    bool done = false;
    p.client.async_write_some(net::const_buffer(), [&](const error_code& ec, std::size_t n) {
        CHECK_FALSE(ec);
        CHECK(n == 0);
        done = true;
    });
    CHECK_FALSE(done);
    r.io.run_for(5s);
    CHECK(done);
}

TEST_CASE("eight connections echo 1 MiB each through strands on a four-thread io_context " STREAM_FLAVOUR,
          "[asio][stream][threads]") {
    constexpr int connections = 8;
    constexpr std::size_t size = 1u << 20;
    net::io_context io;
    const auto ctx_client = client_context();
    const auto ctx_server = server_context();
    std::vector<std::unique_ptr<tcp_stream>> clients, servers;
    std::vector<std::vector<std::byte>> data(connections), received(connections);
    std::atomic<int> finished{0};
    std::atomic<int> failures{0};
    for (int i = 0; i < connections; ++i) {
        auto strand_c = net::make_strand(io);
        auto strand_s = net::make_strand(io);
        auto [c, s] = connect_pair(io);
        // Each stream's socket lives on its own strand.
        clients.push_back(std::make_unique<tcp_stream>(ctx_client, net::ip::tcp::socket(strand_c, net::ip::tcp::v4(), c.release()), localhost()));
        servers.push_back(std::make_unique<tcp_stream>(ctx_server, net::ip::tcp::socket(strand_s, net::ip::tcp::v4(), s.release())));
        data[static_cast<std::size_t>(i)] = pattern(size, static_cast<std::uint32_t>(i + 1));
    }
    auto on_done = [&](std::exception_ptr e) {
        if (e)
            ++failures;
        ++finished;
    };
    for (std::size_t i = 0; i < connections; ++i) {
        // Server: echo until the client's close_notify.
        net::co_spawn(servers[i]->get_executor(), [&s = *servers[i]]() -> net::awaitable<void> {
            std::vector<std::byte> buffer(16384);
            for (;;) {
                auto [ec, n] = co_await s.async_read_some(net::buffer(buffer), token_ns::as_tuple(net::use_awaitable));
                if (ec == net::error::eof)
                    break;
                if (ec)
                    throw std::system_error(tlsw::asio::to_std_error(ec));
                co_await net::async_write(s, net::buffer(buffer.data(), n), net::use_awaitable);
            }
            co_await s.async_shutdown(net::use_awaitable);
        }, on_done);
        // Client: a writer and a reader at once, on the stream's strand.
        net::co_spawn(clients[i]->get_executor(), [&c = *clients[i], &d = data[i]]() -> net::awaitable<void> {
            co_await net::async_write(c, net::buffer(d), net::use_awaitable);
        }, on_done);
        net::co_spawn(clients[i]->get_executor(), [&c = *clients[i], &d = data[i], &into = received[i]]() -> net::awaitable<void> {
            std::vector<std::byte> buffer(16384);
            while (into.size() < d.size()) {
                const std::size_t n = co_await c.async_read_some(net::buffer(buffer), net::use_awaitable);
                into.insert(into.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
            }
            co_await c.async_shutdown(net::use_awaitable);
        }, on_done);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] { io.run_for(60s); });
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    REQUIRE(finished == 3 * connections);
    for (std::size_t i = 0; i < connections; ++i)
        CHECK_SAME_BYTES(received[i], data[i]);
}

TEST_CASE("two endpoints each write 16 MiB to the other while reading, over 4 KiB socket buffers, "
          "every byte checked, round after round " STREAM_FLAVOUR,
          "[asio][stream][duplex]") {
    constexpr std::size_t size = 16u << 20;
    const auto to_server = pattern(size, 101);
    const auto to_client = pattern(size, 202);
    // The layer is the same code over both flavours: Boost.Asio repeats it
    // fewer times, and so do the sanitizers (a round costs about half a
    // second of loopback TCP with 4 KiB buffers, several under ASan).
#if defined(TLSW_ASIO_BOOST) || defined(__SANITIZE_ADDRESS__)
    constexpr int rounds = 3;
#else
    constexpr int rounds = 20;
#endif
    for (int round = 0; round < rounds; ++round) {
        INFO("round " << round);
        runner r;
        stream_pair<> p(connect_pair(r.io, 4096));
        std::size_t client_got = 0, server_got = 0;
        // One writer and one reader per endpoint; nobody handshakes first:
        // the first write and the first read race to do it.
        auto writer = [&](tcp_stream& s, std::span<const std::byte> data) -> net::awaitable<void> {
            const std::size_t n = co_await net::async_write(s, net::buffer(data.data(), data.size()), net::use_awaitable);
            CHECK(n == data.size());
        };
        r.spawn(writer(p.client, to_server));
        r.spawn(writer(p.server, to_client));
        r.spawn(read_checking(p.client, to_client, client_got));
        r.spawn(read_checking(p.server, to_server, server_got));
        const bool finished = r.run(60s);
        INFO("client read " << client_got << ", server read " << server_got);
        REQUIRE(finished);
        CHECK(client_got == size);
        CHECK(server_got == size);
    }
}

TEST_CASE("a TLS failure completes with an error_code whose message names the reason, the alert and who sent it "
          STREAM_FLAVOUR,
          "[asio][stream][errors]") {
    runner r;
    auto [c, s] = connect_pair(r.io);
    auto client_ctx = tlsw::context::client();
    client_ctx.use_system_trust(false);  // the test CA is not trusted
    const auto server_ctx = server_context();
    tcp_stream client(client_ctx, std::move(c), localhost());
    tcp_stream server(server_ctx, std::move(s));
    error_code client_ec, server_ec;
    r.spawn([&]() -> net::awaitable<void> {
        std::tie(client_ec) = co_await client.async_handshake(token_ns::as_tuple(net::use_awaitable));
    });
    r.spawn([&]() -> net::awaitable<void> {
        std::tie(server_ec) = co_await server.async_handshake(token_ns::as_tuple(net::use_awaitable));
    });
    REQUIRE(r.run(30s));
    // The text a synchronous call gives, whole.
    const auto client_error = client.tls().handshake().error();
    CHECK(client_ec.message() == client_error.message());
    CHECK(client_ec.message().find("certificate issuer is unknown or untrusted") != std::string::npos);
    CHECK(client_ec.message().find("(alert sent: ") != std::string::npos);
    CHECK(server_ec.message().find("(alert from peer: ") != std::string::npos);
    CHECK(tlsw::asio::to_tls_error(client_ec).certificate() == tlsw::certificate_reason::unknown_issuer);
    CHECK(tlsw::asio::to_tls_error(client_ec).alert() == client_error.alert());
    CHECK(tlsw::asio::to_tls_error(server_ec).alert_from_peer());
    CHECK(tlsw::asio::to_std_error(client_ec) ==
          std::error_condition(static_cast<int>(tlsw::errc::certificate), tlsw::error_category()));
    // tlsw's one category, not a look-alike: the code is the
    // tls_error::detailed_error_code() of the synchronous error (with
    // Boost.Asio, wrapped in Boost's error_code).
    CHECK(&tlsw::asio::to_std_error(client_ec).category() == &tlsw::error_category());
    CHECK(&tlsw::asio::to_std_error(server_ec).category() == &tlsw::error_category());
#if !defined(TLSW_ASIO_BOOST)
    CHECK(&client_ec.category() == &tlsw::error_category());
#endif
    CHECK(tlsw::asio::to_std_error(client_ec) == client_error.detailed_error_code());
    const auto server_error = server.tls().handshake().error();
    CHECK(server_ec.message() == server_error.message());
    CHECK(tlsw::asio::to_tls_error(server_ec).code() == server_error.code());
    CHECK(tlsw::asio::to_tls_error(server_ec).alert() == server_error.alert());
}

TEST_CASE("async_read_some ends with truncated when the peer's socket closes without close_notify " STREAM_FLAVOUR,
          "[asio][stream][errors]") {
    runner r;
    stream_pair<> p(connect_pair(r.io));
    error_code end;
    r.spawn([&]() -> net::awaitable<void> {
        co_await p.server.async_handshake(net::use_awaitable);
        p.server.next_layer().close();
    });
    r.spawn([&]() -> net::awaitable<void> {
        std::array<char, 64> buffer;
        std::size_t n = 0;
        std::tie(end, n) = co_await p.client.async_read_some(net::buffer(buffer), token_ns::as_tuple(net::use_awaitable));
    });
    REQUIRE(r.run(30s));
    CHECK(tlsw::asio::to_std_error(end) == tlsw::errc::truncated);
}

TEST_CASE("a cancelled async_read_some loses nothing: the bytes that come later are read whole " STREAM_FLAVOUR,
          "[asio][stream][cancellation]") {
    runner r;
    stream_pair<> p(connect_pair(r.io));
    net::cancellation_signal signal;
    error_code first;
    std::string got;
    r.spawn([&]() -> net::awaitable<void> {
        co_await p.server.async_handshake(net::use_awaitable);
        net::steady_timer timer(r.io);
        timer.expires_after(50ms);  // the client's read is parked
        co_await timer.async_wait(net::use_awaitable);
        signal.emit(net::cancellation_type::total);
        co_await net::async_write(p.server, net::buffer(std::string("after the cancellation")), net::use_awaitable);
    });
    std::array<char, 64> buffer;
    p.client.async_read_some(net::buffer(buffer), net::bind_cancellation_slot(signal.slot(), [&](const error_code& ec, std::size_t n) {
        first = ec;
        CHECK(n == 0);
        r.spawn([&]() -> net::awaitable<void> {
            std::string in(22, '\0');
            co_await net::async_read(p.client, net::buffer(in), net::use_awaitable);
            got = in;
        });
    }));
    REQUIRE(r.run(30s));
    CHECK(first == net::error::operation_aborted);
    CHECK(got == "after the cancellation");
}

TEST_CASE("a cancelled async_write completes with operation_aborted and the bytes the stream accepted; the stream "
          "reads on, and every accepted byte arrives once " STREAM_FLAVOUR,
          "[asio][stream][cancellation]") {
    // The server reads nothing until the write is cancelled, so asio's
    // async_write fills the socket buffers and waits for writability.
    constexpr std::size_t size = 8u << 20;
    runner r;
    stream_pair<> p(connect_pair(r.io));
    const auto data = pattern(size, 17);
    net::cancellation_signal signal;
    error_code write_ec;
    std::size_t accepted = 0;
    std::string server_said;
    r.spawn([&]() -> net::awaitable<void> {
        co_await p.server.async_handshake(net::use_awaitable);
        co_await net::async_write(p.server, net::buffer(std::string("hello")), net::use_awaitable);
    });
    r.spawn([&]() -> net::awaitable<void> {
        co_await p.client.async_handshake(net::use_awaitable);
        net::async_write(p.client, net::buffer(data),
                         net::bind_cancellation_slot(signal.slot(), [&](const error_code& ec, std::size_t n) {
                             write_ec = ec;
                             accepted = n;
                         }));
        net::steady_timer timer(r.io);
        timer.expires_after(100ms);  // the writer is parked, the buffers full
        co_await timer.async_wait(net::use_awaitable);
        signal.emit(net::cancellation_type::terminal);
        // The stream stays usable for reading.
        std::string in(5, '\0');
        co_await net::async_read(p.client, net::buffer(in), net::use_awaitable);
        server_said = in;
    });
    REQUIRE(r.run(30s));
    CHECK(write_ec == net::error::operation_aborted);
    CHECK(accepted > 0);
    CHECK(accepted < size);
    CHECK(server_said == "hello");

    // The rest, written after the accepted bytes, arrives behind them.
    std::size_t got = 0;
    r.spawn([&]() -> net::awaitable<void> {
        co_await net::async_write(p.client, net::buffer(std::span(data).subspan(accepted).data(), size - accepted),
                                  net::use_awaitable);
    });
    r.spawn(read_checking(p.server, data, got));
    r.io.restart();
    REQUIRE(r.run(60s));
    CHECK(got == size);
}
