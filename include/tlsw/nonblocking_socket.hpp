#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_NONBLOCKING_SOCKET_HPP
#define TLSW_NONBLOCKING_SOCKET_HPP

/** @file
    tlsw::nonblocking_socket: a connected TCP socket in nonblocking
    mode, with wait() for readiness. */

#include <tlsw/detail/socket.hpp>
#include <tlsw/expected.hpp>
#include <tlsw/transport.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <poll.h>

namespace tlsw {

class tcp_listener;

/** A connected TCP socket in nonblocking mode: a `nonblocking_transport`
    and a `waitable_transport`.

    read_some and write_some never wait: when the kernel has no bytes to
    give or no room to take more they return would_block(), and the caller
    retries after wait() (or its own poll/epoll on native_handle()) reports
    readiness. The socket owns its descriptor and closes it when destroyed;
    it is move-only. A moved-from or default-constructed socket is closed:
    its calls fail with bad_file_descriptor and wait() returns true at once.

    Timeouts: the socket's calls never wait, so there is nothing to time
    out; bound the waits between them with wait()'s timeout.

    Thread safety: one thread at a time, except that one thread may read
    while another writes.

    Signals: EINTR is retried inside every call, and writes use
    MSG_NOSIGNAL, so a write to a closed peer returns broken_pipe instead of
    raising SIGPIPE.

    Make one with connect(), tcp_listener::accept_nonblocking() or
    from_fd().
*/
class nonblocking_socket : public detail::socket_base {
public:
    /// Calls never wait for the peer (connect() aside).
    static constexpr bool can_block = false;
    /// Calls return would_block() when the kernel cannot proceed.
    static constexpr bool can_would_block = true;

    /** A closed socket; assign a connected one to it. */
    nonblocking_socket() noexcept = default;

    /** Takes other's socket; other is closed after. */
    nonblocking_socket(nonblocking_socket&&) noexcept = default;
    /** Closes the socket held before, then takes other's. */
    nonblocking_socket& operator=(nonblocking_socket&&) noexcept = default;
    nonblocking_socket(const nonblocking_socket&) = delete;
    nonblocking_socket& operator=(const nonblocking_socket&) = delete;
    ~nonblocking_socket() = default;

    /** Connects to `host`, a host name or a numeric IPv4 or IPv6 address
        ("127.0.0.1", "::1", "[::1]"), and returns the connected socket in
        nonblocking mode.

        Unlike the socket's other calls, connect() waits: it finishes the
        connection with poll() before returning. A socket still connecting
        would need a third state in which reads and writes return
        would_block() for another reason, and a refused connection would
        surface only at the first write, after the caller had built a TLS
        stream on it; finishing here lets connect() go on to the next
        address instead.

        The call blocks until one of the following is true:
        - a connection is established: returns the socket;
        - every address failed: returns the last address's error, such as
          std::errc::connection_refused, or std::errc::timed_out when the
          attempt took longer than `timeout`.
        `timeout` bounds each address's attempt; a negative value (the
        default) leaves only the kernel's own connect timeout.

        A name that does not resolve returns an error of resolve_category()
        (it compares equal to std::errc::host_unreachable); an empty host
        returns std::errc::invalid_argument. Resolution itself is not
        bounded by `timeout`: getaddrinfo() offers no way to.
    */
    [[nodiscard]] static expected<nonblocking_socket, std::error_code>
    connect(std::string_view host, std::uint16_t port,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) {
        auto fd = detail::connect_any(host, port, true, timeout);
        if (!fd)
            return unexpected(fd.error());
        return nonblocking_socket(std::move(*fd));
    }

    /** Adopts `fd`, a connected stream socket, and puts it in nonblocking
        mode.

        Ownership passes in every case: on failure (for example
        bad_file_descriptor for a value that is not an open descriptor) the
        descriptor has been closed.
    */
    [[nodiscard]] static expected<nonblocking_socket, std::error_code> from_fd(int fd) noexcept {
        auto owned = detail::adopt_fd(fd, true);
        if (!owned)
            return unexpected(owned.error());
        return nonblocking_socket(std::move(*owned));
    }

    /** Reads up to in.size() bytes without waiting.

        Returns the count stored at the front of `in`; 0 for a non-empty
        `in` is EOF (the peer shut down or closed); 0 without a system call
        for an empty `in`. would_block() when no bytes are buffered: retry
        after wait(readiness::readable, ...). Other errors:
        connection_reset and the other errno values of recv(2).
    */
    [[nodiscard]] io_result read_some(std::span<std::byte> in) noexcept {
        return detail::recv_some(fd_.get(), in);
    }

    /** Writes up to out.size() bytes without waiting.

        Returns the count the kernel took, possibly fewer than out.size();
        0 for an empty `out` (no system call). would_block() when the send
        buffer is full: nothing was taken; retry after
        wait(readiness::writable, ...). Other errors: broken_pipe or
        connection_reset once the peer has closed (no SIGPIPE).
    */
    [[nodiscard]] io_result write_some(std::span<const std::byte> out) noexcept {
        return detail::send_some(fd_.get(), out);
    }

    /** Waits until a read_some (readiness::readable) or write_some
        (readiness::writable) would not return would_block().

        The call blocks until one of the following is true:
        - the socket is ready, or it has an error or hangup that the next
          call will report: returns true;
        - `timeout` has passed: returns false. A negative timeout waits
          without limit; zero only checks.
        A closed socket returns true at once, so that a retry loop reaches
        the error of its next call instead of waiting forever. EINTR
        restarts the wait with the time that is left.
    */
    bool wait(readiness r, std::chrono::milliseconds timeout) noexcept {
        const auto bits = static_cast<unsigned>(r);
        const short events = static_cast<short>(((bits & static_cast<unsigned>(readiness::readable)) ? POLLIN : 0) |
                                                ((bits & static_cast<unsigned>(readiness::writable)) ? POLLOUT : 0));
        return detail::poll_fd(fd_.get(), events, timeout);
    }

    /** Sends FIN after the bytes already written (shutdown(2) SHUT_WR):
        the peer reads EOF, while this side can still read what the peer
        sends. Over TLS, call it after tls_stream::shutdown() has sent
        close_notify. Returns shutdown(2)'s error, such as not_connected,
        or an empty error_code. */
    std::error_code shutdown_write() noexcept { return detail::shutdown_write(fd_.get()); }

    /** Turns Nagle's algorithm off (true) or on: with it off, small writes
        such as a TLS alert leave at once instead of waiting for an ACK.
        Returns setsockopt(2)'s error or an empty error_code. */
    std::error_code set_nodelay(bool on) noexcept { return detail::set_nodelay(fd_.get(), on); }

    /** Closes the descriptor now rather than at destruction. Closing a
        closed socket does nothing. close(2) errors are not reported: the
        descriptor is released regardless, so there is nothing to retry. */
    void close() noexcept { fd_.reset(); }

    /** Gives up ownership: returns the descriptor, which the caller must
        close, and leaves this socket closed. */
    [[nodiscard]] int release() noexcept { return fd_.release(); }

    /** The descriptor, or -1 when closed. It stays owned by the socket;
        register it with epoll or set options on it, but reading or
        writing it under a tls_stream corrupts the stream. */
    int native_handle() const noexcept { return fd_.get(); }

    /** False after close(), release() or a move, and for a default-made socket. */
    bool is_open() const noexcept { return static_cast<bool>(fd_); }

    /** The local port in host byte order, or 0 when closed. */
    std::uint16_t local_port() const noexcept { return detail::socket_port(fd_.get(), false); }

    /** The peer's port in host byte order, or 0 when closed or not connected. */
    std::uint16_t peer_port() const noexcept { return detail::socket_port(fd_.get(), true); }

    /** The local address as numeric text ("127.0.0.1", "::1"), or empty
        when closed. */
    std::string local_address() const { return detail::socket_address(fd_.get(), false); }

    /** The peer's address as numeric text ("127.0.0.1", "::1"), or empty
        when closed or not connected. */
    std::string peer_address() const { return detail::socket_address(fd_.get(), true); }

private:
    friend class tcp_listener;

    explicit nonblocking_socket(detail::unique_fd fd) noexcept : socket_base(std::move(fd)) {}
};

}  // namespace tlsw

#endif
