// Fuzz target: sequences of API calls, with the write contract as oracle.
//
// Input: the 4-byte header of fuzz_common.hpp (policy combination, whether
// the server allows client renegotiation, memory_pair capacity, the fault
// plan of both transports), then operations, each an opcode byte (bit 0:
// client or server; the rest, modulo the count, one of `op` below) and its
// argument bytes. A tlsw client and server run them over fault_transports
// on one memory_pair: writes and gather writes of fresh data, repeats
// after want_* with the same buffer, a moved copy, a shorter or a longer
// length, reads of any size, handshake, renegotiate, both shutdowns, empty
// writes, and healing a transport. At the end both transports heal and
// the pair is drained. What is checked, on every call:
// - every byte a successful write reported arrives at the peer once and
//   in order (and nothing else arrives);
// - bad_write_retry comes only for a real mismatch (a different buffer
//   under fixed_buffer, a length shorter than what the peer already
//   received), and always for one the peer's received bytes prove;
// - failure is final: after transport, protocol, certificate or truncated,
//   every call returns an error and no plaintext comes out; after closed,
//   reads (or writes) stay closed; after shutdown(), writes fail;
// - handshake() and write() succeed only on an established session; read()
//   never returns want_* while plaintext is buffered, nor 0 or more than
//   asked; nothing throws. Run: see README.md in this directory.

#include "fuzz_common.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

namespace {

using tlsw::errc;
using tlsw_fuzz::violation;

enum class op : unsigned {
    write_new,      // u16 length: a fresh buffer (under fixed_buffer also while one is pending: a mismatch)
    gather_new,     // byte pieces, u16 length: a fresh gather write
    retry_same,     // repeat the pending write exactly
    retry_moved,    // the same bytes at a new address (moving_buffer: correct; fixed_buffer: a mismatch)
    retry_shorter,  // byte k: the same buffer, k+1 bytes shorter
    retry_longer,   // byte k: the same buffer, k+1 bytes longer
    read,           // u16 buffer size (0 allowed)
    handshake,
    renegotiate,
    shutdown_send,
    shutdown_wait,
    empty_write,
    heal,           // the side's transport stops injecting faults
    count,
};

constexpr const char* op_names[] = {"write_new", "gather_new", "retry_same", "retry_moved", "retry_shorter",
                                   "retry_longer", "read", "handshake", "renegotiate", "shutdown_send",
                                   "shutdown_wait", "empty_write", "heal"};

struct cursor {
    std::span<const std::uint8_t> in;
    std::uint8_t byte() {
        if (in.empty())
            return 0;
        const std::uint8_t b = in.front();
        in = in.subspan(1);
        return b;
    }
    unsigned u16() {
        const unsigned lo = byte();
        return lo | (unsigned(byte()) << 8);
    }
};

/** One write's arguments. Kept alive for the whole input so that no two
    writes share an address (a reused address would look like a correct
    fixed_buffer repeat). */
struct write_call {
    std::vector<std::byte> storage;  // the data, with room for retry_longer
    std::size_t len = 0;
    bool gather = false;
    std::size_t piece_count = 1;
    std::vector<std::span<const std::byte>> pieces;  // gather: the buffer array, its address the identity

    std::span<const std::byte> data() const { return {storage.data(), len}; }
    const void* identity() const { return gather ? static_cast<const void*>(pieces.data()) : storage.data(); }

    /** Splits [0, len) into piece_count buffers, in place (the array keeps its address). */
    void split() {
        pieces.clear();
        std::size_t at = 0;
        for (std::size_t i = 0; i < piece_count; ++i) {
            const std::size_t left = len - at;
            const std::size_t n = i + 1 == piece_count ? left : std::min(left, (len / piece_count) + (i % 3) * 7);
            pieces.emplace_back(storage.data() + at, n);
            at += n;
        }
    }
};

template <class Stream>
struct side {
    explicit side(Stream& stream) : s(stream) {}
    Stream& s;
    std::vector<std::byte> completed;     // what this side's successful writes reported, in order
    std::shared_ptr<write_call> pending;  // the write that returned want_*: what a repeat must match
    // After a write failed for good: the data of which a prefix may still
    // go out (bytes the stream had committed) - that call's, or the pending
    // write's when the failing call was another buffer.
    std::vector<std::vector<std::byte>> ghosts;
    std::vector<std::byte> received;      // what this side's reads returned
    bool fatal = false;
    bool read_closed = false;   // read() returned closed
    bool write_closed = false;  // write() returned closed
    bool shut = false;          // shutdown() was called
};

template <class P>
class api_run {
    using stream = typename P::template stream<tlsw_fuzz::faulty_end>;
    static constexpr bool fixed = !stream::moving_buffer;

public:
    api_run(const tlsw_fuzz::config& c, std::span<const std::uint8_t> ops)
        : sctx_(tlsw_fuzz::server_context(c)),
          cctx_(tlsw_fuzz::client_context()),
          ends_(tlsw::memory_pair::make(c.capacity)),
          client_(cctx_, tlsw_fuzz::faulty_end(std::move(ends_.first), c.faults), tlsw_fuzz::localhost()),
          server_(sctx_, tlsw_fuzz::faulty_end(std::move(ends_.second), server_plan(c.faults))),
          in_{ops} {}

    void run() {
        for (int steps = 0; !in_.in.empty() && steps < 4096; ++steps) {
            const std::uint8_t code = in_.byte();
            auto& me = (code & 1) ? s_ : c_;
            auto& peer = (code & 1) ? c_ : s_;
            const auto o = static_cast<op>((code >> 1) % unsigned(op::count));
            tlsw_fuzz::trace("%s %s\n", (code & 1) ? "server" : "client", op_names[unsigned(o)]);
            step(me, peer, o);
        }
        tlsw_fuzz::trace("drain\n");
        drain();
    }

private:
    static tlsw::testing::fault_plan server_plan(tlsw::testing::fault_plan p) {
        p.seed = p.seed * 31 + 7;  // the same kind of faults, not the same sequence
        return p;
    }

    std::shared_ptr<write_call> fresh(std::size_t len, bool gather, std::size_t pieces) {
        auto call = std::make_shared<write_call>();
        call->storage = tlsw_fuzz_pattern(len + 1024);
        call->len = len;
        call->gather = gather;
        call->piece_count = std::max<std::size_t>(pieces, 1);
        call->pieces.reserve(16);
        if (gather)
            call->split();
        keep_.push_back(call);
        return call;
    }

    std::vector<std::byte> tlsw_fuzz_pattern(std::size_t n) { return tlsw_test::pattern(n, ++writes_); }

    void step(side<stream>& me, side<stream>& peer, op o) {
        switch (o) {
        case op::write_new:
        case op::gather_new: {
            const bool gather = o == op::gather_new;
            const std::size_t pieces = gather ? 1 + in_.byte() % 8 : 1;
            const std::size_t len = in_.u16() % 40001;
            // Under moving_buffer a new buffer while one is pending is the
            // caller breaking the contract in a way no stream can detect.
            if (me.pending && !fixed)
                return;
            write(me, peer, fresh(len, gather, pieces));
            return;
        }
        case op::retry_same:
            if (me.pending)
                write(me, peer, me.pending);
            return;
        case op::retry_moved:
            if (me.pending) {
                auto call = std::make_shared<write_call>(*me.pending);  // copies the bytes to a new address
                call->pieces.reserve(16);
                if (call->gather) {
                    call->piece_count = call->piece_count % 8 + 1;  // another split of the same bytes
                    call->split();
                }
                keep_.push_back(call);
                write(me, peer, call);
            }
            return;
        case op::retry_shorter: {
            const std::size_t k = 1 + in_.byte();
            if (me.pending && me.pending->len > 0) {
                // Cut in place: the same buffer (address), a shorter length.
                const auto call = me.pending;
                const std::size_t len = call->len;
                call->len -= std::min(k, len);
                if (call->gather)
                    call->split();
                if (write(me, peer, call, len) && me.pending == call) {
                    call->len = len;  // refused: the pending write keeps its length
                    if (call->gather)
                        call->split();
                }
            }
            return;
        }
        case op::retry_longer: {
            const std::size_t k = 1 + in_.byte();
            if (me.pending) {
                const auto call = me.pending;
                const std::size_t len = call->len;
                call->len = std::min(len + k, call->storage.size());
                if (call->gather)
                    call->split();
                if (write(me, peer, call, len) && me.pending == call) {
                    call->len = len;
                    if (call->gather)
                        call->split();
                }
            }
            return;
        }
        case op::read: read(me, peer, in_.u16() % 20001); return;
        case op::handshake: {
            const bool was_fatal = me.fatal;
            auto r = me.s.handshake();
            if (r)
                FUZZ_CHECK(tlsw_fuzz::established(me.s), "handshake() succeeded before a session was established");
            after(me, r, was_fatal, "handshake() succeeded after a fatal error");
            return;
        }
        case op::renegotiate: {
            const bool was_fatal = me.fatal;
            auto r = me.s.renegotiate();
            after(me, r, was_fatal, "renegotiate() succeeded after a fatal error");
            return;
        }
        case op::shutdown_send:
        case op::shutdown_wait: {
            const bool was_fatal = me.fatal;
            auto r = me.s.shutdown(o == op::shutdown_send ? tlsw::shutdown_mode::send : tlsw::shutdown_mode::send_and_wait);
            me.shut = true;
            after(me, r, was_fatal, "shutdown() succeeded after a fatal error");
            return;
        }
        case op::empty_write: {
            if (me.pending && !fixed)
                return;  // a new (empty) buffer while one is pending: see write_new
            write(me, peer, fresh(0, false, 1));
            return;
        }
        case op::heal: me.s.transport().heal(); return;
        case op::count: return;
        }
    }

    template <class R>
    void after(side<stream>& me, const R& r, bool was_fatal, const char* what) {
        tlsw_fuzz::trace("  %s\n", r ? "ok" : r.error().message().c_str());
        if (was_fatal)
            FUZZ_CHECK(!r, what);
        if (!r && tlsw_fuzz::is_fatal(r.error()))
            me.fatal = true;
    }

    /** One write call and everything the contract says about its result.
        `pending_len`: the pending write's length when `call` is that write
        resized in place. Returns true when the call got bad_write_retry. */
    bool write(side<stream>& me, side<stream>& peer, const std::shared_ptr<write_call>& call,
               std::optional<std::size_t> pending_len = std::nullopt) {
        const bool was_fatal = me.fatal;
        const std::shared_ptr<write_call> had = me.pending;
        const std::size_t had_len = pending_len ? *pending_len : (had ? had->len : 0);
        // Bytes of the pending write the peer already holds: the stream took them.
        const std::size_t arrived =
            had && peer.received.size() > me.completed.size() ? peer.received.size() - me.completed.size() : 0;
        const bool same_identity = had && call->identity() == had->identity();
        const bool same_bytes = had && call->storage == had->storage;  // moved copies keep the bytes
        const bool correct_repeat = had && (fixed ? same_identity : same_bytes) && call->len >= had_len;
        const bool must_reject = had && arrived > 0 && ((fixed && !same_identity) || call->len < arrived);

        auto r = call->gather ? me.s.write(call->pieces) : me.s.write(call->data());
        tlsw_fuzz::trace("  write %zu bytes%s: %s\n", call->len, call->gather ? " (gather)" : "",
                         r ? std::to_string(*r).c_str() : r.error().message().c_str());

        if (was_fatal)
            FUZZ_CHECK(!r, "write() succeeded after a fatal error");
        if (me.write_closed)
            FUZZ_CHECK(!r, "write() succeeded after it returned closed");
        if (me.shut)
            FUZZ_CHECK(!r, "write() succeeded after shutdown()");
        if (!r && r.error() == errc::bad_write_retry) {
            FUZZ_CHECK(had, "bad_write_retry with no write pending");
            FUZZ_CHECK(!correct_repeat, "bad_write_retry for a correct repeat");
            return true;  // the pending write stands; the correct repeat may follow
        }
        FUZZ_CHECK(!must_reject || (!r && !r.error().retryable()),
                   "a mismatched repeat was accepted after the peer received bytes of the first write");
        if (r) {
            const std::size_t n = *r;
            FUZZ_CHECK(tlsw_fuzz::established(me.s), "write() succeeded before a session was established");
            if (stream::partial_write) {
                FUZZ_CHECK(n <= std::min(call->len, stream::max_record), "partial write() returned more than one record");
                FUZZ_CHECK(call->len == 0 || n > 0, "partial write() returned 0 for non-empty data");
            } else {
                FUZZ_CHECK(n == call->len, "full write() returned less than the whole buffer");
            }
            FUZZ_CHECK(n >= arrived, "write() reported fewer bytes than the peer already received");
            me.completed.insert(me.completed.end(), call->storage.begin(), call->storage.begin() + std::ptrdiff_t(n));
            me.pending.reset();
            return false;
        }
        if (r.error().retryable()) {
            me.pending = call;
            return false;
        }
        // Candidates add up: a later failing call cannot take back what an
        // earlier pending write committed.
        // A call resized in place may have been taken at its old length.
        const std::size_t took = had == call ? std::max(call->len, had_len) : call->len;
        me.ghosts.emplace_back(call->storage.begin(), call->storage.begin() + std::ptrdiff_t(took));
        if (had && had != call)
            me.ghosts.emplace_back(had->storage.begin(), had->storage.begin() + std::ptrdiff_t(had_len));
        me.pending.reset();
        if (tlsw_fuzz::is_fatal(r.error()))
            me.fatal = true;
        if (r.error() == errc::closed)
            me.write_closed = true;
        return false;
    }

    /** One read call; what arrives must continue what the peer's writes sent. */
    bool read(side<stream>& me, side<stream>& peer, std::size_t size) {
        buf_.resize(std::max<std::size_t>(size, 1));
        const std::span<std::byte> into(buf_.data(), size);
        const bool was_fatal = me.fatal;
        const bool was_closed = me.read_closed;
        auto r = me.s.read(into);
        tlsw_fuzz::trace("  read %zu: %s\n", size, r ? std::to_string(*r).c_str() : r.error().message().c_str());
        tlsw_fuzz::check_read(me.s, r, size);
        if (!r) {
            if (r.error() == errc::closed)
                me.read_closed = true;
            else if (tlsw_fuzz::is_fatal(r.error()))
                me.fatal = true;
            return false;
        }
        FUZZ_CHECK(!was_fatal, size > 0 ? "read() returned data after a fatal error"
                                        : "read() of an empty buffer succeeded after a fatal error");
        FUZZ_CHECK(!was_closed, "read() succeeded after it returned closed");
        // The stream the peer sent: its completed writes, then a prefix of
        // its pending write (or of a failed write's data).
        const std::size_t start = me.received.size();
        me.received.insert(me.received.end(), into.begin(), into.begin() + std::ptrdiff_t(*r));
        const std::size_t done = peer.completed.size();
        for (std::size_t at = start; at < std::min(done, me.received.size()); ++at)
            FUZZ_CHECK(me.received[at] == peer.completed[at],
                       "read() returned bytes out of order, twice, or not the ones written");
        if (me.received.size() > done) {
            const std::span<const std::byte> beyond = std::span<const std::byte>(me.received).subspan(done);
            auto continues = [&](std::span<const std::byte> data) {
                return beyond.size() <= data.size() && std::equal(beyond.begin(), beyond.end(), data.begin());
            };
            bool ok = peer.pending && continues(peer.pending->data());
            for (const auto& g : peer.ghosts)
                ok = ok || (!peer.pending && continues(g));
            FUZZ_CHECK(ok, "read() returned bytes no write sent (out of order, twice, or never written)");
        }
        return *r > 0;
    }

    /** Heals both transports and runs both sides until the bytes in flight
        have arrived; then every byte a write reported must have arrived,
        unless a side failed, or the reader shut down (TLS 1.2 lets it drop
        what comes after its close_notify). */
    void drain() {
        client_.transport().heal();
        server_.transport().heal();
        // Progress is bytes through either transport or out of either
        // stream (a read of buffered plaintext moves no transport bytes); a
        // round without any is idle, and a few idle rounds in a row mean
        // the pair is drained.
        auto moved = [&] {
            const auto& a = client_.transport().counters();
            const auto& b = server_.transport().counters();
            return a.bytes_read + a.bytes_written + b.bytes_read + b.bytes_written + c_.received.size() +
                   s_.received.size() + c_.completed.size() + s_.completed.size();
        };
        int idle = 0;
        for (int round = 0; round < 20000 && idle < 8; ++round) {
            const auto before = moved();
            for (auto* p : {&c_, &s_}) {
                auto& me = *p;
                auto& peer = p == &c_ ? s_ : c_;
                if (me.pending && !me.fatal)
                    write(me, peer, me.pending);
                if (!me.fatal && !me.read_closed)
                    read(me, peer, 20000);
            }
            idle = moved() != before ? 0 : idle + 1;
        }
        check_arrived(c_, s_);
        check_arrived(s_, c_);
    }

    void check_arrived(side<stream>& reader, side<stream>& writer) {
        tlsw_fuzz::trace("arrived %zu of %zu reported (reader: fatal %d shut %d closed %d, writer: fatal %d shut %d)\n",
                         reader.received.size(), writer.completed.size(), reader.fatal, reader.shut,
                         reader.read_closed, writer.fatal, writer.shut);
        tlsw_fuzz::trace("  reader: pending %zu, handshake %d, transport holds %zu; writer: handshake %d, "
                         "transport holds %zu, handshakes %u/%u, refused %u/%u\n",
                         reader.s.pending(), reader.s.handshake_pending(), reader.s.transport().next().available(),
                         writer.s.handshake_pending(), writer.s.transport().next().available(),
                         reader.s.info().handshakes, writer.s.info().handshakes,
                         reader.s.info().renegotiations_refused, writer.s.info().renegotiations_refused);
        if (reader.fatal || writer.fatal || reader.shut || reader.received.size() >= writer.completed.size())
            return;
        // Both sides stuck on want_write, each waiting for the other to read
        // (issue 8 item 4), or bytes lost some other way.
        std::byte none[1];
        auto r = reader.s.read(std::span(none, 1));
        const bool deadlock = !r && r.error() == errc::want_write && reader.s.transport().next().available() > 0;
        if (deadlock)
            return violation("full-duplex deadlock: read() returns want_write while the peer's bytes wait, so "
                             "bytes a successful write reported never arrive",
                             __FILE__, __LINE__);
        violation("bytes a successful write reported never arrived (both sides healthy, transports healed)",
                  __FILE__, __LINE__);
    }

    tlsw::context sctx_;
    tlsw::context cctx_;
    std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends_;
    stream client_;
    stream server_;
    side<stream> c_{client_};
    side<stream> s_{server_};
    cursor in_;
    std::vector<std::shared_ptr<write_call>> keep_;
    std::vector<std::byte> buf_;
    std::uint32_t writes_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tlsw_fuzz::guarded([&] {
        std::span<const std::uint8_t> in(data, size);
        const auto cfg = tlsw_fuzz::config::decode(in);
        tlsw::detail::reseed_fuzzing_rng(tlsw_fuzz::rng_seed);
        tlsw_fuzz::with_policies(cfg, [&]<class P>() { api_run<P>(cfg, in).run(); });
    });
}
