#ifndef TLSW_TESTS_SUPPORT_SOCKETS_HPP
#define TLSW_TESTS_SUPPORT_SOCKETS_HPP

// What the socket tests share: byte helpers, a loopback connection, and a
// guard that makes SIGPIPE fatal for the duration of a test.

#include <tlsw/blocking_socket.hpp>
#include <tlsw/tcp_listener.hpp>

#include "bytes.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <csignal>
#include <pthread.h>

namespace tlsw_test {

inline std::vector<std::byte> socket_pattern(std::size_t size, std::uint32_t seed) {
    std::vector<std::byte> out(size);
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& b : out) {
        x = x * 1664525u + 1013904223u;
        b = static_cast<std::byte>(x >> 24);
    }
    return out;
}

/// Writes all of `data` to a blocking socket; returns the first error.
inline std::error_code write_all(tlsw::blocking_socket& s, std::span<const std::byte> data) {
    while (!data.empty()) {
        auto n = s.write_some(data);
        if (!n)
            return n.error();
        data = data.subspan(*n);
    }
    return {};
}

/// Reads exactly `size` bytes, or fewer at EOF or on an error.
inline std::vector<std::byte> read_exactly(tlsw::blocking_socket& s, std::size_t size) {
    std::vector<std::byte> out(size);
    std::size_t got = 0;
    while (got < size) {
        auto n = s.read_some(std::span(out).subspan(got));
        if (!n || *n == 0)
            break;
        got += *n;
    }
    out.resize(got);
    return out;
}

/// A `Client` socket and the blocking server socket it is connected to.
template <class Client>
struct connected {
    Client client;
    tlsw::blocking_socket server;
};

/// Connects a `Client` socket to a listener on `address`, over loopback.
template <class Client>
connected<Client> connect_pair(std::string_view address = "127.0.0.1") {
    auto listener = tlsw::tcp_listener::listen(address);
    REQUIRE(listener);
    auto client = Client::connect(address, listener->port());
    REQUIRE(client);
    auto server = listener->accept();
    REQUIRE(server);
    return {std::move(*client), std::move(*server)};
}

/// Restores SIGPIPE's default action (terminate) and unblocks it for the
/// test's lifetime, so a write that raised it would kill the test run
/// instead of passing unnoticed under an inherited SIG_IGN.
class sigpipe_kills {
public:
    sigpipe_kills() {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        ::sigaction(SIGPIPE, &dfl, &old_action_);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        ::pthread_sigmask(SIG_UNBLOCK, &set, &old_mask_);
    }
    ~sigpipe_kills() {
        ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
        ::sigaction(SIGPIPE, &old_action_, nullptr);
    }
    sigpipe_kills(const sigpipe_kills&) = delete;
    sigpipe_kills& operator=(const sigpipe_kills&) = delete;

private:
    struct sigaction old_action_ {};
    sigset_t old_mask_{};
};

}  // namespace tlsw_test

#endif
