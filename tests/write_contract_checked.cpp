// The write contract, third part: with checked_retry (the default in builds
// without NDEBUG) a repeated write whose bytes differ from what the first
// attempt took is refused with bad_write_retry instead of being trusted.

#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/tls_stream.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <tuple>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

using checked_policies = std::tuple<policies<tlsw::checked_retry>,
                                    policies<tlsw::checked_retry, tlsw::partial_write>,
                                    policies<tlsw::checked_retry, tlsw::moving_buffer>,
                                    policies<tlsw::moving_buffer, tlsw::partial_write, tlsw::checked_retry>>;

}  // namespace

TEST_CASE("checked_retry is the default without NDEBUG and unchecked_retry with it", "[write][retry][policy]") {
#ifdef NDEBUG
    STATIC_REQUIRE_FALSE(tlsw::tls_stream<tlsw::memory_pair::end>::checked_retry);
#else
    STATIC_REQUIRE(tlsw::tls_stream<tlsw::memory_pair::end>::checked_retry);
#endif
    STATIC_REQUIRE(tlsw::tls_stream<tlsw::memory_pair::end, tlsw::checked_retry>::checked_retry);
    STATIC_REQUIRE_FALSE(tlsw::tls_stream<tlsw::memory_pair::end, tlsw::unchecked_retry>::checked_retry);
    // Nothing stored when off.
    STATIC_REQUIRE(sizeof(tlsw::tls_stream<tlsw::memory_pair::end, tlsw::unchecked_retry>) <
                   sizeof(tlsw::tls_stream<tlsw::memory_pair::end, tlsw::checked_retry>));
}

TEMPLATE_LIST_TEST_CASE("with checked_retry a retry whose bytes changed inside the taken range is bad_write_retry, "
                        "and the correct retry still completes",
                        "[write][retry][checked]", checked_policies) {
    using stream = typename TestType::template stream<tlsw::memory_pair::end>;
    const bool client_writes = GENERATE(true, false);
    // A byte near the start, and the last byte the first attempt took.
    const std::size_t changed_at = GENERATE(std::size_t{100}, stream::max_record - 1);
    CAPTURE(client_writes, changed_at);
    auto [a, b] = tlsw::memory_pair::make(10000);  // less than one record
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    handshake_both(client, server);
    stream& writer = client_writes ? client : server;
    stream& reader = client_writes ? server : client;

    auto data = pattern(100000, 9);
    const auto original = data;
    auto first = writer.write(data);
    REQUIRE_FALSE(first);
    REQUIRE(first.error() == errc::want_write);  // one record taken

    std::vector<std::byte> got;
    (void)drain(reader, got);
    data[changed_at] ^= std::byte{1};
    if constexpr (stream::moving_buffer) {
        const auto moved = data;  // another address, one byte different
        CHECK(writer.write(moved).error() == errc::bad_write_retry);
    } else {
        CHECK(writer.write(data).error() == errc::bad_write_retry);
    }
    data[changed_at] ^= std::byte{1};
    // A byte beyond what was taken may change: it has not been sent.
    data[90000] ^= std::byte{2};
    auto expected = original;
    expected[90000] ^= std::byte{2};

    std::size_t offset = 0;
    for (int i = 0; i < 100000 && offset < data.size(); ++i) {
        auto n = writer.write(std::span(data).subspan(offset));
        if (n) {
            offset += *n;
        } else {
            REQUIRE(n.error().retryable());
            (void)drain(reader, got);
        }
    }
    (void)drain(reader, got);
    CHECK_SAME_BYTES(got, expected);
}

TEST_CASE("with unchecked_retry a changed retry is trusted and the taken bytes go out as first taken",
          "[write][retry][checked]") {
    using stream = tlsw::tls_stream<tlsw::memory_pair::end, tlsw::unchecked_retry>;
    auto [a, b] = tlsw::memory_pair::make(10000);
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    handshake_both(client, server);
    auto data = pattern(50000, 9);
    const auto original = data;
    REQUIRE(client.write(data).error() == errc::want_write);
    data[100] ^= std::byte{1};  // already encrypted: the change does not reach the wire
    std::vector<std::byte> got;
    auto n = retry([&] { return client.write(data); }, [&] { (void)drain(server, got); });
    REQUIRE(n);
    (void)drain(server, got);
    CHECK_SAME_BYTES(got, original);
}
