// Test that header file is self-contained.
#include <tlsw/memory_pair.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using tlsw::readiness;
using tlsw_test::bytes_of;
using tlsw_test::is_error;

std::string text_of(std::span<const std::byte> bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// `size` bytes from a seeded generator: the same for the same seed.
std::vector<std::byte> seeded_bytes(std::size_t size, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::vector<std::byte> out(size);
    for (auto& b : out)
        b = static_cast<std::byte>(gen() & 0xff);
    return out;
}

// Reads what is there now (nonblocking end): a string, or "" when nothing is.
template <class End>
std::string read_text(End& end, std::size_t max = 256) {
    std::vector<std::byte> buf(max);
    auto n = end.read_some(buf);
    REQUIRE(n.has_value());
    return text_of(std::span(buf).first(*n));
}

// One call on an end, made on a thread of its own that owns the end. A call
// that never returns shows up as a failed check, not as a hung test: the
// thread is then left behind (detached) with everything it uses.
class background_call {
public:
    template <class End, class Call>
    background_call(End end, Call call)
        : result_(std::make_shared<std::promise<tlsw::io_result>>()), future_(result_->get_future()),
          thread_([result = result_, end = std::move(end), call]() mutable { result->set_value(call(end)); }) {}

    background_call(const background_call&) = delete;
    background_call& operator=(const background_call&) = delete;

    ~background_call() {
        if (future_.valid() && future_.wait_for(0ms) != std::future_status::ready)
            thread_.detach();
        else
            thread_.join();
    }

    /** True when the call is still blocked after `d`. */
    bool still_blocked_after(std::chrono::milliseconds d) { return future_.wait_for(d) == std::future_status::timeout; }

    /** The call's result, or nothing when it has not returned within `limit`. */
    std::optional<tlsw::io_result> result(std::chrono::milliseconds limit = 5000ms) {
        if (future_.wait_for(limit) != std::future_status::ready)
            return std::nullopt;
        return future_.get();
    }

private:
    std::shared_ptr<std::promise<tlsw::io_result>> result_;
    std::future<tlsw::io_result> future_;
    std::thread thread_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Concepts and value semantics

TEST_CASE("memory_pair ends model the transport concepts", "[memory_pair][concept]") {
    using nb = tlsw::memory_pair::end;
    using bl = tlsw::blocking_memory_pair::end;
    STATIC_REQUIRE(tlsw::transport<nb>);
    STATIC_REQUIRE(tlsw::nonblocking_transport<nb>);
    STATIC_REQUIRE(!tlsw::blocking_transport<nb>);
    STATIC_REQUIRE(tlsw::waitable_transport<nb>);

    STATIC_REQUIRE(tlsw::transport<bl>);
    STATIC_REQUIRE(tlsw::blocking_transport<bl>);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<bl>);
    STATIC_REQUIRE(tlsw::waitable_transport<bl>);
}

TEST_CASE("memory_pair ends are move-only", "[memory_pair]") {
    using nb = tlsw::memory_pair::end;
    using bl = tlsw::blocking_memory_pair::end;
    STATIC_REQUIRE(!std::is_copy_constructible_v<nb>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<nb>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<nb>);
    STATIC_REQUIRE(std::is_nothrow_move_assignable_v<nb>);
    STATIC_REQUIRE(!std::is_default_constructible_v<nb>);
    STATIC_REQUIRE(!std::is_copy_constructible_v<bl>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<bl>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<bl>);
    STATIC_REQUIRE(std::is_nothrow_move_assignable_v<bl>);
}

TEST_CASE("a moved end keeps the connection and the moved-from end is closed", "[memory_pair]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    auto moved = std::move(a);
    REQUIRE(moved.write_some(bytes_of("over")).value() == 4);
    CHECK(read_text(b) == "over");

    // The moved-from end refuses every operation instead of crashing.
    std::byte buf[4];
    CHECK(is_error(a.read_some(buf), std::errc::bad_file_descriptor));  // NOLINT(bugprone-use-after-move)
    CHECK(is_error(a.write_some(bytes_of("x")), std::errc::bad_file_descriptor));
    CHECK(a.available() == 0);
    a.close();  // harmless
    a.shutdown_write();
}

TEST_CASE("move-assigning an end closes the pair it replaced", "[memory_pair]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    auto [c, d] = tlsw::memory_pair::make(64);
    a = std::move(c);
    // b lost its peer: EOF.
    std::byte buf[4];
    CHECK(b.read_some(buf).value() == 0);
    // a now talks to d.
    REQUIRE(a.write_some(bytes_of("new")).value() == 3);
    CHECK(read_text(d) == "new");
}

// ---------------------------------------------------------------------------
// Nonblocking behaviour

TEST_CASE("reading an empty direction returns would_block", "[memory_pair][nonblocking]") {
    auto [a, b] = tlsw::memory_pair::make(16);
    std::byte buf[8];
    auto r = a.read_some(buf);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == std::errc::operation_would_block);
    CHECK(tlsw::is_would_block(r.error()));
    CHECK_FALSE(b.read_some(buf).has_value());
}

TEST_CASE("writing to a full direction returns would_block and a partial write takes exactly the free space",
          "[memory_pair][nonblocking]") {
    auto [a, b] = tlsw::memory_pair::make(16);
    const auto data = seeded_bytes(40, 7);
    const auto all = std::span(data);

    REQUIRE(a.write_some(all.first(10)).value() == 10);
    // 6 bytes free: a 10-byte write takes exactly 6.
    REQUIRE(a.write_some(all.subspan(10, 10)).value() == 6);
    auto full = a.write_some(all.subspan(16, 1));
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error() == std::errc::operation_would_block);
    CHECK(b.available() == 16);

    // Reading 5 frees exactly 5.
    std::vector<std::byte> got(64);
    REQUIRE(b.read_some(std::span(got).first(5)).value() == 5);
    REQUIRE(a.write_some(all.subspan(16, 24)).value() == 5);
    CHECK(tlsw::is_would_block(a.write_some(all.subspan(21, 1)).error()));

    // What arrives is the first 21 bytes, in order, and nothing else.
    REQUIRE(b.read_some(std::span(got).subspan(5)).value() == 16);
    CHECK(std::equal(got.begin(), got.begin() + 21, data.begin()));
    CHECK(tlsw::is_would_block(b.read_some(got).error()));

    // The other direction is independent of this one.
    REQUIRE(b.write_some(all.first(16)).value() == 16);
}

TEST_CASE("bytes arrive in order across ring wraparound", "[memory_pair][nonblocking]") {
    const std::uint32_t seed = GENERATE(1u, 2u, 3u, 0xC0FFEEu);
    const std::size_t capacity = GENERATE(std::size_t{1}, std::size_t{7}, std::size_t{61}, std::size_t{4096});
    CAPTURE(seed, capacity);

    constexpr std::size_t total = 32 * 1024;
    const auto source = seeded_bytes(total, seed);
    std::vector<std::byte> sink;
    sink.reserve(total);

    auto [a, b] = tlsw::memory_pair::make(capacity);
    std::mt19937 gen(seed ^ 0x5eedu);
    auto odd_size = [&] { return 1 + gen() % (2 * capacity + 3); };
    std::vector<std::byte> buf(2 * capacity + 3);

    std::size_t sent = 0;
    std::size_t buffered = 0;
    std::size_t rounds = 0;
    while (sink.size() < total) {
        REQUIRE(++rounds < 10 * total);
        if (sent < total) {
            const std::size_t want = std::min<std::size_t>(odd_size(), total - sent);
            auto n = a.write_some(std::span(source).subspan(sent, want));
            if (buffered == capacity) {
                REQUIRE(is_error(n, std::errc::operation_would_block));
            } else {
                REQUIRE(n.has_value());
                REQUIRE(*n == std::min(want, capacity - buffered));
                sent += *n;
                buffered += *n;
            }
        }
        REQUIRE(b.available() == buffered);
        const std::size_t want = odd_size();
        auto n = b.read_some(std::span(buf).first(want));
        if (buffered == 0) {
            REQUIRE(is_error(n, std::errc::operation_would_block));
        } else {
            REQUIRE(n.has_value());
            REQUIRE(*n == std::min(want, buffered));
            sink.insert(sink.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
            buffered -= *n;
        }
    }
    REQUIRE(sink.size() == total);
    CHECK(sink == source);
}

TEST_CASE("empty spans return 0 without touching the buffer", "[memory_pair][nonblocking]") {
    auto [a, b] = tlsw::memory_pair::make(4);
    // Nothing buffered: an empty read is 0, not would_block (and not EOF:
    // 0 means EOF only for a non-empty span).
    CHECK(a.read_some(std::span<std::byte>{}).value() == 0);
    REQUIRE(a.write_some(bytes_of("full")).value() == 4);
    // Full: an empty write is 0, not would_block.
    CHECK(a.write_some(std::span<const std::byte>{}).value() == 0);
    CHECK(b.read_some(std::span<std::byte>{}).value() == 0);
    CHECK(b.available() == 4);
    CHECK(read_text(b) == "full");
}

TEST_CASE("make(0) still makes a working pair", "[memory_pair][nonblocking]") {
    auto [a, b] = tlsw::memory_pair::make(0);
    REQUIRE(a.write_some(bytes_of("ab")).value() == 1);
    CHECK(read_text(b) == "a");
}

TEST_CASE("available() counts the bytes the peer wrote and this end has not read", "[memory_pair]") {
    auto [a, b] = tlsw::memory_pair::make(32);
    CHECK(a.available() == 0);
    CHECK(b.available() == 0);
    REQUIRE(a.write_some(bytes_of("hello")).value() == 5);
    CHECK(b.available() == 5);
    CHECK(a.available() == 0);  // a's own bytes are not for a
    std::byte buf[2];
    REQUIRE(b.read_some(buf).value() == 2);
    CHECK(b.available() == 3);
    REQUIRE(b.write_some(bytes_of("xy")).value() == 2);
    CHECK(a.available() == 2);
    CHECK(b.available() == 3);
    // What is left stays available after the writer closes.
    a.close();
    CHECK(b.available() == 3);
}

TEST_CASE("closing one end gives the other EOF after draining and broken_pipe on write", "[memory_pair][close]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    REQUIRE(a.write_some(bytes_of("last words")).value() == 10);

    SECTION("by close()") {
        a.close();
        std::byte buf[4];
        CHECK(is_error(a.read_some(buf), std::errc::bad_file_descriptor));
        CHECK(is_error(a.write_some(bytes_of("x")), std::errc::bad_file_descriptor));
    }
    SECTION("by destruction") {
        auto dropped = std::move(a);
    }

    // What was written before the close is still delivered, then EOF.
    CHECK(read_text(b, 4) == "last");
    CHECK(read_text(b) == " words");
    std::byte buf[8];
    CHECK(b.read_some(buf).value() == 0);
    CHECK(b.read_some(buf).value() == 0);  // EOF stays EOF
    CHECK(is_error(b.write_some(bytes_of("anyone?")), std::errc::broken_pipe));
    // Readiness: EOF is readable, a failing write is "writable" (it will not block).
    CHECK(b.wait(readiness::readable, 0ms));
    CHECK(b.wait(readiness::writable, 0ms));
}

TEST_CASE("shutdown_write gives the peer EOF while the reverse direction still works", "[memory_pair][close]") {
    auto [a, b] = tlsw::memory_pair::make(64);
    REQUIRE(a.write_some(bytes_of("ping")).value() == 4);
    a.shutdown_write();

    CHECK(read_text(b) == "ping");
    std::byte buf[8];
    CHECK(b.read_some(buf).value() == 0);
    CHECK(b.wait(readiness::readable, 0ms));

    // b -> a still works, in both the writing and the reading end.
    REQUIRE(b.write_some(bytes_of("pong")).value() == 4);
    CHECK(a.available() == 4);
    CHECK(read_text(a) == "pong");
    CHECK(tlsw::is_would_block(a.read_some(buf).error()));

    // a itself may write no more (like send() after shutdown(SHUT_WR)).
    CHECK(is_error(a.write_some(bytes_of("more")), std::errc::broken_pipe));
}

TEST_CASE("a write after shutdown_write fails at once even when the direction is full", "[memory_pair][close]") {
    auto [a, b] = tlsw::memory_pair::make(4);
    REQUIRE(a.write_some(bytes_of("full")).value() == 4);
    a.shutdown_write();
    CHECK(is_error(a.write_some(bytes_of("x")), std::errc::broken_pipe));
    // wait() promises readiness when write_some would not return
    // would_block(); it fails at once, so a is ready for it.
    CHECK(a.wait(readiness::writable, 0ms));
}

TEST_CASE("wait() reports readiness and times out", "[memory_pair][wait]") {
    auto [a, b] = tlsw::memory_pair::make(8);

    // Empty: not readable; a timed wait lasts about its timeout.
    CHECK_FALSE(a.wait(readiness::readable, 0ms));
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(a.wait(readiness::readable, 30ms));
    CHECK(std::chrono::steady_clock::now() - start >= 25ms);

    // Fresh: writable.
    CHECK(a.wait(readiness::writable, 0ms));
    REQUIRE(a.write_some(bytes_of("12345678")).value() == 8);
    CHECK_FALSE(a.wait(readiness::writable, 0ms));
    CHECK_FALSE(a.wait(readiness::writable, 10ms));
    CHECK(b.wait(readiness::readable, 0ms));

    std::byte buf[3];
    REQUIRE(b.read_some(buf).value() == 3);
    CHECK(a.wait(readiness::writable, 0ms));
    CHECK(b.wait(readiness::readable, 0ms));
}

TEST_CASE("wait() wakes when the peer acts from another thread", "[memory_pair][wait][thread]") {
    auto [a, b] = tlsw::memory_pair::make(8);
    const bool no_limit = GENERATE(false, true);
    CAPTURE(no_limit);

    std::thread writer([&b] {
        std::this_thread::sleep_for(20ms);
        auto n = b.write_some(bytes_of("wake"));
        static_cast<void>(n);
    });
    const auto start = std::chrono::steady_clock::now();
    const bool ready = a.wait(readiness::readable, no_limit ? -1ms : 10s);
    const auto waited = std::chrono::steady_clock::now() - start;
    writer.join();
    CHECK(ready);
    CHECK(waited < 5s);
    CHECK(read_text(a) == "wake");
}

// ---------------------------------------------------------------------------
// Blocking behaviour

TEST_CASE("blocking_memory_pair moves 1 MiB each way between two threads", "[memory_pair][blocking][thread]") {
    const std::uint32_t seed = GENERATE(11u, 12u);
    CAPTURE(seed);
    constexpr std::size_t total = 1024 * 1024;
    constexpr std::size_t capacity = 8191;

    // Each thread owns one end and, round by round, writes a chunk and then
    // reads the peer's chunk of that round. Chunks are at most capacity / 2:
    // a direction then never holds more than two rounds of chunks, so the
    // two blocking writers cannot both wait on a full direction (no deadlock),
    // while reads do block until the peer's chunk arrives.
    auto run = [](tlsw::blocking_memory_pair::end end, std::uint32_t out_seed, std::uint32_t in_seed,
                  std::uint32_t chunk_seed) {
        const auto out = seeded_bytes(total, out_seed);
        const auto expected = seeded_bytes(total, in_seed);
        std::vector<std::byte> in(total);
        std::mt19937 mine(chunk_seed), theirs(chunk_seed ^ 1u);
        // Both threads use the same pair of chunk-size sequences, swapped.
        if (out_seed > in_seed)
            std::swap(mine, theirs);
        std::size_t sent = 0, received = 0;
        while (sent < total || received < total) {
            const std::size_t chunk_out = std::min<std::size_t>(1 + mine() % (capacity / 2), total - sent);
            for (std::size_t done = 0; done < chunk_out;) {
                auto n = end.write_some(std::span(out).subspan(sent + done, chunk_out - done));
                if (!n || *n == 0)
                    return false;
                done += *n;
            }
            sent += chunk_out;
            const std::size_t chunk_in = std::min<std::size_t>(1 + theirs() % (capacity / 2), total - received);
            for (std::size_t done = 0; done < chunk_in;) {
                auto n = end.read_some(std::span(in).subspan(received + done, chunk_in - done));
                if (!n || *n == 0)
                    return false;
                done += *n;
            }
            received += chunk_in;
        }
        return in == expected;
    };

    auto [a, b] = tlsw::blocking_memory_pair::make(capacity);
    auto left = std::async(std::launch::async, run, std::move(a), seed * 2, seed * 2 + 1, seed);
    auto right = std::async(std::launch::async, run, std::move(b), seed * 2 + 1, seed * 2, seed);
    CHECK(left.get());
    CHECK(right.get());
}

TEST_CASE("a blocked read wakes when the peer closes", "[memory_pair][blocking][close][thread]") {
    auto [a, b] = tlsw::blocking_memory_pair::make(64);
    const int how = GENERATE(0, 1, 2);  // close(), destruction, shutdown_write()
    CAPTURE(how);

    background_call read(std::move(b), [](auto& end) {
        std::byte buf[16];
        return end.read_some(buf);
    });
    CHECK(read.still_blocked_after(30ms));  // it really blocks

    if (how == 0)
        a.close();
    else if (how == 1) {
        auto dropped = std::move(a);  // destroyed at the brace
    } else
        a.shutdown_write();

    auto r = read.result();
    REQUIRE(r.has_value());  // else read_some did not return after the peer closed
    REQUIRE(r->has_value());
    CHECK(**r == 0);
}

TEST_CASE("a blocked write wakes with broken_pipe when the peer closes", "[memory_pair][blocking][close][thread]") {
    auto [a, b] = tlsw::blocking_memory_pair::make(4);
    REQUIRE(a.write_some(bytes_of("full")).value() == 4);

    background_call write(std::move(a), [](auto& end) { return end.write_some(bytes_of("more")); });
    CHECK(write.still_blocked_after(30ms));
    b.close();

    auto r = write.result();
    REQUIRE(r.has_value());  // else write_some did not return after the peer closed
    CHECK(is_error(*r, std::errc::broken_pipe));
}

TEST_CASE("a blocking write after shutdown_write fails at once even when the direction is full",
          "[memory_pair][blocking][close][thread]") {
    auto [a, b] = tlsw::blocking_memory_pair::make(4);
    REQUIRE(a.write_some(bytes_of("full")).value() == 4);
    a.shutdown_write();

    // Like send() after shutdown(SHUT_WR): EPIPE now, not after the peer reads.
    background_call write(std::move(a), [](auto& end) { return end.write_some(bytes_of("more")); });
    auto r = write.result(500ms);
    CHECK(r.has_value());
    if (r)
        CHECK(is_error(*r, std::errc::broken_pipe));
    // b still reads what was written, then EOF; its close also unblocks a
    // write that did block, so the background thread always ends.
    CHECK(read_text(b) == "full");
}

TEST_CASE("a blocked read returns the bytes that arrive", "[memory_pair][blocking][thread]") {
    auto [a, b] = tlsw::blocking_memory_pair::make(64);
    std::thread writer([end = std::move(a)]() mutable {
        std::this_thread::sleep_for(20ms);
        auto n = end.write_some(bytes_of("late"));
        static_cast<void>(n);
    });
    std::byte buf[16];
    auto n = b.read_some(buf);
    writer.join();
    REQUIRE(n.has_value());
    CHECK(text_of(std::span(buf).first(*n)) == "late");
    // The writer's end is gone now: EOF, not a hang.
    CHECK(b.read_some(buf).value() == 0);
}
