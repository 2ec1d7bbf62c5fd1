// Test that header file is self-contained.
#include <tlsw/blocking_socket.hpp>

#include <tlsw/nonblocking_socket.hpp>
#include <tlsw/tcp_listener.hpp>

#include "support/harness.hpp"
#include "support/sockets.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

using namespace std::chrono_literals;
using namespace tlsw_test;
using tlsw::errc;
using tlsw::tls_error;

namespace {

/// Reads until EOF; stops at the first error and stores it in `ec`.
std::vector<std::byte> read_to_eof(tlsw::blocking_socket& s, std::error_code& ec) {
    std::vector<std::byte> out;
    std::array<std::byte, 16384> buf;
    for (;;) {
        auto n = s.read_some(buf);
        if (!n) {
            ec = n.error();
            return out;
        }
        if (*n == 0)
            return out;
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
}

std::uint16_t bound_port(int fd) {
    ::sockaddr_in addr{};
    ::socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<::sockaddr*>(&addr), &len) != 0)
        return 0;
    return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("blocking_socket waits for the peer and can return would_block once a timeout is set",
          "[socket][blocking][concept]") {
    STATIC_REQUIRE(tlsw::transport<tlsw::blocking_socket>);
    STATIC_REQUIRE(tlsw::transport_traits<tlsw::blocking_socket>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<tlsw::blocking_socket>::can_would_block);
    // Both, like fault_transport over a blocking transport: neither refinement.
    STATIC_REQUIRE(!tlsw::blocking_transport<tlsw::blocking_socket>);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<tlsw::blocking_socket>);
}

TEST_CASE("blocking_socket and tcp_listener are move-only", "[socket][blocking][listener][concept]") {
    STATIC_REQUIRE(!std::is_copy_constructible_v<tlsw::blocking_socket>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<tlsw::blocking_socket>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<tlsw::blocking_socket>);
    STATIC_REQUIRE(std::is_nothrow_move_assignable_v<tlsw::blocking_socket>);
    STATIC_REQUIRE(!std::is_copy_constructible_v<tlsw::tcp_listener>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<tlsw::tcp_listener>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<tlsw::tcp_listener>);
    STATIC_REQUIRE(std::is_nothrow_move_assignable_v<tlsw::tcp_listener>);
}

TEST_CASE("listening on 127.0.0.1 port 0 binds a port the OS chose", "[socket][listener]") {
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    CHECK(listener->is_open());
    CHECK(listener->native_handle() >= 0);
    CHECK(listener->port() != 0);
    CHECK(bound_port(listener->native_handle()) == listener->port());

    auto defaults = tlsw::tcp_listener::listen();
    REQUIRE(defaults);
    CHECK(defaults->port() != 0);
    CHECK(defaults->port() != listener->port());
}

TEST_CASE("listening on a port another listener holds fails with address_in_use", "[socket][listener]") {
    auto first = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(first);
    auto second = tlsw::tcp_listener::listen("127.0.0.1", first->port());
    REQUIRE_FALSE(second);
    CHECK(second.error() == std::errc::address_in_use);
}

TEST_CASE("a closed or moved-from listener reports port 0 and handle -1", "[socket][listener]") {
    auto listener = tlsw::tcp_listener::listen();
    REQUIRE(listener);
    const int fd = listener->native_handle();
    tlsw::tcp_listener other = std::move(*listener);
    CHECK(listener->native_handle() == -1);
    CHECK(listener->port() == 0);
    CHECK(other.native_handle() == fd);
    other.close();
    CHECK_FALSE(other.is_open());
    CHECK(other.port() == 0);
}

TEST_CASE("connect by numeric IPv4 address reaches the listener", "[socket][blocking][connect]") {
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    auto client = tlsw::blocking_socket::connect("127.0.0.1", listener->port(), 5s);
    REQUIRE(client);
    auto server = listener->accept();
    REQUIRE(server);

    CHECK(client->peer_port() == listener->port());
    CHECK(server->local_port() == listener->port());
    CHECK(server->peer_port() == client->local_port());
    CHECK(client->local_port() != 0);
    CHECK(client->peer_address() == "127.0.0.1");
    CHECK(client->local_address() == "127.0.0.1");
    CHECK(server->peer_address() == "127.0.0.1");

    // The accepted socket is blocking even though accept4 could have made it otherwise.
    CHECK((::fcntl(server->native_handle(), F_GETFL) & O_NONBLOCK) == 0);
    CHECK((::fcntl(client->native_handle(), F_GETFL) & O_NONBLOCK) == 0);
    // Descriptors do not leak into exec'd children.
    CHECK((::fcntl(client->native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(server->native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("connect by the host name localhost reaches a 127.0.0.1 listener", "[socket][blocking][connect]") {
    // If localhost also resolves to ::1, that address is refused first and
    // connect must go on to 127.0.0.1.
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    auto client = tlsw::blocking_socket::connect("localhost", listener->port());
    REQUIRE(client);
    auto server = listener->accept();
    REQUIRE(server);
    CHECK(server->peer_port() == client->local_port());
}

TEST_CASE("connect to ::1 reaches an IPv6 listener", "[socket][blocking][connect][ipv6]") {
    auto listener = tlsw::tcp_listener::listen("::1", 0);
    if (!listener) {
        WARN("no IPv6 loopback on this machine (" << listener.error().message() << "); skipped");
        return;
    }
    CHECK(listener->port() != 0);

    for (std::string_view host : {"::1", "[::1]"}) {
        INFO("host " << host);
        auto client = tlsw::blocking_socket::connect(host, listener->port());
        REQUIRE(client);
        auto server = listener->accept();
        REQUIRE(server);
        CHECK(client->peer_port() == listener->port());
        CHECK(client->peer_address() == "::1");
        CHECK(server->peer_address() == "::1");

        REQUIRE(write_all(*client, bytes_of("six")) == std::error_code());
        const auto got = read_exactly(*server, 3);
        CHECK(std::ranges::equal(got, bytes_of("six")));
    }
}

TEST_CASE("connecting to a port nobody listens on is refused", "[socket][blocking][connect]") {
    std::uint16_t port = 0;
    {
        auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
        REQUIRE(listener);
        port = listener->port();
    }
    auto client = tlsw::blocking_socket::connect("127.0.0.1", port);
    REQUIRE_FALSE(client);
    CHECK(client.error() == std::errc::connection_refused);
}

TEST_CASE("connect to an empty host is an invalid argument", "[socket][blocking][connect]") {
    auto client = tlsw::blocking_socket::connect("", 443);
    REQUIRE_FALSE(client);
    CHECK(client.error() == std::errc::invalid_argument);
}

TEST_CASE("resolver errors keep getaddrinfo's text and compare to portable conditions", "[socket][resolve]") {
    const std::error_code no_name(EAI_NONAME, tlsw::resolve_category());
    CHECK(std::string_view(tlsw::resolve_category().name()) == "tlsw.resolve");
    CHECK(no_name.message() == ::gai_strerror(EAI_NONAME));
    CHECK(no_name == std::errc::host_unreachable);
    // A temporary resolver failure must not look like a nonblocking retry.
    const std::error_code again(EAI_AGAIN, tlsw::resolve_category());
    CHECK_FALSE(tlsw::is_would_block(again));
    CHECK(std::error_code(EAI_MEMORY, tlsw::resolve_category()) == std::errc::not_enough_memory);
}

TEST_CASE("a blocking socket carries 1 MiB each way, in order", "[socket][blocking][io]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    const auto sent = socket_pattern(1 << 20, 1);

    // The server echoes every byte back and ends its direction at EOF; the
    // client writes from one thread and reads from another, as TCP allows.
    std::size_t echoed = 0;
    std::error_code echo_error;
    std::thread echo([&echoed, &echo_error, s = std::move(pair.server)]() mutable {
        std::array<std::byte, 7001> buf;  // odd size: chunk edges fall anywhere
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
    std::error_code write_error;
    std::error_code shutdown_error;
    std::thread writer([&] {
        write_error = write_all(pair.client, sent);
        shutdown_error = pair.client.shutdown_write();
    });
    std::error_code read_error;
    const auto received = read_to_eof(pair.client, read_error);
    writer.join();
    echo.join();

    CHECK_FALSE(write_error);
    CHECK_FALSE(shutdown_error);
    CHECK_FALSE(echo_error);
    CHECK_FALSE(read_error);
    CHECK(echoed == sent.size());
    REQUIRE(received.size() == sent.size());
    CHECK(received == sent);
}

TEST_CASE("read_some returns 0 at EOF after the peer closes, and again after that", "[socket][blocking][io]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    REQUIRE(write_all(pair.server, bytes_of("last words")) == std::error_code());
    pair.server.close();
    CHECK_FALSE(pair.server.is_open());

    std::error_code ec;
    const auto got = read_to_eof(pair.client, ec);
    CHECK_FALSE(ec);
    CHECK(std::ranges::equal(got, bytes_of("last words")));

    std::array<std::byte, 8> buf;
    auto again = pair.client.read_some(buf);
    REQUIRE(again);
    CHECK(*again == 0);
}

TEST_CASE("shutdown_write ends one direction while the other stays open", "[socket][blocking][io]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    REQUIRE(write_all(pair.client, bytes_of("ping")) == std::error_code());
    REQUIRE_FALSE(pair.client.shutdown_write());

    std::error_code ec;
    const auto got = read_to_eof(pair.server, ec);
    CHECK_FALSE(ec);
    CHECK(std::ranges::equal(got, bytes_of("ping")));

    REQUIRE(write_all(pair.server, bytes_of("pong")) == std::error_code());
    CHECK(std::ranges::equal(read_exactly(pair.client, 4), bytes_of("pong")));
}

TEST_CASE("writing after the peer closed fails with broken_pipe or connection_reset, without SIGPIPE",
          "[socket][blocking][io][sigpipe]") {
    sigpipe_kills guard;
    auto pair = connect_pair<tlsw::blocking_socket>();
    pair.server.close();

    // The first writes may still be accepted: the peer's RST has to come
    // back before the kernel knows.
    const auto chunk = socket_pattern(4096, 2);
    std::error_code ec;
    for (int i = 0; i < 2000 && !ec; ++i) {
        auto n = pair.client.write_some(chunk);
        if (!n)
            ec = n.error();
        else
            std::this_thread::sleep_for(1ms);
    }
    INFO(ec.message());
    CHECK((ec == std::errc::broken_pipe || ec == std::errc::connection_reset));

    // A SIGPIPE would have ended the process; none is pending either.
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    CHECK_FALSE(sigismember(&pending, SIGPIPE));
}

TEST_CASE("a moved-from blocking_socket is closed and the target owns the descriptor", "[socket][blocking]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    const int fd = pair.client.native_handle();
    REQUIRE(fd >= 0);

    tlsw::blocking_socket moved = std::move(pair.client);
    CHECK(moved.native_handle() == fd);
    CHECK_FALSE(pair.client.is_open());
    CHECK(pair.client.native_handle() == -1);

    std::array<std::byte, 4> buf;
    auto r = pair.client.read_some(buf);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::bad_file_descriptor);
    auto w = pair.client.write_some(bytes_of("x"));
    REQUIRE_FALSE(w);
    CHECK(w.error() == std::errc::bad_file_descriptor);

    // Move-assigning over an open socket closes the one it held: the server
    // then reads EOF.
    tlsw::blocking_socket other;
    CHECK_FALSE(other.is_open());
    other = std::move(moved);
    CHECK(other.native_handle() == fd);
    other = tlsw::blocking_socket();
    std::error_code ec;
    CHECK(read_to_eof(pair.server, ec).empty());
    CHECK_FALSE(ec);
}

TEST_CASE("from_fd adopts a descriptor and makes it blocking", "[socket][blocking]") {
    auto listener = tlsw::tcp_listener::listen();
    REQUIRE(listener);
    auto nb = tlsw::nonblocking_socket::connect("127.0.0.1", listener->port());
    REQUIRE(nb);
    auto server = listener->accept();
    REQUIRE(server);

    const int fd = nb->release();
    CHECK_FALSE(nb->is_open());
    REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    auto adopted = tlsw::blocking_socket::from_fd(fd);
    REQUIRE(adopted);
    CHECK(adopted->native_handle() == fd);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);

    REQUIRE(write_all(*server, bytes_of("hi")) == std::error_code());
    CHECK(std::ranges::equal(read_exactly(*adopted, 2), bytes_of("hi")));

    auto bad = tlsw::blocking_socket::from_fd(-1);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == std::errc::bad_file_descriptor);
}

TEST_CASE("set_nodelay turns TCP_NODELAY on and off", "[socket][blocking]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    auto nodelay = [&] {
        int value = -1;
        ::socklen_t len = sizeof value;
        ::getsockopt(pair.client.native_handle(), IPPROTO_TCP, TCP_NODELAY, &value, &len);
        return value;
    };
    REQUIRE_FALSE(pair.client.set_nodelay(true));
    CHECK(nodelay() != 0);
    REQUIRE_FALSE(pair.client.set_nodelay(false));
    CHECK(nodelay() == 0);

    tlsw::blocking_socket closed;
    CHECK(closed.set_nodelay(true) == std::errc::bad_file_descriptor);
    CHECK(closed.shutdown_write() == std::errc::bad_file_descriptor);
    CHECK(closed.local_port() == 0);
    CHECK(closed.peer_port() == 0);
    CHECK(closed.peer_address().empty());
    CHECK(closed.local_address().empty());
    CHECK(closed.set_read_timeout(1s) == std::errc::bad_file_descriptor);
    CHECK(closed.set_write_timeout(1s) == std::errc::bad_file_descriptor);
}

TEST_CASE("empty reads and writes return 0 without touching the socket", "[socket][blocking][io]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    auto r = pair.client.read_some(std::span<std::byte>());
    REQUIRE(r);
    CHECK(*r == 0);
    auto w = pair.client.write_some(std::span<const std::byte>());
    REQUIRE(w);
    CHECK(*w == 0);
}


namespace {

/// Shrinks the kernel buffers between a writer and a reader, so that a
/// peer that does not read fills them after a few hundred KiB.
void shrink_buffers(tlsw::blocking_socket& writer, tlsw::blocking_socket& reader) {
    const int size = 16384;
    REQUIRE(::setsockopt(writer.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
    REQUIRE(::setsockopt(reader.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
}

/// A peer thread must not outlive a test that failed half-way: it may wait
/// this long for the test's side, and its socket reads and writes too.
constexpr auto peer_patience = 10s;

/// Reads a TLS stream into `received` until a call fails; returns that failure.
template <class Stream>
tls_error read_until_error(Stream& tls, std::vector<std::byte>& received) {
    std::vector<std::byte> buf(16384);
    for (;;) {
        auto n = tls.read(buf);
        if (!n)
            return n.error();
        received.insert(received.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
}

}  // namespace

TEST_CASE("a read timeout makes read_some return would_block, and the socket still reads what arrives later",
          "[socket][blocking][io][timeout]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    REQUIRE_FALSE(pair.client.set_read_timeout(30ms));
    std::array<std::byte, 4> buf;
    for (int i = 0; i < 2; ++i) {
        auto r = pair.client.read_some(buf);
        REQUIRE_FALSE(r);
        INFO(r.error().message());
        CHECK(tlsw::is_would_block(r.error()));
    }
    REQUIRE(write_all(pair.server, bytes_of("late")) == std::error_code());
    CHECK(std::ranges::equal(read_exactly(pair.client, 4), bytes_of("late")));

    // Zero removes the bound again.
    REQUIRE_FALSE(pair.client.set_read_timeout(0ms));
    ::timeval tv{1, 1};
    ::socklen_t len = sizeof tv;
    REQUIRE(::getsockopt(pair.client.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0);
    CHECK(tv.tv_sec == 0);
    CHECK(tv.tv_usec == 0);
}

TEST_CASE("a write timeout makes write_some return would_block while the peer does not read, and nothing is lost",
          "[socket][blocking][io][timeout]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    shrink_buffers(pair.client, pair.server);
    REQUIRE_FALSE(pair.client.set_write_timeout(30ms));
    const auto data = socket_pattern(8 << 20, 5);

    std::size_t offset = 0;
    std::error_code first_error;
    while (offset < data.size()) {
        auto n = pair.client.write_some(std::span(data).subspan(offset));
        if (!n) {
            first_error = n.error();
            break;
        }
        offset += *n;
    }
    INFO(first_error.message());
    REQUIRE(tlsw::is_would_block(first_error));
    CHECK(offset < data.size());

    // The peer starts reading: the same socket takes the rest.
    std::error_code read_error;
    std::vector<std::byte> received;
    std::thread reader([&] { received = read_to_eof(pair.server, read_error); });
    std::error_code write_error;
    for (int would_blocks = 0; offset < data.size() && would_blocks < 1000;) {
        auto n = pair.client.write_some(std::span(data).subspan(offset));
        if (n) {
            offset += *n;
        } else if (tlsw::is_would_block(n.error())) {
            ++would_blocks;
        } else {
            write_error = n.error();
            break;
        }
    }
    (void)pair.client.shutdown_write();
    reader.join();
    CHECK_FALSE(write_error);
    CHECK_FALSE(read_error);
    CHECK(offset == data.size());
    CHECK(received.size() == data.size());
    CHECK(std::ranges::equal(received, data));
}

TEST_CASE("a blocking tls_stream with a read timeout returns want_read from a silent peer, then reads what it sends",
          "[socket][blocking][tls][timeout]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    REQUIRE_FALSE(pair.server.set_read_timeout(peer_patience));
    std::promise<void> client_timed_out;
    auto timed_out = client_timed_out.get_future();
    std::optional<tlsw::result<std::size_t>> server_wrote;
    std::thread peer([&] {
        tlsw::tls_stream<tlsw::blocking_socket&> server(server_context(), pair.server);
        if (!server.handshake() || timed_out.wait_for(peer_patience) != std::future_status::ready)
            return;
        server_wrote = server.write(bytes_of("late"));
        (void)server.shutdown();
    });

    tlsw::tls_stream<tlsw::blocking_socket&> client(client_context(), pair.client, localhost());
    const auto handshake = client.handshake();
    (void)pair.client.set_read_timeout(50ms);
    std::array<std::byte, 64> buf;
    const auto first = client.read(buf);
    const auto second = client.read(buf);  // still retryable: the stream has not failed
    client_timed_out.set_value();
    auto late = client.read(buf);
    for (int i = 0; i < 200 && !late && late.error() == errc::want_read; ++i)
        late = client.read(buf);
    const auto end = late ? client.read(buf) : late;
    (void)pair.client.shutdown_write();
    peer.join();

    REQUIRE(handshake);
    REQUIRE_FALSE(first);
    INFO(first.error().message());
    CHECK(first.error() == errc::want_read);
    CHECK(first.error().retryable());
    REQUIRE_FALSE(second);
    CHECK(second.error() == errc::want_read);
    REQUIRE(server_wrote.has_value());
    CHECK(*server_wrote == 4u);
    REQUIRE(late);
    CHECK(std::ranges::equal(std::span(buf).first(*late), bytes_of("late")));
    REQUIRE_FALSE(end);
    CHECK(end.error() == errc::closed);
}

TEST_CASE("shutdown(send_and_wait) over a blocking_socket with a read timeout returns want_read from a silent peer, "
          "and completes when repeated after the peer answers",
          "[socket][blocking][tls][timeout][shutdown]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    REQUIRE_FALSE(pair.server.set_read_timeout(peer_patience));
    std::promise<void> client_waited;
    auto waited = client_waited.get_future();
    std::optional<tls_error> server_end;
    std::thread peer([&] {
        tlsw::tls_stream<tlsw::blocking_socket&> server(server_context(), pair.server);
        if (!server.handshake() || waited.wait_for(peer_patience) != std::future_status::ready)
            return;
        std::vector<std::byte> received;
        server_end = read_until_error(server, received);  // answers the close_notify
    });

    tlsw::tls_stream<tlsw::blocking_socket&> client(client_context(), pair.client, localhost());
    const auto handshake = client.handshake();
    (void)pair.client.set_read_timeout(50ms);
    const auto first = client.shutdown(tlsw::shutdown_mode::send_and_wait);
    client_waited.set_value();
    auto done = client.shutdown(tlsw::shutdown_mode::send_and_wait);
    for (int i = 0; i < 200 && !done && done.error() == errc::want_read; ++i)
        done = client.shutdown(tlsw::shutdown_mode::send_and_wait);
    (void)pair.client.shutdown_write();
    peer.join();

    REQUIRE(handshake);
    REQUIRE_FALSE(first);
    INFO(first.error().message());
    CHECK(first.error() == errc::want_read);
    INFO((done ? std::string("done") : done.error().message()));
    CHECK(done);
    REQUIRE(server_end);
    CHECK(*server_end == errc::closed);
}

TEMPLATE_LIST_TEST_CASE("a blocking tls_stream with a write timeout returns want_write while the peer does not read, "
                        "and the repeated write delivers every byte once, in order",
                        "[socket][blocking][tls][timeout]", all_policies) {
    using stream = typename TestType::template stream<tlsw::blocking_socket&>;
    auto pair = connect_pair<tlsw::blocking_socket>();
    shrink_buffers(pair.client, pair.server);
    REQUIRE_FALSE(pair.server.set_read_timeout(peer_patience));
    std::promise<void> client_blocked;
    auto blocked = client_blocked.get_future();
    std::vector<std::byte> received;
    std::optional<tls_error> server_end;
    std::thread peer([&] {
        tlsw::tls_stream<tlsw::blocking_socket&> server(server_context(), pair.server);
        if (!server.handshake() || blocked.wait_for(peer_patience) != std::future_status::ready)
            return;
        server_end = read_until_error(server, received);
    });

    stream client(client_context(), pair.client, localhost());
    const auto handshake = client.handshake();
    (void)pair.client.set_write_timeout(50ms);
    const auto data = pattern(8 << 20, 11);
    std::size_t offset = 0;
    int want_writes = 0;
    std::optional<tls_error> write_error;
    for (int calls = 0; handshake && offset < data.size() && calls < 100000; ++calls) {
        auto n = client.write(std::span(data).subspan(offset));
        if (n) {
            offset += *n;
        } else if (n.error() == errc::want_write) {
            if (want_writes++ == 0)
                client_blocked.set_value();  // only now does the peer start reading
        } else {
            write_error = n.error();
            break;
        }
    }
    if (want_writes == 0)
        client_blocked.set_value();
    auto closed = client.shutdown();
    for (int i = 0; i < 200 && !closed && closed.error() == errc::want_write; ++i)
        closed = client.shutdown();
    peer.join();

    REQUIRE(handshake);
    INFO((write_error ? write_error->message() : std::string("no write error")));
    CHECK_FALSE(write_error);
    CHECK(want_writes > 0);
    CHECK(offset == data.size());
    CHECK(closed);
    CHECK_SAME_BYTES(received, data);
    REQUIRE(server_end);
    CHECK(*server_end == errc::closed);
}

TEST_CASE("after close_notify and shutdown_write the peer reads every byte then closed, and our side still reads",
          "[socket][blocking][tls][half_close]") {
    auto pair = connect_pair<tlsw::blocking_socket>();
    REQUIRE_FALSE(pair.server.set_read_timeout(peer_patience));
    REQUIRE_FALSE(pair.client.set_read_timeout(peer_patience));
    std::vector<std::byte> received;
    std::optional<tls_error> server_end;
    std::optional<tlsw::io_result> server_raw_after;
    std::thread peer([&] {
        tlsw::tls_stream<tlsw::blocking_socket&> server(server_context(), pair.server);
        if (!server.handshake())
            return;
        server_end = read_until_error(server, received);
        // Our FIN follows the close_notify; the answer Botan sent went the other way.
        std::array<std::byte, 64> buf;
        server_raw_after = pair.server.read_some(buf);
    });

    tlsw::tls_stream<tlsw::blocking_socket&> client(client_context(), pair.client, localhost());
    const auto data = pattern(100000, 3);
    const auto wrote = client.write(data);
    const auto shut = client.shutdown();
    const auto half = pair.client.shutdown_write();
    // The read direction still works: the peer's close_notify arrives over it.
    std::array<std::byte, 256> buf;
    const auto after = client.read(buf);
    peer.join();

    REQUIRE(wrote);
    CHECK(*wrote == data.size());
    CHECK(shut);
    CHECK_FALSE(half);
    CHECK_SAME_BYTES(received, data);
    REQUIRE(server_end);
    CHECK(*server_end == errc::closed);
    REQUIRE(server_raw_after);
    REQUIRE(*server_raw_after);
    CHECK(**server_raw_after == 0u);
    REQUIRE_FALSE(after);
    INFO(after.error().message());
    CHECK(after.error() == errc::closed);
}
