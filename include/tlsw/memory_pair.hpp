#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_MEMORY_PAIR_HPP
#define TLSW_MEMORY_PAIR_HPP

/** @file
    tlsw::memory_pair and blocking_memory_pair: two connected
    in-process transports, for tests and for pipelines within one program. */

#include <tlsw/transport.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace tlsw {

namespace detail {

/** A fixed-capacity FIFO of bytes; allocates once. */
class byte_ring {
public:
    explicit byte_ring(std::size_t capacity) : buf_(capacity) {}

    std::size_t size() const noexcept { return size_; }
    std::size_t space() const noexcept { return buf_.size() - size_; }

    std::size_t push(std::span<const std::byte> in) noexcept {
        const std::size_t n = std::min(in.size(), space());
        const std::size_t tail = (head_ + size_) % buf_.size();
        const std::size_t first = std::min(n, buf_.size() - tail);
        std::memcpy(buf_.data() + tail, in.data(), first);
        std::memcpy(buf_.data(), in.data() + first, n - first);
        size_ += n;
        return n;
    }

    std::size_t pop(std::span<std::byte> out) noexcept {
        const std::size_t n = std::min(out.size(), size_);
        const std::size_t first = std::min(n, buf_.size() - head_);
        std::memcpy(out.data(), buf_.data() + head_, first);
        std::memcpy(out.data() + first, buf_.data(), n - first);
        head_ = (head_ + n) % buf_.size();
        size_ -= n;
        return n;
    }

private:
    std::vector<std::byte> buf_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

/** Both directions of a pair, shared by its two ends. */
struct pair_state {
    explicit pair_state(std::size_t capacity) : ring{byte_ring(capacity), byte_ring(capacity)} {}

    std::mutex mutex;
    std::condition_variable changed;
    byte_ring ring[2];           // ring[i] carries bytes written by end i
    bool write_closed[2] = {};   // end i will write no more: its peer reads EOF when drained
    bool read_closed[2] = {};    // end i will read no more: its peer's writes fail
    int waiters = 0;             // threads in wait(): notify only when someone listens

    template <class Lock, class Ready>
    void wait(Lock& lock, Ready ready) {
        ++waiters;
        changed.wait(lock, ready);
        --waiters;
    }
    template <class Lock, class Ready>
    bool wait_for(Lock& lock, std::chrono::milliseconds timeout, Ready ready) {
        ++waiters;
        const bool ok = changed.wait_for(lock, timeout, ready);
        --waiters;
        return ok;
    }
    void notify() {
        if (waiters > 0)
            changed.notify_all();
    }
};

}  // namespace detail

/** An in-process duplex byte stream: two connected ends, each direction a
    bounded buffer.

    With `Blocking == false` (memory_pair) an end behaves like a nonblocking
    socket or OpenSSL's BIO pair: read_some returns would_block() when its
    direction is empty, write_some when it is full. With `Blocking == true`
    (blocking_memory_pair) the same calls wait instead, for tests where each
    end runs in its own thread.

    An end closes its side when destroyed or on close(): the other end then
    reads what is left and then EOF, and its writes fail with broken_pipe.
    The two ends may be used from two threads; one end from one thread at a
    time.
*/
template <bool Blocking>
class basic_memory_pair {
public:
    /** One end of the pair: a transport (tlsw/transport.hpp). Move-only;
        destroying it closes its side. */
    class end {
    public:
        static constexpr bool can_block = Blocking;         ///< Reads and writes wait (blocking pair).
        static constexpr bool can_would_block = !Blocking;  ///< Reads and writes report would-block (nonblocking pair).

        /** Takes other's side; other is closed-and-detached after. */
        end(end&& other) noexcept : state_(std::move(other.state_)), side_(other.side_) {}
        /** Closes this end's side first, then takes other's. */
        end& operator=(end&& other) noexcept {
            if (this != &other) {
                close();
                state_ = std::move(other.state_);
                side_ = other.side_;
            }
            return *this;
        }
        ~end() { close(); }

        /** Reads up to in.size() bytes. Returns the count, 0 at EOF (the
            peer closed and everything it wrote was read), or would_block()
            (nonblocking only) when nothing is buffered. A blocking end
            waits until bytes arrive or the peer closes. */
        [[nodiscard]] io_result read_some(std::span<std::byte> in) {
            if (!state_)
                return unexpected(std::make_error_code(std::errc::bad_file_descriptor));
            if (in.empty())
                return 0;
            std::unique_lock lock(state_->mutex);
            auto& ring = state_->ring[1 - side_];
            if constexpr (Blocking)
                state_->wait(lock, [&] { return ring.size() > 0 || state_->write_closed[1 - side_]; });
            if (ring.size() == 0) {
                if (state_->write_closed[1 - side_])
                    return 0;
                return unexpected(would_block());
            }
            const std::size_t n = ring.pop(in);
            state_->notify();
            return n;
        }

        /** Writes up to out.size() bytes into the bounded buffer. Returns
            the count taken, would_block() (nonblocking only) when the buffer
            is full, or broken_pipe once the peer closed. A blocking end
            waits until there is room. */
        [[nodiscard]] io_result write_some(std::span<const std::byte> out) {
            if (!state_)
                return unexpected(std::make_error_code(std::errc::bad_file_descriptor));
            if (out.empty())
                return 0;
            std::unique_lock lock(state_->mutex);
            auto& ring = state_->ring[side_];
            if constexpr (Blocking)
                state_->wait(lock, [&] {
                    return ring.space() > 0 || state_->read_closed[1 - side_] || state_->write_closed[side_];
                });
            if (state_->read_closed[1 - side_] || state_->write_closed[side_])
                return unexpected(std::make_error_code(std::errc::broken_pipe));
            if (ring.space() == 0)
                return unexpected(would_block());
            const std::size_t n = ring.push(out);
            state_->notify();
            return n;
        }

        /** Waits until read_some or write_some would not return
            would_block(), or the timeout passes (negative: no limit).
            Returns true when ready. */
        bool wait(readiness r, std::chrono::milliseconds timeout) {
            if (!state_)
                return true;
            std::unique_lock lock(state_->mutex);
            auto ready = [&] {
                if (r == readiness::readable)
                    return state_->ring[1 - side_].size() > 0 || state_->write_closed[1 - side_];
                return state_->ring[side_].space() > 0 || state_->read_closed[1 - side_] || state_->write_closed[side_];
            };
            if (timeout.count() < 0) {
                state_->wait(lock, ready);
                return true;
            }
            return state_->wait_for(lock, timeout, ready);
        }

        /** Bytes the peer wrote that this end has not read yet. */
        std::size_t available() const {
            if (!state_)
                return 0;
            std::lock_guard lock(state_->mutex);
            return state_->ring[1 - side_].size();
        }

        /** Ends the write direction only: the peer reads EOF once it has
            read what was written (shutdown(SHUT_WR)). */
        void shutdown_write() {
            if (!state_)
                return;
            std::lock_guard lock(state_->mutex);
            state_->write_closed[side_] = true;
            state_->notify();
        }

        /** Closes both directions; later calls fail with bad_file_descriptor. */
        void close() {
            if (!state_)
                return;
            {
                std::lock_guard lock(state_->mutex);
                state_->write_closed[side_] = true;
                state_->read_closed[side_] = true;
                state_->notify();
            }
            state_.reset();
        }

    private:
        friend class basic_memory_pair;
        end(std::shared_ptr<detail::pair_state> state, int side) : state_(std::move(state)), side_(side) {}

        std::shared_ptr<detail::pair_state> state_;
        int side_ = 0;
    };

    /** Two connected ends, each direction buffering at most `capacity` bytes. */
    static std::pair<end, end> make(std::size_t capacity = 64 * 1024) {
        auto state = std::make_shared<detail::pair_state>(std::max<std::size_t>(capacity, 1));
        return {end(state, 0), end(state, 1)};
    }
};

/** Nonblocking in-process pair: would_block() when a direction is full or empty. */
using memory_pair = basic_memory_pair<false>;
/** Blocking in-process pair, for tests with one thread per end. */
using blocking_memory_pair = basic_memory_pair<true>;

static_assert(nonblocking_transport<memory_pair::end>);
static_assert(blocking_transport<blocking_memory_pair::end>);

}  // namespace tlsw

#endif
