// The server name a client gives (stream_options::server_name): issue 8,
// item 11. An IP address is verified against IP SANs only and never sent
// as SNI (RFC 6066 section 3); a verifying client without a name is an
// error that says why.

// Test that header file is self-contained.
#include <tlsw/tls_stream.hpp>

#include "support/connection.hpp"
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** A server presenting a leaf from the test CA for `hosts`. */
tlsw::context server_for(std::vector<std::string> hosts) {
    tlsw::testing::pki_options options;
    options.hosts = std::move(hosts);
    auto leaf = tlsw::testing::issue_leaf(env().pki, options);
    return tlsw::context::server(*tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem));
}

/** A handshake between fresh streams; the client connects to `name`. */
struct outcome {
    std::optional<tlsw::tls_error> error;
    tlsw::session_info client;
    tlsw::session_info server;
};

outcome connect(const tlsw::context& client_ctx, const tlsw::context& server_ctx, std::string name) {
    connection c(client_ctx, server_ctx, {.server_name = std::move(name)});
    auto e = c.handshake();
    return {e, c.client.info(), c.server.info()};
}

}  // namespace

TEST_CASE("a server named by an IP address is verified against its IP SANs only and gets no SNI",
          "[server_name][ip]") {
    struct name_case {
        std::vector<std::string> hosts;  // the certificate's SANs; the first is also its CN
        std::string name;                // what the client connects to
        bool matches;
    };
    const auto c = GENERATE(name_case{{"localhost", "127.0.0.1"}, "127.0.0.1", true},
                            name_case{{"localhost", "::1"}, "::1", true},
                            name_case{{"localhost", "::1"}, "[::1]", true},
                            name_case{{"2001:db8::17"}, "[2001:db8::17]", true},
                            name_case{{"localhost", "127.0.0.1"}, "localhost", true},  // a DNS name: SNI as usual
                            name_case{{"127.0.0.2"}, "127.0.0.1", false},               // another address
                            name_case{{"::2"}, "::1", false},                           // another IPv6 address
                            name_case{{"localhost"}, "::1", false},                     // only a DNS name
                            name_case{{"127.0.0.1", "localhost"}, "::1", false},        // another family
                            name_case{{"::1"}, "[::2]", false},
                            name_case{{"127.0.0.1"}, "localhost", false});              // an IP SAN is no DNS name
    CAPTURE(c.hosts, c.name);
    const bool is_address = c.name != "localhost";
    auto server_ctx = server_for(c.hosts);
    auto client_ctx = client_context();
    auto first = connect(client_ctx, server_ctx, c.name);
    if (!c.matches) {
        REQUIRE(first.error);
        CHECK(*first.error == errc::certificate);
        CHECK(first.error->certificate() == tlsw::certificate_reason::name_mismatch);
        return;
    }
    INFO((first.error ? first.error->message() : std::string("ok")));
    REQUIRE_FALSE(first.error);
    CHECK(first.server.server_name == (is_address ? "" : c.name));  // no SNI for an address
    CHECK(first.client.server_name == (is_address ? "" : c.name));  // "the SNI name the client sent"

    // The name, without brackets, is also the session cache key.
    auto second = connect(client_ctx, server_ctx, c.name);
    REQUIRE_FALSE(second.error);
    CHECK(second.client.resumed);
    CHECK(second.server.server_name == (is_address ? "" : c.name));
}

TEST_CASE("a verifying client without a server name fails and says why", "[server_name]") {
    auto r = connect(client_context(), server_context(), "");
    REQUIRE(r.error);
    CHECK(*r.error == errc::missing_server_name);
    CHECK_FALSE(r.error->retryable());
    CHECK_THAT(r.error->message(), Catch::Contains("server_name"));

    // Without verification there is nothing to check the name against.
    auto insecure = client_context();
    insecure.danger_disable_verification();
    auto ok = connect(insecure, server_context(), "");
    CHECK_FALSE(ok.error);
    CHECK(ok.server.server_name.empty());
}
