// Test that header file is self-contained.
#include <tlsw/nonblocking_socket.hpp>

#include <tlsw/blocking_socket.hpp>
#include <tlsw/tcp_listener.hpp>

#include "support/harness.hpp"
#include "support/sockets.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

using namespace std::chrono_literals;
using namespace tlsw_test;

namespace {

using tlsw::readiness;

bool would_block(const tlsw::io_result& r) {
    return !r && r.error() == std::errc::operation_would_block;
}

/// Writes all of `data`, waiting for writability whenever the kernel is full.
std::error_code write_all(tlsw::nonblocking_socket& s, std::span<const std::byte> data) {
    while (!data.empty()) {
        auto n = s.write_some(data);
        if (n) {
            data = data.subspan(*n);
        } else if (tlsw::is_would_block(n.error())) {
            if (!s.wait(readiness::writable, 10s))
                return std::make_error_code(std::errc::timed_out);
        } else {
            return n.error();
        }
    }
    return {};
}

/// Reads until EOF, waiting for readability; stops at the first error and
/// stores it in `ec`.
std::vector<std::byte> read_to_eof(tlsw::nonblocking_socket& s, std::error_code& ec) {
    std::vector<std::byte> out;
    std::array<std::byte, 16384> buf;
    for (;;) {
        auto n = s.read_some(buf);
        if (n && *n == 0)
            return out;
        if (n) {
            out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        } else if (tlsw::is_would_block(n.error())) {
            if (!s.wait(readiness::readable, 10s)) {
                ec = std::make_error_code(std::errc::timed_out);
                return out;
            }
        } else {
            ec = n.error();
            return out;
        }
    }
}

}  // namespace

TEST_CASE("nonblocking_socket models nonblocking_transport and waitable_transport", "[socket][nonblocking][concept]") {
    STATIC_REQUIRE(tlsw::transport<tlsw::nonblocking_socket>);
    STATIC_REQUIRE(tlsw::nonblocking_transport<tlsw::nonblocking_socket>);
    STATIC_REQUIRE(!tlsw::blocking_transport<tlsw::nonblocking_socket>);
    STATIC_REQUIRE(tlsw::waitable_transport<tlsw::nonblocking_socket>);
    STATIC_REQUIRE(!tlsw::transport_traits<tlsw::nonblocking_socket>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<tlsw::nonblocking_socket>::can_would_block);
    STATIC_REQUIRE(!tlsw::nonblocking_socket::can_block);
    STATIC_REQUIRE(tlsw::nonblocking_socket::can_would_block);
}

TEST_CASE("nonblocking_socket is move-only", "[socket][nonblocking][concept]") {
    STATIC_REQUIRE(!std::is_copy_constructible_v<tlsw::nonblocking_socket>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<tlsw::nonblocking_socket>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<tlsw::nonblocking_socket>);
    STATIC_REQUIRE(std::is_nothrow_move_assignable_v<tlsw::nonblocking_socket>);
}

TEST_CASE("connect returns a connected socket in nonblocking mode", "[socket][nonblocking][connect]") {
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    auto client = tlsw::nonblocking_socket::connect("127.0.0.1", listener->port(), 5s);
    REQUIRE(client);
    auto server = listener->accept();
    REQUIRE(server);

    CHECK((::fcntl(client->native_handle(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(client->native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(client->peer_port() == listener->port());
    CHECK(server->peer_port() == client->local_port());
    CHECK(client->peer_address() == "127.0.0.1");
    CHECK(client->local_address() == "127.0.0.1");
    // Connected, not connecting: writable at once.
    CHECK(client->wait(readiness::writable, 0ms));
}

TEST_CASE("nonblocking connect by localhost and to ::1 reaches the listener", "[socket][nonblocking][connect][ipv6]") {
    SECTION("localhost") {
        auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
        REQUIRE(listener);
        auto client = tlsw::nonblocking_socket::connect("localhost", listener->port());
        REQUIRE(client);
        auto server = listener->accept();
        REQUIRE(server);
        CHECK(server->peer_port() == client->local_port());
    }
    SECTION("::1") {
        auto listener = tlsw::tcp_listener::listen("::1", 0);
        if (!listener) {
            WARN("no IPv6 loopback on this machine (" << listener.error().message() << "); skipped");
            return;
        }
        auto client = tlsw::nonblocking_socket::connect("::1", listener->port());
        REQUIRE(client);
        auto server = listener->accept();
        REQUIRE(server);
        CHECK(server->peer_port() == client->local_port());
        CHECK(client->peer_address() == "::1");
    }
}

TEST_CASE("nonblocking connect to a port nobody listens on is refused", "[socket][nonblocking][connect]") {
    std::uint16_t port = 0;
    {
        auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
        REQUIRE(listener);
        port = listener->port();
    }
    auto client = tlsw::nonblocking_socket::connect("127.0.0.1", port);
    REQUIRE_FALSE(client);
    CHECK(client.error() == std::errc::connection_refused);
}

TEST_CASE("read_some returns would_block with no data, and wait reports when data arrives",
          "[socket][nonblocking][io][wait]") {
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    std::array<std::byte, 16> buf;

    auto r = pair.client.read_some(buf);
    REQUIRE(would_block(r));
    CHECK(tlsw::is_would_block(r.error()));
    CHECK_FALSE(pair.client.wait(readiness::readable, 0ms));
    CHECK_FALSE(pair.client.wait(readiness::readable, 20ms));

    REQUIRE(write_all(pair.server, bytes_of("data")) == std::error_code());
    REQUIRE(pair.client.wait(readiness::readable, 10s));
    auto n = pair.client.read_some(buf);
    REQUIRE(n);
    REQUIRE(*n == 4);
    CHECK(std::ranges::equal(std::span(buf).first(4), bytes_of("data")));
    CHECK(would_block(pair.client.read_some(buf)));
}

TEST_CASE("write_some returns would_block once the kernel buffers are full, and wait reports room again",
          "[socket][nonblocking][io][wait]") {
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    // Small buffers make the fill quick; the kernel rounds them up.
    const int small = 16 * 1024;
    ::setsockopt(pair.client.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(pair.server.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

    const auto chunk = socket_pattern(64 * 1024, 3);
    std::vector<std::byte> sent;
    tlsw::io_result last = 0;
    // The cap only stops a broken socket from looping forever.
    while (sent.size() < (64u << 20)) {
        last = pair.client.write_some(chunk);
        if (!last)
            break;
        REQUIRE(*last > 0);
        REQUIRE(*last <= chunk.size());
        sent.insert(sent.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(*last));
    }
    REQUIRE(would_block(last));
    CHECK(sent.size() > 0);
    CHECK_FALSE(pair.client.wait(readiness::writable, 0ms));

    // Draining everything on the other side frees the client's buffer.
    const auto received = read_exactly(pair.server, sent.size());
    CHECK(received == sent);
    REQUIRE(pair.client.wait(readiness::writable, 10s));
    auto more = pair.client.write_some(bytes_of("more"));
    REQUIRE(more);
    CHECK(*more == 4);
    CHECK(std::ranges::equal(read_exactly(pair.server, 4), bytes_of("more")));
}

TEST_CASE("a nonblocking socket carries 1 MiB each way, in order, from one thread", "[socket][nonblocking][io]") {
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    const auto sent = socket_pattern(1 << 20, 4);

    // The blocking server echoes everything and ends its direction at EOF.
    std::size_t echoed = 0;
    std::error_code echo_error;
    std::thread echo([&echoed, &echo_error, s = std::move(pair.server)]() mutable {
        std::array<std::byte, 7001> buf;
        for (;;) {
            auto n = s.read_some(buf);
            if (!n) {
                echo_error = n.error();
                return;
            }
            if (*n == 0)
                break;
            if (auto ec = write_all(s, std::span(buf).first(*n))) {
                echo_error = ec;
                return;
            }
            echoed += *n;
        }
        echo_error = s.shutdown_write();
    });

    // One thread drives both directions: write what the kernel takes, read
    // what it has, and poll for either when neither made progress. Writing
    // without reading would deadlock once both directions' buffers fill.
    auto& c = pair.client;
    std::vector<std::byte> received;
    std::array<std::byte, 9973> buf;
    std::size_t written = 0;
    bool eof = false;
    std::error_code client_error;
    while (!eof && !client_error) {
        bool progressed = false;
        if (written < sent.size()) {
            auto n = c.write_some(std::span(sent).subspan(written, std::min<std::size_t>(sent.size() - written, 65536)));
            if (n) {
                written += *n;
                progressed = true;
                if (written == sent.size())
                    client_error = c.shutdown_write();
            } else if (!tlsw::is_would_block(n.error())) {
                client_error = n.error();
            }
        }
        auto m = c.read_some(buf);
        if (m && *m == 0) {
            eof = true;
        } else if (m) {
            received.insert(received.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*m));
            progressed = true;
        } else if (!tlsw::is_would_block(m.error())) {
            client_error = m.error();
        }
        if (!progressed && !eof && !client_error) {
            ::pollfd p{c.native_handle(), static_cast<short>(POLLIN | (written < sent.size() ? POLLOUT : 0)), 0};
            if (::poll(&p, 1, 10000) == 0)
                client_error = std::make_error_code(std::errc::timed_out);
        }
    }
    // Unblock the echo thread whatever happened, then join it.
    c.close();
    echo.join();

    CHECK_FALSE(client_error);
    CHECK_FALSE(echo_error);
    CHECK(written == sent.size());
    CHECK(echoed == sent.size());
    REQUIRE(received.size() == sent.size());
    CHECK(received == sent);
}

TEST_CASE("a nonblocking socket writes 1 MiB and reads 1 MiB back using wait", "[socket][nonblocking][io][wait]") {
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    const auto up = socket_pattern(1 << 20, 5);
    const auto down = socket_pattern(1 << 20, 6);

    std::vector<std::byte> server_got;
    std::error_code server_error;
    std::thread server([&server_got, &server_error, &up, &down, s = std::move(pair.server)]() mutable {
        server_got = read_exactly(s, up.size());
        server_error = write_all(s, down);
    });

    const auto write_error = write_all(pair.client, up);
    std::error_code read_error;
    std::vector<std::byte> client_got;
    if (!write_error)
        client_got = read_to_eof(pair.client, read_error);
    pair.client.close();
    server.join();

    CHECK_FALSE(write_error);
    CHECK_FALSE(read_error);
    CHECK_FALSE(server_error);
    CHECK(server_got == up);
    CHECK(client_got == down);
}

TEST_CASE("a nonblocking read returns 0 at EOF after the peer closes", "[socket][nonblocking][io]") {
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    REQUIRE(write_all(pair.server, bytes_of("bye")) == std::error_code());
    pair.server.close();

    std::error_code ec;
    const auto got = read_to_eof(pair.client, ec);
    CHECK_FALSE(ec);
    CHECK(std::ranges::equal(got, bytes_of("bye")));
    // EOF is a readiness too: wait must not sleep through it.
    CHECK(pair.client.wait(readiness::readable, 0ms));
    std::array<std::byte, 4> buf;
    auto again = pair.client.read_some(buf);
    REQUIRE(again);
    CHECK(*again == 0);
}

TEST_CASE("a nonblocking write after the peer closed fails without SIGPIPE", "[socket][nonblocking][io][sigpipe]") {
    sigpipe_kills guard;
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    pair.server.close();

    const auto chunk = socket_pattern(4096, 7);
    std::error_code ec;
    for (int i = 0; i < 2000 && !ec; ++i) {
        auto n = pair.client.write_some(chunk);
        if (n)
            std::this_thread::sleep_for(1ms);
        else if (!tlsw::is_would_block(n.error()))
            ec = n.error();
        else
            pair.client.wait(readiness::writable, 10ms);
    }
    INFO(ec.message());
    CHECK((ec == std::errc::broken_pipe || ec == std::errc::connection_reset));
}

TEST_CASE("accept_nonblocking returns would_block while no connection is pending", "[socket][listener][nonblocking]") {
    auto listener = tlsw::tcp_listener::listen();
    REQUIRE(listener);
    CHECK_FALSE(listener->is_nonblocking());
    REQUIRE_FALSE(listener->set_nonblocking(true));
    CHECK(listener->is_nonblocking());

    auto none = listener->accept_nonblocking();
    REQUIRE_FALSE(none);
    CHECK(none.error() == std::errc::operation_would_block);
    auto none_blocking = listener->accept();
    REQUIRE_FALSE(none_blocking);
    CHECK(none_blocking.error() == std::errc::operation_would_block);
    CHECK_FALSE(listener->wait_readable(0ms));
    CHECK_FALSE(listener->wait_readable(20ms));

    auto client = tlsw::nonblocking_socket::connect("127.0.0.1", listener->port());
    REQUIRE(client);
    REQUIRE(listener->wait_readable(10s));
    auto server = listener->accept_nonblocking();
    REQUIRE(server);
    CHECK((::fcntl(server->native_handle(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(server->native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(server->peer_port() == client->local_port());

    // Back in blocking mode, the listener's own descriptor loses O_NONBLOCK.
    REQUIRE_FALSE(listener->set_nonblocking(false));
    CHECK((::fcntl(listener->native_handle(), F_GETFL) & O_NONBLOCK) == 0);
}

TEST_CASE("from_fd adopts a descriptor and makes it nonblocking", "[socket][nonblocking]") {
    auto listener = tlsw::tcp_listener::listen();
    REQUIRE(listener);
    auto blocking = tlsw::blocking_socket::connect("127.0.0.1", listener->port());
    REQUIRE(blocking);
    auto server = listener->accept();
    REQUIRE(server);

    const int fd = blocking->release();
    REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
    auto adopted = tlsw::nonblocking_socket::from_fd(fd);
    REQUIRE(adopted);
    CHECK(adopted->native_handle() == fd);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);

    std::array<std::byte, 4> buf;
    CHECK(would_block(adopted->read_some(buf)));

    auto bad = tlsw::nonblocking_socket::from_fd(-1);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == std::errc::bad_file_descriptor);
}

TEST_CASE("a closed nonblocking_socket fails its calls and wait does not hang", "[socket][nonblocking]") {
    tlsw::nonblocking_socket closed;
    CHECK_FALSE(closed.is_open());
    CHECK(closed.native_handle() == -1);
    std::array<std::byte, 4> buf;
    auto r = closed.read_some(buf);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::bad_file_descriptor);
    // A negative timeout would wait forever on a descriptor poll ignores.
    CHECK(closed.wait(readiness::readable, -1ms));
    CHECK(closed.wait(readiness::writable, -1ms));
    CHECK(closed.shutdown_write() == std::errc::bad_file_descriptor);
    CHECK(closed.set_nodelay(true) == std::errc::bad_file_descriptor);
    CHECK(closed.peer_address().empty());
    CHECK(closed.peer_port() == 0);

    auto pair = connect_pair<tlsw::nonblocking_socket>();
    const int fd = pair.client.native_handle();
    tlsw::nonblocking_socket moved = std::move(pair.client);
    CHECK(moved.native_handle() == fd);
    CHECK_FALSE(pair.client.is_open());
}

TEST_CASE("nonblocking shutdown_write ends one direction while the other stays open", "[socket][nonblocking][io][half_close]") {
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    REQUIRE(write_all(pair.client, bytes_of("ping")) == std::error_code());
    REQUIRE_FALSE(pair.client.shutdown_write());
    CHECK(std::ranges::equal(read_exactly(pair.server, 5), bytes_of("ping")));  // then EOF

    REQUIRE(tlsw_test::write_all(pair.server, bytes_of("pong")) == std::error_code());
    std::error_code ec;
    pair.server.close();
    CHECK(std::ranges::equal(read_to_eof(pair.client, ec), bytes_of("pong")));
    CHECK_FALSE(ec);
    // Writing after our own shutdown_write is an error, not a silent loss.
    auto w = pair.client.write_some(bytes_of("x"));
    REQUIRE_FALSE(w);
    CHECK(w.error() == std::errc::broken_pipe);
}

TEMPLATE_LIST_TEST_CASE("over nonblocking sockets, after close_notify and shutdown_write the peer reads every byte "
                        "then closed, and our side still reads",
                        "[socket][nonblocking][tls][half_close]", all_policies) {
    using stream = typename TestType::template stream<tlsw::nonblocking_socket&>;
    auto pair = connect_pair<tlsw::nonblocking_socket>();
    auto server_socket = tlsw::nonblocking_socket::from_fd(pair.server.release());
    REQUIRE(server_socket);
    stream client(client_context(), pair.client, localhost());
    stream server(server_context(), *server_socket);
    // Loopback TCP delivers asynchronously: wait for bytes between rounds.
    bool client_done = false, server_done = false;
    for (int i = 0; i < 1000 && !(client_done && server_done); ++i) {
        auto c = client.handshake();
        auto s = server.handshake();
        REQUIRE((c || c.error().retryable()));
        REQUIRE((s || s.error().retryable()));
        client_done = c.has_value();
        server_done = s.has_value();
        if (!(client_done && server_done)) {
            ::pollfd fds[2] = {{pair.client.native_handle(), POLLIN, 0}, {server_socket->native_handle(), POLLIN, 0}};
            ::poll(fds, 2, 100);
        }
    }
    REQUIRE(client_done);
    REQUIRE(server_done);

    const auto data = pattern(300000, 9);
    std::vector<std::byte> received;
    std::vector<std::byte> buf(16384);
    std::optional<tlsw::tls_error> server_end;
    auto pump = [&] {
        if (server_end)
            return;
        if (!server_socket->wait(readiness::readable, 10ms))
            return;
        for (;;) {
            auto n = server.read(buf);
            if (!n) {
                if (!n.error().retryable())
                    server_end = n.error();
                return;
            }
            received.insert(received.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        }
    };
    REQUIRE(write_all(client, data, pump));
    REQUIRE(retry([&] { return client.shutdown(); }, pump));
    REQUIRE_FALSE(pair.client.shutdown_write());
    for (int i = 0; i < 1000 && !server_end; ++i)
        pump();
    CHECK_SAME_BYTES(received, data);
    REQUIRE(server_end);
    CHECK(*server_end == tlsw::errc::closed);
    // The server's socket sees our FIN after the close_notify.
    std::array<std::byte, 16> raw;
    REQUIRE(server_socket->wait(readiness::readable, 10s));
    auto eof = server_socket->read_some(raw);
    REQUIRE(eof);
    CHECK(*eof == 0u);

    // Our read direction still works: the server's close_notify answer arrives.
    REQUIRE(pair.client.wait(readiness::readable, 10s));
    auto after = retry([&] { return client.read(buf); }, [&] { (void)pair.client.wait(readiness::readable, 10ms); });
    REQUIRE_FALSE(after);
    INFO(after.error().message());
    CHECK(after.error() == tlsw::errc::closed);
}
