#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_TLS_STREAM_HPP
#define TLSW_TLS_STREAM_HPP

/** @file
    tlsw::tls_stream, the TLS stream over a transport, with OpenSSL's
    SSL_write contract; its options (stream_options) and shutdown modes. */

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
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
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
    /** A client's session from tls_stream::export_session(), offered to
        the server it was made with (same server_name and port) instead of
        the context's cache. It opens only under a context with the same
        secret export key (context::session_export_key) and configuration
        identity (see context) as the one that exported it, and is offered
        only when its server chain passes this context's checks now (trust
        anchors, server_name, dates, verification hook); otherwise, or when
        damaged, it is ignored and the handshake is a full one, never an
        error. info().resumed says whether it resumed. */
    std::vector<std::byte> resume_from{};
    /** Frees the stream's I/O buffers whenever it goes idle (OpenSSL's
        SSL_MODE_RELEASE_BUFFERS, here on by default): see tls_stream,
        "Memory". Off, a stream keeps them once allocated, and a
        nonblocking reader that drains its socket makes no allocation per
        wake-up. */
    bool release_buffers = true;
};

namespace detail {

/** The element types text reads and writes take: char, unsigned char and
    std::byte, const or not. */
template <class T>
concept byte_like = std::same_as<std::remove_cv_t<T>, char> || std::same_as<std::remove_cv_t<T>, unsigned char> ||
                    std::same_as<std::remove_cv_t<T>, std::byte>;

/** What tls_stream::write takes as text: anything convertible to
    std::string_view (not nullptr), or a contiguous sized range of byte_like
    elements. */
template <class T>
concept text_source =
    !std::same_as<std::remove_cvref_t<T>, std::nullptr_t> &&
    (std::convertible_to<const T&, std::string_view> ||
     (std::ranges::contiguous_range<const T&> && std::ranges::sized_range<const T&> &&
      byte_like<std::ranges::range_value_t<const T&>>));

/** What tls_stream::read fills as text: a contiguous sized range of
    writable byte_like elements. */
template <class T>
concept text_sink = std::ranges::contiguous_range<T> && std::ranges::sized_range<T> &&
                    byte_like<std::remove_reference_t<std::ranges::range_reference_t<T>>> &&
                    !std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<T>>>;

/** The bytes of a text_source: a char array up to its first NUL (a string
    literal without its terminator) or its whole extent when it holds none;
    other string_view-convertible types as that string_view; ranges whole.
    A null char pointer has no bytes (the caller reports it). */
template <class Text>
std::span<const std::byte> text_bytes(const Text& text) noexcept {
    if constexpr (std::is_array_v<Text> && std::same_as<std::remove_cv_t<std::remove_extent_t<Text>>, char>) {
        const std::string_view whole(text, std::extent_v<Text>);
        return std::as_bytes(std::span(text, std::min(whole.find('\0'), whole.size())));
    } else if constexpr (std::is_pointer_v<Text>) {
        if (text == nullptr)
            return {};
        const std::string_view s(text);
        return std::as_bytes(std::span(s.data(), s.size()));
    } else if constexpr (std::convertible_to<const Text&, std::string_view>) {
        const std::string_view s = text;
        return std::as_bytes(std::span(s.data(), s.size()));
    } else {
        return std::as_bytes(std::span(std::ranges::data(text), std::ranges::size(text)));
    }
}

}  // namespace detail

/** How shutdown() ends a stream. */
enum class shutdown_mode : unsigned char {
    send,           ///< send close_notify and flush it
    send_and_wait,  ///< then also wait for the peer's close_notify
};

/** A TLS stream over any transport (TLS 1.2 on Botan 2; TLS 1.3 and 1.2 on
    Botan 3), with the write contract of OpenSSL's SSL_write_ex.

    `Policies` pick, in any order: full_write (default) or partial_write;
    fixed_buffer (default) or moving_buffer; checked_retry (default
    without NDEBUG) or unchecked_retry (default with NDEBUG: no cost).
    `Transport` models
    tlsw::transport; it may be a reference, in which case the stream uses
    the caller's object.

    The stream never blocks by itself: a call blocks exactly when its
    transport blocks. When a call returns errc::want_read or
    errc::want_write, the caller waits for that readiness (readable,
    writable) and repeats the same call (for write(), with the same
    arguments). Per transport kind (transport_traits):
    - A transport that can block (can_block: blocking_socket, a blocking
      memory pair, a transport that declares no traits): want_* only when
      the transport itself returned would_block() (a timeout the user
      set), never because of a bound of the stream's own. A write(),
      handshake() or renegotiate() that must read past application data
      waiting for read() holds it (at most max_held bytes; a peer that
      sends more ends the stream with errc::protocol) and reads on.
    - A nonblocking transport (can_would_block, not can_block): any call
      can return want_*, also when one call's read budget
      (max_read_per_call) is spent: repeat it.
    want_read asks for readability, want_write for writability. read()
    returns want_write only when output it must send itself (a handshake
    message, an alert, the answer to a KeyUpdate) is stuck and nothing was
    read; records an earlier write() left queued do not count (that
    write's repeat sends them), so a loop that waits for what each result
    names never stalls in full duplex. Output a call leaves queued
    (renegotiate() or update_keys() returning want_write, a handshake
    message) is sent by the next call of any kind that the transport lets
    write. No call throws. A failure other than want_read / want_write is
    final: later calls return it again.

    Receiving: one transport read asks for what the receive buffer has
    room for behind the partial record it holds (at least rx_read_size,
    64 KiB), over a nonblocking transport within the call's budget
    (max_read_per_call, 72 KiB), so it
    can bring several records; the receive buffer keeps what the
    engine has not taken yet, and the stream hands the engine one
    complete record at a time (it parses the 5-byte record header; a
    header announcing more than a TLS 1.2 record may hold goes to the
    engine as it is, and Botan rejects it with its alert). So each
    record's plaintext is copied once, straight into the caller's buffer
    (into the stream's own only when the caller's is smaller than the
    record), and a read never processes more than the record it returns.
    Records already in the receive buffer do not make the transport
    readable: after a call, has_pending() says whether read() would
    progress without it (an event loop checks it before waiting).

    Bounds on what a peer can make a stream hold or do:
    - Ciphertext buffered in the stream never exceeds rx_size bytes.
    - Plaintext buffered in the stream (pending()) never exceeds
      max_pending bytes (one record): the stream hands the engine a
      record only while that buffer is empty, and one record at a time.
      Over a transport that can block, a call other than read() that must
      read past plaintext holds it, up to max_held bytes more.
    - Over a nonblocking transport one call reads at most
      max_read_per_call bytes of ciphertext from the transport, so it
      processes at most that plus the rx_size bytes buffered before it;
      when they bring nothing the call can return, it returns want_read:
      repeat the call. Over a transport that can block a call reads on,
      record by record (memory stays within the bounds above), until it
      can return; its time is bounded by the transport's timeouts, as in
      any blocking API. read() returns want_read only once no complete
      record is buffered.
    - At most max_warning_alerts warning alerts in a row without
      application data between them: the next one ends the stream with
      errc::protocol (alert::unexpected_message, sent to the peer), on
      every transport. Empty records are processed as they arrive and are
      not limited: a blocking read behind any number of them returns the
      data that follows.

    Failure and plaintext: records authenticated before a failure (a bad
    record, a fatal alert, a transport error) in the same transport read
    are delivered by read() first, in order; the failure comes after them.
    Once any call has reported the failure, every later call reports it
    and nothing buffered before it is returned.

    No exception leaves a member function: an exception from the
    transport becomes errc::transport (with the system_error's code, or
    std::errc::io_error); an allocation failure or any other exception
    inside a call ends the stream with errc::protocol carrying
    alert::internal_error. The constructor is the exception: it allocates
    the engine, and throws std::bad_alloc when that fails (a constructor
    has no error value to return). Moving a stream is noexcept: a
    Transport whose move constructor throws terminates the program there,
    as one whose destructor throws does when a stream is destroyed.

    A moved-from stream returns errc::invalid_state from every call;
    pending() is 0, handshake_pending() false and info() empty.

    Memory: the I/O buffers (the rx_size receive buffer, the queue of
    ciphertext the transport has not taken, the inbox of pending()
    plaintext, the gather-write buffer) are allocated when first needed.
    With stream_options::release_buffers (the default) they are freed,
    each one only when empty, at the points where a stream goes idle: a
    transport read that would block, the end of a handshake, a finished
    shutdown, and, over a transport that can block
    (transport_traits::can_block), a read() that leaves the receive
    buffer empty (its next read would wait in the kernel anyway). So an
    established stream waiting for its peer holds none (buffer_capacity()
    is 0). A stream without a receive buffer reads idle_read_size bytes
    into the call's stack first and allocates the buffer only when that
    read did not bring exactly one whole record: request/response traffic
    of small messages allocates nothing per message over any transport,
    even though the stream goes idle between messages. Bulk transfer over
    a nonblocking transport, whose reads find data, keeps the buffers and
    allocates nothing per record; over a transport that can block, the
    receive buffer is allocated once per transport read of more than one
    record (up to rx_read_size bytes, several records) and freed when
    read() has taken them.

    One thread at a time may use a stream, like an SSL*.
*/
template <class Transport, class... Policies>
class tls_stream {
    static_assert(!is_policy_v<Transport>,
                  "tls_stream<Transport, Policies...>: the transport comes first, then the policies "
                  "(tls_stream<memory_pair::end, tlsw::partial_write>, not tls_stream<tlsw::partial_write, "
                  "memory_pair::end>)");
    static_assert(is_policy_v<Transport> || transport<std::remove_reference_t<Transport>>,
                  "tls_stream<Transport>: Transport must model tlsw::transport (read_some and write_some "
                  "returning tlsw::io_result); see transport.hpp");
    static constexpr bool valid_transport = transport<std::remove_reference_t<Transport>>;

    // Without a valid transport, the assertion above is the one error: the
    // policies are not checked, and the constructor below takes anything.
    using policies = std::conditional_t<valid_transport, detail::policy_set<Policies...>, detail::policy_set<>>;
    static_assert(sizeof(policies) > 0);  // completes the set: its checks run when the stream type is used
    using transport_value = std::remove_reference_t<Transport>;

public:
    using transport_type = Transport;  ///< The transport, as given (a value or a reference).
    /** partial_write: write() may return after one record (see policy.hpp). */
    static constexpr bool partial_write = policies::partial_write;
    /** moving_buffer: a repeated write may pass another pointer (see policy.hpp). */
    static constexpr bool moving_buffer = policies::moving_buffer;
    /** checked_retry: a repeated write's bytes are checked (see policy.hpp). */
    static constexpr bool checked_retry = policies::checked_retry;
    /** Most plaintext one record carries, and so one partial write returns. */
    static constexpr std::size_t max_record = detail::engine::max_record;
    /** The largest TLS 1.2 record on the wire: a 5-byte header and at
        most 16384 + 2048 bytes of ciphertext (RFC 5246 6.2.3). */
    static constexpr std::size_t max_wire_record = 5 + 18432;
    /** The least room a transport read finds in the receive buffer, behind
        the partial record an earlier read left: 64 KiB, four full records
        and more per receive. A read asks for all the room there is, within
        the call's budget (max_read_per_call): 72 KiB into an empty buffer,
        so that 16 KiB records (16,413 bytes on the wire) fill receives of
        64 KiB and more. */
    static constexpr std::size_t rx_read_size = 65536;
    /** What a stream that holds no receive buffer (an idle one, see
        "Memory") reads from the transport at once, into the stack of the
        call: a record of up to about 4 KiB of plaintext that arrives alone
        is processed there and needs no buffer; anything else moves into
        a receive buffer allocated then. */
    static constexpr std::size_t idle_read_size = 4096;
    /** The receive buffer's size, and so the most ciphertext the stream
        holds unprocessed: a read of rx_read_size behind the partial record
        an earlier read left (at most one record). */
    static constexpr std::size_t rx_size = rx_read_size + max_wire_record;
    /** Most decrypted plaintext a stream ever buffers (pending()): the
        rest of one record, which the caller's buffer did not hold. */
    static constexpr std::size_t max_pending = max_record;
    /** Over a transport that can block: most application data a call
        other than read() takes in and holds for read() when it must read
        past it (a renegotiate() that takes in what arrived before its
        request, a handshake() or write() completing a renegotiation),
        besides the max_pending of the engine's own buffer. A peer that
        sends more while such a call waits ends the stream with
        errc::protocol carrying alert::unexpected_message (sent to the
        peer); over a nonblocking transport the call returns want_read
        instead and holds nothing. read() returns held data first, in
        order (not split at record boundaries). */
    static constexpr std::size_t max_held = std::size_t(1) << 20;
    /** Most ciphertext one call reads from the transport before it returns
        want_read for lack of anything else to return (four full records). */
    static constexpr std::size_t max_read_per_call = 4 * (max_wire_record - 5);
    /** Whether one call's transport reads are bounded by max_read_per_call:
        only over a transport that never waits (transport_traits: can_block
        false). A call over a transport that can block (blocking_socket, a
        blocking memory pair, a transport that declares no traits) reads
        until it can return, as a blocking API does: its time is bounded by
        the transport's own timeouts, its memory by the buffers above. */
    static constexpr bool budgeted_reads = !transport_traits<std::remove_reference_t<Transport>>::can_block;
    /** The transport can block (transport_traits::can_block): calls never
        return want_* for the stream's own bounds. */
    static constexpr bool can_block = transport_traits<std::remove_reference_t<Transport>>::can_block;
    /** Most warning alerts (any alert but close_notify that does not end
        the session) a peer may send in a row without application data
        between them; the next one fails the stream with errc::protocol
        carrying alert::unexpected_message, which is sent to the peer.
        (OpenSSL's limit is the same.) Empty records and handshake messages
        are not counted: their number is bounded by what they cost the peer
        and by the renegotiation limits. */
    static constexpr unsigned max_warning_alerts = detail::engine::max_warning_alerts;

    /** A stream in the context's role over `t`. A client's ClientHello is
        prepared now and sent by the first call. */
    tls_stream(const context& ctx, Transport t, stream_options options = {})
        : transport_(std::forward<Transport>(t)),
          engine_(std::make_unique<detail::engine>(ctx.state(), std::move(options.server_name), options.port,
                                                   std::move(options.alpn), options.resume_from)),
          release_buffers_(options.release_buffers),
          control_owed_(!engine_->output_empty()) {}  // a client's ClientHello

    /** Not a stream: a Transport that is no transport stops here, with one
        error that names the transport concept, not a cascade. */
    template <class... Args>
        requires(!valid_transport)
    explicit tls_stream(Args&&...) {}

    /** @{ Moves the whole stream, mid-handshake or mid-write included; a
        moved-from stream's calls fail with errc::invalid_state. */
    tls_stream(tls_stream&&) noexcept = default;
    tls_stream& operator=(tls_stream&&) noexcept = default;
    /** @} */

    /** Runs the handshake to its end (also a renegotiation in flight).

        Blocks until one of: the handshake completes and its last bytes are
        with the transport; the transport would block (want_read /
        want_write: repeat the call); an error. Calling it on an
        established stream with no handshake in flight returns at once.
        It succeeds only once a session is established: keys active and
        the peer verified; no alert or message before that counts.

        Application data the peer sent ahead of a renegotiation's messages
        is kept for read(). Over a nonblocking transport, while it waits
        (at most max_pending bytes) the stream does not read on, and the
        call returns want_read: read() the data, then repeat. Over a
        transport that can block the call holds it (at most max_held
        bytes; more ends the stream with errc::protocol) and reads on. */
    [[nodiscard]] result<void> handshake() {
        return boundary([&]() -> result<void> {
            if (auto e = check_usable())
                return unexpected(*e);
            return finish_handshake();
        });
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
        close_notify), transport, protocol, certificate, truncated.

        While a handshake needs the peer's bytes and application data the
        peer sent ahead of them waits to be read, write returns want_read
        over a nonblocking transport and holds the data over one that can
        block (see handshake()). */
    [[nodiscard]] result<std::size_t> write(std::span<const std::byte> data) {
        return boundary([&] {
            return write_records(data.data(), data.size(), [data](std::size_t offset, std::size_t n) {
                return data.subspan(offset, n);
            });
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
    [[nodiscard]] result<std::size_t> write(const Buffers& buffer_sequence) {
        const std::span<const std::span<const std::byte>> buffers(buffer_sequence);
        return boundary([&] {
            std::size_t total = 0;
            for (auto b : buffers)
                total += b.size();
            return write_records(buffers.data(), total, [this, buffers](std::size_t offset, std::size_t n) {
                return gather(buffers, offset, n);
            });
        });
    }

    /** Writes text or bytes without std::as_bytes: write()'s contract for
        `text`'s bytes. Takes std::string, std::string_view, const char*,
        and any contiguous sized range of char, unsigned char or std::byte
        (std::vector<char>, std::array<unsigned char, N>, ...).

        A char array (a string literal) is written up to its first NUL, so
        write("ping") sends 4 bytes; pass std::span(array) for binary data
        in a char array. A null const char* returns errc::invalid_argument.
        The retry rules are write()'s with the bytes' address as the
        pointer: with fixed_buffer a repeat passes the same object (the same
        std::string, unchanged), with moving_buffer equal bytes. (A template
        that a braced list cannot match, so write({}) stays the empty write
        and a range of spans the gather write.) */
    template <class Text>
        requires detail::text_source<Text>
    [[nodiscard]] result<std::size_t> write(const Text& text) {
        if constexpr (std::is_pointer_v<Text>) {
            if (text == nullptr)
                return unexpected(tls_error(errc::invalid_argument));
        }
        return write(detail::text_bytes(text));
    }

    /** Reads application data into `buffer`: SSL_read_ex's contract.

        Returns the count read (at least 1 for a non-empty buffer), never
        more than the rest of one record, so record boundaries survive; 0
        for an empty buffer. Performs or completes a handshake as needed,
        which can write. Blocks until data arrives, the transport would
        block, or an error; over a nonblocking transport reads at most
        max_read_per_call bytes of ciphertext, then returns want_read (see
        the class comment).

        Output the transport refuses does not stop a read: what arrived
        is delivered and the output is retried by the next call.
        want_read: wait for readability. want_write (wait for
        writability) comes back only when output the read must send
        itself (a handshake message, an alert, a KeyUpdate answer) is
        stuck and nothing could be read either (over a transport that can
        block, nothing readable now: a blocking read would hold output the
        peer may be waiting for); records of an earlier write() never make
        it want_write. Returns errc::closed after the peer's close_notify and
        errc::truncated when the transport ends without one, in both cases
        after the data that came before. */
    [[nodiscard]] result<std::size_t> read(std::span<std::byte> buffer) {
        return boundary([&]() -> result<std::size_t> {
            auto r = read_some_plaintext(buffer);
            // Over a transport that can block, the next read would wait in
            // the kernel: a receive buffer left empty is not kept for it.
            if constexpr (transport_traits<transport_value>::can_block) {
                if (rx_ && rx_begin_ == rx_end_)
                    release_idle_buffers();
            }
            return r;
        });
    }

    /** read() into any contiguous sized range of writable char, unsigned
        char or std::byte (a std::string's current size, a std::vector<char>,
        a char array's whole extent): read()'s contract, without
        std::as_writable_bytes. */
    template <class Buffer>
        requires detail::text_sink<Buffer>
    [[nodiscard]] result<std::size_t> read(Buffer&& buffer) {
        return read(std::as_writable_bytes(std::span(std::ranges::data(buffer), std::ranges::size(buffer))));
    }

    /** Sends close_notify and flushes it; with send_and_wait, then reads
        until the peer's close_notify arrives, discarding application data.

        Returns once done, or want_write / want_read (repeat the call),
        or an error: truncated when the transport ends before the peer's
        close_notify. Botan 2 cannot read past application data that
        arrives after our close_notify (TLS 1.2 lets the peer drop it): the
        wait then ends there as done. Later writes and reads return
        errc::closed.

        The wait is bounded: over a nonblocking transport one call reads at
        most max_read_per_call bytes (then want_read), over every transport
        the warning-alert bound applies, and `timeout`, when given, bounds the time it
        waits for the peer: over a transport with wait() (a nonblocking
        socket, a memory pair of either kind) the stream waits for
        readability at most until the deadline, and returns want_read when
        it passes: our close_notify is sent, the stream stays usable, and
        the caller repeats the call to wait again or drops the connection.
        A blocking transport without wait() cannot be interrupted by the
        stream: bound its reads by the transport's own timeout (a timed-out
        read that returns would_block() makes this call return want_read).
        A nonblocking transport never waits: want_read as soon as nothing
        is there. */
    [[nodiscard]] result<void> shutdown(shutdown_mode mode = shutdown_mode::send) {
        return boundary([&] { return close_and_wait(mode, std::nullopt); });
    }

    /** shutdown(mode) whose wait for the peer ends after `timeout` (see above). */
    [[nodiscard]] result<void> shutdown(shutdown_mode mode, std::chrono::milliseconds timeout) {
        return boundary([&] {
            return close_and_wait(mode, std::chrono::steady_clock::now() + std::max(timeout, std::chrono::milliseconds(0)));
        });
    }

    /** Starts a renegotiation, like SSL_renegotiate: sends a ClientHello
        (client) or HelloRequest (server) and returns; the next handshake(),
        write() or read() completes it. Writes are held back until it
        completes or the peer refuses it.

        Application data that has already arrived is taken in first (Botan 2
        fails a connection on application data during a handshake), so the
        call may read; over a blocking transport it reads only what a
        readiness check says is there, and holds it for read() (at most
        max_held bytes: a peer still sending past that ends the stream with
        errc::protocol). Returns want_write when the request is not yet
        with the transport (repeat the call), over a nonblocking transport
        want_read when application data waits to be read first (the
        stream's buffer holds some and it cannot tell the transport holds
        no more: read() it, then repeat), invalid_state
        unless the stream is established with no handshake in flight (or a
        server whose text policy refuses renegotiation), closed after
        shutdown or the peer's close_notify.

        Whoever starts one, the peer must not be writing at that moment:
        Botan 2 fails a connection whose application data crosses the
        request, on either side. TLS 1.3 has no renegotiation: under it the
        call sends nothing and returns wrong_tls_version (as SSL_renegotiate
        fails); update_keys() renews the keys instead. */
    [[nodiscard]] result<void> renegotiate() {
        return boundary([&]() -> result<void> {
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
            if (engine_->tls13())
                return unexpected(tls_error(errc::wrong_tls_version));
            bool started = false;
            run_control([&] { started = engine_->renegotiate(); });
            if (auto e = check_usable())
                return unexpected(*e);
            if (!started)
                return unexpected(tls_error(errc::invalid_state));
            return owe_flush(flush());
        });
    }

    /** Renews our sending keys with a TLS 1.3 KeyUpdate (SSL_key_update);
        with `request_peer`, asks the peer to renew its own too. The peer's
        KeyUpdates are answered inside read() and write() without a call.

        Returns want_write when the message is not yet with the transport
        (repeat the call: it is not sent twice), wrong_tls_version when the
        session is TLS 1.2 (always on Botan 2), invalid_state before the
        handshake completed, closed after shutdown or the peer's
        close_notify. Never reads. */
    [[nodiscard]] result<void> update_keys(bool request_peer = false) {
        return boundary([&]() -> result<void> {
            if (auto e = check_usable())
                return unexpected(*e);
            if (std::exchange(renegotiation_flush_owed_, false))
                return owe_flush(flush());
            if (engine_->peer_closed() || engine_->local_closed())
                return unexpected(tls_error(errc::closed));
            if (!engine_->ready())
                return unexpected(tls_error(errc::invalid_state));
            if (!engine_->tls13())
                return unexpected(tls_error(errc::wrong_tls_version));
            bool sent = false;
            run_control([&] { sent = engine_->update_keys(request_peer); });
            if (auto e = check_usable())
                return unexpected(*e);
            if (!sent)
                return unexpected(tls_error(errc::invalid_state));
            return owe_flush(flush());
        });
    }

    /** A client's session, once a handshake completed, as bytes another
        stream can resume through stream_options::resume_from, in this
        process or another (rustls's ClientSessionStore, OpenSSL's
        SSL_get1_session + i2d_SSL_SESSION).

        The bytes are sealed (encrypted and authenticated) under a key
        derived from the context's secret export key
        (context::session_export_key: random per context unless set) and
        its configuration identity, so only a context holding that key can
        open them or make bytes it resumes. Still, they carry the session's
        master secret: store them as secret as a private key (readable by
        the owner only). Returns invalid_state on a server, before a
        handshake completed (or when the server's ticket or chain was too
        large to keep, see context), and on a moved-from stream. */
    [[nodiscard]] result<std::vector<std::byte>> export_session() const {
        if (!engine_)
            return unexpected(tls_error(errc::invalid_state));
        try {
            auto sealed = engine_->export_session();
            if (sealed.empty())
                return unexpected(tls_error(errc::invalid_state));
            return sealed;
        } catch (...) {
            return unexpected(tls_error(errc::protocol));
        }
    }

    /** `length` bytes of keying material for the application (RFC 5705
        under TLS 1.2, RFC 8446 section 7.5 under TLS 1.3), from the
        session's secrets, `label` and `context`: both ends of a connection
        get the same bytes, as OpenSSL's SSL_export_keying_material. Under
        TLS 1.2 a context given, even empty, differs from none; under TLS
        1.3 they are the same (on Botan 3 with a text policy that does not
        allow_ssl_key_log_file, an empty TLS 1.2 context is refused). Sends
        nothing, never blocks. Returns invalid_state before the first
        handshake completed, during a renegotiation, after a failure and on
        a moved-from stream; invalid_argument for a label RFC 5705 reserves
        (client finished, server finished, master secret, extended master
        secret, key expansion), a label over 249 bytes, a context over
        65535 bytes, or a length of 0 or over 8160. */
    [[nodiscard]] result<std::vector<std::byte>> export_keying_material(std::string_view label,
                                                          std::optional<std::span<const std::byte>> context,
                                                          std::size_t length) const {
        if (!engine_)
            return unexpected(tls_error(errc::invalid_state));
        try {
            return engine_->export_keying_material(label, context, length);
        } catch (...) {
            return unexpected(tls_error(errc::protocol));
        }
    }

    /** Details of the stream's failure beyond its tls_error, in one line,
        or empty. For a certificate this side rejected: Botan's status
        text, the failing certificate's position in the chain (0 is the
        leaf), subject, issuer and validity dates, the name expected and
        the names the leaf presents; for certificate_reason::rejected, the
        reason the context's verification hook gave (or the text of what
        it threw); for no_certificate, which side lacked one; for a
        certificate the peer rejected, who rejected ours and its alert
        ("the server rejected our certificate: unknown_ca"). Never empty
        after a certificate failure. Valid until the stream is destroyed or
        moved from. */
    std::string_view last_error_detail() const noexcept {
        return engine_ && engine_->failed() ? std::string_view(engine_->failure_detail()) : std::string_view();
    }

    /** The stream's failure in one line, for a log: the failing call's
        tls_error::message() followed by last_error_detail(); empty while
        nothing failed. */
    std::string describe() const {
        if (!engine_ || !failed())
            return {};
        std::string text = failure().message();
        if (const auto detail = last_error_detail(); !detail.empty())
            text.append(": ").append(detail);
        return text;
    }

    /** What the last handshake negotiated (empty for a moved-from stream). */
    const session_info& info() const noexcept {
        static const session_info none{};
        return engine_ ? engine_->info() : none;
    }

    /** True while a handshake (the first one or a renegotiation) is incomplete. */
    /** Bytes of the caller's data that a write() which returned want_read
        or want_write has taken so far (committed: they are sent, never
        twice), or 0 when no write waits for its repeat. */
    std::size_t write_committed() const noexcept { return taken_; }

    /** Gives up repeating a write() that returned want_read or want_write:
        the write_committed() bytes it took stay committed and are sent
        ahead of anything written later (the next call flushes them); the
        rest of that write is the caller's again, and the next write()
        starts new data without the retry rules. Returns what was
        committed. For a layer that must report a cancelled write's count
        (an Asio write's operation_aborted). */
    std::size_t abandon_write() noexcept {
        if constexpr (checked_retry)
            fingerprint_ = 0;
        return std::exchange(taken_, 0);
    }

    /** Whether a handshake (the first, a renegotiation) is in flight: the
        next write() or read() goes on with it. */
    bool handshake_pending() const noexcept { return engine_ && engine_->handshake_in_flight(); }

    /** Bytes of decrypted application data buffered in the stream, never
        more than max_pending (plus max_held over a transport that can
        block, see max_held): a read() of that many returns without
        touching the transport. */
    std::size_t pending() const noexcept {
        return engine_ ? held_.size() - held_pos_ + engine_->plaintext_available() : 0;
    }

    /** True when read() progresses without the transport: plaintext is
        buffered (pending() > 0) or a complete record the engine has not
        processed yet (OpenSSL's SSL_has_pending). Records already received
        do not make the transport readable, so an event loop checks this
        before it waits for readiness after a read(), and read()s again
        instead. False for a moved-from stream. */
    bool has_pending() const noexcept {
        return engine_ && (held_pos_ < held_.size() || engine_->plaintext_available() > 0 || buffered_record() > 0);
    }

    /** Heap bytes the stream's own I/O buffers hold now (capacity, not
        content): 0 for an established stream gone idle when
        stream_options::release_buffers is on (see "Memory" above). Botan's
        own record buffers are not counted. */
    std::size_t buffer_capacity() const noexcept {
        return (rx_ ? rx_size : 0) + (gather_ ? max_record : 0) + held_.capacity() +
               (engine_ ? engine_->buffer_capacity() : 0);
    }

    /** The transport, for readiness waits and socket options. Reading or
        writing it directly corrupts the TLS stream. */
    /** @{ */
    transport_value& transport() noexcept { return transport_; }
    const transport_value& transport() const noexcept { return transport_; }
    /** @} */

private:
    bool failed() const noexcept { return failure_ || engine_->failed(); }
    tls_error failure() const noexcept { return failure_ ? *failure_ : engine_->error(); }

    /** Why the stream cannot be used (for writing, unless `writing` is
        false), or nothing. Reporting a failure is final: plaintext still
        buffered is dropped with it. */
    std::optional<tls_error> check_usable(bool writing = true) {
        // Inlined on the hot path; the rest is not. Called only inside
        // boundary(), which answers a moved-from stream itself.
        if (!failed() && !(writing && (engine_->local_closed() || engine_->peer_closed()))) [[likely]]
            return std::nullopt;
        return unusable();
    }

    /** Drops all buffered plaintext, held and in the engine. */
    void discard_plaintext() noexcept {
        engine_->discard_plaintext();
        held_.clear();
        held_pos_ = 0;
    }

    [[gnu::noinline]] std::optional<tls_error> unusable() {
        if (failed()) {
            discard_plaintext();
            return failure();
        }
        return tls_error(errc::closed);
    }

    /** Every public call runs through here: a moved-from stream is
        invalid_state; an exception is caught and ends the stream; a final
        error leaves no plaintext behind to surface after it. */
    template <class F>
    auto boundary(F&& f) noexcept -> std::invoke_result_t<F&> {
        using R = std::invoke_result_t<F&>;
        if (!engine_) [[unlikely]]
            return R(unexpected(tls_error(errc::invalid_state)));
        read_this_call_ = 0;
        try {
            return checked(f);  // no copy of the result: it is built where the caller wants it
        } catch (...) {
            // Allocation failure is the only exception expected here; the
            // transport's and Botan's are caught where they are raised.
            discard_plaintext();
            return R(unexpected(fail(tls_error::from_alert(alert::internal_error, false))));
        }
    }

    template <class F>
    std::invoke_result_t<F&> checked(F& f) {
        auto r = f();
        if (!r && failed()) [[unlikely]]
            discard_plaintext();
        return r;
    }

    [[nodiscard]] result<std::size_t> read_some_plaintext(std::span<std::byte> buffer) {
        // Plaintext authenticated before a failure or the peer's
        // close_notify comes first; a reported failure dropped it. What a
        // call held (max_held) arrived before the engine's.
        if constexpr (can_block) {
            if (held_pos_ < held_.size()) [[unlikely]] {
                (void)flush();
                return read_held(buffer);
            }
        }
        if (engine_->plaintext_available() > 0) {
            (void)flush();  // what is owed, if the transport takes it now
            return engine_->read_plaintext(buffer);
        }
        if (auto e = check_usable(false))
            return unexpected(*e);
        if (engine_->peer_closed())
            return unexpected(tls_error(errc::closed));
        if (buffer.empty()) {
            // Nothing to read, but owed output is sent (see flush()).
            if (auto r = flush(); !r && (r.error() != errc::want_write || control_owed_))
                return unexpected(r.error());
            return 0;
        }
        for (;;) {
            // Stuck output does not stop a read (full duplex: the peer may
            // be waiting for us to read before it reads ours).
            bool stuck = false;
            if (auto r = flush(); !r) {
                if (r.error() != errc::want_write)
                    return unexpected(r.error());
                // Records of an earlier write() are that write's business:
                // it returned want_write, and its repeat sends them. Output
                // the stream owes on its own (a handshake message, an
                // alert, a KeyUpdate) is the read's: the peer may wait for
                // it before it sends what this read waits for.
                stuck = control_owed_;
                // A transport that blocks would hold this read while that
                // output sits queued; a record already buffered needs no
                // transport read.
                if (stuck && buffered_record() == 0 && !readable_now())
                    return unexpected(r.error());
            }
            auto n = fill(buffer);
            if (n && *n > 0) {
                // Hand over replies Botan produced (a handshake answer, an
                // alert) now if the transport takes them, else on the next
                // call; a transport failure here surfaces on the next call.
                (void)flush();
                return *n;
            }
            // The caller's buffer took nothing, yet records may have landed
            // in the inbox: return them now rather than read again.
            if (engine_->plaintext_available() > 0) {
                (void)flush();
                return engine_->read_plaintext(buffer);
            }
            if (!n) {
                if (n.error() == errc::want_read && stuck)
                    return unexpected(tls_error(errc::want_write));
                return unexpected(n.error());
            }
            if (failed())
                return unexpected(failure());
            if (engine_->peer_closed()) {
                (void)flush();  // Botan's close_notify reply, if the transport takes it
                return unexpected(tls_error(errc::closed));
            }
            // A record without application data (handshake, alert, empty):
            // the next one, from the buffer or the transport; fill() ends
            // the call once the transport budget is spent.
        }
    }

    /** The current call has read its budget (max_read_per_call) from a
        transport that never waits; never over one that can block. */
    bool over_budget() const noexcept { return budgeted_reads && read_this_call_ >= max_read_per_call; }

    /** True when a transport read cannot block: a nonblocking transport,
        or one whose readiness check says bytes are there. */
    bool readable_now() noexcept {
        if constexpr (!transport_traits<transport_value>::can_block) {
            return true;
        } else if constexpr (waitable_transport<transport_value>) {
            try {
                return transport_.wait(readiness::readable, std::chrono::milliseconds(0));
            } catch (...) {
                return false;  // the read or write that follows reports the transport's trouble
            }
        } else {
            return false;
        }
    }

    using deadline_type = std::optional<std::chrono::steady_clock::time_point>;

    [[nodiscard]] result<void> close_and_wait(shutdown_mode mode, deadline_type deadline) {
        if (failed())
            return unexpected(*check_usable(false));
        run_control([&] { engine_->close(); });
        if (auto r = flush(); !r)
            return r;
        if (mode != shutdown_mode::send_and_wait)
            return {};
        while (!engine_->peer_closed()) {
            // What the peer sent before its close_notify is not wanted: it
            // is dropped, so the wait holds no more than one read's worth.
            discard_plaintext();
            // Buffered records first: they need no wait.
            if (buffered_record() == 0) {
                if (over_budget())
                    return unexpected(tls_error(errc::want_read));
                if (auto r = wait_readable(deadline); !r)
                    return r;
            }
            auto n = fill({});
            if (!n)
                return unexpected(n.error());
        }
        discard_plaintext();
        rx_begin_ = rx_end_ = 0;  // whatever followed the peer's close_notify
        release_idle_buffers();
        return {};
    }

    /** Waits, when the transport can, until it is readable or `deadline`
        passes (want_read); without a deadline, returns at once. */
    [[nodiscard]] result<void> wait_readable(deadline_type deadline) {
        if (!deadline)
            return {};
        const auto now = std::chrono::steady_clock::now();
        const auto left = *deadline > now ? std::chrono::ceil<std::chrono::milliseconds>(*deadline - now)
                                          : std::chrono::milliseconds(0);
        if constexpr (waitable_transport<transport_value>) {
            bool ready = false;
            try {
                ready = transport_.wait(readiness::readable, left);
            } catch (...) {
                return unexpected(fail(tls_error::from_transport(thrown_error())));
            }
            if (!ready)
                return unexpected(tls_error(errc::want_read));
        } else if (left.count() == 0) {
            return unexpected(tls_error(errc::want_read));
        }
        return {};
    }

    /** The write contract over any byte source: `record(offset, n)` yields
        the n bytes at `offset` of the caller's data; `identity` is what a
        fixed_buffer repeat must pass again. */
    template <class Records>
    [[nodiscard]] result<std::size_t> write_records(const void* identity, std::size_t size, Records record) {
        if (auto e = check_usable())
            return unexpected(*e);
        if (taken_ > 0 && ((!moving_buffer && identity != retry_identity_) || size < taken_))
            return unexpected(tls_error(errc::bad_write_retry));
        if constexpr (checked_retry) {
            if (taken_ > 0 && taken_fingerprint(record) != fingerprint_)
                return unexpected(tls_error(errc::bad_write_retry));
        }
        retry_identity_ = identity;
        auto r = write_loop(size, record);
        if (r || !r.error().retryable())
            taken_ = 0;
        else if constexpr (checked_retry)
            fingerprint_ = taken_ > 0 ? taken_fingerprint(record) : 0;
        return r;
    }

    /** checked_retry: a hash of the first and the last max_record bytes
        (at most) of what a write took, so that a check costs at most two
        records' worth of hashing however large the write. Not
        cryptographic: it catches a caller's mistake, not an attacker. */
    template <class Records>
    std::uint64_t taken_fingerprint(Records& record) {
        // The standard library's string hash runs compiled code of its own,
        // fast even when the caller's build is not optimised (tests and
        // debug builds, where this check is on by default).
        std::uint64_t h = 0x9E3779B97F4A7C15ull ^ taken_;
        const auto mix = [&h](std::span<const std::byte> bytes) {
            const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
            h = (h * 0x100000001B3ull) ^ std::hash<std::string_view>{}(text);
        };
        const std::size_t head = std::min(taken_, max_record);
        mix(record(0, head));
        if (taken_ > head) {
            const std::size_t tail = std::min(taken_ - head, max_record);
            mix(record(taken_ - tail, tail));
        }
        return h;
    }

    template <class Records>
    [[nodiscard]] result<std::size_t> write_loop(std::size_t size, Records& record) {
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
        bool sent = false;
        run([&] { sent = engine_->send(record); });
        // Committed: the plaintext is encrypted and queued or sent.
        if (!sent)
            return false;
        taken_ += record.size();
        return !failure_;
    }

    /** A renegotiate() or update_keys() that could not hand its message to
        the transport: its repeat only flushes, until the queue empties. */
    [[nodiscard]] result<void> owe_flush(result<void> r) {
        renegotiation_flush_owed_ = !r && r.error() == errc::want_write;
        return r;
    }

    /** Feeds the engine what the transport already holds, without waiting.
        Returns want_read when plaintext waits in the inbox and more may be
        readable: reading on would let a streaming peer grow the inbox. */
    [[nodiscard]] result<void> take_in_arrived() {
        using traits = transport_traits<transport_value>;
        constexpr bool can_ask = waitable_transport<transport_value>;
        // A transport that could block and offers no way to ask is not read.
        constexpr bool may_read_blind = traits::can_would_block && !traits::can_block;
        for (;;) {
            // Records in the receive buffer have arrived; the transport is
            // asked only when it can say without blocking. Nothing more
            // arrived: done, whatever waits for read().
            if (buffered_record() == 0) {
                if constexpr (!can_ask && !may_read_blind)
                    return {};
                if constexpr (can_ask) {
                    bool readable = false;
                    try {
                        readable = transport_.wait(readiness::readable, std::chrono::milliseconds(0));
                    } catch (...) {
                        return unexpected(fail(tls_error::from_transport(thrown_error())));
                    }
                    if (!readable)
                        return {};
                }
            }
            // More has arrived: plaintext waiting for read() stops the
            // stream from taking it in (that bounds the inbox), and so does
            // the call's budget; a blocking caller is not sent back for
            // either: the plaintext is held (bounded by max_held).
            if (engine_->plaintext_available() > 0)
                if (auto r = read_past_plaintext(); !r)
                    return r;
            if (buffered_record() == 0 && over_budget())
                return unexpected(tls_error(errc::want_read));
            auto n = fill({});
            if (!n)
                return n.error() == errc::want_read ? result<void>() : unexpected(n.error());
            if (engine_->handshake_in_flight() || engine_->peer_closed())
                return {};
        }
    }

    /** Plaintext waits for read() and the call must read on: over a
        transport that can block it is held (hold_plaintext()); over a
        nonblocking one the call returns want_read (read() it first). */
    [[nodiscard]] result<void> read_past_plaintext() {
        if constexpr (can_block)
            return hold_plaintext();
        else
            return unexpected(tls_error(errc::want_read));
    }

    /** Over a transport that can block: moves the engine's plaintext
        behind what is held already, so that the call can read on; a peer
        that makes the stream hold more than max_held ends it. */
    [[nodiscard]] result<void> hold_plaintext() {
        const std::size_t n = engine_->plaintext_available();
        if (held_pos_ > 0) {  // what read() took already
            held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(held_pos_));
            held_pos_ = 0;
        }
        if (held_.size() + n > max_held) {
            run_control([&] {
                engine_->abort(alert::unexpected_message,
                               "the peer sent more application data than the stream holds (max_held) while a call "
                               "waited for its handshake messages");
            });
            (void)flush();  // the alert, if the transport takes it
            return unexpected(failure());
        }
        // Grows geometrically, never past max_held.
        if (held_.capacity() < held_.size() + n)
            held_.reserve(std::min(max_held, std::max(held_.size() + n, 2 * held_.capacity())));
        const std::size_t at = held_.size();
        held_.resize(at + n);
        for (std::size_t got = 0; got < n;)
            got += engine_->read_plaintext(std::span(held_).subspan(at + got));
        return {};
    }

    /** read() from what a call held: as much as `buffer` takes. */
    std::size_t read_held(std::span<std::byte> buffer) noexcept {
        const std::size_t n = std::min(buffer.size(), held_.size() - held_pos_);
        if (n > 0)
            std::memcpy(buffer.data(), held_.data() + held_pos_, n);
        held_pos_ += n;
        if (held_pos_ == held_.size()) {
            held_.clear();
            held_pos_ = 0;
        }
        return n;
    }

    /** Flushes, then reads until no handshake is in flight, within one
        call's read budget and never while plaintext waits in the inbox. */
    [[nodiscard]] result<void> finish_handshake() {
        // The hot path of every write: established, nothing queued.
        if (!engine_->handshake_in_flight() && quiet()) [[likely]]
            return {};
        return finish_handshake_slow();
    }

    [[gnu::noinline]] result<void> finish_handshake_slow() {
        for (;;) {
            // A failure that came in the same transport read as the
            // handshake's last message and application data behind it:
            // the session was established, and the data is authentic, so
            // it is read first; the failure surfaces on the call after.
            // (A blocking caller is never sent back with want_read: it gets
            // the failure.)
            if (failed() && engine_->plaintext_available() > 0) [[unlikely]]
                return !engine_->handshake_in_flight() ? result<void>()
                       : can_block ? result<void>(unexpected(failure()))
                                   : result<void>(unexpected(tls_error(errc::want_read)));
            if (auto r = flush(); !r)
                return r;
            if (!engine_->handshake_in_flight())
                return {};
            // Application data a peer sent ahead of its handshake messages
            // is kept for read(); reading on before it is taken would let
            // the peer grow the inbox without limit (data, HelloRequest,
            // data, ...). A blocking caller holds it, within max_held.
            if (engine_->plaintext_available() > 0)
                if (auto r = read_past_plaintext(); !r)
                    return r;
            if (auto n = fill({}); !n)
                return unexpected(n.error());
            // Off the hot path: a handshake that just ended leaves the
            // stream idle until the caller's next move.
            if (!engine_->handshake_in_flight())
                release_idle_buffers();
        }
    }

    /** Nothing queued and nothing failed: flush() has nothing to do. */
    bool quiet() const noexcept { return engine_->output_empty() && !failure_ && !engine_->failed(); }

    /** Moves queued ciphertext to the transport until it is empty. */
    [[gnu::always_inline]] result<void> flush() {
        // The common case on the hot path (inlined): write-through left
        // nothing queued.
        if (quiet()) [[likely]]
            return {};
        return flush_queued();
    }

    [[gnu::noinline]] result<void> flush_queued() {
        for (auto out = engine_->output(); !out.empty(); out = engine_->output()) {
            auto n = transport_write(out);
            if (!n) {
                if (is_would_block(n.error()))
                    return unexpected(tls_error(errc::want_write));
                if (engine_->peer_closed()) {
                    // Only our close_notify reply is left, and a peer that
                    // closed its socket right after its own cannot take it.
                    engine_->consume_output(out.size());
                    output_sent();
                    return unexpected(tls_error(errc::closed));
                }
                return unexpected(fail(tls_error::from_transport(n.error())));
            }
            if (*n == 0 || *n > out.size())
                return unexpected(fail(tls_error::from_transport(std::make_error_code(std::errc::io_error))));
            engine_->consume_output(*n);
        }
        output_sent();
        if (failed())
            return unexpected(failure());
        return {};
    }

    /** The queue is empty: nothing is owed any more. */
    void output_sent() noexcept {
        control_owed_ = false;
        renegotiation_flush_owed_ = false;
    }

    /** Runs an engine call other than send(): output it queued (the sink
        did not take all of it) is owed by the stream itself, not by a
        write() that returned want_write. */
    template <class F>
    void run_control(F&& f) {
        const std::size_t queued = engine_->output().size();
        run(std::forward<F>(f));
        if (engine_->output().size() > queued)
            control_owed_ = true;
    }

    /** The next record of the receive buffer, fed to the engine, after a
        transport read when none is complete there; plaintext lands in
        `direct` as far as it fits, the rest in the inbox. Returns the count
        stored in `direct` (0 also when the read completed no record).

        Called only while the inbox is empty, and feeding one record at a
        time: that is what bounds the inbox at max_pending. A transport
        read is refused (want_read) once the call's budget is spent. When
        a record fails, the plaintext of the records before it has been
        returned already, and the failure is this call's. */
    [[nodiscard]] result<std::size_t> fill(std::span<std::byte> direct) {
        std::size_t n = rx_begin_ == rx_end_ ? 0 : buffered_record();
        if (n == 0) {
            if (over_budget())
                return unexpected(tls_error(errc::want_read));
            // A stream that holds no receive buffer (it went idle) reads
            // into the stack first: a message of one small record needs no
            // buffer at all.
            if (!rx_ && at_record_boundary())
                return fill_from_stack(direct);
            if (auto r = receive(); !r)
                return unexpected(r.error());
            n = buffered_record();
            if (n == 0)
                return std::size_t(0);
        }
        const std::span<const std::byte> record(rx_.get() + rx_begin_, n);
        // The engine takes all of it, whatever happens inside.
        rx_begin_ += n;
        return feed_record(record, direct);
    }

    /** fill() for a stream without a receive buffer: one transport read of
        at most idle_read_size bytes into the stack; when it brought exactly
        one record, the engine takes it from there, else the bytes move to a
        receive buffer allocated now and the record at its front is fed. */
    [[gnu::noinline]] result<std::size_t> fill_from_stack(std::span<std::byte> direct) {
        std::byte stack[idle_read_size];  // not zeroed: only what the transport wrote is read
        const std::size_t room =
            budgeted_reads ? std::min(idle_read_size, max_read_per_call - read_this_call_) : idle_read_size;
        auto n = transport_read(std::span(stack, room));
        if (auto r = check_read(n, room); !r)
            return unexpected(r.error());
        if (record_unit(stack, *n) == *n)
            return feed_record(std::span<const std::byte>(stack, *n), direct);
        rx_ = std::make_unique_for_overwrite<std::byte[]>(rx_size);
        std::memcpy(rx_.get(), stack, *n);
        rx_begin_ = 0;
        rx_end_ = *n;
        const std::size_t unit = buffered_record();
        if (unit == 0)
            return std::size_t(0);
        rx_begin_ += unit;
        return feed_record(std::span<const std::byte>(rx_.get(), unit), direct);
    }

    /** The engine holds no partial record: Botan 2 then needs nothing,
        Botan 3 asks for a record header (5 bytes). The rest of a record it
        holds the start of is never 5 bytes: an AEAD record's body is
        longer. */
    bool at_record_boundary() const noexcept {
        const std::size_t need = engine_->awaiting();
        return need == 0 || need == 5;
    }

    /** Feeds one record, already taken off the receive buffer, to the engine. */
    [[nodiscard]] result<std::size_t> feed_record(std::span<const std::byte> record, std::span<std::byte> direct) {
        std::size_t delivered = 0;
        run_control([&] { delivered = engine_->feed(record, direct); });
        if (rx_begin_ == rx_end_)
            rx_begin_ = rx_end_ = 0;
        if (failed()) [[unlikely]] {
            // Botan queued an alert for the peer: a best effort to deliver it.
            (void)flush();
            if (delivered > 0 || engine_->plaintext_available() > 0)
                return delivered;
            return unexpected(failure());
        }
        return delivered;
    }

    /** Length of the complete unit at the front of the receive buffer that
        the engine takes next, or 0 when none is complete: the rest of a
        record Botan holds the beginning of (only after a header it read
        differently, such as an SSLv2 hello), else one record by its
        header; a header unlike any TLS 1.2 record's (a content type other
        than 20 to 23, a version other than 3.x, a length over the
        maximum) alone, so that Botan answers it as it would: with its
        alert, or by saying how much it needs. */
    std::size_t buffered_record() const noexcept {
        const std::size_t available = rx_end_ - rx_begin_;
        if (const std::size_t unit = engine_->awaiting(); unit > 0)
            return available >= unit ? unit : 0;
        return record_unit(rx_.get() + rx_begin_, available);
    }

    /** Length of the record (or lone odd header) at the front of the
        `available` bytes at `p` when all of it is there, else 0. */
    static std::size_t record_unit(const std::byte* p, std::size_t available) noexcept {
        if (available < 5)
            return 0;
        const std::size_t length = std::to_integer<std::size_t>(p[3]) << 8 | std::to_integer<std::size_t>(p[4]);
        const auto type = std::to_integer<unsigned>(p[0]);
        const bool framed = type >= 20 && type <= 23 && p[1] == std::byte{3} && length <= max_wire_record - 5;
        const std::size_t unit = framed ? 5 + length : 5;
        return available >= unit ? unit : 0;
    }

    /** One transport read into the receive buffer, behind the partial
        record it holds (moved to the front): as much as the buffer has
        room for (rx_read_size or more), within the call's budget. */
    [[nodiscard]] result<void> receive() {
        if (!rx_) {  // not zeroed: only what the transport wrote is read
            rx_ = std::make_unique_for_overwrite<std::byte[]>(rx_size);
            rx_begin_ = rx_end_ = 0;
        } else if (rx_begin_ > 0) {
            std::memmove(rx_.get(), rx_.get() + rx_begin_, rx_end_ - rx_begin_);
            rx_end_ -= rx_begin_;
            rx_begin_ = 0;
        }
        // A partial record is shorter than a unit, so there is room for
        // a full read (an SSLv2 hello's unit is longer: still room).
        const std::size_t room =
            budgeted_reads ? std::min(rx_size - rx_end_, max_read_per_call - read_this_call_) : rx_size - rx_end_;
        auto n = transport_read(std::span(rx_.get() + rx_end_, room));
        if (auto r = check_read(n, room); !r)
            return r;
        rx_end_ += *n;
        return {};
    }

    /** What a transport read of at most `room` bytes returned, as the
        stream sees it: bytes (counted against the call's budget), or
        want_read (the stream is idle: its buffers go), or a failure. */
    [[nodiscard]] result<void> check_read(const io_result& n, std::size_t room) {
        if (!n) {
            if (is_would_block(n.error())) {
                // Nothing to read: idle, as far as the stream can tell.
                release_idle_buffers();
                return unexpected(tls_error(errc::want_read));
            }
            return unexpected(fail(tls_error::from_transport(n.error())));
        }
        if (*n > room)
            return unexpected(fail(tls_error::from_transport(std::make_error_code(std::errc::io_error))));
        if (*n == 0) {
            if (engine_->peer_closed())
                return unexpected(tls_error(errc::closed));
            return unexpected(fail(tls_error(errc::truncated)));
        }
        read_this_call_ += *n;
        return {};
    }

    /** The transport's calls, with an exception turned into its error. */
    [[nodiscard]] io_result transport_read(std::span<std::byte> in) noexcept {
        try {
            return transport_.read_some(in);
        } catch (...) {
            return unexpected(thrown_error());
        }
    }
    [[nodiscard]] io_result transport_write(std::span<const std::byte> out) noexcept {
        try {
            return transport_.write_some(out);
        } catch (...) {
            return unexpected(thrown_error());
        }
    }

    /** The error_code of the exception being handled: a system_error's own, else io_error. */
    static std::error_code thrown_error() noexcept {
        try {
            throw;
        } catch (const std::system_error& e) {
            return e.code();
        } catch (...) {
            return std::make_error_code(std::errc::io_error);
        }
    }

    /** Runs an engine call with write-through: ciphertext it emits goes
        straight to the transport while nothing is queued ahead of it.
        Every engine call that can emit runs through here, so the sink
        always names this stream (it moves with the stream) when it is used. */
    template <class F>
    void run(F&& f) {
        engine_->set_sink({this, &write_through});
        f();
    }

    static std::size_t write_through(void* self, std::span<const std::byte> bytes) {
        auto& s = *static_cast<tls_stream*>(self);
        if (!s.failure_) [[likely]] {
            // The common case: the transport takes the record at once.
            auto n = s.transport_write(bytes);
            if (n && *n == bytes.size()) [[likely]]
                return bytes.size();
            return write_through_rest(s, bytes, n);
        }
        return 0;
    }

    [[gnu::noinline]] static std::size_t write_through_rest(tls_stream& s, std::span<const std::byte> bytes,
                                                           io_result first) {
        std::size_t done = 0;
        for (bool again = false; done < bytes.size() && !s.failure_; again = true) {
            auto n = again ? s.transport_write(bytes.subspan(done)) : std::move(first);
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

    /** With release_buffers, frees the I/O buffers that hold nothing. */
    void release_idle_buffers() noexcept {
        if (!release_buffers_)
            return;
        if (rx_begin_ == rx_end_) {
            rx_.reset();
            rx_begin_ = rx_end_ = 0;
        }
        gather_.reset();
        if (held_.empty())
            std::vector<std::byte>().swap(held_);
        engine_->release_buffers();
    }

    tls_error fail(tls_error e) noexcept {
        if (!failure_)
            failure_ = e;
        return *failure_;
    }

    Transport transport_;
    std::unique_ptr<detail::engine> engine_;
    std::unique_ptr<std::byte[]> rx_;       // allocated by receive(), freed by release_idle_buffers()
    std::size_t rx_begin_ = 0;              // rx_[rx_begin_, rx_end_): received, not yet fed to the engine
    std::size_t rx_end_ = 0;
    std::optional<tls_error> failure_;
    std::unique_ptr<std::byte[]> gather_;  // packs small gather-write buffers into one record
    std::vector<std::byte> held_;           // plaintext a blocking call read past (max_held), for read()
    std::size_t held_pos_ = 0;              // held_[held_pos_, end) not yet read
    const void* retry_identity_ = nullptr;  // the data of a write that returned want_*
    std::size_t taken_ = 0;                 // bytes of that data already committed
    std::size_t read_this_call_ = 0;        // ciphertext read by the current public call
    bool renegotiation_flush_owed_ = false; // renegotiate() or update_keys() returned want_write
    bool release_buffers_ = true;           // stream_options::release_buffers
    bool control_owed_ = false;             // queued output holds more than write()'s records
    struct no_fingerprint {};
    // checked_retry: taken_fingerprint() of the write that returned want_*.
    [[no_unique_address]] std::conditional_t<checked_retry, std::uint64_t, no_fingerprint> fingerprint_{};
};

}  // namespace tlsw

#endif
