#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_TRANSPORT_HPP
#define TLSW_TRANSPORT_HPP

/** @file
    The transport concepts a tls_stream runs over (transport,
    blocking_transport, nonblocking_transport, waitable_transport), their
    traits, and what a transport operation returns. */

#include <tlsw/expected.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <span>
#include <system_error>
#include <type_traits>

namespace tlsw {

/** What a transport operation returns: a byte count or the transport's error. */
using io_result = expected<std::size_t, std::error_code>;

/** The error a transport returns when it would have to block. */
inline std::error_code would_block() noexcept {
    return std::make_error_code(std::errc::operation_would_block);
}

/** True when a transport error means "try again when ready", not a failure.
    EAGAIN and EWOULDBLOCK are the same value on Linux but not everywhere. */
inline bool is_would_block(const std::error_code& ec) noexcept {
    return ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again;
}

/** A byte stream that a tls_stream encrypts over: a socket, a pipe, a
    memory pair, or the user's own type.

    Requirements, for a value `t` of type `T`, `in` of type
    `std::span<std::byte>` and `out` of type `std::span<const std::byte>`:

    1. `t.read_some(in)` returns `io_result`.
       - n > 0: n bytes, n <= in.size(), were stored at the front of `in`.
       - 0 for a non-empty `in`: the stream ended (EOF). tls_stream turns an
         EOF without the peer's close_notify into errc::truncated.
       - would_block(): no bytes now (a transport that declares
         can_would_block: a nonblocking one, or a blocking one whose
         timeout expired); tls_stream returns errc::want_read and the
         caller retries later.
       - any other error: the transport failed; tls_stream fails with
         errc::transport carrying that error_code.
       tls_stream never calls it with an empty span.
    2. `t.write_some(out)` returns `io_result`.
       - n > 0: the first n bytes of `out`, n <= out.size(), were taken.
       - would_block(): nothing was taken; tls_stream returns errc::want_write.
       - any other error, or 0: the transport failed.
       tls_stream never calls it with an empty span.
    A count larger than the span is a broken transport; tls_stream treats it
    as an error rather than trusting it.

    These are the conventions of POSIX read(2)/write(2) and of Asio, so a
    transport over a file descriptor maps errno to std::error_code and is
    done.

    Deliberately not required: closing, connecting, readiness waits, gather
    writes, copy or move. tls_stream uses optional extras when present
    (see `waitable_transport`) and nothing else.

    A transport may declare `static constexpr bool can_block` and
    `static constexpr bool can_would_block`; transport_traits reads them and
    assumes both when absent, which is safe for either kind: tls_stream
    then never reads without need (its calls may wait) and handles
    would_block() wherever it comes back. What a tls_stream call returns
    per kind:
    - can_block (whether or not can_would_block): want_read / want_write
      only when the transport returned would_block() (a timeout the user
      set fired); the stream's own bounds never end a call early.
    - can_would_block only (nonblocking): want_read / want_write whenever
      the transport would block, and want_read when one call's read
      budget (tls_stream::max_read_per_call) is spent.

    Models: memory_pair::end, blocking_memory_pair::end, blocking_socket,
    nonblocking_socket.
    Exemplar: the archetypes at the top of tests/transport.cpp.
*/
template <class T>
concept transport = requires(T& t, std::span<std::byte> in, std::span<const std::byte> out) {
    { t.read_some(in) } -> std::same_as<io_result>;
    { t.write_some(out) } -> std::same_as<io_result>;
};

namespace detail {

// Function templates rather than lambdas in the initialisers below: clang 16
// crashes on a requires-expression inside a lambda there.
template <class T>
constexpr bool declared_can_block() {
    if constexpr (requires { { T::can_block } -> std::convertible_to<bool>; })
        return bool(T::can_block);
    else
        return true;
}

template <class T>
constexpr bool declared_can_would_block() {
    if constexpr (requires { { T::can_would_block } -> std::convertible_to<bool>; })
        return bool(T::can_would_block);
    else
        return true;
}

}  // namespace detail

/** What a transport declares about itself at compile time; a transport
    that declares nothing is assumed to do both. */
template <class T>
struct transport_traits {
    /** A call may wait for the peer (a blocking socket). */
    static constexpr bool can_block = detail::declared_can_block<T>();
    /** A call may return would_block() (a nonblocking socket, a memory pair). */
    static constexpr bool can_would_block = detail::declared_can_would_block<T>();
};

/** A transport whose calls wait rather than return would_block(). */
template <class T>
concept blocking_transport = transport<T> && !transport_traits<T>::can_would_block;

/** A transport whose calls return would_block() rather than wait. */
template <class T>
concept nonblocking_transport = transport<T> && transport_traits<T>::can_would_block && !transport_traits<T>::can_block;

/** Which readiness a caller waits for after errc::want_read / want_write. */
enum class readiness : unsigned char { readable = 1, writable = 2 };

/** Optional extra: a nonblocking transport that can wait until it is ready.

    `t.wait(r, timeout)` blocks until the transport is ready for `r` or the
    timeout passes, and returns true when it is ready. A negative timeout
    waits without limit. Examples and tests use it to drive retries the way
    select()/poll() would; tls_stream itself never waits.
*/
template <class T>
concept waitable_transport = transport<T> && requires(T& t, readiness r, std::chrono::milliseconds timeout) {
    { t.wait(r, timeout) } -> std::convertible_to<bool>;
};

}  // namespace tlsw

#endif
