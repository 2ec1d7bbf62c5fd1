#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_ASIO_HPP
#define TLSW_ASIO_HPP

/** @file
    TLS over Asio. Only programs that include this header depend on Asio;
    nothing else in tlsw includes it. It offers:
    - tlsw::asio::stream<Socket, Policies...> (tlsw/asio/stream.hpp): an
      Asio AsyncReadStream and AsyncWriteStream (async_read_some,
      async_write_some, async_handshake, async_shutdown), for
      asio::async_read / async_read_until / async_write, coroutines and
      Boost.Beast;
    - basic_socket: an Asio socket as a tlsw transport, for a tls_stream
      driven by hand or by the free operations at the bottom of this file.

    Completion (tlsw::asio::stream):
    - Any completion token: a callback, use_awaitable, deferred, as_tuple,
      redirect_error, bind_executor, ... An operation never completes
      inside the function that starts it.
    - The error_code of a TLS failure is in tlsw's own category
      (tlsw::error_category()) and keeps all of it: ec.message() is the
      text a synchronous call's tls_error::message() gives (the reason, the
      alert and whether the peer sent it); to_tls_error(ec) gives the
      tls_error back (tlsw/asio/error.hpp); stream::tls().describe() adds
      the certificate's details. A protocol or certificate failure packs
      its details into the value (tls_error::detailed_error_code()): compare
      it by condition, ec == std::error_condition(int(tlsw::errc::certificate),
      tlsw::error_category()), or by to_tls_error(ec).code(). closed,
      truncated and the other codes without details are plain
      (ec == tlsw::errc::truncated); a socket failure is the socket's
      error_code.
    - async_read_some completes with net::error::eof after the peer's
      close_notify, as a socket does at its end (async_read and Beast treat
      it so), and with tlsw::errc::truncated when the socket ends without it.
    - At most one reading and one writing operation (write, handshake,
      shutdown) are outstanding at once, started and completed on the
      stream's executor (a strand on a multi-threaded io_context): one
      reader and one writer run in full duplex.
    - Each resumption makes one tls_stream call, bounded by the stream's
      own limits (tls_stream.hpp), then waits in the io_context. No
      operation times out by itself: bound a silent peer by cancelling.

    Cancellation (a cancellation slot bound to the token, an awaitable
    operator, or closing the socket) ends an operation waiting for the
    socket with operation_aborted, and the stream stays usable:
    - async_read_some: total cancellation; nothing is lost (a read that
      waits has taken nothing).
    - async_write_some: partial cancellation; it completes with the bytes
      the stream had accepted (all it asked for, once encrypted, or 0).
      Accepted bytes are sent by later operations, before the next write's
      (asio::async_write reports the same count with operation_aborted).
    - async_handshake: total; async_shutdown: terminal.
    A wait cancelled by the other operation of the same stream (whose call
    took the bytes this one waited for) is not a cancellation: the
    operation repeats its call.

    Flavour: standalone Asio (<asio.hpp>, the global namespace asio) or Boost.Asio
    (<boost/asio.hpp>, namespace boost::asio), chosen in this order:
      1. TLSW_ASIO_BOOST or TLSW_ASIO_STANDALONE, when defined;
      2. whichever of the two the program included before this header (if it
         included both, it must say which with one of the macros above);
      3. standalone Asio when <asio.hpp> exists, else Boost.Asio.
    Including this header first, then the Asio headers the program needs,
    works everywhere (see ASIO_HAS_CO_AWAIT below for why it matters with
    clang).
    One translation unit uses one flavour. The declarations live in an
    inline namespace named after the flavour, so that two translation units
    that chose differently do not break the one-definition rule. */

#if defined(TLSW_ASIO_BOOST) && defined(TLSW_ASIO_STANDALONE)
#error "tlsw/asio.hpp: define at most one of TLSW_ASIO_BOOST and TLSW_ASIO_STANDALONE"
#elif defined(TLSW_ASIO_BOOST)
#define TLSW_DETAIL_ASIO_BOOST 1
#elif defined(TLSW_ASIO_STANDALONE)
#define TLSW_DETAIL_ASIO_BOOST 0
#elif defined(BOOST_ASIO_DETAIL_CONFIG_HPP) && defined(ASIO_DETAIL_CONFIG_HPP)
#error "tlsw/asio.hpp: both Asio and Boost.Asio are included; define TLSW_ASIO_BOOST or TLSW_ASIO_STANDALONE"
#elif defined(BOOST_ASIO_DETAIL_CONFIG_HPP)
#define TLSW_DETAIL_ASIO_BOOST 1
#elif defined(ASIO_DETAIL_CONFIG_HPP)
#define TLSW_DETAIL_ASIO_BOOST 0
#elif __has_include(<asio/version.hpp>)
#define TLSW_DETAIL_ASIO_BOOST 0
#elif __has_include(<boost/asio/version.hpp>)
#define TLSW_DETAIL_ASIO_BOOST 1
#else
#error "tlsw/asio.hpp needs standalone Asio (<asio.hpp>) or Boost.Asio (<boost/asio.hpp>)"
#endif

// Standalone Asio 1.22 recognises clang's coroutines only by the pre-C++20
// macro __cpp_coroutines, which clang 16 no longer defines in C++20 mode:
// without this, co_await support would be off under clang. It takes effect
// when this header comes before the first Asio header (so include it
// first); ASIO_DISABLE_CO_AWAIT still turns it off.
#if !TLSW_DETAIL_ASIO_BOOST && defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && \
    !defined(ASIO_DISABLE_CO_AWAIT) && !defined(ASIO_DETAIL_CONFIG_HPP) && defined(__cpp_impl_coroutine)
#if __cpp_impl_coroutine >= 201902 && __has_include(<coroutine>)
#define ASIO_HAS_CO_AWAIT 1
#endif
#endif

#if TLSW_DETAIL_ASIO_BOOST
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#define TLSW_DETAIL_ASIO_AWAITABLE 1
#endif
#else
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#if defined(ASIO_HAS_CO_AWAIT)
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>
#define TLSW_DETAIL_ASIO_AWAITABLE 1
#endif
#endif

#include <tlsw/expected.hpp>
#include <tlsw/tls_stream.hpp>
#include <tlsw/transport.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

#include <poll.h>

// Opens the flavour's inline namespace inside tlsw::asio (the parts in
// tlsw/asio/ use it too).
#if TLSW_DETAIL_ASIO_BOOST
#define TLSW_DETAIL_ASIO_FLAVOUR_NAMESPACE boost_flavour
#else
#define TLSW_DETAIL_ASIO_FLAVOUR_NAMESPACE standalone_flavour
#endif

namespace tlsw::asio {

#if TLSW_DETAIL_ASIO_BOOST
inline namespace boost_flavour {
/** The Asio namespace this header uses: boost::asio here. */
namespace net = ::boost::asio;
/** The error code type Asio's completion handlers receive here. A tlsw
    code travels inside it unchanged (Boost.System 1.79 and later wrap a
    std::error_code), and std::error_code(ec) gets it back. */
using error_code = ::boost::system::error_code;
#else
inline namespace standalone_flavour {
/** The Asio namespace this header uses: the global asio here. */
namespace net = ::asio;
/** The error code type Asio's completion handlers receive: std::error_code. */
using error_code = std::error_code;
#endif

/** `ec` as a std::error_code with the same value: an operating-system
    error (Asio's system category, which standalone Asio implements as a
    category of its own, "asio.system") comes in std::system_category, so
    that it compares equal to the std::errc it stands for; Boost's generic
    category becomes std::generic_category; other categories are kept
    (Boost's through its std::error_category adapter). */
inline std::error_code to_std_error(const error_code& ec) noexcept {
#if TLSW_DETAIL_ASIO_BOOST
    return static_cast<std::error_code>(ec);  // Boost maps system and generic itself
#else
    if (ec.category() == net::error::get_system_category())
        return {ec.value(), std::system_category()};
    return ec;
#endif
}

/** The inverse of to_std_error(): a system (with Boost, also a generic)
    error comes back in Asio's own category, so that it still compares
    equal to net::error::operation_aborted and the like; other categories
    (tlsw's among them) travel unchanged (with Boost, inside its
    error_code). */
inline error_code from_std_error(const std::error_code& ec) noexcept {
#if TLSW_DETAIL_ASIO_BOOST
    if (ec.category() == std::system_category())
        return {ec.value(), ::boost::system::system_category()};
    if (ec.category() == std::generic_category())
        return {ec.value(), ::boost::system::generic_category()};
    return error_code(ec);
#else
    if (ec.category() == std::system_category())
        return {ec.value(), net::error::get_system_category()};
    return ec;
#endif
}

namespace detail {
struct op_access;

/** poll() on `fd` for readiness `r` at most `timeout` (negative: no
    limit), repeated after EINTR; true when ready, or when poll() fails
    (the next call reports what is wrong), false when the time passed. */
inline bool poll_wait(int fd, readiness r, std::chrono::milliseconds timeout) noexcept {
    const auto bits = static_cast<unsigned>(r);
    pollfd p{};
    p.fd = fd;
    p.events = static_cast<short>(((bits & static_cast<unsigned>(readiness::readable)) ? POLLIN : 0) |
                                  ((bits & static_cast<unsigned>(readiness::writable)) ? POLLOUT : 0));
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        long long left = timeout.count();
        if (timeout.count() > 0) {
            const auto spent =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
            left = std::max<long long>(0, timeout.count() - spent.count());
        }
        const int n = ::poll(&p, 1, left < 0 ? -1 : static_cast<int>(std::min<long long>(left, 1 << 30)));
        if (n >= 0)
            return n > 0;
        if (errno != EINTR)
            return true;
    }
}
}  // namespace detail

/** A connected Asio stream socket (`Socket`: TCP by default, or any
    basic_stream_socket) as a tlsw transport: `Nonblocking` picks a
    nonblocking_transport (for the asynchronous operations below, or a
    poll() loop) or a blocking_transport (a thread per connection). Both
    are waitable_transports.

    read_some and write_some map Asio's results to the transport concept:
    Asio's eof becomes a read of 0, its would_block (nonblocking mode)
    would_block(), an interrupted call is repeated, and every other error
    reaches tls_stream as the same std::error_code (with Boost.Asio, the
    std::error_code that Boost's error_code converts to: a system error
    keeps std::system_category and its errno value). Writes use
    MSG_NOSIGNAL (Asio does so on Linux): a write to a closed peer returns
    broken_pipe instead of raising SIGPIPE.

    The constructor puts the socket in the mode `Nonblocking` names; if
    that fails (a socket that is not open), the calls fail with the
    socket's own error, such as bad_descriptor.

    Thread safety: that of the Asio socket (one thread, or one strand, at a
    time).
*/
template <bool Nonblocking, class Socket = net::ip::tcp::socket>
class basic_socket {
public:
    using socket_type = Socket;                         ///< The Asio socket held.
    using executor_type = socket_type::executor_type;  ///< The socket's executor.

    /// Nonblocking: calls never wait; blocking: calls wait for the peer.
    static constexpr bool can_block = !Nonblocking;
    /// Nonblocking: calls return would_block() when the kernel cannot proceed.
    static constexpr bool can_would_block = Nonblocking;

    /** Takes over `socket`, connected, and sets its mode. */
    explicit basic_socket(socket_type socket) : socket_(std::move(socket)) {
        error_code ignored;  // see the class comment: the calls report it
        socket_.non_blocking(Nonblocking, ignored);
    }

    /** @{ Moves the socket; a moved-from one is closed. */
    basic_socket(basic_socket&&) noexcept = default;
    basic_socket& operator=(basic_socket&&) noexcept = default;
    /** @} */

    /** The Asio socket: for options, shutdown, close and the readiness waits
        of the operations below. Reading or writing it directly corrupts the
        TLS stream above it. */
    /** @{ */
    socket_type& socket() noexcept { return socket_; }
    const socket_type& socket() const noexcept { return socket_; }
    /** @} */
    /** The socket's executor. */
    executor_type get_executor() noexcept { return socket_.get_executor(); }

    /** Reads up to in.size() bytes: returns the count; 0 for a non-empty
        `in` is EOF; 0 without a system call for an empty `in`. Blocking
        mode waits for a byte; nonblocking mode returns would_block() when
        none is there. Other errors: the socket's (connection_reset, ...). */
    [[nodiscard]] io_result read_some(std::span<std::byte> in) {
        if (in.empty())
            return 0;
        for (;;) {
            error_code ec;
            const std::size_t n = socket_.read_some(net::buffer(in.data(), in.size()), ec);
            if (!ec) {
                bytes_read_ += n;
                return n;
            }
            if (ec == net::error::eof)
                return 0;
            if (ec != net::error::interrupted)
                return unexpected(to_std_error(ec));
        }
    }

    /** Writes up to out.size() bytes: returns the count taken (blocking
        mode waits until the kernel takes some); 0 for an empty `out`.
        would_block() in nonblocking mode when the send buffer is full.
        Other errors: broken_pipe, connection_reset, ... */
    [[nodiscard]] io_result write_some(std::span<const std::byte> out) {
        if (out.empty())
            return 0;
        for (;;) {
            error_code ec;
            const std::size_t n = socket_.write_some(net::buffer(out.data(), out.size()), ec);
            if (!ec)
                return n;
            if (ec != net::error::interrupted)
                return unexpected(to_std_error(ec));
        }
    }

    /** Waits with poll() until read_some (readable) or write_some (writable)
        would not return would_block(), or an error or hangup is pending;
        returns false when `timeout` passes first (negative: no limit; zero:
        only checks). A closed socket returns true at once, so that a retry
        loop reaches the error of its next call. This is the synchronous
        waitable_transport wait; the asynchronous operations use Asio's
        async_wait instead. */
    bool wait(readiness r, std::chrono::milliseconds timeout) noexcept {
        if (!socket_.is_open())
            return true;
        return detail::poll_wait(socket_.native_handle(), r, timeout);
    }

private:
    friend struct detail::op_access;

    socket_type socket_;
    // Bookkeeping of the asynchronous operations below (see op_access):
    // bytes read so far, operations waiting for readiness, and a count of
    // the times one operation woke the others.
    std::uint64_t bytes_read_ = 0;
    std::uint32_t parked_ = 0;
    std::uint64_t wakeups_ = 0;
};

/** A nonblocking transport over an Asio TCP socket: the one the
    asynchronous operations below drive. */
using nonblocking_socket = basic_socket<true>;
/** A blocking transport over an Asio TCP socket. */
using blocking_socket = basic_socket<false>;

/** A tls_stream over nonblocking_socket (held by value or by reference):
    what the asynchronous operations below accept. */
template <class Stream>
concept async_stream = requires(Stream& s) {
    { s.transport() } -> std::same_as<nonblocking_socket&>;
};

namespace detail {

struct op_access {
    template <class Socket>
    static std::uint64_t bytes_read(const basic_socket<true, Socket>& t) noexcept {
        return t.bytes_read_;
    }
    static std::uint32_t& parked(nonblocking_socket& t) noexcept { return t.parked_; }
    static std::uint64_t wakeups(const nonblocking_socket& t) noexcept { return t.wakeups_; }

    // Several operations may run on one stream at once (typically one
    // reading and one writing, from two coroutines on one thread or
    // strand). A call made by one of them can read bytes from the socket
    // that another one, parked in async_wait, was waiting for: plaintext
    // it keeps for read(), or the end of a handshake a write waits for;
    // or it can process records the stream had buffered. Those bytes will
    // never make the socket readable again, so the parked operation is
    // woken (its wait cancelled) to repeat its call. A woken call that
    // reads nothing from the socket and completes nothing wakes no one: no
    // ping-pong (and read() never parks while the stream has_pending()).
    static void wake_parked(nonblocking_socket& t) {
        if (t.parked_ == 0)
            return;
        ++t.wakeups_;
        error_code ignored;
        t.socket_.cancel(ignored);
    }
};

/** The result an operation completes with: a byte count, or nothing. */
template <class T>
struct op_value {
    T value{};
};
template <>
struct op_value<void> {};

/** The one loop behind every operation: call `call` (a tls_stream call
    returning tlsw::result<T>); on want_read / want_write wait for that
    readiness with async_wait and call again (the same call: the write
    contract's "repeat with the same arguments"); otherwise complete.

    Work per resumption: one tls_stream call, bounded by the stream (see
    tls_stream.hpp). A call that completes without ever waiting completes
    through a post(), never inside the initiating function, as Asio
    requires; that also lets other operations on the same thread run
    between two operations that never wait. */
template <class Stream, class Call, class T, bool TotalCancellation>
class tls_op {
public:
    tls_op(Stream& stream, Call call) : stream_(stream), call_(std::move(call)) {}

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
        auto& transport = stream_.transport();
        switch (state_) {
        case state::posted:
            return finish(self);
        case state::waiting:
            --op_access::parked(transport);
            if (self.get_cancellation_state().cancelled() != net::cancellation_type::none)
                return complete(self, net::error::operation_aborted);
            // A wait cancelled by wake_parked() repeats the call; any other
            // failed wait (the socket was closed or cancelled) ends here.
            if (ec && !(ec == net::error::operation_aborted && op_access::wakeups(transport) != wakeups_seen_))
                return complete(self, ec);
            break;
        case state::starting:
            // A read or handshake cancelled while it waits has changed
            // nothing the caller must repeat: any kind of cancellation may
            // end it. The others keep Asio's default, terminal only.
            if constexpr (TotalCancellation)
                self.reset_cancellation_state(net::enable_total_cancellation());
            break;
        }
        // Bytes taken from the socket, or records the stream had buffered
        // (tls_stream::has_pending()) that a call completed with, may be
        // what a parked operation waits for: they will not make the socket
        // readable.
        const auto before = op_access::bytes_read(transport);
        const bool had_pending = stream_.has_pending();
        auto r = call_();
        if (op_access::bytes_read(transport) != before || (had_pending && r.has_value()))
            op_access::wake_parked(transport);
        if (!r && r.error().retryable()) {
            const bool readable = r.error() == errc::want_read;
            state_ = state::waiting;
            wakeups_seen_ = op_access::wakeups(transport);
            ++op_access::parked(transport);
            transport.socket().async_wait(readable ? net::socket_base::wait_read : net::socket_base::wait_write,
                                          std::move(self));
            return;
        }
        if (r) {
            if constexpr (!std::is_void_v<T>)
                result_.value = *r;
        } else {
            error_ = r.error().error_code();
        }
        if (state_ == state::starting) {
            state_ = state::posted;
            auto executor = self.get_executor();
            net::post(executor, std::move(self));
            return;
        }
        finish(self);
    }

private:
    enum class state : unsigned char { starting, waiting, posted };

    template <class Self>
    void complete(Self& self, const error_code& ec) {
        error_ = to_std_error(ec);
        result_ = {};
        finish(self);
    }

    template <class Self>
    void finish(Self& self) {
        if constexpr (std::is_void_v<T>)
            self.complete(from_std_error(error_));
        else
            self.complete(from_std_error(error_), result_.value);
    }

    Stream& stream_;
    Call call_;
    state state_ = state::starting;
    std::uint64_t wakeups_seen_ = 0;
    std::error_code error_{};
    op_value<T> result_{};
};

template <class T>
using signature = std::conditional_t<std::is_void_v<T>, void(error_code), void(error_code, std::size_t)>;

template <class T, bool TotalCancellation = false, class Stream, class Call, class Token>
auto start(Stream& stream, Call call, Token&& token) {
    return net::async_compose<Token, signature<T>>(
        tls_op<Stream, Call, T, TotalCancellation>(stream, std::move(call)), token,
                                                   stream.transport().socket());
}

}  // namespace detail

// The free operations, for a tls_stream<nonblocking_socket> driven by
// hand. Each repeats one tls_stream call until it returns
// something other than want_read / want_write, waiting in between with the
// socket's async_wait for the readiness asked for. `stream` (and, for
// read and write, the buffer) must outlive the operation.
//
// Completion: any Asio completion token with the signature
// void(error_code, std::size_t) (read, write) or void(error_code)
// (handshake, shutdown, renegotiate): use_awaitable, a callback,
// redirect_error, as_tuple, ... The error_code is the stream's error as
// tls_error::error_code() gives it: tlsw's category (errc::closed,
// errc::truncated, errc::protocol, ...; the stream's next call returns the
// full tls_error, with the alert or certificate reason), or the socket's
// own error for a transport failure. Without a token, co_await yields a
// tlsw::expected<T, std::error_code> instead of throwing.
//
// Cancellation: closing the socket, or emitting the cancellation slot bound
// to the token (terminal cancellation; also partial and total for read and
// handshake), ends a waiting operation with operation_aborted. Nothing is
// lost: the stream stays usable. After a cancelled write the bytes it had
// taken are committed, so, as after want_write, the next write must pass
// the same buffer (the write contract). The operations cancel each other's
// socket waits to re-check progress (see wake_parked): do not start other
// asynchronous operations on the socket while one of them runs.
//
// Work: each resumption makes one tls_stream call, which does what the
// socket allows without waiting (a full_write write encrypts until the
// send buffer is full) within the stream's own bounds; then the operation
// waits in the io_context, where other operations on the thread run.
//
// Time: no operation times out by itself, so a silent peer keeps one
// waiting. Bound it with cancellation: a steady_timer whose handler emits
// the slot's signal, or an awaitable operator racing a timer.
//
// Two operations may run on one stream at once, from one thread (or
// strand): a read and a write (full duplex). Others wait for the one
// running to complete, as with the stream's own calls.

/** Runs the handshake (or completes a renegotiation in flight):
    tls_stream::handshake(). Completes with void(error_code). */
template <async_stream Stream, class Token>
auto async_handshake(Stream& stream, Token&& token) {
    return detail::start<void, true>(stream, [&stream] { return stream.handshake(); }, std::forward<Token>(token));
}

/** Writes `data`: tls_stream::write(data), repeated with the same
    arguments until it completes. Completes with the count write()
    returned (data.size() with full_write; one record with
    partial_write). */
template <async_stream Stream, class Token>
auto async_write(Stream& stream, std::span<const std::byte> data, Token&& token) {
    return detail::start<std::size_t>(stream, [&stream, data] { return stream.write(data); },
                                      std::forward<Token>(token));
}

/** Reads into `buffer`: tls_stream::read(buffer). Completes with the
    count (at least 1 for a non-empty buffer), or errc::closed after the
    peer's close_notify, errc::truncated after an EOF without it. */
template <async_stream Stream, class Token>
auto async_read(Stream& stream, std::span<std::byte> buffer, Token&& token) {
    return detail::start<std::size_t, true>(stream, [&stream, buffer] { return stream.read(buffer); },
                                            std::forward<Token>(token));
}

/** Sends close_notify: tls_stream::shutdown(mode); with
    shutdown_mode::send_and_wait also waits for the peer's. */
template <async_stream Stream, class Token>
auto async_shutdown(Stream& stream, shutdown_mode mode, Token&& token) {
    return detail::start<void>(stream, [&stream, mode] { return stream.shutdown(mode); }, std::forward<Token>(token));
}

/** async_shutdown(stream, shutdown_mode::send, token). */
template <async_stream Stream, class Token>
    requires(!std::same_as<std::remove_cvref_t<Token>, shutdown_mode>)
auto async_shutdown(Stream& stream, Token&& token) {
    return async_shutdown(stream, shutdown_mode::send, std::forward<Token>(token));
}

/** Starts a renegotiation: tls_stream::renegotiate(). Completes once the
    request is with the socket; the next handshake, read or write
    completes the renegotiation. With Botan 2 the peer must not be writing
    at that moment (see tls_stream::renegotiate). */
template <async_stream Stream, class Token>
auto async_renegotiate(Stream& stream, Token&& token) {
    return detail::start<void>(stream, [&stream] { return stream.renegotiate(); }, std::forward<Token>(token));
}

#if defined(TLSW_DETAIL_ASIO_AWAITABLE)

// Without a token: `co_await` yields the result as a value, in tlsw's
// manner (errors are values), instead of throwing system_error as
// use_awaitable does. Cancellation reaches them through the coroutine's
// own cancellation slot (co_spawn with bind_cancellation_slot, or an
// awaitable operator).

namespace detail {

/** Runs `start(token)`, an operation above, with use_awaitable and yields
    its outcome as an expected instead of an exception. */
template <class T, class Start>
net::awaitable<expected<T, std::error_code>> as_expected(Start start) {
    error_code ec;
    if constexpr (std::is_void_v<T>) {
        co_await start(net::redirect_error(net::use_awaitable, ec));
        if (ec)
            co_return unexpected(to_std_error(ec));
        co_return expected<void, std::error_code>();
    } else {
        const T n = co_await start(net::redirect_error(net::use_awaitable, ec));
        if (ec)
            co_return unexpected(to_std_error(ec));
        co_return n;
    }
}

}  // namespace detail

/** `co_await async_handshake(stream)`: expected<void, std::error_code>. */
template <async_stream Stream>
net::awaitable<expected<void, std::error_code>> async_handshake(Stream& stream) {
    return detail::as_expected<void>([&stream](auto token) { return async_handshake(stream, std::move(token)); });
}

/** `co_await async_write(stream, data)`: the count written, or the error. */
template <async_stream Stream>
net::awaitable<expected<std::size_t, std::error_code>> async_write(Stream& stream, std::span<const std::byte> data) {
    return detail::as_expected<std::size_t>(
        [&stream, data](auto token) { return async_write(stream, data, std::move(token)); });
}

/** `co_await async_read(stream, buffer)`: the count read, or the error
    (errc::closed after the peer's close_notify). */
template <async_stream Stream>
net::awaitable<expected<std::size_t, std::error_code>> async_read(Stream& stream, std::span<std::byte> buffer) {
    return detail::as_expected<std::size_t>(
        [&stream, buffer](auto token) { return async_read(stream, buffer, std::move(token)); });
}

/** `co_await async_shutdown(stream)`: expected<void, std::error_code>. */
template <async_stream Stream>
net::awaitable<expected<void, std::error_code>> async_shutdown(Stream& stream,
                                                               shutdown_mode mode = shutdown_mode::send) {
    return detail::as_expected<void>(
        [&stream, mode](auto token) { return async_shutdown(stream, mode, std::move(token)); });
}

/** `co_await async_renegotiate(stream)`: expected<void, std::error_code>. */
template <async_stream Stream>
net::awaitable<expected<void, std::error_code>> async_renegotiate(Stream& stream) {
    return detail::as_expected<void>([&stream](auto token) { return async_renegotiate(stream, std::move(token)); });
}

#endif

}  // inline namespace
}  // namespace tlsw::asio

#include <tlsw/asio/error.hpp>
#include <tlsw/asio/stream.hpp>

#endif
