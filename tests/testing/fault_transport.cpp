// Test that header file is self-contained.
#include <tlsw/testing/fault_transport.hpp>

#include <tlsw/memory_pair.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using tlsw::testing::fault_kind;
using tlsw::testing::fault_plan;
using tlsw::testing::io_op;
using tlsw::testing::script_step;
using tlsw_test::bytes_of;
using tlsw_test::is_error;

using faulty = tlsw::testing::fault_transport<tlsw::memory_pair::end>;

// The plans below name `.fail_at = std::nullopt` where they need no fault:
// fault_plan::fail_at has no default member initializer, so g++ 12 with
// -Wextra (-Wmissing-field-initializers) rejects a designated initializer
// that leaves it out, under -Werror.

// A wrapped transport that cannot wait.
struct plain_transport {
    tlsw::io_result read_some(std::span<std::byte>);
    tlsw::io_result write_some(std::span<const std::byte>);
};

// The failure handler the scripted tests install instead of abort().
std::vector<std::string> failures;
void record_failure(const std::string& what) { failures.push_back(what); }

std::vector<std::byte> counting_bytes(std::size_t n) {
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::byte>(i * 7 + 3);
    return out;
}

bool is_would_block(const tlsw::io_result& r) {
    return !r.has_value() && tlsw::is_would_block(r.error());
}

// A plan that only injects would_block, `percent` of the time.
fault_plan blocking_plan(std::uint64_t seed, unsigned percent) {
    return fault_plan{.seed = seed, .would_block_percent = percent, .fail_at = std::nullopt};
}

// Runs `ops` alternating writes (even) and reads (odd) through a transport
// made from `plan`, with the peer keeping bytes available, and returns
// which operations came back would_block.
std::vector<bool> would_block_pattern(fault_plan plan, int ops) {
    auto [a, b] = tlsw::memory_pair::make(1 << 20);
    const auto supply = counting_bytes(64 * 1024);
    REQUIRE(b.write_some(supply).value() == supply.size());
    faulty t(std::move(a), plan);
    std::vector<bool> pattern;
    std::byte buf[16];
    for (int i = 0; i < ops; ++i) {
        auto r = i % 2 == 0 ? t.write_some(std::span(supply).first(16)) : t.read_some(buf);
        pattern.push_back(is_would_block(r));
        if (!pattern.back())
            REQUIRE(r.has_value());
    }
    return pattern;
}

}  // namespace

// ---------------------------------------------------------------------------
// Concepts

TEST_CASE("fault_transport over a memory_pair end is a waitable nonblocking transport", "[fault_transport][concept]") {
    STATIC_REQUIRE(tlsw::transport<faulty>);
    STATIC_REQUIRE(tlsw::nonblocking_transport<faulty>);
    STATIC_REQUIRE(tlsw::waitable_transport<faulty>);

    // Over a blocking transport it can still return would_block: neither refinement.
    using over_blocking = tlsw::testing::fault_transport<tlsw::blocking_memory_pair::end>;
    STATIC_REQUIRE(tlsw::transport<over_blocking>);
    STATIC_REQUIRE(tlsw::transport_traits<over_blocking>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<over_blocking>::can_would_block);
    STATIC_REQUIRE(!tlsw::blocking_transport<over_blocking>);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<over_blocking>);

    // wait() is there only when the wrapped transport has one.
    using over_plain = tlsw::testing::fault_transport<plain_transport>;
    STATIC_REQUIRE(tlsw::transport<over_plain>);
    STATIC_REQUIRE(!tlsw::waitable_transport<over_plain>);
}

TEST_CASE("fault_transport is move-constructible only", "[fault_transport]") {
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<faulty>);
    STATIC_REQUIRE(!std::is_copy_constructible_v<faulty>);
    STATIC_REQUIRE(!std::is_move_assignable_v<faulty>);
}

TEST_CASE("a fault_transport without faults passes everything through", "[fault_transport]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    faulty t(std::move(a), fault_plan{});
    REQUIRE(t.write_some(bytes_of("whole message")).value() == 13);
    REQUIRE(b.write_some(bytes_of("reply")).value() == 5);
    std::byte buf[32];
    REQUIRE(t.read_some(buf).value() == 5);
    // The wrapped transport's own would_block passes through too.
    CHECK(is_would_block(t.read_some(buf)));
    CHECK(t.counters().would_blocks == 0);  // only injected ones are counted
    // next() reaches the wrapped end.
    CHECK(t.next().available() == 0);
    CHECK(b.available() == 13);
}

// ---------------------------------------------------------------------------
// Seeded mode

TEST_CASE("seeded mode caps writes to a size from 1 to max_write", "[fault_transport][seeded]") {
    const std::uint64_t seed = GENERATE(1u, 2u, 99u);
    const std::size_t max_write = GENERATE(std::size_t{1}, std::size_t{7});
    CAPTURE(seed, max_write);

    auto [a, b] = tlsw::memory_pair::make(1 << 20);
    faulty t(std::move(a), fault_plan{.seed = seed, .max_write = max_write, .fail_at = std::nullopt});
    const auto data = counting_bytes(4000);
    std::set<std::size_t> sizes;
    std::size_t sent = 0;
    while (sent + 100 <= data.size()) {
        auto n = t.write_some(std::span(data).subspan(sent, 100));
        REQUIRE(n.has_value());
        REQUIRE(*n >= 1);
        REQUIRE(*n <= max_write);
        sizes.insert(*n);
        sent += *n;
    }
    // Every size in the range turns up (for these seeds).
    CHECK(sizes.size() == max_write);
    CHECK(t.counters().bytes_written == sent);

    // What went through is the data, in order, nothing skipped or repeated.
    std::vector<std::byte> got(sent);
    REQUIRE(b.read_some(got).value() == sent);
    CHECK(std::equal(got.begin(), got.end(), data.begin()));
}

TEST_CASE("seeded mode caps reads to a size from 1 to max_read", "[fault_transport][seeded]") {
    auto [a, b] = tlsw::memory_pair::make(1 << 20);
    const auto data = counting_bytes(3000);
    REQUIRE(b.write_some(data).value() == data.size());
    faulty t(std::move(a), fault_plan{.seed = 3, .max_read = 5, .fail_at = std::nullopt});

    std::vector<std::byte> got;
    std::set<std::size_t> sizes;
    std::byte buf[100];
    while (got.size() < data.size()) {
        auto n = t.read_some(buf);
        REQUIRE(n.has_value());
        REQUIRE(*n >= 1);
        REQUIRE(*n <= 5);
        sizes.insert(*n);
        got.insert(got.end(), buf, buf + *n);
    }
    CHECK(sizes == std::set<std::size_t>{1, 2, 3, 4, 5});
    CHECK(got == data);
    CHECK(t.counters().bytes_read == data.size());
}

TEST_CASE("a cap never makes an operation larger than its span", "[fault_transport][seeded]") {
    auto [a, b] = tlsw::memory_pair::make(1 << 16);
    faulty t(std::move(a), fault_plan{.seed = 8, .max_read = 1000, .max_write = 1000, .fail_at = {}});
    for (int i = 0; i < 50; ++i)
        REQUIRE(t.write_some(bytes_of("abc")).value() <= 3);
    REQUIRE(b.write_some(bytes_of("abcdefgh")).value() == 8);
    std::byte buf[2];
    REQUIRE(t.read_some(buf).value() <= 2);
}

TEST_CASE("the same seed gives the same caps", "[fault_transport][seeded]") {
    auto sizes = [](std::uint64_t seed) {
        auto [a, b] = tlsw::memory_pair::make(1 << 20);
        faulty t(std::move(a), fault_plan{.seed = seed, .max_write = 50, .fail_at = std::nullopt});
        const auto data = counting_bytes(100);
        std::vector<std::size_t> out;
        for (int i = 0; i < 100; ++i)
            out.push_back(t.write_some(data).value());
        return out;
    };
    CHECK(sizes(17) == sizes(17));
    CHECK(sizes(17) != sizes(18));
}

TEST_CASE("would_block_percent gives the same would_blocks for the same seed", "[fault_transport][seeded]") {
    const auto first = would_block_pattern(blocking_plan(42, 25), 400);
    const auto again = would_block_pattern(blocking_plan(42, 25), 400);
    const auto other = would_block_pattern(blocking_plan(43, 25), 400);
    CHECK(first == again);
    CHECK(first != other);

    // About a quarter of the operations, reads and writes alike.
    const auto hits = std::count(first.begin(), first.end(), true);
    CHECK(hits > 50);
    CHECK(hits < 150);
    int read_hits = 0, write_hits = 0;
    for (std::size_t i = 0; i < first.size(); ++i)
        (i % 2 == 0 ? write_hits : read_hits) += first[i] ? 1 : 0;
    CHECK(read_hits > 0);
    CHECK(write_hits > 0);
}

TEST_CASE("would_block_percent 0 never blocks and 100 always does", "[fault_transport][seeded]") {
    const auto never = would_block_pattern(blocking_plan(5, 0), 100);
    CHECK(std::count(never.begin(), never.end(), true) == 0);
    const auto always = would_block_pattern(blocking_plan(5, 100), 100);
    CHECK(std::count(always.begin(), always.end(), true) == 100);
}

TEST_CASE("an injected would_block leaves the wrapped transport untouched", "[fault_transport][seeded]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    REQUIRE(b.write_some(bytes_of("waiting")).value() == 7);
    faulty t(std::move(a), blocking_plan(1, 100));
    std::byte buf[16];
    CHECK(is_would_block(t.read_some(buf)));
    CHECK(is_would_block(t.write_some(bytes_of("lost?"))));
    CHECK(t.next().available() == 7);  // nothing was read
    CHECK(b.available() == 0);         // nothing was written
    CHECK(t.counters().would_blocks == 2);
}

TEST_CASE("fail_at injects the error at exactly operation n, reads and writes counted together",
          "[fault_transport][seeded][fail_at]") {
    const std::uint64_t n = GENERATE(range(0, 7));
    CAPTURE(n);
    const auto aborted = std::make_error_code(std::errc::connection_aborted);

    auto [a, b] = tlsw::memory_pair::make(1 << 16);
    REQUIRE(b.write_some(counting_bytes(1000)).value() == 1000);
    faulty t(std::move(a), fault_plan{.seed = 7, .fail_at = n, .fail_error = aborted});
    std::byte buf[8];
    for (std::uint64_t i = 0; i < 10; ++i) {
        CAPTURE(i);
        CHECK(t.counters().fault_hit == (i > n));
        auto r = i % 2 == 0 ? t.write_some(bytes_of("data")) : t.read_some(buf);
        if (i == n) {
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error() == aborted);
            CHECK(t.counters().fault_hit);
        } else {
            // Once only: every other operation passes.
            REQUIRE(r.has_value());
            CHECK(*r > 0);
        }
    }
}

TEST_CASE("fail_at with eof ends a read with 0 and fails a write with broken_pipe",
          "[fault_transport][seeded][fail_at]") {
    const std::uint64_t n = GENERATE(0, 1, 2, 3);  // even: a write, odd: a read
    CAPTURE(n);
    auto [a, b] = tlsw::memory_pair::make(1 << 16);
    REQUIRE(b.write_some(counting_bytes(1000)).value() == 1000);
    faulty t(std::move(a), fault_plan{.seed = 7, .fail_at = n, .fail_kind = fault_kind::eof});
    std::byte buf[8];
    for (std::uint64_t i = 0; i <= n; ++i) {
        auto r = i % 2 == 0 ? t.write_some(bytes_of("data")) : t.read_some(buf);
        if (i < n) {
            REQUIRE(r.has_value());
            continue;
        }
        if (i % 2 == 0)
            CHECK(is_error(r, std::errc::broken_pipe));
        else
            CHECK(r.value() == 0);
    }
    CHECK(t.counters().fault_hit);
    // The data the peer wrote is still there: the EOF was injected, not real.
    CHECK(t.next().available() > 0);
}

TEST_CASE("fail_at with would_block returns would_block once", "[fault_transport][seeded][fail_at]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    faulty t(std::move(a), fault_plan{.seed = 7, .fail_at = 1, .fail_kind = fault_kind::would_block});
    CHECK(t.write_some(bytes_of("a")).value() == 1);
    CHECK(is_would_block(t.write_some(bytes_of("b"))));
    CHECK(t.write_some(bytes_of("c")).value() == 1);
    CHECK(t.counters().fault_hit);
    CHECK(t.counters().would_blocks == 1);
}

TEST_CASE("fault_hit stays false while fail_at is not reached", "[fault_transport][seeded][fail_at]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    faulty t(std::move(a), fault_plan{.fail_at = 100});
    for (int i = 0; i < 10; ++i)
        REQUIRE(t.write_some(bytes_of("x")).has_value());
    CHECK_FALSE(t.counters().fault_hit);
}

TEST_CASE("counters count operations and bytes", "[fault_transport][counters]") {
    auto [a, b] = tlsw::memory_pair::make(1 << 16);
    REQUIRE(b.write_some(counting_bytes(20000)).value() == 20000);
    faulty t(std::move(a), fault_plan{.seed = 11, .would_block_percent = 30, .max_read = 9, .max_write = 13,
                                      .fail_at = 37});
    std::uint64_t ops = 0, reads = 0, writes = 0, bytes_read = 0, bytes_written = 0, would_blocks = 0, errors = 0;
    const auto data = counting_bytes(64);
    std::vector<std::byte> buf(64);
    std::uint32_t pick = 12345;
    for (int i = 0; i < 300; ++i) {
        pick = pick * 1103515245u + 12345u;  // a fixed, seeded choice of operation
        const bool write = (pick >> 16) % 3 == 0;
        auto r = write ? t.write_some(data) : t.read_some(buf);
        ++ops;
        ++(write ? writes : reads);
        if (r)
            (write ? bytes_written : bytes_read) += *r;
        else if (tlsw::is_would_block(r.error()))
            ++would_blocks;
        else
            ++errors;
    }
    const auto& c = t.counters();
    CHECK(c.operations == ops);
    CHECK(c.reads == reads);
    CHECK(c.writes == writes);
    CHECK(c.bytes_read == bytes_read);
    CHECK(c.bytes_written == bytes_written);
    CHECK(c.would_blocks == would_blocks);
    CHECK(errors == 1);  // the fail_at operation, counted like any other
    CHECK(c.fault_hit);
    CHECK(b.available() == bytes_written);
    CHECK(t.next().available() == 20000 - bytes_read);
}

// ---------------------------------------------------------------------------
// Scripted mode

TEST_CASE("scripted mode performs each step and then passes through", "[fault_transport][scripted]") {
    failures.clear();
    auto [a, b] = tlsw::memory_pair::make(1 << 10);
    REQUIRE(b.write_some(counting_bytes(100)).value() == 100);
    {
        faulty t(std::move(a),
                 std::vector<script_step>{
                     {io_op::write, fault_kind::pass, 3},
                     {io_op::read, fault_kind::would_block},
                     {io_op::write, fault_kind::error},
                     {io_op::read, fault_kind::pass, 2},
                     {io_op::read, fault_kind::eof},
                     {io_op::write, fault_kind::eof},
                     {io_op::write, fault_kind::would_block},
                     {io_op::read, fault_kind::pass},
                 },
                 &record_failure);
        CHECK(t.unconsumed() == 8);
        std::byte buf[10];

        CHECK(t.write_some(bytes_of("abcdef")).value() == 3);
        CHECK(t.unconsumed() == 7);
        CHECK(is_would_block(t.read_some(buf)));
        auto err = t.write_some(bytes_of("def"));
        REQUIRE_FALSE(err.has_value());
        CHECK_FALSE(tlsw::is_would_block(err.error()));
        CHECK(t.read_some(buf).value() == 2);
        CHECK(t.read_some(buf).value() == 0);
        CHECK(is_error(t.write_some(bytes_of("def")), std::errc::broken_pipe));
        CHECK(is_would_block(t.write_some(bytes_of("def"))));
        CHECK(t.read_some(buf).value() == 10);  // pass without a cap
        CHECK(t.unconsumed() == 0);

        // After the script, everything passes through whole.
        CHECK(t.write_some(bytes_of("whole")).value() == 5);
        CHECK(t.read_some(buf).value() == 10);
        CHECK(t.counters().operations == 10);
        CHECK(t.counters().would_blocks == 2);
        CHECK(t.counters().bytes_written == 8);
        CHECK(t.counters().bytes_read == 22);
    }
    CHECK(b.available() == 8);  // "abc" + "whole"
    CHECK(failures.empty());
}

TEST_CASE("scripted mode reports an operation the script did not expect", "[fault_transport][scripted]") {
    failures.clear();
    auto [a, b] = tlsw::memory_pair::make(64);
    {
        faulty t(std::move(a), std::vector<script_step>{{io_op::read, fault_kind::pass}}, &record_failure);
        auto r = t.write_some(bytes_of("x"));
        static_cast<void>(r);
        REQUIRE(failures.size() == 1);
        CHECK(failures[0].find("write") != std::string::npos);
        CHECK(failures[0].find("expected a read") != std::string::npos);
        CHECK(failures[0].find("operation 0") != std::string::npos);
    }
    // The mismatched step was used up: nothing more to report.
    CHECK(failures.size() == 1);
}

TEST_CASE("scripted mode reports an unconsumed script when destroyed", "[fault_transport][scripted]") {
    failures.clear();
    auto [a, b] = tlsw::memory_pair::make(64);
    {
        faulty t(std::move(a),
                 std::vector<script_step>{{io_op::write, fault_kind::pass},
                                          {io_op::read, fault_kind::would_block},
                                          {io_op::read, fault_kind::eof}},
                 &record_failure);
        REQUIRE(t.write_some(bytes_of("x")).value() == 1);
        CHECK(t.unconsumed() == 2);
        CHECK(failures.empty());
    }
    REQUIRE(failures.size() == 1);
    CHECK(failures[0].find("2 script step") != std::string::npos);
}

TEST_CASE("a moved-from scripted transport does not report the script again", "[fault_transport][scripted]") {
    failures.clear();
    auto [a, b] = tlsw::memory_pair::make(64);
    {
        faulty first(std::move(a), std::vector<script_step>{{io_op::read, fault_kind::would_block}}, &record_failure);
        {
            faulty second(std::move(first));
            CHECK(second.unconsumed() == 1);
        }
        CHECK(failures.size() == 1);  // second reported it
    }
    CHECK(failures.size() == 1);  // first, moved from, did not
}

TEST_CASE("a consumed script reports nothing", "[fault_transport][scripted]") {
    failures.clear();
    auto [a, b] = tlsw::memory_pair::make(64);
    {
        faulty t(std::move(a), std::vector<script_step>{{io_op::write, fault_kind::would_block}}, &record_failure);
        CHECK(is_would_block(t.write_some(bytes_of("x"))));
    }
    CHECK(failures.empty());
}

// ---------------------------------------------------------------------------
// heal() and wait()

TEST_CASE("heal() stops injection", "[fault_transport][heal]") {
    failures.clear();
    auto [a, b] = tlsw::memory_pair::make(1 << 10);

    SECTION("seeded") {
        faulty t(std::move(a), fault_plan{.seed = 2, .would_block_percent = 100, .max_read = 1, .max_write = 1,
                                          .fail_at = 5});
        CHECK(is_would_block(t.write_some(bytes_of("x"))));
        t.heal();
        for (int i = 0; i < 10; ++i)
            REQUIRE(t.write_some(bytes_of("healed")).value() == 6);  // no cap, no would_block, no fail_at
        CHECK_FALSE(t.counters().fault_hit);
        REQUIRE(b.write_some(bytes_of("0123456789")).value() == 10);
        std::byte buf[32];
        CHECK(t.read_some(buf).value() == 10);
    }
    SECTION("scripted") {
        {
            faulty t(std::move(a),
                     std::vector<script_step>{{io_op::write, fault_kind::error}, {io_op::write, fault_kind::error}},
                     &record_failure);
            REQUIRE_FALSE(t.write_some(bytes_of("x")).has_value());
            t.heal();
            CHECK(t.unconsumed() == 0);
            CHECK(t.write_some(bytes_of("healed")).value() == 6);
            CHECK(t.read_some(std::span<std::byte>{}).value() == 0);  // a read is no script mismatch either
        }
        CHECK(failures.empty());  // a healed script is not unconsumed
    }
}

TEST_CASE("wait() forwards to the wrapped transport", "[fault_transport][wait]") {
    auto [a, b] = tlsw::memory_pair::make(4);
    faulty t(std::move(a), blocking_plan(1, 100));
    CHECK_FALSE(t.wait(tlsw::readiness::readable, 0ms));
    CHECK(t.wait(tlsw::readiness::writable, 0ms));
    REQUIRE(b.write_some(bytes_of("ping")).value() == 4);
    CHECK(t.wait(tlsw::readiness::readable, 0ms));
}
