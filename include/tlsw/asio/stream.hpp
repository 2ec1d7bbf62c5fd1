// <tlsw/asio.hpp> first, before the guard: it picks the Asio flavour and
// includes this header at its end, after what this header needs.
#include <tlsw/asio.hpp>

#ifndef TLSW_ASIO_STREAM_HPP
#define TLSW_ASIO_STREAM_HPP

/** @file
    tlsw::asio::stream: a TLS stream that is an Asio AsyncReadStream and
    AsyncWriteStream. Part of <tlsw/asio.hpp> (which picks the Asio flavour);
    the completion and cancellation rules are at the top of that header. */

#include <tlsw/asio/error.hpp>

#if TLSW_DETAIL_ASIO_BOOST
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#else
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#endif

#include <tlsw/context.hpp>
#include <tlsw/tls_stream.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

namespace tlsw::asio {
inline namespace TLSW_DETAIL_ASIO_FLAVOUR_NAMESPACE {

namespace detail {

/** Where the operation of one side of a stream (the reader, or the
    writer: write, handshake, shutdown) waits for readiness. */
struct parking {
    net::cancellation_signal wake;    // ends the operation's wait: cancellation, or another's progress
    net::cancellation_signal second;  // ends a read's second wait (for writability)
    std::uint64_t wakeups = 0;        // times another operation (or the second wait) woke it
    bool parked = false;
    bool for_readable = false;        // its wait is for readability (alone or with writability)
};

struct parking_lot {
    parking reader;
    parking writer;
};

enum class side : unsigned char { reader, writer };

template <class Stream, class Kind>
class stream_op;
template <class Buffers>
struct write_kind;

}  // namespace detail

/** A TLS stream over an Asio stream socket that is an Asio
    AsyncReadStream and AsyncWriteStream: asio::async_read,
    async_read_until, async_write, co_spawn'ed coroutines and Boost.Beast
    use it as they use a socket or asio::ssl::stream.

    `Socket` is an Asio basic_stream_socket (ip::tcp::socket by default,
    on any executor: a strand for a multi-threaded io_context). The stream
    owns it, puts it in nonblocking mode and waits on it with async_wait;
    do not read, write or wait on it yourself. `Policies` are
    tls_stream's; async_write_some writes one record of at most 16 KiB
    whichever write mode they pick.

    Operations: at most one reading operation (async_read_some) and one
    writing operation (async_write_some, async_handshake, async_shutdown)
    outstanding at once, started from the stream's executor (its strand,
    if any); the two run in full duplex. Completion and cancellation
    rules: see the top of <tlsw/asio.hpp>.
*/
template <class Socket = net::ip::tcp::socket, class... Policies>
class stream {
public:
    using next_layer_type = Socket;                                ///< The socket.
    using lowest_layer_type = typename Socket::lowest_layer_type;  ///< The socket's lowest layer.
    using executor_type = typename Socket::executor_type;          ///< The socket's executor.
    using transport_type = basic_socket<true, Socket>;             ///< The socket as a nonblocking transport.
    using tls_stream_type = tls_stream<transport_type, Policies...>;  ///< The stream underneath.

    /** Most plaintext one async_write_some takes: one record. */
    static constexpr std::size_t max_write = tls_stream_type::max_record;
    /** Most buffers of a sequence one async_write_some gathers. */
    static constexpr std::size_t max_gather = 16;

    /** A stream in the context's role over `socket`, connected. */
    stream(const context& ctx, Socket&& socket, stream_options options = {})
        : tls_(ctx, transport_type(std::move(socket)), std::move(options)),
          lot_(std::make_shared<detail::parking_lot>()) {}

    /** @{ Moves the stream; only while no operation is outstanding. */
    stream(stream&&) noexcept = default;
    stream& operator=(stream&&) noexcept = default;
    /** @} */

    /** The socket's executor: operations complete on it. */
    executor_type get_executor() noexcept { return next_layer().get_executor(); }
    /** @{ The socket: for connect, options and close. */
    next_layer_type& next_layer() noexcept { return tls_.transport().socket(); }
    const next_layer_type& next_layer() const noexcept { return tls_.transport().socket(); }
    /** @} */
    /** @{ The socket's lowest layer, as asio::ssl::stream offers it. */
    lowest_layer_type& lowest_layer() noexcept { return next_layer().lowest_layer(); }
    const lowest_layer_type& lowest_layer() const noexcept { return next_layer().lowest_layer(); }
    /** @} */

    /** The tls_stream underneath: info(), describe(), export_session(),
        pending(). Calling its read or write corrupts operations in flight. */
    /** @{ */
    tls_stream_type& tls() noexcept { return tls_; }
    const tls_stream_type& tls() const noexcept { return tls_; }
    /** @} */

    /** Reads into the first non-empty buffer of `buffers`: what one
        record brings, and the records the stream holds already, as far
        as they fit (like a socket's read_some). Completes with
        void(error_code, std::size_t): at least 1 byte; 0 at once for
        empty buffers; net::error::eof after the peer's close_notify (the
        AsyncReadStream convention: async_read and Beast know it),
        errc::truncated when the socket ends without one. */
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token);

    /** Writes at most one record (max_write bytes) of `buffers`,
        gathering up to max_gather of them into it. Completes with
        void(error_code, std::size_t): the bytes written, once they are
        with the socket; 0 at once for empty buffers. Performs the
        handshake first when it has not run. */
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token);

    /** Runs the handshake, or completes a renegotiation in flight:
        void(error_code). */
    template <class Token>
    auto async_handshake(Token&& token);

    /** Sends close_notify (with shutdown_mode::send_and_wait, then waits
        for the peer's): void(error_code). The socket stays open. */
    template <class Token>
    auto async_shutdown(shutdown_mode mode, Token&& token);

    /** async_shutdown(shutdown_mode::send, token). */
    template <class Token>
        requires(!std::same_as<std::remove_cvref_t<Token>, shutdown_mode>)
    auto async_shutdown(Token&& token) {
        return async_shutdown(shutdown_mode::send, std::forward<Token>(token));
    }

private:
    template <class, class>
    friend class detail::stream_op;
    template <class>
    friend struct detail::write_kind;

    /** One step of a write: `buffers` gathered into one record. */
    template <class ConstBufferSequence>
    result<std::size_t> write_step(const ConstBufferSequence& buffers) {
        // Always the same array: with fixed_buffer, the repeat after
        // want_* passes the same buffers.
        std::size_t count = 0;
        std::size_t total = 0;
        for (auto it = net::buffer_sequence_begin(buffers), end = net::buffer_sequence_end(buffers);
             it != end && count < max_gather && total < max_write; ++it) {
            const net::const_buffer b(*it);
            const std::size_t n = std::min(b.size(), max_write - total);
            if (n == 0)
                continue;
            gather_[count++] = std::span<const std::byte>(static_cast<const std::byte*>(b.data()), n);
            total += n;
        }
        return tls_.write(std::span<const std::span<const std::byte>>(gather_.data(), count));
    }

    /** After a write was cancelled: what it committed (all it asked for,
        or nothing), which the stream sends ahead of the next write. */
    std::size_t committed_on_cancel() noexcept { return tls_.abandon_write(); }

    tls_stream_type tls_;
    std::shared_ptr<detail::parking_lot> lot_;  // shared with a read's second wait, which may outlive the stream
    std::array<std::span<const std::byte>, max_gather> gather_{};
};

namespace detail {

/** Bytes of a buffer sequence. */
template <class Buffers>
std::size_t buffers_size(const Buffers& buffers) {
    return net::buffer_size(buffers);
}

struct read_kind {
    static constexpr side which = side::reader;
    static constexpr bool counts = true;
    std::span<std::byte> buffer;

    static auto filter() { return net::enable_total_cancellation(); }
    bool empty() const noexcept { return buffer.empty(); }
    // Records already received fill the rest of the buffer without the
    // socket: one completion (one trip through the io_context) for all
    // of them, not one per record.
    template <class Stream>
    result<std::size_t> call(Stream& s) {
        auto r = s.tls().read(buffer);
        if (!r)
            return r;
        std::size_t n = *r;
        while (n < buffer.size() && s.tls().has_pending()) {
            auto more = s.tls().read(buffer.subspan(n));
            if (!more)
                break;  // a failure is final: the next call reports it
            n += *more;
        }
        return n;
    }
    template <class Stream>
    std::size_t cancelled(Stream&) {
        return 0;  // a read waiting has taken nothing
    }
};

template <class Buffers>
struct write_kind {
    static constexpr side which = side::writer;
    static constexpr bool counts = true;
    Buffers buffers;
    std::size_t size;

    // A write cancelled after it committed its record reports the count,
    // as Asio's partial cancellation allows.
    static auto filter() { return net::enable_partial_cancellation(); }
    bool empty() const noexcept { return size == 0; }
    template <class Stream>
    auto call(Stream& s) {
        return s.write_step(buffers);
    }
    template <class Stream>
    std::size_t cancelled(Stream& s) {
        return s.committed_on_cancel();
    }
};

struct handshake_kind {
    static constexpr side which = side::writer;
    static constexpr bool counts = false;
    static auto filter() { return net::enable_total_cancellation(); }
    static bool empty() noexcept { return false; }
    template <class Stream>
    auto call(Stream& s) {
        return s.tls().handshake();
    }
    template <class Stream>
    std::size_t cancelled(Stream&) {
        return 0;
    }
};

struct shutdown_kind {
    static constexpr side which = side::writer;
    static constexpr bool counts = false;
    shutdown_mode mode;
    static auto filter() { return net::enable_terminal_cancellation(); }
    static bool empty() noexcept { return false; }
    template <class Stream>
    auto call(Stream& s) {
        return s.tls().shutdown(mode);
    }
    template <class Stream>
    std::size_t cancelled(Stream&) {
        return 0;
    }
};

/** Wakes the operation parked on `p`: its wait ends with
    operation_aborted and, seeing the wakeup count moved, it repeats its
    call. Another operation's progress matters only to one waiting for
    readability: bytes taken from the socket never make it less
    writable. */
inline void wake(parking& p) {
    if (!p.parked || !p.for_readable)
        return;
    ++p.wakeups;
    p.wake.emit(net::cancellation_type::terminal);
}

/** The loop behind every operation of stream: one tls_stream call; on
    want_read / want_write a wait for the readiness it names (a read that
    got want_write waits for either, the first to come wins); repeat.

    Another operation's call can take bytes from the socket that this one
    waits for (a write finishing the handshake reads; the bytes after it
    may be application data), or process buffered records: those bytes
    will never make the socket readable again, so the call that took them
    wakes the other side. A call that took nothing wakes no one: no
    ping-pong. */
template <class Stream, class Kind>
class stream_op {
public:
    stream_op(Stream& s, Kind kind) : stream_(s), kind_(std::move(kind)) {}

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
        parking& me = mine();
        switch (state_) {
        case state::starting:
            self.reset_cancellation_state(Kind::filter());
            if (kind_.empty())
                return post_completion(self);
            break;
        case state::posted:
            return finish(self);
        case state::waiting:
            me.parked = false;
            if (second_wait_) {
                second_wait_ = false;
                me.second.emit(net::cancellation_type::terminal);
            }
            if (self.get_cancellation_state().cancelled() != net::cancellation_type::none) {
                count_ = tracked([&] { return kind_.cancelled(stream_); });
                error_ = net::error::operation_aborted;
                return finish(self);
            }
            // A wait another operation ended repeats the call; any other
            // failed wait (the socket closed or cancelled) ends here.
            if (ec && !(ec == net::error::operation_aborted && me.wakeups != wakeups_seen_)) {
                error_ = ec;
                return finish(self);
            }
            break;
        }
        const bool had_pending = stream_.tls_.has_pending();
        bool progressed = false;
        auto r = tracked([&] {
            auto result = kind_.call(stream_);
            progressed = had_pending && result.has_value();
            return result;
        });
        if (progressed)
            wake(other());
        if (!r && r.error().retryable())
            return park(self, r.error().code());
        if (r) {
            if constexpr (Kind::counts)
                count_ = *r;
        } else {
            error_ = completion_error(r.error());
        }
        if (state_ == state::starting)
            return post_completion(self);
        finish(self);
    }

private:
    enum class state : unsigned char { starting, waiting, posted };

    parking& mine() noexcept { return Kind::which == side::reader ? stream_.lot_->reader : stream_.lot_->writer; }
    parking& other() noexcept { return Kind::which == side::reader ? stream_.lot_->writer : stream_.lot_->reader; }

    /** Runs `f` (a tls_stream call); wakes the other side when it took
        bytes from the socket. */
    template <class F>
    auto tracked(F&& f) {
        auto& t = stream_.tls_.transport();
        const auto before = op_access::bytes_read(t);
        auto r = f();
        if (op_access::bytes_read(t) != before)
            wake(other());
        return r;
    }

    static error_code completion_error(const tls_error& e) {
        // The AsyncReadStream convention for the end of a stream, which
        // async_read, async_read_until and Beast's parsers expect.
        if (Kind::which == side::reader && e == errc::closed)
            return net::error::eof;
        return from_std_error(e.detailed_error_code());
    }

    template <class Self>
    void park(Self& self, errc want) {
        auto& socket = stream_.next_layer();
        parking& me = mine();
        state_ = state::waiting;
        me.parked = true;
        wakeups_seen_ = me.wakeups;
        // The caller's cancellation reaches the wait through `wake`.
        if (auto slot = self.get_cancellation_state().slot(); slot.is_connected())
            slot.assign([&wake = me.wake](net::cancellation_type type) { wake.emit(type); });
        // A read whose own output is stuck progresses when either comes:
        // readability (the peer's bytes) or writability (the output).
        const bool either = Kind::which == side::reader && want == errc::want_write;
        if (either) {
            second_wait_ = true;
            socket.async_wait(net::socket_base::wait_write,
                              net::bind_cancellation_slot(
                                  me.second.slot(),
                                  net::bind_executor(self.get_executor(), [lot = stream_.lot_](const error_code& e) {
                                      if (!e && lot->reader.parked) {
                                          ++lot->reader.wakeups;
                                          lot->reader.wake.emit(net::cancellation_type::terminal);
                                      }
                                  })));
        }
        const bool readable = want == errc::want_read || either;
        me.for_readable = readable;
        socket.async_wait(readable ? net::socket_base::wait_read : net::socket_base::wait_write,
                          net::bind_cancellation_slot(me.wake.slot(), std::move(self)));
    }

    /** Asio never completes inside the initiating function: a call that
        completed without waiting completes through post(). */
    template <class Self>
    void post_completion(Self& self) {
        state_ = state::posted;
        auto executor = self.get_executor();
        net::post(executor, std::move(self));
    }

    template <class Self>
    void finish(Self& self) {
        if constexpr (Kind::counts)
            self.complete(error_, count_);
        else
            self.complete(error_);
    }

    Stream& stream_;
    Kind kind_;
    state state_ = state::starting;
    bool second_wait_ = false;
    std::uint64_t wakeups_seen_ = 0;
    error_code error_{};
    std::size_t count_ = 0;
};

template <class Signature, class Stream, class Kind, class Token>
auto start_stream_op(Stream& s, Kind kind, Token&& token) {
    return net::async_compose<Token, Signature>(stream_op<Stream, Kind>(s, std::move(kind)), token, s.next_layer());
}

}  // namespace detail

template <class Socket, class... Policies>
template <class MutableBufferSequence, class Token>
auto stream<Socket, Policies...>::async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    std::span<std::byte> first;
    for (auto it = net::buffer_sequence_begin(buffers), end = net::buffer_sequence_end(buffers); it != end; ++it) {
        const net::mutable_buffer b(*it);
        if (b.size() > 0) {
            first = std::span<std::byte>(static_cast<std::byte*>(b.data()), b.size());
            break;
        }
    }
    return detail::start_stream_op<void(error_code, std::size_t)>(*this, detail::read_kind{first},
                                                                  std::forward<Token>(token));
}

template <class Socket, class... Policies>
template <class ConstBufferSequence, class Token>
auto stream<Socket, Policies...>::async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return detail::start_stream_op<void(error_code, std::size_t)>(
        *this, detail::write_kind<ConstBufferSequence>{buffers, detail::buffers_size(buffers)},
        std::forward<Token>(token));
}

template <class Socket, class... Policies>
template <class Token>
auto stream<Socket, Policies...>::async_handshake(Token&& token) {
    return detail::start_stream_op<void(error_code)>(*this, detail::handshake_kind{}, std::forward<Token>(token));
}

template <class Socket, class... Policies>
template <class Token>
auto stream<Socket, Policies...>::async_shutdown(shutdown_mode mode, Token&& token) {
    return detail::start_stream_op<void(error_code)>(*this, detail::shutdown_kind{mode}, std::forward<Token>(token));
}

}  // inline namespace
}  // namespace tlsw::asio

#endif
