// Certificate revocation lists in a context's trust (context::add_crl,
// issue 22 item 5), on both engines and both roles: a revoked leaf fails
// the handshake with certificate_reason::revoked, an unrevoked one passes,
// and a CRL no trust anchor signed is refused when it is added.

// Test that header file is self-contained.
#include <tlsw/context.hpp>

#include "support/connection.hpp"
#include "support/harness.hpp"

#include <tlsw/testing/test_crl.hpp>

#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509_crl.h>
#include <botan/x509self.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** A leaf of the test CA for `host`, as PKI text and as credentials. */
struct crl_leaf {
    tlsw::testing::test_pki pki;
    tlsw::credentials creds;
};

crl_leaf crl_test_leaf(std::string host) {
    tlsw::testing::pki_options options;
    options.hosts = {std::move(host)};
    auto pki = tlsw::testing::issue_leaf(env().pki, options);
    auto creds = *tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    return {std::move(pki), std::move(creds)};
}

}  // namespace

TEST_CASE("a client with a CRL refuses a server whose leaf it revokes, with the reason revoked, and accepts one it "
          "does not",
          "[context][crl]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    const auto revoked = crl_test_leaf("localhost");
    const auto good = crl_test_leaf("localhost");
    auto client_ctx = only12 ? tls12(client_context()) : client_context();
    REQUIRE(client_ctx.add_crl(tlsw::testing::make_crl(env().pki, {revoked.pki.leaf_cert_pem})));

    connection bad(client_ctx, tlsw::context::server(revoked.creds));
    const auto e = run_handshakes(bad);
    REQUIRE(e.client);
    CHECK(*e.client == errc::certificate);
    CHECK(e.client->certificate() == tlsw::certificate_reason::revoked);
    CHECK(e.client->alert() == tlsw::alert::certificate_revoked);
    CHECK_FALSE(e.client->alert_from_peer());
    INFO(bad.client.last_error_detail());
    CHECK(std::string(bad.client.last_error_detail()).find("revoked") != std::string::npos);
    // The server hears that the client rejected its certificate.
    REQUIRE(e.server);
    CHECK(*e.server == errc::certificate);
    CHECK(e.server->alert_from_peer());
    CHECK(e.server->certificate() == tlsw::certificate_reason::revoked);

    connection fine(client_ctx, tlsw::context::server(good.creds));
    const auto ok = run_handshakes(fine);
    CHECK_FALSE(ok.client);
    CHECK_FALSE(ok.server);
    CHECK(fine.client.info().peer_verified);
}

TEST_CASE("a server with a CRL refuses a client certificate it revokes, with the reason revoked, and accepts one "
          "it does not",
          "[context][crl][client_certificate]") {
    const bool only12 = GENERATE(false, true);
    CAPTURE(only12);
    const auto revoked = crl_test_leaf("client.test");
    const auto good = crl_test_leaf("client.test");
    auto server_ctx = only12 ? tls12(server_context()) : server_context();
    REQUIRE(server_ctx.trust(env().pki.ca_cert_pem));
    REQUIRE(server_ctx.add_crl(tlsw::testing::make_crl(env().pki, {revoked.pki.chain_pem})));

    auto client_ctx = client_context();
    client_ctx.client_certificate(revoked.creds);
    connection bad(client_ctx, server_ctx);
    const auto e = run_handshakes(bad);
    REQUIRE(e.server);
    CHECK(*e.server == errc::certificate);
    CHECK(e.server->certificate() == tlsw::certificate_reason::revoked);
    CHECK_FALSE(e.server->alert_from_peer());
    REQUIRE(e.client);  // under TLS 1.3 after the client's own handshake completed
    CHECK(*e.client == errc::certificate);
    CHECK(e.client->alert_from_peer());
    CHECK(e.client->message().find("the peer rejected our certificate") != std::string::npos);

    client_ctx.client_certificate(good.creds);
    connection fine(client_ctx, server_ctx);
    const auto ok = run_handshakes(fine);
    CHECK_FALSE(ok.client);
    CHECK_FALSE(ok.server);
    CHECK(fine.server.info().peer_verified);
}

TEST_CASE("a newer CRL of the same CA replaces the older one, and sessions from before it do not resume",
          "[context][crl][resumption]") {
    const auto leaf = crl_test_leaf("localhost");
    const auto server_ctx = tlsw::context::server(leaf.creds);
    auto client_ctx = client_context();
    REQUIRE(client_ctx.add_crl(tlsw::testing::make_crl(env().pki, {}, {.this_update_offset = std::chrono::seconds(-7200)})));
    connection before(client_ctx, server_ctx);
    REQUIRE_FALSE(before.handshake());

    REQUIRE(client_ctx.add_crl(tlsw::testing::make_crl(env().pki, {leaf.pki.leaf_cert_pem})));
    connection after(client_ctx, server_ctx);
    const auto e = run_handshakes(after);
    REQUIRE(e.client);
    CHECK(e.client->certificate() == tlsw::certificate_reason::revoked);  // no resumption past the new CRL
}

TEST_CASE("add_crl takes PEM and DER text and files, and refuses a damaged CRL, one no trust anchor signed, and an "
          "expired one, changing nothing",
          "[context][crl][config]") {
    const auto leaf = crl_test_leaf("localhost");
    const auto pem = tlsw::testing::make_crl(env().pki, {leaf.pki.leaf_cert_pem});
    Botan::DataSource_Memory source(pem);
    const Botan::X509_CRL parsed(source);
    const auto der_bytes = parsed.BER_encode();
    const std::string der(der_bytes.begin(), der_bytes.end());

    SECTION("PEM, DER and files are read") {
        const auto dir = std::filesystem::temp_directory_path() / ("tlsw-crl-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "crl.pem") << pem;
        std::ofstream(dir / "crl.der", std::ios::binary) << der;
        for (int how = 0; how < 4; ++how) {
            CAPTURE(how);
            auto ctx = client_context();
            const auto r = how == 0 ? ctx.add_crl(pem)
                           : how == 1 ? ctx.add_crl(der)
                           : how == 2 ? ctx.add_crl_file(dir / "crl.pem")
                                      : ctx.add_crl_file(dir / "crl.der");
            INFO((r ? std::string("ok") : r.error().message()));
            REQUIRE(r);
            connection c(ctx, tlsw::context::server(leaf.creds));
            const auto e = run_handshakes(c);
            REQUIRE(e.client);
            CHECK(e.client->certificate() == tlsw::certificate_reason::revoked);
        }
        std::filesystem::remove_all(dir);
        auto ctx = client_context();
        const auto missing = ctx.add_crl_file(dir / "crl.pem");
        REQUIRE_FALSE(missing);
        CHECK(missing.error().error() == errc::transport);
    }

    SECTION("refusals name the problem and add nothing") {
        auto ctx = client_context();
        const auto before = ctx.state();
        const auto refused = [&](const tlsw::config_result<void>& r, std::string_view why) {
            REQUIRE_FALSE(r);
            CHECK(r.error().error() == errc::invalid_argument);
            INFO(r.error().message());
            CHECK(r.error().message().find(why) != std::string::npos);
            CHECK(ctx.state() == before);
        };
        refused(ctx.add_crl("-----BEGIN X509 CRL-----\nnot base64!\n-----END X509 CRL-----\n"), "PEM block 1");
        refused(ctx.add_crl(env().pki.ca_cert_pem), "holds no X509 CRL block");
        refused(ctx.add_crl(der.substr(0, der.size() / 2)), "neither PEM nor a DER CRL");

        // Another CA's CRL: that CA is no trust anchor here.
        const auto stranger = tlsw::testing::make_test_pki("localhost");
        refused(ctx.add_crl(tlsw::testing::make_crl(stranger)), "not a trust anchor");

        // A CA that takes the trusted CA's name, with a key of its own.
        Botan::DataSource_Memory ca_source(env().pki.ca_cert_pem);
        const Botan::X509_Certificate trusted(ca_source);
        Botan::DataSource_Memory key_source(stranger.ca_key_pem);
        const auto impostor_key = Botan::PKCS8::load_key(key_source);
        Botan::X509_Cert_Options options;
        options.common_name = trusted.subject_dn().get_first_attribute("CN");
        options.CA_key(0);
        auto impostor = stranger;
        impostor.ca_cert_pem =
            Botan::X509::create_self_signed_cert(options, *impostor_key, "SHA-256", Botan::system_rng()).PEM_encode();
        refused(ctx.add_crl(tlsw::testing::make_crl(impostor)), trusted.subject_dn().to_string());

        refused(ctx.add_crl(tlsw::testing::make_crl(
                    env().pki, {}, {.this_update_offset = std::chrono::hours(-48), .lifetime = std::chrono::hours(24)})),
                "has expired");
    }
}
