// Peer identity and custom verification (issue 10, items 1 and 2): both
// sides see the peer's chain, also on a resumed session, and a context's
// hook can reject what tlsw's own checks accepted.

// Test that header file is self-contained.
#include <tlsw/peer_certificate.hpp>

#include "support/connection.hpp"
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** A CA and leaf for "localhost" that no test context trusts. */
const tlsw::testing::test_pki& other_pki() {
    static const auto pki = tlsw::testing::make_test_pki("localhost");
    return pki;
}

tlsw::credentials other_credentials() {
    return *tlsw::credentials::from_pem(other_pki().chain_pem, other_pki().leaf_key_pem);
}

bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

const char* name(carrier how) { return how == carrier::ticket ? "ticket" : "session ID"; }

/** A server asking for (not requiring) client certificates from the test CA. */
tlsw::context asking_server(carrier how) {
    auto ctx = server_context();
    REQUIRE(ctx.trust(env().pki.ca_cert_pem));
    ctx.session_tickets(how == carrier::ticket);
    return ctx;
}

void check_server_chain(const tlsw::session_info& info) {
    const auto now = std::chrono::system_clock::now();
    REQUIRE(info.peer_chain.size() == 2);  // leaf, then the CA the server sends along
    const auto& leaf = info.peer_chain.front();
    CHECK(leaf.common_name == "localhost");
    CHECK(has(leaf.dns_names, "localhost"));
    CHECK(leaf.subject.find("localhost") != std::string::npos);
    CHECK(leaf.issuer == info.peer_chain[1].subject);
    CHECK(leaf.not_before < now);
    CHECK(now < leaf.not_after);
    REQUIRE_FALSE(leaf.der.empty());
    CHECK(leaf.der[0] == std::byte{0x30});  // a DER SEQUENCE
    CHECK(leaf.spki_sha256 != std::array<std::byte, 32>{});
    CHECK(leaf.spki_sha256 != info.peer_chain[1].spki_sha256);
}

void check_client_chain(const tlsw::session_info& info) {
    REQUIRE_FALSE(info.peer_chain.empty());
    const auto& leaf = info.peer_chain.front();
    CHECK(leaf.common_name == "client.test");
    CHECK(has(leaf.dns_names, "client.test"));
    CHECK(has(leaf.ip_addresses, "127.0.0.1"));
    CHECK(has(leaf.ip_addresses, "0:0:0:0:0:0:0:1"));
    CHECK_FALSE(has(leaf.dns_names, "127.0.0.1"));
}

}  // namespace

TEST_CASE("both sides see the peer's certificate chain after a full and a resumed handshake",
          "[peer_certificate][resumption]") {
    const auto how = GENERATE(carrier::session_id, carrier::ticket);
    CAPTURE(name(how));
    auto server_ctx = asking_server(how);
    auto client_ctx = client_context();
    client_ctx.client_certificate(client_credentials());

    connection first(client_ctx, server_ctx);
    REQUIRE_FALSE(first.handshake());
    CHECK_FALSE(first.client.info().resumed);
    check_server_chain(first.client.info());
    check_client_chain(first.server.info());
    CHECK(first.client.info().peer_verified);
    CHECK(first.server.info().peer_verified);

    connection second(client_ctx, server_ctx);
    REQUIRE_FALSE(second.handshake());
    REQUIRE(second.client.info().resumed);
    REQUIRE(second.server.info().resumed);
    check_server_chain(second.client.info());
    check_client_chain(second.server.info());
    CHECK(second.client.info().peer_chain.front().der == first.client.info().peer_chain.front().der);
    CHECK(second.server.info().peer_chain.front().der == first.server.info().peer_chain.front().der);
}

TEST_CASE("the peer's chain, converted when first read, reads the same from a copy of info() that outlives its stream",
          "[peer_certificate]") {
    // The chain is converted from the handshake's certificates on first
    // read: a copy taken before that still holds them once the stream
    // (and its TLS channel) is gone, and each reads the same chain.
    tlsw::session_info copy;
    std::vector<std::byte> leaf_der;
    {
        auto server_ctx = asking_server(carrier::ticket);
        auto client_ctx = client_context();
        client_ctx.client_certificate(client_credentials());
        connection c(client_ctx, server_ctx);
        REQUIRE_FALSE(c.handshake());
        copy = c.client.info();  // nothing read yet
        check_server_chain(c.client.info());
        leaf_der = c.client.info().peer_chain.front().der;
    }
    check_server_chain(copy);
    CHECK(copy.peer_chain.front().der == leaf_der);
    const std::vector<tlsw::peer_certificate>& as_vector = copy.peer_chain;
    CHECK(as_vector.size() == copy.peer_chain.size());
}

TEST_CASE("a server with optional client certificates tells an authenticated client from an anonymous one",
          "[peer_certificate][client_certificate]") {
    const auto how = GENERATE(carrier::session_id, carrier::ticket);
    auto server_ctx = asking_server(how);
    auto anonymous_ctx = client_context();
    auto authenticated_ctx = client_context();
    authenticated_ctx.client_certificate(client_credentials());

    for (int round = 0; round < 2; ++round) {  // full, then resumed
        CAPTURE(round, name(how));
        connection anonymous(anonymous_ctx, server_ctx);
        REQUIRE_FALSE(anonymous.handshake());
        CHECK(anonymous.server.info().resumed == (round == 1));
        CHECK(anonymous.server.info().peer_chain.empty());
        CHECK_FALSE(anonymous.server.info().peer_verified);

        connection authenticated(authenticated_ctx, server_ctx);
        REQUIRE_FALSE(authenticated.handshake());
        CHECK(authenticated.server.info().resumed == (round == 1));
        CHECK(authenticated.server.info().peer_verified);
        check_client_chain(authenticated.server.info());
    }
}

// ---- verification hooks -----------------------------------------------------

namespace {

tlsw::verify_result pin(const tlsw::verify_request& request, const std::array<std::byte, 32>& key) {
    if (request.chain.empty() || request.chain.front().spki_sha256 != key)
        return tlsw::verify_result::reject("server key is not the pinned one");
    return tlsw::verify_result::accept();
}

std::array<std::byte, 32> test_server_key() {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    connection c(client_ctx, server_ctx);
    REQUIRE_FALSE(c.handshake());
    REQUIRE_FALSE(c.client.info().peer_chain.empty());
    return c.client.info().peer_chain.front().spki_sha256;
}

}  // namespace

TEST_CASE("a client's verify hook pinning the server key accepts that key and rejects another",
          "[peer_certificate][verify_hook]") {
    const auto key = test_server_key();
    auto client_ctx = client_context();
    std::string seen_name;
    bool peer_is_server = false;
    client_ctx.verify_hook([&](const tlsw::verify_request& r) {
        seen_name = std::string(r.expected_name);
        peer_is_server = r.peer_is_server;
        return pin(r, key);
    });

    SECTION("the pinned key") {
        auto server_ctx = server_context();
        connection c(client_ctx, server_ctx);
        REQUIRE_FALSE(c.handshake());
        CHECK(seen_name == "localhost");
        CHECK(peer_is_server);
        CHECK(c.client.info().peer_verified);
    }
    SECTION("another key from the same trusted CA") {
        auto leaf = tlsw::testing::issue_leaf(env().pki, {});
        auto server_ctx = tlsw::context::server(*tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem));
        connection c(client_ctx, server_ctx);
        REQUIRE(c.handshake());
        auto r = c.client.handshake();
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == errc::certificate);
        CHECK(r.error().certificate() == tlsw::certificate_reason::rejected);
        CHECK(c.client.last_error_detail() == "server key is not the pinned one");
        auto s = c.server.handshake();
        REQUIRE_FALSE(s);
        CHECK(s.error().code() == errc::certificate);  // the client's bad_certificate alert
    }
}

TEST_CASE("the verify hook runs after the built-in checks: it cannot accept an untrusted chain",
          "[peer_certificate][verify_hook]") {
    auto server_ctx = tlsw::context::server(other_credentials());
    auto client_ctx = client_context();
    int calls = 0;
    client_ctx.verify_hook([&](const tlsw::verify_request&) {
        ++calls;
        return tlsw::verify_result::accept();
    });
    connection c(client_ctx, server_ctx);
    REQUIRE(c.handshake());
    auto r = c.client.handshake();
    REQUIRE_FALSE(r);
    CHECK(r.error().certificate() == tlsw::certificate_reason::unknown_issuer);
    CHECK(calls == 0);
}

TEST_CASE("a verify hook that throws fails the handshake with a certificate error, not an exception",
          "[peer_certificate][verify_hook]") {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    client_ctx.verify_hook([](const tlsw::verify_request&) -> tlsw::verify_result {
        throw std::runtime_error("policy database unavailable");
    });
    connection c(client_ctx, server_ctx);
    REQUIRE(c.handshake());
    auto r = c.client.handshake();
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::certificate);
    CHECK(r.error().certificate() == tlsw::certificate_reason::rejected);
    CHECK(c.client.last_error_detail().find("policy database unavailable") != std::string_view::npos);
}

TEST_CASE("danger_verify_hook replaces the built-in checks: it can accept an untrusted chain for any name",
          "[peer_certificate][verify_hook][danger]") {
    auto server_ctx = tlsw::context::server(other_credentials());
    auto client_ctx = client_context();
    const auto server_name = GENERATE(std::string("localhost"), std::string("not-the-name.test"), std::string());
    CAPTURE(server_name);
    int calls = 0;
    std::size_t chain_size = 0;
    client_ctx.danger_verify_hook([&](const tlsw::verify_request& r) {
        ++calls;
        chain_size = r.chain.size();
        return tlsw::verify_result::accept();
    });
    connection c(client_ctx, server_ctx, {.server_name = server_name});
    REQUIRE_FALSE(c.handshake());
    CHECK(calls == 1);
    CHECK(chain_size == 2);
    CHECK(c.client.info().peer_chain.front().common_name == "localhost");

    // Removing it brings the built-in checks back.
    client_ctx.danger_verify_hook({});
    connection d(client_ctx, server_ctx);
    REQUIRE(d.handshake());
    auto r = d.client.handshake();
    REQUIRE_FALSE(r);
    CHECK(r.error().certificate() == tlsw::certificate_reason::unknown_issuer);
}

TEST_CASE("a server's verify hook sees client chains and can reject a client its CA accepts",
          "[peer_certificate][verify_hook][client_certificate]") {
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(env().pki.ca_cert_pem));
    bool peer_was_server = true;
    std::string expected_name = "unset";
    server_ctx.verify_hook([&](const tlsw::verify_request& r) {
        peer_was_server = r.peer_is_server;
        expected_name = std::string(r.expected_name);
        if (r.chain.front().common_name != "client.test")
            return tlsw::verify_result::reject("only client.test may connect");
        return tlsw::verify_result::accept();
    });

    SECTION("an allowed client") {
        auto client_ctx = client_context();
        client_ctx.client_certificate(client_credentials());
        connection c(client_ctx, server_ctx);
        REQUIRE_FALSE(c.handshake());
        CHECK_FALSE(peer_was_server);
        CHECK(expected_name.empty());
        CHECK(c.server.info().peer_verified);
    }
    SECTION("another client of the same CA") {
        tlsw::testing::pki_options options;
        options.hosts = {"intruder.test"};
        auto leaf = tlsw::testing::issue_leaf(env().pki, options);
        auto client_ctx = client_context();
        client_ctx.client_certificate(*tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem));
        connection c(client_ctx, server_ctx);
        REQUIRE(c.handshake());
        auto s = c.server.handshake();
        REQUIRE_FALSE(s);
        CHECK(s.error().code() == errc::certificate);
        CHECK(s.error().certificate() == tlsw::certificate_reason::rejected);
        CHECK(c.server.last_error_detail() == "only client.test may connect");
    }
    SECTION("a server's danger hook accepts a client from a CA it does not trust") {
        server_ctx.danger_verify_hook([](const tlsw::verify_request& r) {
            return r.chain.front().common_name == "localhost" ? tlsw::verify_result::accept()
                                                              : tlsw::verify_result::reject("unknown client");
        });
        auto client_ctx = client_context();
        client_ctx.client_certificate(other_credentials());
        connection c(client_ctx, server_ctx);
        REQUIRE_FALSE(c.handshake());
        CHECK(c.server.info().peer_verified);
        CHECK(c.server.info().peer_chain.front().common_name == "localhost");
    }
}

TEST_CASE("a session made before a verify hook was set does not resume past it", "[peer_certificate][verify_hook]") {
    const auto how = GENERATE(carrier::session_id, carrier::ticket);
    CAPTURE(name(how));
    auto server_ctx = server_context();
    server_ctx.session_tickets(how == carrier::ticket);
    auto client_ctx = client_context();
    connection first(client_ctx, server_ctx);
    REQUIRE_FALSE(first.handshake());

    client_ctx.verify_hook([](const tlsw::verify_request&) { return tlsw::verify_result::reject("pinned elsewhere"); });
    connection second(client_ctx, server_ctx);
    REQUIRE(second.handshake());
    auto r = second.client.handshake();
    REQUIRE_FALSE(r);
    CHECK(r.error().certificate() == tlsw::certificate_reason::rejected);
}

// ---- what a failed verification says (issue 10, item 6) ---------------------

namespace {

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

/** Runs a handshake that the client fails; returns the client's error. */
tlsw::tls_error client_failure(connection& c) {
    REQUIRE(c.handshake());
    auto r = c.client.handshake();
    REQUIRE_FALSE(r);
    return r.error();
}

}  // namespace

TEST_CASE("a name mismatch names the expected name, the names presented and the leaf, in one line",
          "[peer_certificate][error_detail]") {
    auto server_ctx = server_context();
    connection c(client_context(), server_ctx, {.server_name = "wrong.example"});
    const auto e = client_failure(c);
    CHECK(e.certificate() == tlsw::certificate_reason::name_mismatch);
    const auto detail = c.client.last_error_detail();
    CAPTURE(detail);
    CHECK(contains(detail, "expected name \"wrong.example\""));
    CHECK(contains(detail, "names presented: DNS:localhost"));
    CHECK(contains(detail, "certificate 0 of 2"));
    CHECK(contains(detail, "localhost"));
    CHECK(contains(detail, "valid "));
    const auto line = c.client.describe();
    CAPTURE(line);
    CHECK(line.starts_with(e.message()));
    CHECK(contains(line, std::string(detail)));
    CHECK_FALSE(contains(line, "\n"));
}

TEST_CASE("an untrusted chain names the certificate that lacks a trusted issuer and its position",
          "[peer_certificate][error_detail]") {
    auto server_ctx = tlsw::context::server(other_credentials());
    connection c(client_context(), server_ctx);
    const auto e = client_failure(c);
    CHECK(e.certificate() == tlsw::certificate_reason::unknown_issuer);
    const auto detail = c.client.last_error_detail();
    CAPTURE(detail);
    CHECK(contains(detail, "certificate 1 of 2"));  // the CA it sent along is not trusted
    CHECK(contains(detail, "expected name \"localhost\""));
}

TEST_CASE("an expired leaf names its validity dates", "[peer_certificate][error_detail]") {
    tlsw::testing::pki_options options;
    options.not_before_offset = std::chrono::hours(-48);
    options.not_after_offset = std::chrono::hours(-24);
    auto leaf = tlsw::testing::issue_leaf(env().pki, options);
    const auto not_after = std::chrono::system_clock::now() - std::chrono::hours(24);
    const std::time_t t = std::chrono::system_clock::to_time_t(not_after);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char day[16];
    std::strftime(day, sizeof day, "%Y/%m/%d", &tm);

    auto server_ctx = tlsw::context::server(*tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem));
    connection c(client_context(), server_ctx);
    const auto e = client_failure(c);
    CHECK(e.certificate() == tlsw::certificate_reason::expired);
    const auto detail = c.client.last_error_detail();
    CAPTURE(detail, day);
    CHECK(contains(detail, "certificate 0 of 2"));
    CHECK(contains(detail, std::string(" to ") + day));
}

TEST_CASE("a missing required client certificate is certificate_reason::no_certificate on both sides",
          "[peer_certificate][error_detail][client_certificate]") {
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(env().pki.ca_cert_pem));
    server_ctx.require_client_certificate(true);
    connection c(client_context(), server_ctx);  // the client has no certificate
    REQUIRE(c.handshake());
    auto s = c.server.handshake();
    REQUIRE_FALSE(s);
    CHECK(s.error().code() == errc::certificate);
    CHECK(s.error().certificate() == tlsw::certificate_reason::no_certificate);
    CHECK(contains(c.server.last_error_detail(), "sent no certificate"));
    auto r = c.client.handshake();
    std::optional<tlsw::tls_error> client_error;
    if (!r) {
        client_error = r.error();
    } else {
        // TLS 1.3: the client's handshake ends with its own Finished, before
        // the server judged its (empty) Certificate; the verdict is read.
        CHECK(c.client.info().version == "TLS v1.3");
        std::byte none[1];
        auto read = c.client.read(none);
        REQUIRE_FALSE(read);
        client_error = read.error();
    }
    CHECK(client_error->code() == errc::certificate);
    CHECK(client_error->certificate() == tlsw::certificate_reason::no_certificate);
    CHECK(client_error->alert_from_peer());
}

// ---- errors say who failed (issue 20, item 10) ---------------------------------

namespace {

/** The first hard error of a connection's client: from its handshake, or,
    under TLS 1.3 (where the client's handshake ends before the server
    judged its certificate), from the read after it. */
std::optional<tlsw::tls_error> first_client_failure(connection& c) {
    (void)c.handshake();  // the server may fail first
    if (auto h = c.client.handshake(); !h)
        return h.error();
    std::byte none[1];
    if (auto r = c.client.read(none); !r && !r.error().retryable())
        return r.error();
    return std::nullopt;
}

}  // namespace

TEST_CASE("when the server rejects our certificate, the client's error says the server rejected it",
          "[peer_certificate][error_detail][client_certificate]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(tlsw::testing::make_test_pki("other CA").ca_cert_pem));  // not the client's CA
    server_ctx.require_client_certificate(true);
    auto client_ctx = client_context();
    client_ctx.client_certificate(client_credentials());
    connection c(only12 ? tls12(client_ctx) : client_ctx, server_ctx);
    const auto e = first_client_failure(c);
    REQUIRE(e);
    CHECK(e->code() == errc::certificate);
    CHECK(e->alert_from_peer());
    CHECK(contains(e->message(), "the peer rejected our certificate"));
    CHECK_FALSE(contains(e->message(), "issuer is unknown"));  // that reads as if we judged the server
    INFO(c.server.last_error_detail());
    CHECK(c.client.last_error_detail() ==
          std::string("the server rejected our certificate: ") + tlsw::alert_name(e->alert()));
    CHECK(c.server.last_error_detail().size() > 0);
}

TEST_CASE("when the client rejects our certificate, the server's error says the client rejected it",
          "[peer_certificate][error_detail]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    auto client_ctx = tlsw::context::client();
    client_ctx.use_system_trust(false);
    REQUIRE(client_ctx.trust(tlsw::testing::make_test_pki("other CA").ca_cert_pem));
    connection c(only12 ? tls12(client_ctx) : client_ctx, server_context());
    REQUIRE(c.handshake());
    auto s = c.server.handshake();
    REQUIRE_FALSE(s);
    CHECK(s.error().code() == errc::certificate);
    CHECK(s.error().alert_from_peer());
    CHECK(contains(s.error().message(), "the peer rejected our certificate"));
    CHECK(c.server.last_error_detail() == "the client rejected our certificate: unknown_ca");
    CHECK(c.client.info().peer_chain.size() == 2);  // the rejected chain, for a tool to show
}

TEST_CASE("a client without a certificate at a server that requires one is told so, in its own words",
          "[peer_certificate][error_detail][client_certificate]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(env().pki.ca_cert_pem));
    server_ctx.require_client_certificate(true);
    connection c(only12 ? tls12(client_context()) : client_context(), server_ctx);
    const auto e = first_client_failure(c);
    REQUIRE(e);
    CHECK(e->certificate() == tlsw::certificate_reason::no_certificate);
    CHECK(contains(e->message(), "requires a certificate and none was sent"));
    CHECK(c.client.last_error_detail() == "the server requires a client certificate and none is configured");
}

TEST_CASE("after a failed verification info() still holds the rejected chain, not verified",
          "[peer_certificate][error_detail]") {
    const bool only12 = GENERATE(false, true);
    const int how = GENERATE(0, 1, 2);
    const char* names[] = {"untrusted CA", "name mismatch", "the hook rejects"};
    CAPTURE(only12, names[how]);
    const auto stranger = tlsw::testing::make_test_pki("localhost");
    auto client_ctx = client_context();
    if (how == 2)
        client_ctx.verify_hook([](const tlsw::verify_request&) { return tlsw::verify_result::reject("no"); });
    auto server_ctx = how == 0 ? tlsw::context::server(*tlsw::credentials::from_pem(stranger.chain_pem, stranger.leaf_key_pem))
                               : server_context();
    connection c(only12 ? tls12(client_ctx) : client_ctx, server_ctx,
                 {.server_name = how == 1 ? "elsewhere.test" : "localhost"});
    const auto e = c.handshake();
    REQUIRE(e);
    CHECK(e->code() == errc::certificate);
    CHECK_FALSE(c.client.last_error_detail().empty());
    const auto& info = c.client.info();
    CHECK_FALSE(info.peer_verified);
    REQUIRE(info.peer_chain.size() == 2);
    CHECK(info.peer_chain.front().common_name == "localhost");
    CHECK_FALSE(info.peer_chain.front().der.empty());
    CHECK(info.peer_common_name == "localhost");
}
