#ifndef TLSW_BLOCKING_SOCKET_HPP
#define TLSW_BLOCKING_SOCKET_HPP

#include <tlsw/detail/socket.hpp>
#include <tlsw/expected.hpp>
#include <tlsw/transport.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

namespace tlsw {

class tcp_listener;

/** A connected TCP socket in blocking mode: a `blocking_transport`.

    read_some and write_some wait for the peer; they never return
    would_block(). The socket owns its descriptor and closes it when
    destroyed; it is move-only. A moved-from or default-constructed socket
    is closed: its calls fail with bad_file_descriptor.

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
    /// Calls never return would_block().
    static constexpr bool can_would_block = false;

    /** A closed socket; assign a connected one to it. */
    blocking_socket() noexcept = default;

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
        ended its direction, or an error occurs. Returns the count stored at
        the front of `in`; 0 for a non-empty `in` is EOF (the peer shut
        down or closed); 0 without a system call for an empty `in`.
        Errors: connection_reset and the other errno values of recv(2);
        timed_out if the user set SO_RCVTIMEO and it expired.
    */
    [[nodiscard]] io_result read_some(std::span<std::byte> in) noexcept {
        return detail::recv_some(fd_.get(), in, true);
    }

    /** Writes up to out.size() bytes.

        The call blocks until the kernel has taken at least one byte, and
        normally takes all of `out`; a signal can cut it short. Returns the
        count taken, 0 for an empty `out` (no system call). Errors:
        broken_pipe or connection_reset once the peer has closed (no
        SIGPIPE); timed_out if the user set SO_SNDTIMEO and it expired.
    */
    [[nodiscard]] io_result write_some(std::span<const std::byte> out) noexcept {
        return detail::send_some(fd_.get(), out, true);
    }

private:
    friend class tcp_listener;

    explicit blocking_socket(detail::unique_fd fd) noexcept : socket_base(std::move(fd)) {}
};

}  // namespace tlsw

#endif
