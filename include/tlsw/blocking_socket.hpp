#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_BLOCKING_SOCKET_HPP
#define TLSW_BLOCKING_SOCKET_HPP

/** @file
    tlsw::blocking_socket: a connected TCP socket in blocking mode,
    with optional read and write timeouts. */

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

#include <sys/socket.h>

namespace tlsw {

class tcp_listener;

/** A connected TCP socket in blocking mode.

    read_some and write_some wait for the peer. Without timeouts they never
    return would_block(). With a read or write timeout set
    (set_read_timeout, set_write_timeout) a call that waited that long
    without progress returns would_block(): nothing was lost, and a
    tls_stream over the socket returns the retryable want_read /
    want_write instead of failing, so the caller can check a deadline or
    do other work and then repeat the same call. Because of that the
    socket declares both can_block and can_would_block: it is a
    `transport` but, unlike blocking_memory_pair::end, not a
    `blocking_transport`.

    The socket owns its descriptor and closes it when destroyed; it is
    move-only. A moved-from or default-constructed socket is closed: its
    calls fail with bad_file_descriptor.

    Thread safety: one thread at a time, except that one thread may read
    while another writes (TCP is full duplex and the kernel allows it).

    Signals: EINTR is retried inside every call, and writes use
    MSG_NOSIGNAL, so a write to a closed peer returns broken_pipe instead of
    raising SIGPIPE.

    Make one with connect(), tcp_listener::accept() or from_fd().
*/
class blocking_socket : public detail::socket_base {
public:
    /// Calls wait for the peer.
    static constexpr bool can_block = true;
    /// A call returns would_block() when a timeout the user set expires.
    static constexpr bool can_would_block = true;

    /** A closed socket; assign a connected one to it. */
    blocking_socket() noexcept = default;

    /** Takes other's socket; other is closed after. */
    blocking_socket(blocking_socket&&) noexcept = default;
    /** Closes the socket held before, then takes other's. */
    blocking_socket& operator=(blocking_socket&&) noexcept = default;
    blocking_socket(const blocking_socket&) = delete;
    blocking_socket& operator=(const blocking_socket&) = delete;
    ~blocking_socket() = default;

    /** Connects to `host`, a host name or a numeric IPv4 or IPv6 address
        ("127.0.0.1", "::1", "[::1]").

        The name is resolved with getaddrinfo() and each address is tried
        in turn until one accepts. The call blocks until one of the
        following is true:
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
    [[nodiscard]] static expected<blocking_socket, std::error_code>
    connect(std::string_view host, std::uint16_t port,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) {
        auto fd = detail::connect_any(host, port, false, timeout);
        if (!fd)
            return unexpected(fd.error());
        return blocking_socket(std::move(*fd));
    }

    /** Adopts `fd`, a connected stream socket, and puts it in blocking mode.

        Ownership passes in every case: on failure (for example
        bad_file_descriptor for a value that is not an open descriptor) the
        descriptor has been closed.
    */
    [[nodiscard]] static expected<blocking_socket, std::error_code> from_fd(int fd) noexcept {
        auto owned = detail::adopt_fd(fd, false);
        if (!owned)
            return unexpected(owned.error());
        return blocking_socket(std::move(*owned));
    }

    /** Reads up to in.size() bytes.

        The call blocks until at least one byte has arrived, the peer has
        ended its direction, the read timeout (if set) has passed, or an
        error occurs. Returns the count stored at the front of `in`; 0 for
        a non-empty `in` is EOF (the peer shut down or closed); 0 without a
        system call for an empty `in`. would_block() when the read timeout
        expired with nothing to read: the socket is intact, repeat the
        call. Other errors: connection_reset, timed_out (TCP gave up on the
        connection) and the other errno values of recv(2).
    */
    [[nodiscard]] io_result read_some(std::span<std::byte> in) noexcept {
        return detail::recv_some(fd_.get(), in);
    }

    /** Writes up to out.size() bytes.

        The call blocks until the kernel has taken at least one byte, and
        normally takes all of `out`; a signal or the write timeout can cut
        it short. Returns the count taken, 0 for an empty `out` (no system
        call). would_block() when the write timeout expired before the
        kernel took any byte (the peer does not read and the buffers are
        full): nothing was taken, repeat the call. Other errors:
        broken_pipe or connection_reset once the peer has closed (no
        SIGPIPE).
    */
    [[nodiscard]] io_result write_some(std::span<const std::byte> out) noexcept {
        return detail::send_some(fd_.get(), out);
    }

    /** Bounds how long one read_some waits (SO_RCVTIMEO): after `timeout`
        without a byte it returns would_block(). Zero or negative removes
        the bound (the default). The kernel rounds up to its clock tick.
        Returns setsockopt(2)'s error or an empty error_code. */
    std::error_code set_read_timeout(std::chrono::milliseconds timeout) noexcept {
        return detail::set_timeout(fd_.get(), SO_RCVTIMEO, timeout);
    }

    /** Bounds how long one write_some waits for room (SO_SNDTIMEO): after
        `timeout` it returns the count taken so far, or would_block() if
        none. Zero or negative removes the bound (the default). Returns
        setsockopt(2)'s error or an empty error_code. */
    std::error_code set_write_timeout(std::chrono::milliseconds timeout) noexcept {
        return detail::set_timeout(fd_.get(), SO_SNDTIMEO, timeout);
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
        poll it or set options on it, but reading or writing it under a
        tls_stream corrupts the stream. */
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

    explicit blocking_socket(detail::unique_fd fd) noexcept : socket_base(std::move(fd)) {}
};

}  // namespace tlsw

#endif
