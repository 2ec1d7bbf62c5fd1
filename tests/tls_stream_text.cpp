// Writes and reads of text (issue 10, item 7): tls_stream::write takes
// std::string, std::string_view, string literals and ranges of char,
// unsigned char or std::byte without std::as_bytes, with write()'s retry
// rules; read fills a range of char.

// Test that header file is self-contained.
#include <tlsw/tls_stream.hpp>

#include "support/botan_peer.hpp"
#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <string_view>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

using plain_stream = tlsw::tls_stream<tlsw::memory_pair::end>;

// Overload resolution, checked where it is decided: text goes to the text
// write, a range of spans to the gather write, and neither takes the other.
static_assert(tlsw::detail::text_source<std::string>);
static_assert(tlsw::detail::text_source<std::string_view>);
static_assert(tlsw::detail::text_source<const char*>);
static_assert(tlsw::detail::text_source<char[5]>);
static_assert(tlsw::detail::text_source<std::vector<char>>);
static_assert(tlsw::detail::text_source<std::vector<unsigned char>>);
static_assert(tlsw::detail::text_source<std::array<std::byte, 4>>);
static_assert(!tlsw::detail::text_source<std::vector<std::span<const std::byte>>>);
static_assert(!tlsw::detail::text_source<std::nullptr_t>);
static_assert(!tlsw::detail::text_source<std::vector<int>>);
static_assert(tlsw::detail::text_sink<std::string&>);
static_assert(tlsw::detail::text_sink<std::span<char>>);
static_assert(!tlsw::detail::text_sink<const std::string&>);
static_assert(!tlsw::detail::text_sink<std::string_view>);

template <class S, class T>
concept can_write = requires(S& s, const T& t) { s.write(t); };
template <class S, class T>
concept can_read = requires(S& s, T&& t) { s.read(std::forward<T>(t)); };
static_assert(can_write<plain_stream, std::string>);
static_assert(!can_write<plain_stream, std::vector<int>>);
static_assert(can_read<plain_stream, std::string&>);
static_assert(!can_read<plain_stream, const std::string&>);
static_assert(!can_read<plain_stream, std::string_view>);

/** Writes `text` with as many calls as the write mode needs (after
    want_*, the same arguments again), letting `peer` read into a
    std::string in between. Returns what the peer received. */
template <class W, class R>
std::string send_text(W& writer, R& peer, const std::string& text) {
    const std::size_t size = text.size();
    std::string received;
    std::string buffer(20000, '\0');
    const auto take = [&] {
        for (;;) {
            auto m = peer.read(buffer);
            if (!m) {
                REQUIRE(m.error().retryable());
                return;
            }
            received.append(buffer, 0, *m);
        }
    };
    std::size_t written = 0;
    for (int rounds = 0; written < size && rounds < 100000; ++rounds) {
        // The first write passes `text` itself; after a partial write the
        // rest is a new write, of the string_view of what is left.
        auto n = written == 0 ? writer.write(text) : writer.write(std::string_view(text).substr(written));
        if (n) {
            written += *n;
        } else {
            REQUIRE(n.error().retryable());
        }
        take();
    }
    REQUIRE(written == size);
    for (int rounds = 0; received.size() < size && rounds < 1000; ++rounds)
        take();
    return received;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("write takes a std::string, string_view, literal or char vector and read fills a string",
                        "[tls_stream][write][read][text]", all_policies) {
    wired<TestType> d;
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& reader = d.other(client_writes);

    const std::string greeting = "GET / HTTP/1.1\r\n";
    const std::string_view host = "Host: localhost\r\n";
    const std::vector<char> blank{'\r', '\n'};
    const std::vector<unsigned char> tail{'o', 'k'};
    const std::array<std::byte, 1> end{std::byte{'.'}};
    auto retry_peer = [&] { (void)reader.handshake(); };
    REQUIRE(retry([&] { return writer.write(greeting); }, retry_peer));
    REQUIRE(retry([&] { return writer.write(host); }, retry_peer));
    REQUIRE(retry([&] { return writer.write("literal"); }, retry_peer));  // without its NUL
    REQUIRE(retry([&] { return writer.write(blank); }, retry_peer));
    REQUIRE(retry([&] { return writer.write(tail); }, retry_peer));
    REQUIRE(retry([&] { return writer.write(end); }, retry_peer));
    const char* c_string = "!";
    REQUIRE(retry([&] { return writer.write(c_string); }, retry_peer));

    const std::string want = "GET / HTTP/1.1\r\nHost: localhost\r\nliteral\r\nok.!";
    std::string got;
    std::string buffer(7, '\0');  // smaller than a record: reads split it
    std::vector<char> chars(3);
    char array[5];
    for (int i = 0; got.size() < want.size() && i < 1000; ++i) {
        tlsw::result<std::size_t> r;
        switch (i % 3) {
        case 0:
            r = reader.read(buffer);
            if (r)
                got.append(buffer, 0, *r);
            break;
        case 1:
            r = reader.read(chars);
            if (r)
                got.append(chars.data(), *r);
            break;
        default:
            r = reader.read(array);
            if (r)
                got.append(array, *r);
            break;
        }
        if (!r)
            REQUIRE(r.error().retryable());
    }
    CHECK(got == want);
}

TEMPLATE_LIST_TEST_CASE("a string literal's NUL is not sent and an embedded NUL ends a char array",
                        "[tls_stream][write][text]", all_policies) {
    wired<TestType> d;
    handshake_both(d.client, d.server);
    const char no_nul[3] = {'a', 'b', 'c'};  // no terminator: the whole extent, nothing past it
    auto literal = d.client.write("xy\0z");
    REQUIRE(literal);
    CHECK(*literal == 2);
    auto array = d.client.write(no_nul);
    REQUIRE(array);
    CHECK(*array == 3);
    std::string buffer(100, '\0');
    std::string got;
    for (int i = 0; got.size() < 5 && i < 10; ++i) {
        auto r = d.server.read(buffer);
        REQUIRE(r);
        got.append(buffer, 0, *r);
    }
    CHECK(got == "xyabc");
    auto more = d.server.read(buffer);
    REQUIRE_FALSE(more);
    CHECK(more.error() == errc::want_read);
}

TEMPLATE_LIST_TEST_CASE("write({}) stays the empty write and a null const char* is invalid_argument",
                        "[tls_stream][write][text][zero]", all_policies) {
    wired<TestType> d;
    auto n = retry([&] { return d.client.write({}); }, [&] { (void)d.server.handshake(); });
    REQUIRE(n);
    CHECK(*n == 0);
    const char* none = nullptr;
    auto bad = d.client.write(none);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == errc::invalid_argument);
    // Not final: the stream still writes.
    auto after = d.client.write(std::string("after"));
    REQUIRE(after);
    CHECK(*after == 5);
}

TEMPLATE_LIST_TEST_CASE("a std::string write repeated after want_write sends every byte once and in order",
                        "[tls_stream][write][retry][text][nonblocking]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    const std::size_t capacity = GENERATE(std::size_t{97}, std::size_t{4096});
    CAPTURE(client_writes, capacity);
    wired<TestType> d(capacity);
    handshake_both(d.client, d.server);
    const auto bytes = pattern(100000, 9);
    const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::string got = send_text(d.side(client_writes), d.other(client_writes), text);
    CHECK_SAME_BYTES(std::as_bytes(std::span(got)), std::as_bytes(std::span(text)));
}

TEMPLATE_LIST_TEST_CASE("a text retry follows the buffer policy: another string with the same bytes is "
                        "bad_write_retry with fixed_buffer and accepted with moving_buffer",
                        "[tls_stream][write][retry][text][nonblocking]", all_policies) {
    using stream = typename wired<TestType>::stream;
    const bool client_writes = GENERATE(true, false);
    CAPTURE(client_writes);
    wired<TestType> d(10000);
    handshake_both(d.client, d.server);
    auto& writer = d.side(client_writes);
    auto& peer = d.other(client_writes);
    const auto bytes = pattern(100000, 4);
    const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::string copy = text;

    auto first = writer.write(text);
    REQUIRE_FALSE(first);
    REQUIRE(first.error() == errc::want_write);
    std::vector<std::byte> at_peer;
    (void)drain(peer, at_peer);

    auto again = writer.write(copy);
    if constexpr (stream::moving_buffer) {
        // Accepted: it resumes after the taken bytes.
        REQUIRE((again || again.error().retryable()));
    } else {
        REQUIRE_FALSE(again);
        CHECK(again.error() == errc::bad_write_retry);
    }
    // Either way the original string completes the write, every byte once.
    std::size_t written = again ? *again : 0;
    for (int i = 0; written == 0 && i < 100000; ++i) {
        auto n = writer.write(text);
        if (n)
            written = *n;
        else
            REQUIRE(n.error().retryable());
        (void)drain(peer, at_peer);
    }
    REQUIRE(written > 0);
    REQUIRE(read_until(peer, at_peer, written, [] {}));
    CHECK_SAME_BYTES(at_peer, std::span(bytes).first(written));
}
