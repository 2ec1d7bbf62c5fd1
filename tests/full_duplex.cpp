// Full duplex never stalls: two tlsw endpoints each write 16 MiB (1 MiB in
// unoptimised builds) to the other while reading, over loopback TCP with 4 KiB socket buffers, driven
// by one poll() loop that waits for exactly what each result asks for
// (want_read: readable, want_write: writable). Over nonblocking_socket and
// over a transport that declares no traits (which tls_stream must treat as
// possibly blocking and possibly would-blocking).

#include <tlsw/nonblocking_socket.hpp>
#include <tlsw/tls_stream.hpp>

#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** A transport over a nonblocking descriptor that declares nothing about
    itself: no can_block, no can_would_block, no wait(). */
class traitless_fd {
public:
    explicit traitless_fd(int fd) : fd_(fd) {}
    traitless_fd(traitless_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    traitless_fd& operator=(traitless_fd&&) = delete;
    ~traitless_fd() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    tlsw::io_result read_some(std::span<std::byte> in) {
        const auto n = ::read(fd_, in.data(), in.size());
        if (n < 0)
            return tlsw::unexpected(std::error_code(errno, std::system_category()));
        return static_cast<std::size_t>(n);
    }
    tlsw::io_result write_some(std::span<const std::byte> out) {
        const auto n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
        if (n < 0)
            return tlsw::unexpected(std::error_code(errno, std::system_category()));
        return static_cast<std::size_t>(n);
    }
    int native_handle() const noexcept { return fd_; }

private:
    int fd_;
};

static_assert(tlsw::transport_traits<traitless_fd>::can_block && tlsw::transport_traits<traitless_fd>::can_would_block);

/** A connected loopback TCP pair, both ends nonblocking, with 4 KiB send and
    receive buffers (the kernel may round them up). */
std::pair<int, int> small_buffer_pair() {
    const int small = 4096;
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener >= 0);
    ::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::setsockopt(listener, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<::sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    ::socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listener, reinterpret_cast<::sockaddr*>(&addr), &len) == 0);
    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(client >= 0);
    ::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::setsockopt(client, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    REQUIRE(::connect(client, reinterpret_cast<::sockaddr*>(&addr), sizeof addr) == 0);
    const int server = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    REQUIRE(server >= 0);
    const int one = 1;
    for (int fd : {client, server}) {
        REQUIRE(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return {client, server};
}

/** What each side sends, in MiB: 16 where the build is optimised (CI's
    default configuration builds this file as a program of its own, with
    TLSW_DUPLEX_MIB=16 and TLSW_DUPLEX_RUNS=5); 1 in unoptimised builds,
    where 16 MiB each way costs about 10 s per run over 4 KiB socket
    buffers, and 1 MiB still crosses them hundreds of times. */
#ifndef TLSW_DUPLEX_MIB
#define TLSW_DUPLEX_MIB 1
#endif
#define TLSW_DUPLEX_TEXT(n) #n
#define TLSW_DUPLEX_SIZE_NAME(n) TLSW_DUPLEX_TEXT(n) " MiB"
constexpr std::size_t exchanged = std::size_t(TLSW_DUPLEX_MIB) << 20;

/** The bytes each side sends: made once. */
const std::vector<std::byte>& payload(int side) {
    static const std::array<std::vector<std::byte>, 2> data{pattern(exchanged, 1), pattern(exchanged, 2)};
    return data[side];
}

/** One endpoint of the loop: what it has sent and received, and what its
    last results asked to wait for. */
template <class Stream>
struct endpoint {
    Stream stream;
    const std::vector<std::byte>& out;
    std::size_t sent = 0;
    std::vector<std::byte> in{};
    short events = 0;
    std::string failure{};  // a final error, which ends the exchange

    /** Writes and reads until both ask to wait; records what for. */
    void step(std::vector<std::byte>& buffer) {
        events = 0;
        for (;;) {
            bool progress = false;
            if (sent < out.size()) {
                auto n = stream.write(std::span(out).subspan(sent));
                if (n) {
                    sent += *n;
                    progress = true;
                } else if (!n.error().retryable()) {
                    failure = n.error().message();
                    return;
                } else {
                    events |= n.error() == errc::want_read ? POLLIN : POLLOUT;
                }
            }
            if (in.size() < out.size()) {
                auto m = stream.read(buffer);
                if (m) {
                    in.insert(in.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*m));
                    progress = true;
                } else if (!m.error().retryable()) {
                    failure = m.error().message();
                    return;
                } else {
                    events |= m.error() == errc::want_read ? POLLIN : POLLOUT;
                }
            }
            if (!progress || done())
                return;
            events = 0;
        }
    }
    bool done() const { return sent == out.size() && in.size() == out.size(); }
};

template <class Stream, class Transport>
void exchange_both_ways(Transport client_transport, Transport server_transport) {
    endpoint<Stream> client{Stream(client_context(), std::move(client_transport), localhost()), payload(0)};
    endpoint<Stream> server{Stream(server_context(), std::move(server_transport)), payload(1)};
    std::vector<std::byte> buffer(20000);
    int stalls = 0;
    while (!(client.done() && server.done())) {
        client.step(buffer);
        server.step(buffer);
        if (!client.failure.empty() || !server.failure.empty() || (client.done() && server.done()))
            break;
        if (client.stream.has_pending() || server.stream.has_pending())
            continue;
        std::array<::pollfd, 2> fds{::pollfd{client.stream.transport().native_handle(), client.events, 0},
                                    ::pollfd{server.stream.transport().native_handle(), server.events, 0}};
        const int ready = ::poll(fds.data(), fds.size(), 5000);
        REQUIRE(ready >= 0);
        if (ready == 0 && ++stalls > 0)
            break;  // nothing became ready for 5 s: the loop waits for the wrong thing
    }
    CHECK(client.failure == "");
    CHECK(server.failure == "");
    CHECK(stalls == 0);
    CHECK_SAME_BYTES(server.in, payload(0));
    CHECK_SAME_BYTES(client.in, payload(1));
}

// One run per policy combination by default (about 0.5 s each for 1 MiB in
// a debug build on a loaded machine); TLSW_DUPLEX_RUNS=5 gives 20 runs per
// transport kind.
#ifndef TLSW_DUPLEX_RUNS
#define TLSW_DUPLEX_RUNS 1
#endif
constexpr int runs_per_policy = TLSW_DUPLEX_RUNS;

}  // namespace

TEMPLATE_LIST_TEST_CASE("two endpoints each writing " TLSW_DUPLEX_SIZE_NAME(TLSW_DUPLEX_MIB)
                        " while reading over 4 KiB socket buffers never stall in a poll() loop over "
                        "nonblocking_socket",
                        "[duplex][nonblocking][slow]", all_policies) {
    using stream = typename TestType::template stream<tlsw::nonblocking_socket>;
    for (int run = 0; run < runs_per_policy; ++run) {
        CAPTURE(run);
        auto [c, s] = small_buffer_pair();
        auto client = tlsw::nonblocking_socket::from_fd(c);
        auto server = tlsw::nonblocking_socket::from_fd(s);
        REQUIRE(client);
        REQUIRE(server);
        exchange_both_ways<stream>(std::move(*client), std::move(*server));
    }
}

TEMPLATE_LIST_TEST_CASE("two endpoints each writing " TLSW_DUPLEX_SIZE_NAME(TLSW_DUPLEX_MIB)
                        " while reading over 4 KiB socket buffers never stall over a transport that declares no "
                        "traits",
                        "[duplex][nonblocking][slow]", all_policies) {
    using stream = typename TestType::template stream<traitless_fd>;
    for (int run = 0; run < runs_per_policy; ++run) {
        CAPTURE(run);
        auto [c, s] = small_buffer_pair();
        exchange_both_ways<stream>(traitless_fd(c), traitless_fd(s));
    }
}
