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

// ---- certificates chosen by SNI (issue 10, item 4) -------------------------

namespace {

tlsw::credentials leaf_credentials(const tlsw::testing::test_pki& ca, std::vector<std::string> hosts) {
    tlsw::testing::pki_options options;
    options.hosts = std::move(hosts);
    auto leaf = tlsw::testing::issue_leaf(ca, options);
    return *tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem);
}

/** The test CA's and a second CA's: a client trusting both. */
struct two_cas {
    two_cas() { REQUIRE(client.trust(other.ca_cert_pem)); }

    tlsw::testing::test_pki other = tlsw::testing::make_test_pki("gamma.test");
    tlsw::context client = client_context();
};

}  // namespace

TEST_CASE("a server with several credentials presents the one whose names match the client's SNI, "
          "the first without SNI or a match",
          "[server_name][sni][credentials]") {
    struct sni_case {
        std::string name;  // what the client connects to and verifies
        bool verifies;     // whether the certificate the server picks names it
    };
    const auto c = GENERATE(sni_case{"alpha.test", true},     // the default's own name
                            sni_case{"127.0.0.1", true},      // no SNI: the default, verified by its IP SAN
                            sni_case{"www.beta.test", true},  // the wildcard: one leftmost label
                            sni_case{"gamma.test", true},     // credentials from a second CA
                            sni_case{"a.b.beta.test", false}, // a wildcard stands for one label only
                            sni_case{"beta.test", false},     // and for one label, not none
                            sni_case{"other.test", false});   // no match: the default, for another name
    CAPTURE(c.name);
    two_cas cas;
    auto server_ctx = tlsw::context::server(leaf_credentials(env().pki, {"alpha.test", "127.0.0.1"}));
    REQUIRE(server_ctx.add_credentials(leaf_credentials(env().pki, {"*.beta.test"})));
    REQUIRE(server_ctx.add_credentials(*tlsw::credentials::from_pem(cas.other.chain_pem, cas.other.leaf_key_pem)));

    auto r = connect(cas.client, server_ctx, c.name);
    if (!c.verifies) {
        REQUIRE(r.error);
        CHECK(*r.error == errc::certificate);
        CHECK(r.error->certificate() == tlsw::certificate_reason::name_mismatch);
        return;
    }
    INFO((r.error ? r.error->message() : std::string("ok")));
    REQUIRE_FALSE(r.error);
    CHECK(r.server.server_name == (c.name == "127.0.0.1" ? "" : c.name));
}

TEST_CASE("adding credentials changes the configuration identity: a session from before makes a full handshake",
          "[server_name][sni][credentials][resumption]") {
    two_cas cas;
    auto before = tlsw::context::server(leaf_credentials(env().pki, {"alpha.test"}));
    auto after = before;  // the same ticket key
    REQUIRE(after.add_credentials(*tlsw::credentials::from_pem(cas.other.chain_pem, cas.other.leaf_key_pem)));

    auto first = connect(cas.client, before, "alpha.test");
    REQUIRE_FALSE(first.error);
    auto again = connect(cas.client, before, "alpha.test");
    REQUIRE_FALSE(again.error);
    CHECK(again.client.resumed);  // the control: the same configuration resumes

    auto other = connect(cas.client, after, "alpha.test");
    REQUIRE_FALSE(other.error);
    CHECK_FALSE(other.client.resumed);
    CHECK_FALSE(other.server.resumed);
}

TEST_CASE("a client context refuses add_credentials", "[server_name][sni][credentials]") {
    auto ctx = client_context();
    auto r = ctx.add_credentials(env().server_credentials);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_state);
}

// Issue 20, item 11: a trailing dot, and the bounds on what a server makes a client store.
TEST_CASE("a trailing dot in server_name is not sent in SNI, and the name verifies as without it",
          "[server_name][sni]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    auto client_ctx = only12 ? tls12(client_context()) : client_context();
    const auto server_ctx = server_context();
    const auto fqdn = connect(client_ctx, server_ctx, "localhost.");
    INFO((fqdn.error ? fqdn.error->message() : std::string("ok")));
    REQUIRE_FALSE(fqdn.error);
    CHECK(fqdn.server.server_name == "localhost");  // RFC 6066: no trailing dot
    CHECK(fqdn.client.server_name == "localhost");
    CHECK(fqdn.client.peer_verified);

    // The name still has to match: "other." is "other".
    const auto other = connect(client_ctx, server_ctx, "other.");
    REQUIRE(other.error);
    CHECK(other.error->certificate() == tlsw::certificate_reason::name_mismatch);

    // "localhost." and "localhost" are one server for the session cache.
    const auto again = connect(client_ctx, server_ctx, "localhost");
    REQUIRE_FALSE(again.error);
    CHECK(again.client.resumed);
}

TEST_CASE("a client does not store a session ticket larger than the bound, and resumes with one within it",
          "[server_name][resumption][ticket]") {
    // Botan's servers seal the client's certificate into the ticket: a
    // client certificate with many names makes the server send a ticket
    // larger than 8 KiB, as a hostile server could.
    const bool only12 = GENERATE(false, true);
    const bool big = GENERATE(false, true);
    CAPTURE(only12, big);
    tlsw::testing::pki_options options;
    options.hosts = {"client.test"};
    if (big)
        for (int i = 0; i < 600; ++i)
            options.hosts.push_back("host-" + std::to_string(i) + ".client.example.test");
    const auto leaf = tlsw::testing::issue_leaf(env().pki, options);
    auto client_ctx = only12 ? tls12(client_context()) : client_context();
    client_ctx.client_certificate(*tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem));
    // Two servers sharing a ticket key and not a cache: only a ticket resumes.
    const auto key = pattern(32, 31);
    auto a = server_context();
    auto b = server_context();
    for (auto* s : {&a, &b}) {
        REQUIRE(s->trust(env().pki.ca_cert_pem));
        REQUIRE(s->session_ticket_key(key));
    }
    const auto first = connect(client_ctx, a, "localhost");
    REQUIRE_FALSE(first.error);
    CHECK(first.server.peer_verified);
    const auto second = connect(client_ctx, b, "localhost");
    REQUIRE_FALSE(second.error);
    CHECK(second.client.resumed == !big);
}
