// Test that header file is self-contained.
#include <tlsw/transport.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <span>
#include <system_error>
#include <type_traits>
#include <vector>

// ---------------------------------------------------------------------------
// Archetypes: the smallest types that do, or just fail to, model the
// concepts. Declarations are enough; the concepts never call anything.

namespace {

using tlsw::io_result;
using in_span = std::span<std::byte>;
using out_span = std::span<const std::byte>;

// Positive: exactly what transport.hpp requires and nothing else.
struct min_transport {
    io_result read_some(in_span);
    io_result write_some(out_span);
};

// Positive: copy and move are deliberately not required.
struct immovable_transport {
    immovable_transport() = default;
    immovable_transport(const immovable_transport&) = delete;
    immovable_transport& operator=(const immovable_transport&) = delete;
    io_result read_some(in_span);
    io_result write_some(out_span);
};

// Positive: const members are callable on the T& the concept uses.
struct const_member_transport {
    io_result read_some(in_span) const;
    io_result write_some(out_span) const;
};

// Positive: extra overloads and defaulted parameters do not get in the way.
struct overloaded_transport {
    io_result read_some(in_span, int flags = 0);
    io_result read_some(std::vector<std::byte>&);
    io_result write_some(out_span);
    io_result write_some(const char*);
};

// Negative: only half a transport.
struct no_write_some {
    io_result read_some(in_span);
};
struct no_read_some {
    io_result write_some(out_span);
};

// Negative: results must be io_result itself, by value.
struct wrong_return_type {
    std::size_t read_some(in_span);
    std::size_t write_some(out_span);
};
struct returns_int_expected {
    tlsw::expected<int, std::error_code> read_some(in_span);
    tlsw::expected<int, std::error_code> write_some(out_span);
};
struct returns_error_code_only {
    io_result read_some(in_span);
    std::error_code write_some(out_span);
};
struct returns_reference {
    io_result& read_some(in_span);
    io_result& write_some(out_span);
};

// Negative: read_some must accept a writable span of bytes.
struct read_wrong_span {
    io_result read_some(std::span<char>);
    io_result write_some(out_span);
};
struct read_fixed_extent {
    io_result read_some(std::span<std::byte, 512>);
    io_result write_some(out_span);
};
struct read_vector {
    io_result read_some(std::vector<std::byte>&);
    io_result write_some(out_span);
};

// Negative: write_some must accept read-only bytes (the caller's plaintext
// or the stream's ciphertext are not the transport's to modify).
struct write_mutable_span {
    io_result read_some(in_span);
    io_result write_some(in_span);
};

// Negative: members that only an rvalue may call.
struct rvalue_only {
    io_result read_some(in_span) &&;
    io_result write_some(out_span) &&;
};

// Negative: members that only a const object may call.
struct const_only {
    io_result read_some(in_span) & = delete;
    io_result read_some(in_span) const&;
    io_result write_some(out_span) & = delete;
    io_result write_some(out_span) const&;
};

// Negative: members that are not callable at all.
struct private_members {
private:
    io_result read_some(in_span);
    io_result write_some(out_span);
};

// Negative: data members named like the functions.
struct data_members {
    io_result read_some;
    io_result write_some;
};

// Traits: what a transport says about itself.
struct declares_blocking : min_transport {
    static constexpr bool can_block = true;
    static constexpr bool can_would_block = false;
};
struct declares_nonblocking : min_transport {
    static constexpr bool can_block = false;
    static constexpr bool can_would_block = true;
};
struct declares_both : min_transport {
    static constexpr bool can_block = true;
    static constexpr bool can_would_block = true;
};
struct declares_only_no_would_block : min_transport {
    static constexpr bool can_would_block = false;
};
struct declares_only_no_block : min_transport {
    static constexpr bool can_block = false;
};
struct declares_with_int : min_transport {
    static constexpr int can_block = 0;
    static constexpr int can_would_block = 1;
};
// Declares the traits but is no transport.
struct nonblocking_no_write_some {
    static constexpr bool can_block = false;
    static constexpr bool can_would_block = true;
    io_result read_some(in_span);
};

// Readiness waits.
struct waitable : declares_nonblocking {
    bool wait(tlsw::readiness, std::chrono::milliseconds);
};
struct waitable_returns_int : min_transport {
    int wait(tlsw::readiness, std::chrono::milliseconds);
};
struct waitable_in_nanoseconds : min_transport {
    // milliseconds converts to nanoseconds without loss.
    bool wait(tlsw::readiness, std::chrono::nanoseconds);
};
struct wait_returns_void : min_transport {
    void wait(tlsw::readiness, std::chrono::milliseconds);
};
struct wait_in_seconds : min_transport {
    // milliseconds does not convert to seconds implicitly (it would truncate).
    bool wait(tlsw::readiness, std::chrono::seconds);
};
struct wait_without_timeout : min_transport {
    bool wait(tlsw::readiness);
};
struct wait_but_no_transport {
    bool wait(tlsw::readiness, std::chrono::milliseconds);
};

}  // namespace

// ---------------------------------------------------------------------------
// transport

TEST_CASE("io_result is expected<size_t, std::error_code>", "[transport][concept]") {
    STATIC_REQUIRE(std::same_as<tlsw::io_result, tlsw::expected<std::size_t, std::error_code>>);
}

TEST_CASE("a type with read_some and write_some returning io_result is a transport", "[transport][concept]") {
    STATIC_REQUIRE(tlsw::transport<min_transport>);
    STATIC_REQUIRE(tlsw::transport<immovable_transport>);
    STATIC_REQUIRE(tlsw::transport<const_member_transport>);
    STATIC_REQUIRE(tlsw::transport<overloaded_transport>);
    // tls_stream may hold a reference to the caller's transport.
    STATIC_REQUIRE(tlsw::transport<min_transport&>);
}

TEST_CASE("a type missing read_some or write_some is not a transport", "[transport][concept]") {
    STATIC_REQUIRE(!tlsw::transport<no_write_some>);
    STATIC_REQUIRE(!tlsw::transport<no_read_some>);
    STATIC_REQUIRE(!tlsw::transport<int>);
    STATIC_REQUIRE(!tlsw::transport<wait_but_no_transport>);
    STATIC_REQUIRE(!tlsw::transport<data_members>);
    STATIC_REQUIRE(!tlsw::transport<private_members>);
}

TEST_CASE("a transport's results must be io_result by value", "[transport][concept]") {
    STATIC_REQUIRE(!tlsw::transport<wrong_return_type>);
    STATIC_REQUIRE(!tlsw::transport<returns_int_expected>);
    STATIC_REQUIRE(!tlsw::transport<returns_error_code_only>);
    STATIC_REQUIRE(!tlsw::transport<returns_reference>);
}

TEST_CASE("read_some must take a writable span of bytes and write_some a read-only one", "[transport][concept]") {
    STATIC_REQUIRE(!tlsw::transport<read_wrong_span>);
    STATIC_REQUIRE(!tlsw::transport<read_fixed_extent>);
    STATIC_REQUIRE(!tlsw::transport<read_vector>);
    STATIC_REQUIRE(!tlsw::transport<write_mutable_span>);
}

TEST_CASE("the concept calls the members on a non-const lvalue", "[transport][concept]") {
    STATIC_REQUIRE(!tlsw::transport<rvalue_only>);
    STATIC_REQUIRE(!tlsw::transport<const_only>);
    // A const object cannot call non-const members: tls_stream needs a mutable transport.
    STATIC_REQUIRE(!tlsw::transport<const min_transport>);
    STATIC_REQUIRE(tlsw::transport<const const_member_transport>);
}

// ---------------------------------------------------------------------------
// transport_traits and the refinements

TEST_CASE("transport_traits assume both blocking and would_block when a transport declares neither",
          "[transport][traits]") {
    STATIC_REQUIRE(tlsw::transport_traits<min_transport>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<min_transport>::can_would_block);
    // So an undeclared transport is neither refinement: tls_stream must
    // handle both behaviours for it.
    STATIC_REQUIRE(!tlsw::blocking_transport<min_transport>);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<min_transport>);
}

TEST_CASE("transport_traits read the values a transport declares", "[transport][traits]") {
    STATIC_REQUIRE(tlsw::transport_traits<declares_blocking>::can_block);
    STATIC_REQUIRE(!tlsw::transport_traits<declares_blocking>::can_would_block);
    STATIC_REQUIRE(!tlsw::transport_traits<declares_nonblocking>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<declares_nonblocking>::can_would_block);
    STATIC_REQUIRE(tlsw::transport_traits<declares_both>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<declares_both>::can_would_block);

    // One declared, the other defaulted.
    STATIC_REQUIRE(tlsw::transport_traits<declares_only_no_would_block>::can_block);
    STATIC_REQUIRE(!tlsw::transport_traits<declares_only_no_would_block>::can_would_block);
    STATIC_REQUIRE(!tlsw::transport_traits<declares_only_no_block>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<declares_only_no_block>::can_would_block);

    // Any value convertible to bool.
    STATIC_REQUIRE(!tlsw::transport_traits<declares_with_int>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<declares_with_int>::can_would_block);

    STATIC_REQUIRE(std::same_as<decltype(tlsw::transport_traits<declares_with_int>::can_block), const bool>);
}

TEST_CASE("blocking_transport is a transport that never returns would_block", "[transport][traits]") {
    STATIC_REQUIRE(tlsw::blocking_transport<declares_blocking>);
    STATIC_REQUIRE(tlsw::blocking_transport<declares_only_no_would_block>);
    STATIC_REQUIRE(!tlsw::blocking_transport<declares_nonblocking>);
    STATIC_REQUIRE(!tlsw::blocking_transport<declares_both>);
    STATIC_REQUIRE(!tlsw::blocking_transport<declares_only_no_block>);
}

TEST_CASE("nonblocking_transport is a transport that returns would_block and never waits", "[transport][traits]") {
    STATIC_REQUIRE(tlsw::nonblocking_transport<declares_nonblocking>);
    STATIC_REQUIRE(tlsw::nonblocking_transport<declares_only_no_block>);
    STATIC_REQUIRE(tlsw::nonblocking_transport<declares_with_int>);
    STATIC_REQUIRE(tlsw::nonblocking_transport<waitable>);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<declares_blocking>);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<declares_both>);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<declares_only_no_would_block>);
}

TEST_CASE("the refinements require a transport first", "[transport][traits]") {
    STATIC_REQUIRE(!tlsw::transport_traits<nonblocking_no_write_some>::can_block);
    STATIC_REQUIRE(tlsw::transport_traits<nonblocking_no_write_some>::can_would_block);
    STATIC_REQUIRE(!tlsw::nonblocking_transport<nonblocking_no_write_some>);
    STATIC_REQUIRE(!tlsw::blocking_transport<nonblocking_no_write_some>);
    // The refinements subsume transport: a blocking or nonblocking transport is a transport.
    STATIC_REQUIRE(tlsw::transport<declares_blocking>);
    STATIC_REQUIRE(tlsw::transport<declares_nonblocking>);
}

// ---------------------------------------------------------------------------
// waitable_transport

TEST_CASE("waitable_transport detects wait(readiness, milliseconds) returning a bool", "[transport][wait]") {
    STATIC_REQUIRE(tlsw::waitable_transport<waitable>);
    STATIC_REQUIRE(tlsw::waitable_transport<waitable_returns_int>);
    STATIC_REQUIRE(tlsw::waitable_transport<waitable_in_nanoseconds>);
}

TEST_CASE("waitable_transport rejects a missing or different wait", "[transport][wait]") {
    STATIC_REQUIRE(!tlsw::waitable_transport<min_transport>);
    STATIC_REQUIRE(!tlsw::waitable_transport<declares_nonblocking>);
    STATIC_REQUIRE(!tlsw::waitable_transport<wait_returns_void>);
    STATIC_REQUIRE(!tlsw::waitable_transport<wait_in_seconds>);
    STATIC_REQUIRE(!tlsw::waitable_transport<wait_without_timeout>);
    // wait alone does not make a transport.
    STATIC_REQUIRE(!tlsw::waitable_transport<wait_but_no_transport>);
}

TEST_CASE("readiness has distinct readable and writable values", "[transport][wait]") {
    STATIC_REQUIRE(tlsw::readiness::readable != tlsw::readiness::writable);
    STATIC_REQUIRE(static_cast<int>(tlsw::readiness::readable) == 1);
    STATIC_REQUIRE(static_cast<int>(tlsw::readiness::writable) == 2);
}

// ---------------------------------------------------------------------------
// would-block errors

TEST_CASE("would_block() is std::errc::operation_would_block", "[transport][would_block]") {
    const std::error_code ec = tlsw::would_block();
    CHECK(ec == std::errc::operation_would_block);
    CHECK(ec.category() == std::generic_category());
    CHECK(tlsw::is_would_block(ec));
}

TEST_CASE("is_would_block is true for operation_would_block and resource_unavailable_try_again",
          "[transport][would_block]") {
    CHECK(tlsw::is_would_block(std::make_error_code(std::errc::operation_would_block)));
    CHECK(tlsw::is_would_block(std::make_error_code(std::errc::resource_unavailable_try_again)));
    // What a transport over a file descriptor produces from errno.
    CHECK(tlsw::is_would_block(std::error_code(EAGAIN, std::system_category())));
    CHECK(tlsw::is_would_block(std::error_code(EWOULDBLOCK, std::system_category())));
    CHECK(tlsw::is_would_block(std::error_code(EAGAIN, std::generic_category())));
}

TEST_CASE("is_would_block is false for success and for other errors", "[transport][would_block]") {
    CHECK_FALSE(tlsw::is_would_block(std::error_code{}));
    for (auto e : {std::errc::connection_reset, std::errc::broken_pipe, std::errc::interrupted,
                   std::errc::timed_out, std::errc::operation_in_progress, std::errc::not_connected,
                   std::errc::bad_file_descriptor, std::errc::connection_aborted}) {
        CAPTURE(static_cast<int>(e));
        CHECK_FALSE(tlsw::is_would_block(std::make_error_code(e)));
        CHECK_FALSE(tlsw::is_would_block(std::error_code(static_cast<int>(e), std::system_category())));
    }
    // Same number, different category: not a would-block.
    CHECK_FALSE(tlsw::is_would_block(std::make_error_code(std::io_errc::stream)));
    CHECK_FALSE(tlsw::is_would_block(std::error_code(EAGAIN, std::iostream_category())));
}

TEST_CASE("is_would_block and would_block are noexcept", "[transport][would_block]") {
    STATIC_REQUIRE(noexcept(tlsw::would_block()));
    STATIC_REQUIRE(noexcept(tlsw::is_would_block(std::error_code{})));
}
