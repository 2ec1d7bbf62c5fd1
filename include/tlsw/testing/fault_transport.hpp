#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_TESTING_FAULT_TRANSPORT_HPP
#define TLSW_TESTING_FAULT_TRANSPORT_HPP

/** @file
    tlsw::testing::fault_transport: wraps a transport and injects
    seeded or scripted faults (short reads and writes, would-block, errors,
    EOF), to test code that uses tlsw. */

#include <tlsw/transport.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace tlsw::testing {

/** What a fault_transport does to one operation. */
enum class fault_kind : unsigned char {
    pass,         ///< forward to the wrapped transport (possibly capped in size)
    would_block,  ///< return would_block() without touching the wrapped transport
    eof,          ///< a read returns 0; a write fails with broken_pipe
    error,        ///< return the configured error_code
};

/** Which operation a scripted step expects. */
enum class io_op : unsigned char { read, write };

/** One step of a script: the operation expected next and what to do with it. */
struct script_step {
    io_op op;                              ///< the operation expected; another one is a script failure
    fault_kind action = fault_kind::pass;  ///< what that operation does
    std::size_t cap = 0;  ///< for pass: at most this many bytes (0: no cap)
    std::error_code error = std::make_error_code(std::errc::connection_reset);  ///< for error
};

/** A seeded plan of faults: the reproducible way to shake a stream. */
struct fault_plan {
    std::uint64_t seed = 1;  ///< the same seed, the same faults
    /** Chance, in percent, that an operation returns would_block(). */
    unsigned would_block_percent = 0;
    /** Cap each read / write at a random size from 1 to this (0: no cap). */
    std::size_t max_read = 0;   ///< cap of each read (0: no cap)
    std::size_t max_write = 0;  ///< cap of each write (0: no cap)
    /** Inject `fail_kind` at this operation number (reads and writes
        counted together from 0), once. */
    std::optional<std::uint64_t> fail_at{};
    fault_kind fail_kind = fault_kind::error;  ///< what happens at fail_at
    std::error_code fail_error = std::make_error_code(std::errc::connection_reset);  ///< for fault_kind::error
};

/** What passed through a fault_transport. */
struct fault_counters {
    std::uint64_t operations = 0;  ///< read_some and write_some calls, faulted or not
    std::uint64_t reads = 0;          ///< read_some calls
    std::uint64_t writes = 0;         ///< write_some calls
    std::uint64_t bytes_read = 0;     ///< bytes the wrapped transport delivered
    std::uint64_t bytes_written = 0;  ///< bytes the wrapped transport took
    std::uint64_t would_blocks = 0;  ///< injected would_block() results
    bool fault_hit = false;          ///< the plan's fail_at operation was reached
};

/** A transport that wraps another and misbehaves on purpose, from a seed
    or from a script: the test double that shows what a tls_stream does
    when its transport is slow, short, stalled or broken.

    Seeded mode (`fault_plan`): each operation may be capped to a random
    size down to 1 byte and may return would_block(); one chosen operation
    can fail with an error or EOF. The same seed gives the same faults.

    Scripted mode (`std::vector<script_step>`): each operation must match
    the next step, which says what to do; after the script, operations
    pass through. A mismatch, or a script left unconsumed when the
    transport is destroyed, calls the failure handler (by default: print
    to stderr and abort, so the test fails loudly). Call `unconsumed()` to
    check earlier.

    The wrapped transport is held by value; `next()` reaches it.
*/
template <transport Next>
class fault_transport {
public:
    static constexpr bool can_block = transport_traits<Next>::can_block;  ///< as the wrapped transport
    static constexpr bool can_would_block = true;  ///< injected would-blocks, whatever Next does

    /** Called with a description when a scripted run goes off its script. */
    using failure_handler = void (*)(const std::string& what);

    /** Wraps next with seeded faults. */
    fault_transport(Next next, fault_plan plan) : next_(std::move(next)), plan_(plan), rng_(plan.seed) {}

    /** Wraps next with a script: each operation must be the next step's; a
        mismatch, or steps left at destruction, calls on_failure. */
    fault_transport(Next next, std::vector<script_step> script, failure_handler on_failure = &default_failure)
        : next_(std::move(next)), script_(script.begin(), script.end()), scripted_(true), on_failure_(on_failure) {}

    /** Takes other's transport, plan, counters and script. */
    fault_transport(fault_transport&& other) noexcept
        : next_(std::move(other.next_)), plan_(other.plan_), rng_(other.rng_), counters_(other.counters_),
          script_(std::move(other.script_)), scripted_(std::exchange(other.scripted_, false)),
          on_failure_(other.on_failure_) {}
    fault_transport& operator=(fault_transport&&) = delete;

    ~fault_transport() {
        if (scripted_ && !script_.empty())
            on_failure_("fault_transport destroyed with " + std::to_string(script_.size()) +
                        " script step(s) not consumed");
    }

    /** The wrapped read_some, or the fault the plan or script says. */
    [[nodiscard]] io_result read_some(std::span<std::byte> in) {
        ++counters_.reads;
        auto [action, cap, error] = next_action(io_op::read, plan_.max_read);
        switch (action) {
        case fault_kind::would_block: ++counters_.would_blocks; return unexpected(would_block());
        case fault_kind::eof: return 0;
        case fault_kind::error: return unexpected(error);
        case fault_kind::pass: break;
        }
        auto n = next_.read_some(in.first(cap ? std::min(cap, in.size()) : in.size()));
        if (n)
            counters_.bytes_read += *n;
        return n;
    }

    /** The wrapped write_some, or the fault the plan or script says. */
    [[nodiscard]] io_result write_some(std::span<const std::byte> out) {
        ++counters_.writes;
        auto [action, cap, error] = next_action(io_op::write, plan_.max_write);
        switch (action) {
        case fault_kind::would_block: ++counters_.would_blocks; return unexpected(would_block());
        case fault_kind::eof: return unexpected(std::make_error_code(std::errc::broken_pipe));
        case fault_kind::error: return unexpected(error);
        case fault_kind::pass: break;
        }
        auto n = next_.write_some(out.first(cap ? std::min(cap, out.size()) : out.size()));
        if (n)
            counters_.bytes_written += *n;
        return n;
    }

    /** Forwards a readiness wait when the wrapped transport has one. */
    bool wait(readiness r, std::chrono::milliseconds timeout)
        requires waitable_transport<Next>
    {
        return next_.wait(r, timeout);
    }

    /** What passed through so far. */
    const fault_counters& counters() const noexcept { return counters_; }
    /** Script steps not yet consumed. */
    std::size_t unconsumed() const noexcept { return script_.size(); }
    /** The wrapped transport. */
    Next& next() noexcept { return next_; }
    /** Stops injecting anything: later operations pass through whole. */
    void heal() noexcept {
        plan_ = fault_plan{};
        script_.clear();
    }

private:
    static void default_failure(const std::string& what) {
        std::fprintf(stderr, "tlsw::testing::fault_transport: %s\n", what.c_str());
        std::abort();
    }

    struct action {
        fault_kind kind;
        std::size_t cap;
        std::error_code error;
    };

    action next_action(io_op op, std::size_t max_size) {
        const std::uint64_t index = counters_.operations++;
        if (scripted_) {
            if (script_.empty())
                return {fault_kind::pass, 0, {}};
            const script_step step = script_.front();
            script_.pop_front();
            if (step.op != op)
                on_failure_("fault_transport: operation " + std::to_string(index) + " is a " +
                            (op == io_op::read ? "read" : "write") + ", the script expected a " +
                            (step.op == io_op::read ? "read" : "write"));
            return {step.action, step.cap, step.error};
        }
        if (plan_.fail_at && *plan_.fail_at == index) {
            counters_.fault_hit = true;
            return {plan_.fail_kind, 0, plan_.fail_error};
        }
        if (plan_.would_block_percent > 0 && next_random() % 100 < plan_.would_block_percent)
            return {fault_kind::would_block, 0, {}};
        return {fault_kind::pass, max_size ? 1 + next_random() % max_size : 0, {}};
    }

    // splitmix64: the same sequence on every platform and standard library.
    std::uint64_t next_random() noexcept {
        std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    Next next_;
    fault_plan plan_{};
    std::uint64_t rng_ = 0;
    fault_counters counters_{};
    std::deque<script_step> script_;
    bool scripted_ = false;
    failure_handler on_failure_ = &default_failure;
};

}  // namespace tlsw::testing

#endif
