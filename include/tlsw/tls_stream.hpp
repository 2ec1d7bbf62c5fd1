#ifndef TLSW_TLS_STREAM_HPP
#define TLSW_TLS_STREAM_HPP

#include <tlsw/context.hpp>
#include <tlsw/detail/engine.hpp>
#include <tlsw/error.hpp>
#include <tlsw/policy.hpp>
#include <tlsw/session_info.hpp>
#include <tlsw/transport.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace tlsw {

/** Per-stream settings; a client names the server it expects. */
struct stream_options {
    std::string server_name;          ///< SNI, the name verified, the session cache key
    std::uint16_t port = 0;           ///< part of the session cache key
    std::vector<std::string> alpn{};  ///< protocols a client offers, most preferred first
};

/** How shutdown() ends a stream. */
enum class shutdown_mode : unsigned char {
    send,           ///< send close_notify and flush it
    send_and_wait,  ///< then also wait for the peer's close_notify
};

/** A TLS 1.2 stream over any transport, with the write contract of
    OpenSSL's SSL_write_ex.

    `Policies` pick, in any order: full_write (default) or partial_write;
    fixed_buffer (default) or moving_buffer. `Transport` models
    tlsw::transport; it may be a reference, in which case the stream uses
    the caller's object.

    The stream never blocks by itself: a call blocks exactly when its
    transport blocks. Over a nonblocking transport every call can return
    errc::want_read or errc::want_write; the caller waits for that
    readiness and repeats the same call (for write(), with the same
    arguments). No call throws. A failure other than want_read / want_write
    is final: later calls return it again.

    One thread at a time may use a stream, like an SSL*.
*/
template <class Transport, class... Policies>
class tls_stream {
    static_assert(transport<std::remove_reference_t<Transport>>,
                  "tls_stream<Transport>: Transport must model tlsw::transport (read_some and write_some "
                  "returning tlsw::io_result); see transport.hpp");

    using policies = detail::policy_set<Policies...>;
    static_assert(sizeof(policies) > 0);  // completes the set: its checks run when the stream type is used
    using transport_value = std::remove_reference_t<Transport>;

public:
    using transport_type = Transport;
    static constexpr bool partial_write = policies::partial_write;
    static constexpr bool moving_buffer = policies::moving_buffer;
    /** Most plaintext one record carries, and so one partial write returns. */
    static constexpr std::size_t max_record = detail::engine::max_record;

    /** A stream in the context's role over `t`. A client's ClientHello is
        prepared now and sent by the first call. */
    tls_stream(const context& ctx, Transport t, stream_options options = {})
        : transport_(std::forward<Transport>(t)),
          engine_(std::make_unique<detail::engine>(ctx.state(), std::move(options.server_name), options.port,
                                                   std::move(options.alpn))),
          rx_(std::make_unique<std::byte[]>(rx_size)) {}

    tls_stream(tls_stream&&) noexcept = default;
    tls_stream& operator=(tls_stream&&) noexcept = default;

    /** Runs the handshake to its end (also a renegotiation in flight).

        Blocks until one of: the handshake completes and its last bytes are
        with the transport; the transport would block (want_read /
        want_write: repeat the call); an error. Calling it on an
        established stream with no handshake in flight returns at once. */
    result<void> handshake() {
        if (auto e = check_usable())
            return unexpected(*e);
        return finish_handshake();
    }

    /** Writes `data` as application data: SSL_write_ex's contract.

        Performs the handshake first if it has not run, and completes a
        renegotiation in flight before sending more (application data
        inside a handshake is fatal to many peers), reading from the
        transport for both.

        full_write: returns data.size() once every byte is with the
        transport. partial_write: returns the length of the one record
        (at most max_record bytes) it wrote. An empty `data` sends no
        application data; it finishes a pending handshake and flush and
        returns 0.

        On want_read / want_write the bytes taken so far are committed:
        repeat the call with the same arguments and it resumes after them;
        nothing is sent twice or lost. With fixed_buffer the repeat must
        pass the same pointer, with moving_buffer the same bytes at any
        address, and in both a length not shorter than what was taken;
        otherwise errc::bad_write_retry, and the stream stays usable for
        the correct repeat. Errors: closed (after shutdown() or the peer's
        close_notify), transport, protocol, certificate, truncated. */
    result<std::size_t> write(std::span<const std::byte> data) {
        return write_records(data.data(), data.size(), [data](std::size_t offset, std::size_t n) {
            return data.subspan(offset, n);
        });
    }

    /** Writes the concatenation of `buffers` (a gather write), packing
        small buffers into as few records as possible: many small messages
        cost one record, not one each. The contract is write()'s, with the
        concatenation as the data; with fixed_buffer a repeat must pass the
        same array of buffers. Returns the bytes written across buffers.
        (A template, so that write({}) still means an empty write.) */
    template <std::ranges::contiguous_range Buffers>
        requires std::same_as<std::ranges::range_value_t<Buffers>, std::span<const std::byte>>
    result<std::size_t> write(const Buffers& buffer_sequence) {
        const std::span<const std::span<const std::byte>> buffers(buffer_sequence);
        std::size_t total = 0;
        for (auto b : buffers)
            total += b.size();
        return write_records(buffers.data(), total, [this, buffers](std::size_t offset, std::size_t n) {
            return gather(buffers, offset, n);
        });
    }

    /** Reads application data into `buffer`: SSL_read_ex's contract.

        Returns the count read (at least 1 for a non-empty buffer), never
        more than the rest of one record, so record boundaries survive; 0
        for an empty buffer. Performs or completes a handshake as needed,
        which can write: over a nonblocking transport it can return
        want_write as well as want_read. Blocks until data arrives, the
        transport would block, or an error. Returns errc::closed after the
        peer's close_notify and errc::truncated when the transport ends
        without one. */
    result<std::size_t> read(std::span<std::byte> buffer) {
        if (engine_->plaintext_available() > 0)
            return engine_->read_plaintext(buffer);
        if (auto e = check_usable(false))
            return unexpected(*e);
        if (engine_->peer_closed())
            return unexpected(tls_error(errc::closed));
        if (buffer.empty())
            return 0;
        for (;;) {
            if (auto r = flush(); !r)
                return unexpected(r.error());
            auto n = fill(buffer);
            if (!n)
                return unexpected(n.error());
            if (*n > 0) {
                // Hand over replies Botan produced (a handshake answer, an
                // alert) now if the transport takes them, else on the next
                // call; a transport failure here surfaces on the next call.
                (void)flush();
                return *n;
            }
            if (engine_->peer_closed()) {
                (void)flush();  // Botan's close_notify reply, if the transport takes it
                return unexpected(tls_error(errc::closed));
            }
        }
    }

    /** Sends close_notify and flushes it; with send_and_wait, then reads
        until the peer's close_notify arrives, discarding application data.

        Returns once done, or want_write / want_read (repeat the call),
        or an error: truncated when the transport ends before the peer's
        close_notify. Botan 2 cannot read past application data that
        arrives after our close_notify (TLS 1.2 lets the peer drop it): the
        wait then ends there as done. Later writes and reads return
        errc::closed. */
    result<void> shutdown(shutdown_mode mode = shutdown_mode::send) {
        if (failure_)
            return unexpected(*failure_);
        engine_->close();
        if (auto r = flush(); !r)
            return r;
        if (mode == shutdown_mode::send_and_wait) {
            while (!engine_->peer_closed()) {
                while (engine_->read_plaintext(std::span(rx_.get(), rx_size)) > 0) {
                }
                auto n = fill({});
                if (!n)
                    return unexpected(n.error());
            }
        }
        return {};
    }

    /** Starts a renegotiation, like SSL_renegotiate: sends a ClientHello
        (client) or HelloRequest (server) and returns; the next handshake(),
        write() or read() completes it. Writes are held back until it
        completes or the peer refuses it.

        Application data that has already arrived is taken in first (Botan 2
        fails a connection on application data during a handshake), so the
        call may read; over a blocking transport it reads only what a
        readiness check says is there. Returns want_write when the request
        is not yet with the transport (repeat the call), invalid_state
        unless the stream is established with no handshake in flight (or a
        server whose text policy refuses renegotiation), closed after
        shutdown or the peer's close_notify.

        Whoever starts one, the peer must not be writing at that moment:
        Botan 2 fails a connection whose application data crosses the
        request, on either side. */
    result<void> renegotiate() {
        if (auto e = check_usable())
            return unexpected(*e);
        if (std::exchange(renegotiation_flush_owed_, false))
            return owe_flush(flush());
        if (!engine_->ready())
            return unexpected(tls_error(errc::invalid_state));
        if (auto r = take_in_arrived(); !r)
            return r;
        if (engine_->handshake_in_flight())
            return {};  // what arrived started one: the peer's
        if (engine_->peer_closed())
            return unexpected(tls_error(errc::closed));
        bool started = false;
        run([&] { started = engine_->renegotiate(); });
        if (auto e = check_usable())
            return unexpected(*e);
        if (!started)
            return unexpected(tls_error(errc::invalid_state));
        return owe_flush(flush());
    }

    /** What the last handshake negotiated. */
    const session_info& info() const noexcept { return engine_->info(); }

    /** True while a handshake (the first one or a renegotiation) is incomplete. */
    bool handshake_pending() const noexcept { return engine_->handshake_in_flight(); }

    /** Bytes of decrypted application data buffered in the stream: a read()
        of that many returns without touching the transport. */
    std::size_t pending() const noexcept { return engine_->plaintext_available(); }

    /** The transport, for readiness waits and socket options. Reading or
        writing it directly corrupts the TLS stream. */
    transport_value& transport() noexcept { return transport_; }
    const transport_value& transport() const noexcept { return transport_; }

private:
    // Enough for the largest TLS 1.2 record (16384 + 2048) in one read.
    static constexpr std::size_t rx_size = 18432;

    std::optional<tls_error> check_usable(bool writing = true) const {
        if (!failure_ && !engine_->failed() && !(writing && (engine_->local_closed() || engine_->peer_closed())))
            [[likely]] return std::nullopt;
        if (failure_)
            return failure_;
        if (engine_->failed())
            return engine_->error();
        return tls_error(errc::closed);
    }

    /** The write contract over any byte source: `record(offset, n)` yields
        the n bytes at `offset` of the caller's data; `identity` is what a
        fixed_buffer repeat must pass again. */
    template <class Records>
    result<std::size_t> write_records(const void* identity, std::size_t size, Records record) {
        if (auto e = check_usable())
            return unexpected(*e);
        if (taken_ > 0 && ((!moving_buffer && identity != retry_identity_) || size < taken_))
            return unexpected(tls_error(errc::bad_write_retry));
        retry_identity_ = identity;
        auto r = write_loop(size, record);
        if (r || !r.error().retryable())
            taken_ = 0;
        return r;
    }

    template <class Records>
    result<std::size_t> write_loop(std::size_t size, Records& record) {
        // partial_write: one record per call, and a repeat after want_* only
        // flushes the record the first attempt committed.
        const std::size_t goal = partial_write ? (taken_ > 0 ? taken_ : std::min(size, max_record)) : size;
        while (taken_ < goal) {
            if (auto r = finish_handshake(); !r)
                return unexpected(r.error());
            // finish_handshake() flushed: at most one record waits in the
            // queue, however large the write.
            if (!send(record(taken_, std::min(goal - taken_, max_record))))
                return unexpected(*check_usable());
        }
        if (auto r = finish_handshake(); !r)
            return unexpected(r.error());
        return taken_;
    }

    /** n bytes at `offset` of the concatenated buffers: a view when they lie
        in one buffer, else copied into the gather buffer. */
    std::span<const std::byte> gather(std::span<const std::span<const std::byte>> buffers, std::size_t offset,
                                      std::size_t n) {
        auto it = buffers.begin();
        for (; offset >= it->size(); ++it)
            offset -= it->size();
        if (it->size() - offset >= n)
            return it->subspan(offset, n);
        if (!gather_)
            gather_ = std::make_unique<std::byte[]>(max_record);
        for (std::size_t done = 0; done < n; ++it, offset = 0) {
            const std::size_t part = std::min(n - done, it->size() - offset);
            if (part > 0)  // an empty buffer may have a null data()
                std::memcpy(gather_.get() + done, it->data() + offset, part);
            done += part;
        }
        return {gather_.get(), n};
    }

    bool send(std::span<const std::byte> record) {
        run([&] { engine_->send(record); });
        // Committed: the plaintext is encrypted and queued or sent.
        if (engine_->failed())
            return false;
        taken_ += record.size();
        return !failure_;
    }

    result<void> owe_flush(result<void> r) {
        renegotiation_flush_owed_ = !r && r.error() == errc::want_write;
        return r;
    }

    /** Feeds the engine what the transport already holds, without waiting. */
    result<void> take_in_arrived() {
        if constexpr (waitable_transport<transport_value> || transport_traits<transport_value>::can_would_block) {
            for (;;) {
                if constexpr (waitable_transport<transport_value>) {
                    if (!transport_.wait(readiness::readable, std::chrono::milliseconds(0)))
                        return {};
                } else if constexpr (transport_traits<transport_value>::can_block) {
                    // Could block, and offers no way to ask: take nothing.
                    return {};
                }
                auto n = fill({});
                if (!n)
                    return n.error() == errc::want_read ? result<void>() : unexpected(n.error());
                if (engine_->handshake_in_flight() || engine_->peer_closed())
                    return {};
            }
        }
        return {};
    }

    /** Flushes, then reads until no handshake is in flight. */
    result<void> finish_handshake() {
        for (;;) {
            if (auto r = flush(); !r)
                return r;
            if (!engine_->handshake_in_flight())
                return {};
            // Application data a peer sends during a renegotiation is kept
            // for read(); fill() puts it in the engine's inbox.
            if (auto n = fill({}); !n)
                return unexpected(n.error());
        }
    }

    /** Moves queued ciphertext to the transport until it is empty. */
    result<void> flush() {
        // The common case on the hot path: write-through left nothing queued.
        if (engine_->output().empty() && !failure_ && !engine_->failed())
            return {};
        for (auto out = engine_->output(); !out.empty(); out = engine_->output()) {
            auto n = transport_.write_some(out);
            if (!n) {
                if (is_would_block(n.error()))
                    return unexpected(tls_error(errc::want_write));
                if (engine_->peer_closed()) {
                    // Only our close_notify reply is left, and a peer that
                    // closed its socket right after its own cannot take it.
                    engine_->consume_output(out.size());
                    return unexpected(tls_error(errc::closed));
                }
                return unexpected(fail(tls_error::from_transport(n.error())));
            }
            if (*n == 0 || *n > out.size())
                return unexpected(fail(tls_error::from_transport(std::make_error_code(std::errc::io_error))));
            engine_->consume_output(*n);
        }
        if (auto e = check_usable(false))
            return unexpected(*e);
        return {};
    }

    /** One transport read, fed to the engine; plaintext lands in `direct`
        as far as it fits. Returns the count stored in `direct`. */
    result<std::size_t> fill(std::span<std::byte> direct) {
        auto n = transport_.read_some(std::span(rx_.get(), rx_size));
        if (!n) {
            if (is_would_block(n.error()))
                return unexpected(tls_error(errc::want_read));
            return unexpected(fail(tls_error::from_transport(n.error())));
        }
        if (*n > rx_size)
            return unexpected(fail(tls_error::from_transport(std::make_error_code(std::errc::io_error))));
        if (*n == 0) {
            if (engine_->peer_closed())
                return unexpected(tls_error(errc::closed));
            return unexpected(fail(tls_error(errc::truncated)));
        }
        std::size_t delivered = 0;
        run([&] { delivered = engine_->feed(std::span(rx_.get(), *n), direct); });
        if (auto e = check_usable(false)) {
            // Botan queued an alert for the peer: a best effort to deliver it.
            (void)flush();
            return unexpected(*e);
        }
        return delivered;
    }

    /** Runs an engine call with write-through: ciphertext it emits goes
        straight to the transport while nothing is queued ahead of it. */
    template <class F>
    void run(F&& f) {
        engine_->set_sink({this, &write_through});
        f();
        engine_->set_sink({});
    }

    static std::size_t write_through(void* self, std::span<const std::byte> bytes) {
        auto& s = *static_cast<tls_stream*>(self);
        std::size_t done = 0;
        while (done < bytes.size() && !s.failure_) {
            auto n = s.transport_.write_some(bytes.subspan(done));
            if (!n) {
                // A would-block leaves the rest queued; an error is kept and
                // surfaces when the engine call returns, unless the peer
                // closed: then this is our close_notify reply, which a peer
                // that already closed its socket cannot take.
                if (s.engine_->peer_closed())
                    return bytes.size();
                if (!is_would_block(n.error()))
                    s.fail(tls_error::from_transport(n.error()));
                break;
            }
            if (*n == 0 || *n > bytes.size() - done) {
                s.fail(tls_error::from_transport(std::make_error_code(std::errc::io_error)));
                break;
            }
            done += *n;
        }
        return done;
    }

    tls_error fail(tls_error e) noexcept {
        if (!failure_)
            failure_ = e;
        return *failure_;
    }

    Transport transport_;
    std::unique_ptr<detail::engine> engine_;
    std::unique_ptr<std::byte[]> rx_;
    std::optional<tls_error> failure_;
    std::unique_ptr<std::byte[]> gather_;  // packs small gather-write buffers into one record
    const void* retry_identity_ = nullptr;  // the data of a write that returned want_*
    std::size_t taken_ = 0;                 // bytes of that data already committed
    bool renegotiation_flush_owed_ = false; // renegotiate() returned want_write
};

}  // namespace tlsw

#endif
