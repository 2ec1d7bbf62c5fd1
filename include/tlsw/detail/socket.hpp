#ifndef TLSW_DETAIL_SOCKET_HPP
#define TLSW_DETAIL_SOCKET_HPP

// POSIX TCP plumbing shared by blocking_socket, nonblocking_socket and
// tcp_listener: descriptor ownership, errno mapping, name resolution,
// connect, listen, accept, poll. Linux and the BSDs (it uses accept4,
// SOCK_CLOEXEC, SOCK_NONBLOCK and MSG_NOSIGNAL).
//
// Nothing here throws except std::bad_alloc from copying a host name into
// the NUL-terminated string getaddrinfo needs.

#include <tlsw/expected.hpp>
#include <tlsw/transport.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

namespace tlsw {

namespace detail {

class resolve_error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "tlsw.resolve"; }

    std::string message(int value) const override { return ::gai_strerror(value); }

    std::error_condition default_error_condition(int value) const noexcept override {
        // std::errc has no "host not found"; host_unreachable is the closest
        // portable condition, and it keeps EAI_AGAIN away from
        // resource_unavailable_try_again, which equals operation_would_block
        // on Linux and would read as a nonblocking retry.
        switch (value) {
        case EAI_MEMORY: return std::errc::not_enough_memory;
        case EAI_FAMILY: return std::errc::address_family_not_supported;
        case EAI_BADFLAGS:
        case EAI_SERVICE:
        case EAI_SOCKTYPE: return std::errc::invalid_argument;
        default: return std::errc::host_unreachable;
        }
    }
};

}  // namespace detail

/** The category of name-resolution errors from the sockets' connect() and
    tcp_listener::listen().

    A value is the getaddrinfo() EAI_* code; message() is gai_strerror()'s
    text ("Name or service not known"). For portable tests each value
    compares equal to a std::errc condition: EAI_MEMORY to
    not_enough_memory, EAI_FAMILY to address_family_not_supported, the
    argument errors to invalid_argument, and every other code (no such
    host, no address, temporary or permanent resolver failure) to
    host_unreachable. EAI_SYSTEM never appears: its errno is returned in
    std::system_category() instead. Its name() is "tlsw.resolve".
*/
inline const std::error_category& resolve_category() noexcept {
    static const detail::resolve_error_category instance;
    return instance;
}

namespace detail {

/** Owns one file descriptor and closes it once. */
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other)
            reset(std::exchange(other.fd_, -1));
        return *this;
    }
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    int release() noexcept { return std::exchange(fd_, -1); }

    void reset(int fd = -1) noexcept {
        // close() is not retried on EINTR: Linux has released the
        // descriptor by then, and a retry could close one another thread
        // just opened.
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

/** errno as a std::error_code; it compares equal to the matching std::errc. */
inline std::error_code sys_error(int e) noexcept {
    return {e, std::system_category()};
}

/** The error of a failed recv/send. EAGAIN is would-block on a nonblocking
    socket, and on a blocking one the expiry of its SO_RCVTIMEO/SO_SNDTIMEO
    (Linux reports both as EAGAIN): in both cases nothing was lost and the
    call can be repeated, so both are would_block(), which tls_stream
    turns into a retryable want_read / want_write. ETIMEDOUT stays an
    error: from recv/send it means TCP gave up on the connection
    (retransmission or keepalive timeout), which no retry can mend. */
inline std::error_code io_error(int e) noexcept {
    if (e == EAGAIN || e == EWOULDBLOCK)
        return would_block();
    return sys_error(e);
}

/** Sets SO_RCVTIMEO or SO_SNDTIMEO; zero or negative clears it (waits
    without limit). */
inline std::error_code set_timeout(int fd, int name, std::chrono::milliseconds timeout) noexcept {
    ::timeval tv{};
    if (timeout.count() > 0) {
        tv.tv_sec = static_cast<decltype(tv.tv_sec)>(timeout.count() / 1000);
        tv.tv_usec = static_cast<decltype(tv.tv_usec)>((timeout.count() % 1000) * 1000);
    }
    if (::setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv) != 0)
        return sys_error(errno);
    return {};
}

inline std::error_code set_nonblocking(int fd, bool on) noexcept {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0)
        return sys_error(errno);
    const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0)
        return sys_error(errno);
    return {};
}

inline std::error_code set_int_option(int fd, int level, int name, int value) noexcept {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0)
        return sys_error(errno);
    return {};
}

/** Waits with poll() until fd reports one of `events` (or an error or
    hangup) or the timeout passes; a negative timeout waits without limit.
    Returns true when ready. EINTR restarts the wait with the time that is
    left. A closed descriptor, or a poll() failure other than EINTR, counts
    as ready: the caller's next call then fails at once instead of waiting
    forever (poll ignores negative descriptors). */
inline bool poll_fd(int fd, short events, std::chrono::milliseconds timeout) noexcept {
    using clock = std::chrono::steady_clock;
    if (fd < 0)
        return true;
    const auto now = clock::now();
    // A timeout too large for the clock is as good as none, and adding it
    // would overflow.
    const bool forever = timeout.count() < 0 ||
        timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - now);
    const auto deadline = forever ? clock::time_point::max() : now + timeout;
    for (;;) {
        int ms = -1;
        bool clamped = false;
        if (!forever) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
            clamped = left > INT_MAX;
            ms = left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, INT_MAX));
        }
        ::pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, ms);
        if (r > 0)
            return true;
        if (r == 0) {
            if (!clamped)
                return false;
            continue;
        }
        if (errno != EINTR)
            return true;
    }
}

inline std::uint16_t port_of(const ::sockaddr_storage& ss) noexcept {
    // memcpy rather than a cast: sockaddr_storage is not a sockaddr_in object.
    if (ss.ss_family == AF_INET) {
        ::sockaddr_in in{};
        std::memcpy(&in, &ss, sizeof in);
        return ntohs(in.sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        ::sockaddr_in6 in6{};
        std::memcpy(&in6, &ss, sizeof in6);
        return ntohs(in6.sin6_port);
    }
    return 0;
}

/** The local (peer = false) or remote port of a socket; 0 when unknown. */
inline std::uint16_t socket_port(int fd, bool peer) noexcept {
    ::sockaddr_storage ss{};
    ::socklen_t len = sizeof ss;
    const int r = peer ? ::getpeername(fd, reinterpret_cast<::sockaddr*>(&ss), &len)
                       : ::getsockname(fd, reinterpret_cast<::sockaddr*>(&ss), &len);
    return r == 0 ? port_of(ss) : 0;
}

struct addrinfo_deleter {
    void operator()(::addrinfo* p) const noexcept { ::freeaddrinfo(p); }
};
using addrinfo_list = std::unique_ptr<::addrinfo, addrinfo_deleter>;

/** Resolves a host name or numeric IPv4/IPv6 address (brackets around an
    IPv6 literal are accepted) to TCP addresses. An empty host is the
    wildcard address when passive, and invalid_argument otherwise. */
[[nodiscard]] inline expected<addrinfo_list, std::error_code> resolve(std::string_view host, std::uint16_t port, bool passive) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    // An embedded NUL would silently cut the name short.
    if ((host.empty() && !passive) || host.find('\0') != std::string_view::npos)
        return unexpected(std::make_error_code(std::errc::invalid_argument));
    const std::string node(host);
    char service[8] = {};
    std::to_chars(service, service + sizeof service - 1, port);

    ::addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    // No AI_ADDRCONFIG: glibc ignores loopback when it decides which
    // families are configured, so on a host with only loopback networking
    // it would refuse "localhost" and "::1".
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);

    ::addrinfo* out = nullptr;
    const int rc = ::getaddrinfo(node.empty() ? nullptr : node.c_str(), service, &hints, &out);
    if (rc == EAI_SYSTEM) {
        const int e = errno;
        return unexpected(sys_error(e != 0 ? e : EIO));
    }
    if (rc != 0)
        return unexpected(std::error_code(rc, resolve_category()));
    if (out == nullptr)
        return unexpected(std::error_code(EAI_NONAME, resolve_category()));
    return addrinfo_list(out);
}

[[nodiscard]] inline expected<unique_fd, std::error_code> open_socket(const ::addrinfo& ai, bool nonblocking) noexcept {
    unique_fd fd(::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0),
                          ai.ai_protocol));
    if (!fd)
        return unexpected(sys_error(errno));
    return fd;
}

/** Connects to the first address of host that accepts, in getaddrinfo's
    order. Each attempt runs nonblocking and is finished with poll(), which
    gives the timeout (per address; negative: none beyond the kernel's own)
    and makes EINTR harmless: a blocking connect() interrupted by a signal
    cannot simply be called again. Returns the last attempt's error when
    all fail. */
[[nodiscard]] inline expected<unique_fd, std::error_code> connect_any(std::string_view host, std::uint16_t port, bool nonblocking,
                                                        std::chrono::milliseconds timeout) {
    auto list = resolve(host, port, false);
    if (!list)
        return unexpected(list.error());
    std::error_code last = std::make_error_code(std::errc::host_unreachable);
    for (const ::addrinfo* ai = list->get(); ai != nullptr; ai = ai->ai_next) {
        auto fd = open_socket(*ai, true);
        if (!fd) {
            last = fd.error();
            continue;
        }
        if (::connect(fd->get(), ai->ai_addr, ai->ai_addrlen) != 0) {
            const int e = errno;
            if (e != EINPROGRESS && e != EINTR) {
                last = sys_error(e);
                continue;
            }
            if (!poll_fd(fd->get(), POLLOUT, timeout)) {
                last = std::make_error_code(std::errc::timed_out);
                continue;
            }
            int err = 0;
            ::socklen_t len = sizeof err;
            if (::getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            if (err != 0) {
                last = sys_error(err);
                continue;
            }
        }
        if (!nonblocking) {
            if (auto ec = set_nonblocking(fd->get(), false)) {
                last = ec;
                continue;
            }
        }
        return std::move(*fd);
    }
    return unexpected(last);
}

/** Binds and listens on the first address that allows it, with
    SO_REUSEADDR so a restarted server can rebind a port in TIME_WAIT. */
[[nodiscard]] inline expected<unique_fd, std::error_code> listen_any(std::string_view address, std::uint16_t port, int backlog) {
    auto list = resolve(address, port, true);
    if (!list)
        return unexpected(list.error());
    std::error_code last = std::make_error_code(std::errc::address_not_available);
    for (const ::addrinfo* ai = list->get(); ai != nullptr; ai = ai->ai_next) {
        auto fd = open_socket(*ai, false);
        if (!fd) {
            last = fd.error();
            continue;
        }
        if (auto ec = set_int_option(fd->get(), SOL_SOCKET, SO_REUSEADDR, 1)) {
            last = ec;
            continue;
        }
        if (::bind(fd->get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd->get(), backlog) != 0) {
            last = sys_error(errno);
            continue;
        }
        return std::move(*fd);
    }
    return unexpected(last);
}

/** Accepts one connection. Errors that belong to the pending connection,
    not to the listener (it was reset before we took it, or its network
    went away), are skipped, as accept(2) advises for Linux; EINTR
    restarts. would_block() when the listener is nonblocking and nothing is
    pending. */
[[nodiscard]] inline expected<unique_fd, std::error_code> accept_fd(int listener, bool nonblocking) noexcept {
    for (;;) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
        if (fd >= 0)
            return unique_fd(fd);
        const int e = errno;
        switch (e) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case ENETDOWN:
        case ENETUNREACH:
        case EHOSTDOWN:
        case EHOSTUNREACH:
        case ENOPROTOOPT:
#ifdef ENONET
        case ENONET:
#endif
            continue;
        default: break;
        }
        if (e == EAGAIN || e == EWOULDBLOCK)
            return unexpected(would_block());
        return unexpected(sys_error(e));
    }
}

/** Adopts fd into a socket of the given mode; closes it on failure, so
    ownership passes in every case. */
[[nodiscard]] inline expected<unique_fd, std::error_code> adopt_fd(int fd, bool nonblocking) noexcept {
    unique_fd owned(fd);
    if (auto ec = set_nonblocking(fd, nonblocking))
        return unexpected(ec);
    return owned;
}

inline io_result recv_some(int fd, std::span<std::byte> in) noexcept {
    // recv of 0 bytes returns 0, which a caller would read as EOF.
    if (in.empty())
        return std::size_t{0};
    for (;;) {
        const ::ssize_t n = ::recv(fd, in.data(), in.size(), 0);
        if (n >= 0)
            return static_cast<std::size_t>(n);
        if (errno != EINTR)
            return unexpected(io_error(errno));
    }
}

inline io_result send_some(int fd, std::span<const std::byte> out) noexcept {
    if (out.empty())
        return std::size_t{0};
    for (;;) {
        // MSG_NOSIGNAL: a write to a closed peer returns EPIPE instead of
        // killing the process with SIGPIPE.
        const ::ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (n >= 0)
            return static_cast<std::size_t>(n);
        if (errno != EINTR)
            return unexpected(io_error(errno));
    }
}

inline std::error_code shutdown_write(int fd) noexcept {
    if (::shutdown(fd, SHUT_WR) != 0)
        return sys_error(errno);
    return {};
}

inline std::error_code set_nodelay(int fd, bool on) noexcept {
    return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

/** The local (peer = false) or remote address of a socket as numeric
    text ("127.0.0.1", "::1"); empty when unknown. */
inline std::string socket_address(int fd, bool peer) {
    ::sockaddr_storage ss{};
    ::socklen_t len = sizeof ss;
    const int r = peer ? ::getpeername(fd, reinterpret_cast<::sockaddr*>(&ss), &len)
                       : ::getsockname(fd, reinterpret_cast<::sockaddr*>(&ss), &len);
    char host[NI_MAXHOST] = {};
    if (r != 0 || ::getnameinfo(reinterpret_cast<::sockaddr*>(&ss), len, host, sizeof host, nullptr, 0,
                                NI_NUMERICHOST) != 0)
        return {};
    return host;
}

/** What both socket types hold: the owned descriptor. Their members are
    declared and documented in blocking_socket.hpp and
    nonblocking_socket.hpp, over the functions above. */
class socket_base {
protected:
    socket_base() noexcept = default;
    explicit socket_base(unique_fd fd) noexcept : fd_(std::move(fd)) {}

    unique_fd fd_;
};

}  // namespace detail

}  // namespace tlsw

#endif
