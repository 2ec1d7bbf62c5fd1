#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_TCP_LISTENER_HPP
#define TLSW_TCP_LISTENER_HPP

/** @file
    tlsw::tcp_listener: a listening TCP socket that accepts blocking or
    nonblocking sockets. */

#include <tlsw/blocking_socket.hpp>
#include <tlsw/detail/socket.hpp>
#include <tlsw/expected.hpp>
#include <tlsw/nonblocking_socket.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <utility>

#include <poll.h>

namespace tlsw {

/** A listening TCP socket that accepts blocking_socket or
    nonblocking_socket connections.

    The listener is blocking unless set_nonblocking(true) was called; that
    mode decides only whether accept() waits, not the mode of the sockets
    it returns (accept() always gives a blocking_socket,
    accept_nonblocking() a nonblocking_socket). It owns its descriptor and
    closes it when destroyed; it is move-only.
*/
class tcp_listener {
public:
    /** A closed listener; assign an open one to it. */
    tcp_listener() noexcept = default;

    /** Takes other's socket and port; other is closed after. */
    tcp_listener(tcp_listener&& other) noexcept
        : fd_(std::move(other.fd_)), port_(std::exchange(other.port_, 0)),
          nonblocking_(std::exchange(other.nonblocking_, false)) {}
    /** Closes the listener held before, then takes other's. */
    tcp_listener& operator=(tcp_listener&& other) noexcept {
        if (this != &other) {
            fd_ = std::move(other.fd_);
            port_ = std::exchange(other.port_, 0);
            nonblocking_ = std::exchange(other.nonblocking_, false);
        }
        return *this;
    }
    tcp_listener(const tcp_listener&) = delete;
    tcp_listener& operator=(const tcp_listener&) = delete;
    ~tcp_listener() = default;

    /** Binds to `address` and `port` and listens, in blocking mode.

        `address` is a numeric IPv4 or IPv6 address ("127.0.0.1", "::1",
        "[::1]", "0.0.0.0", "::") or a host name; the first of its
        addresses that binds is used. An empty address is the wildcard
        address. Port 0 lets the OS choose; port() tells which. The socket
        has SO_REUSEADDR, so a restarted server can rebind a port whose old
        connections are in TIME_WAIT. An IPv6 wildcard keeps the system's
        IPV6_V6ONLY default (on Linux: it accepts IPv4 too).

        Returns the listener, or: address_in_use; address_not_available for
        an address that is not local (or an IPv6 address on a host without
        IPv6); permission_denied for a privileged port; an error of
        resolve_category() for a name that does not resolve.
    */
    [[nodiscard]] static expected<tcp_listener, std::error_code>
    listen(std::string_view address = "127.0.0.1", std::uint16_t port = 0, int backlog = 128) {
        auto fd = detail::listen_any(address, port, backlog);
        if (!fd)
            return unexpected(fd.error());
        tcp_listener listener;
        listener.port_ = detail::socket_port(fd->get(), false);
        listener.fd_ = std::move(*fd);
        return listener;
    }

    /** The port the listener is bound to (the OS's choice for port 0), in
        host byte order; 0 when closed. */
    std::uint16_t port() const noexcept { return port_; }

    /** Accepts a connection as a blocking_socket.

        On a blocking listener the call blocks until a client connects. On
        a nonblocking listener it returns would_block() when none is
        pending. A connection that failed before it was taken (reset by the
        client) is skipped rather than reported, as accept(2) advises.
        Other errors: those of accept(2), such as too_many_files_open.
    */
    [[nodiscard]] expected<blocking_socket, std::error_code> accept() noexcept {
        auto fd = detail::accept_fd(fd_.get(), false);
        if (!fd)
            return unexpected(fd.error());
        return blocking_socket(std::move(*fd));
    }

    /** Accepts a connection as a nonblocking_socket.

        Blocks and fails exactly as accept() does: would_block() when the
        listener is nonblocking and no connection is pending.
    */
    [[nodiscard]] expected<nonblocking_socket, std::error_code> accept_nonblocking() noexcept {
        auto fd = detail::accept_fd(fd_.get(), true);
        if (!fd)
            return unexpected(fd.error());
        return nonblocking_socket(std::move(*fd));
    }

    /** Makes accept() and accept_nonblocking() return would_block()
        instead of waiting when no connection is pending (true), or wait
        again (false). Returns fcntl(2)'s error or an empty error_code. */
    std::error_code set_nonblocking(bool on) noexcept {
        auto ec = detail::set_nonblocking(fd_.get(), on);
        if (!ec)
            nonblocking_ = on;
        return ec;
    }

    /** True when accept calls return would_block() instead of waiting. */
    bool is_nonblocking() const noexcept { return nonblocking_; }

    /** Waits until a connection is pending.

        The call blocks until one of the following is true:
        - a connection is pending (or the listener has an error the next
          accept will report): returns true;
        - `timeout` has passed: returns false. A negative timeout waits
          without limit; zero only checks.
        A closed listener returns true at once.
    */
    bool wait_readable(std::chrono::milliseconds timeout) noexcept {
        return detail::poll_fd(fd_.get(), POLLIN, timeout);
    }

    /** Stops listening now rather than at destruction; pending
        connections that were not accepted are reset. */
    void close() noexcept {
        fd_.reset();
        port_ = 0;
        nonblocking_ = false;
    }

    /** The descriptor, or -1 when closed. It stays owned by the listener. */
    int native_handle() const noexcept { return fd_.get(); }

    /** False after close() or a move, and for a default-made listener. */
    bool is_open() const noexcept { return static_cast<bool>(fd_); }

private:
    detail::unique_fd fd_;
    std::uint16_t port_ = 0;
    bool nonblocking_ = false;
};

}  // namespace tlsw

#endif
