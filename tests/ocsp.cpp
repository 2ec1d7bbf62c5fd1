// OCSP stapling on both engines, TLS 1.2 and (Botan 3) TLS 1.3: a server
// context takes a DER response per chain (refusing one for another
// certificate) and staples it when asked; a client checks the staple
// (signature, responder, status, freshness), shows it in info(), fails on
// revoked and invalid ones and, when it requires one, on a missing one.
// Responses are made here (support/ocsp_responder.hpp). Interop: a tlsw
// server with openssl s_client -status, a tlsw client with openssl s_server
// -status_file.

// Test that header file is self-contained.
#include <tlsw/ocsp.hpp>

#include "support/harness.hpp"
#include "support/interop.hpp"
#include "support/ocsp_responder.hpp"
#include "support/stream_pair.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/nonblocking_socket.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;
using tlsw::errc;

namespace {

using ocsp_stream = stream_pair<policies<>>::stream;
namespace resp = tlsw_test::ocsp;

const Botan::X509_Certificate& test_leaf() {
    static const auto leaf = resp::certificate(env().pki.leaf_cert_pem);
    return leaf;
}
const Botan::X509_Certificate& test_ca() {
    static const auto ca = resp::certificate(env().pki.ca_cert_pem);
    return ca;
}

/** A response about the test leaf, signed by its CA unless `by` says otherwise. */
resp::bytes leaf_response(const resp::response_options& options = {}) {
    return resp::make_response(test_leaf(), test_ca(), resp::issuer_signer(env().pki), options);
}

/** A server context that staples `der` for the test leaf. */
tlsw::context stapling_server(const resp::bytes& der) {
    auto server = server_context();
    const auto r = server.staple_ocsp_response(env().server_credentials, resp::as_span(der));
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r);
    return server;
}

/** Runs both handshakes until both are done or one fails; returns the
    client's error, or nothing when both completed. */
std::optional<tlsw::tls_error> connect(ocsp_stream& client, ocsp_stream& server) {
    bool client_done = false, server_done = false;
    for (int i = 0; i < 200 && !(client_done && server_done); ++i) {
        if (!client_done) {
            auto r = client.handshake();
            if (!r && !r.error().retryable())
                return r.error();
            client_done = r.has_value();
        }
        if (!server_done) {
            auto r = server.handshake();
            if (!r && !r.error().retryable()) {
                // The client's verdict follows from the alert it sent.
                auto c = client.handshake();
                return c ? r.error() : c.error();
            }
            server_done = r.has_value();
        }
    }
    REQUIRE(client_done);
    REQUIRE(server_done);
    return std::nullopt;
}

/** The versions to try: the engine's highest, then TLS 1.2 (the same on Botan 2). */
tlsw::context versioned(tlsw::context ctx, bool tls12_only) { return tls12_only ? tls12(std::move(ctx)) : ctx; }

}  // namespace

TEST_CASE("a server context takes an OCSP response only for its own leaf", "[ocsp]") {
    auto server = server_context();
    const auto& creds = env().server_credentials;
    const auto good = leaf_response();
    CHECK(server.staple_ocsp_response(creds, resp::as_span(good)));

    // A response about another certificate of the same CA.
    const auto other_pki = tlsw::testing::issue_leaf(env().pki, {});
    const auto other = resp::make_response(resp::certificate(other_pki.leaf_cert_pem), test_ca(),
                                           resp::issuer_signer(env().pki));
    auto r = server.staple_ocsp_response(creds, resp::as_span(other));
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(r.error().detail().find("not about the credentials' leaf") != std::string::npos);

    // Not a successful response, not DER, too large, on a client.
    r = server.staple_ocsp_response(creds, resp::as_span(resp::error_response()));
    REQUIRE_FALSE(r);
    CHECK(r.error().detail().find("not \"successful\"") != std::string::npos);
    const resp::bytes junk = {0x30, 0x03, 0x0A, 0x01};
    CHECK(server.staple_ocsp_response(creds, resp::as_span(junk)).error() == errc::invalid_argument);
    resp::bytes huge = good;
    huge.resize(tlsw::max_ocsp_response_bytes + 1);
    CHECK(server.staple_ocsp_response(creds, resp::as_span(huge)).error() == errc::invalid_argument);
    auto client = client_context();
    CHECK(client.staple_ocsp_response(creds, resp::as_span(good)).error() == errc::invalid_state);

    // The refused ones left the good one in place: a client gets it.
    stream_pair<policies<>> pair(client, server);
    auto& a = pair.client;
    auto& b = pair.server;
    REQUIRE_FALSE(connect(a, b));
    CHECK(a.info().ocsp.stapled);
    CHECK(a.info().ocsp.verified);

    // From a file, as openssl ocsp -respout writes it; an empty file removes it.
    temp_dir dir;
    const auto file = dir / "leaf.ocsp";
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(good.data()),
                                                 static_cast<std::streamsize>(good.size()));
    CHECK(server.staple_ocsp_response_file(creds, file));
    std::ofstream(file, std::ios::binary | std::ios::trunc).close();
    CHECK(server.staple_ocsp_response_file(creds, file));
    stream_pair<policies<>> pair2(client, server);
    auto& a2 = pair2.client;
    auto& b2 = pair2.server;
    REQUIRE_FALSE(connect(a2, b2));
    CHECK_FALSE(a2.info().ocsp.stapled);
    const auto missing = server.staple_ocsp_response_file(creds, dir / "missing.ocsp");
    REQUIRE_FALSE(missing);
    CHECK(missing.error() == errc::transport);
}

TEST_CASE("a client checks the stapled OCSP response: good, revoked, expired, wrong responder, required",
          "[ocsp]") {
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    const auto now = std::chrono::system_clock::now();

    SECTION("good: verified, with its times in info()") {
        stream_pair<policies<>> pair(versioned(client_context(), tls12_only), stapling_server(leaf_response()));
        auto& client = pair.client;
        auto& server = pair.server;
        REQUIRE_FALSE(connect(client, server));
        const auto& ocsp = client.info().ocsp;
        CHECK(ocsp.stapled);
        CHECK(ocsp.verified);
        CHECK(ocsp.problem.empty());
        CHECK(ocsp.status == tlsw::ocsp_cert_status::good);
        REQUIRE(ocsp.this_update);
        REQUIRE(ocsp.next_update);
        REQUIRE(ocsp.produced_at);
        CHECK(*ocsp.this_update < now - 3500s);
        CHECK(*ocsp.next_update > now + 86000s);
        CHECK(*ocsp.produced_at < now);
        CHECK(client.info().version == (tls12_only ? "TLS v1.2" : default_version()));
        CHECK_FALSE(server.info().ocsp.stapled);  // a server's info() has no staple of its own
    }
    SECTION("revoked: the handshake fails with the reason revoked, on both sides") {
        resp::response_options options;
        options.status = tlsw::ocsp_cert_status::revoked;
        stream_pair<policies<>> pair(versioned(client_context(), tls12_only), stapling_server(leaf_response(options)));
        auto& client = pair.client;
        auto& server = pair.server;
        const auto error = connect(client, server);
        REQUIRE(error);
        CHECK(error->code() == errc::certificate);
        CHECK(error->certificate() == tlsw::certificate_reason::revoked);
        CHECK_FALSE(error->alert_from_peer());
        CHECK(client.last_error_detail().find("revoked") != std::string::npos);
        CHECK(client.info().ocsp.status == tlsw::ocsp_cert_status::revoked);
        CHECK(client.info().ocsp.revocation_time);
        auto s = server.handshake();
        REQUIRE_FALSE(s);
        CHECK(s.error().certificate() == tlsw::certificate_reason::revoked);
        CHECK(s.error().alert_from_peer());
        CHECK(s.error().alert() == tlsw::alert::certificate_revoked);
    }
    SECTION("expired, wrong responder, unauthorised delegate: bad_status_response") {
        const auto other = tlsw::testing::make_test_pki("localhost");
        resp::response_options expired;
        expired.this_update = -3 * 86400s;
        expired.next_update = -86400s;
        resp::response_options not_yet;
        not_yet.this_update = 3600s;
        const std::vector<std::pair<std::string, resp::bytes>> cases = {
            {"has expired", leaf_response(expired)},
            {"not valid yet", leaf_response(not_yet)},
            {"did not authorise", resp::make_response(test_leaf(), test_ca(), resp::issuer_signer(other))},
            {"did not authorise",
             resp::make_response(test_leaf(), test_ca(), resp::delegated_signer(env().pki, false))},
            // A responder with the OCSP-signing usage, but another CA's.
            {"did not authorise", resp::make_response(test_leaf(), test_ca(), resp::delegated_signer(other))},
        };
        for (const auto& [problem, der] : cases) {
            CAPTURE(problem);
            stream_pair<policies<>> pair(versioned(client_context(), tls12_only), stapling_server(der));
            auto& client = pair.client;
            auto& server = pair.server;
            const auto error = connect(client, server);
            REQUIRE(error);
            CHECK(error->code() == errc::certificate);
            CHECK(error->certificate() == tlsw::certificate_reason::bad_status_response);
            CHECK(error->alert() == tlsw::alert::bad_certificate_status_response);
            CHECK(client.last_error_detail().find(problem) != std::string::npos);
            CHECK(client.info().ocsp.stapled);
            CHECK_FALSE(client.info().ocsp.verified);
            auto s = server.handshake();
            REQUIRE_FALSE(s);
            CHECK(s.error().certificate() == tlsw::certificate_reason::bad_status_response);
        }
    }
    SECTION("a delegated responder the issuer authorised, named by key") {
        auto delegate = resp::delegated_signer(env().pki);
        delegate.by_key = true;
        stream_pair<policies<>> pair(versioned(client_context(), tls12_only), stapling_server(resp::make_response(test_leaf(), test_ca(), delegate)));
        auto& client = pair.client;
        auto& server = pair.server;
        REQUIRE_FALSE(connect(client, server));
        CHECK(client.info().ocsp.verified);
        CHECK(client.info().ocsp.status == tlsw::ocsp_cert_status::good);
    }
    SECTION("required: none stapled or unknown fails; good passes; not required, none passes") {
        auto required = versioned(client_context(), tls12_only);
        required.require_ocsp_staple(true);
        resp::response_options unknown;
        unknown.status = tlsw::ocsp_cert_status::unknown;
        {
            stream_pair<policies<>> pair(required, server_context());
            auto& client = pair.client;
            auto& server = pair.server;
            const auto error = connect(client, server);
            REQUIRE(error);
            CHECK(error->certificate() == tlsw::certificate_reason::bad_status_response);
            CHECK(client.last_error_detail().find("stapled no OCSP response") != std::string::npos);
        }
        {
            stream_pair<policies<>> pair(required, stapling_server(leaf_response(unknown)));
            auto& client = pair.client;
            auto& server = pair.server;
            const auto error = connect(client, server);
            REQUIRE(error);
            CHECK(error->certificate() == tlsw::certificate_reason::bad_status_response);
            CHECK(client.info().ocsp.verified);
            CHECK(client.info().ocsp.status == tlsw::ocsp_cert_status::unknown);
        }
        {
            stream_pair<policies<>> pair(required, stapling_server(leaf_response()));
            auto& client = pair.client;
            auto& server = pair.server;
            REQUIRE_FALSE(connect(client, server));
            CHECK(client.info().ocsp.verified);
        }
        {
            stream_pair<policies<>> pair(versioned(client_context(), tls12_only), server_context());
            auto& client = pair.client;
            auto& server = pair.server;
            REQUIRE_FALSE(connect(client, server));
            CHECK_FALSE(client.info().ocsp.stapled);
        }
    }
    SECTION("a client that does not ask gets no staple") {
        auto quiet = versioned(client_context(), tls12_only);
        quiet.request_ocsp_staple(false);
        resp::response_options options;
        options.status = tlsw::ocsp_cert_status::revoked;
        stream_pair<policies<>> pair(quiet, stapling_server(leaf_response(options)));
        auto& client = pair.client;
        auto& server = pair.server;
        REQUIRE_FALSE(connect(client, server));
        CHECK_FALSE(client.info().ocsp.stapled);
    }
}

// The staple is the server's to choose: the reader must hold against any
// bytes (sanitizer builds run this too).
TEST_CASE("a damaged stapled response is never verified: every truncation, every byte flipped", "[ocsp]") {
    const auto der = leaf_response();
    const std::vector<Botan::X509_Certificate> chain{test_leaf(), test_ca()};
    const std::vector<Botan::Certificate_Store*> none;
    const auto now = std::chrono::system_clock::now();
    const auto check = [&](const resp::bytes& bytes) { return tlsw::detail::check_ocsp_staple(bytes, chain, none, now); };
    REQUIRE(check(der).verified);
    for (std::size_t n = 0; n < der.size(); ++n) {
        const resp::bytes cut(der.begin(), der.begin() + static_cast<std::ptrdiff_t>(n));
        const auto info = check(cut);
        CAPTURE(n);
        REQUIRE_FALSE(info.verified);
        REQUIRE_FALSE(info.problem.empty());
    }
    std::size_t still_verified = 0;
    for (std::size_t i = 0; i < der.size(); ++i) {
        auto flipped = der;
        flipped[i] ^= 0x41;
        still_verified += check(flipped).verified;
    }
    // Only a flip Botan's decoders read past (none in practice) could keep
    // the signature valid.
    CHECK(still_verified == 0);
}

TEST_CASE("a server's OCSP response replaced while streams run reaches the streams made after", "[ocsp]") {
    auto server = stapling_server(leaf_response());
    const auto client = client_context();
    stream_pair<policies<>> first_pair(client, server);
    auto& first_client = first_pair.client;
    auto& first_server = first_pair.server;

    resp::response_options revoked;
    revoked.status = tlsw::ocsp_cert_status::revoked;
    const auto der = leaf_response(revoked);
    REQUIRE(server.staple_ocsp_response(env().server_credentials, resp::as_span(der)));

    REQUIRE_FALSE(connect(first_client, first_server));  // made before: the good one
    CHECK(first_client.info().ocsp.status == tlsw::ocsp_cert_status::good);
    // A client of its own: this one would resume the first session, and a
    // resumption carries no staple.
    stream_pair<policies<>> pair(client_context(), server);
    auto& c = pair.client;
    auto& s = pair.server;
    const auto error = connect(c, s);
    REQUIRE(error);
    CHECK(error->certificate() == tlsw::certificate_reason::revoked);
}

// ---- interop with OpenSSL ----------------------------------------------------

TEST_CASE("openssl s_client -status prints the response a tlsw server staples", "[ocsp][interop][openssl]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    const auto creds = f.server_credentials();
    auto ctx = tlsw::context::server(creds);
    const auto der = resp::make_response(resp::certificate(f.pki.leaf_cert_pem), resp::certificate(f.pki.ca_cert_pem),
                                         resp::issuer_signer(f.pki));
    REQUIRE(ctx.staple_ocsp_response(creds, resp::as_span(der)));
    tlsw_server server(ctx);
    std::vector<std::string> argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port()),
                                     "-CAfile", f.ca(), "-verify_return_error", "-servername", "localhost",
                                     "-status"};
    if (tls12_only)
        argv.push_back("-tls1_2");
    child_process client(argv);
    client.write("quit\n");
    REQUIRE(client.wait_exit(60s) == 0);
    const std::string out = client.out();
    INFO(client.transcript());
    CHECK(out.find("OCSP Response Status: successful") != std::string::npos);
    CHECK(out.find("Cert Status: good") != std::string::npos);
}

TEST_CASE("a tlsw client checks what openssl s_server -status_file staples", "[ocsp][interop][openssl]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    const auto leaf = resp::certificate(f.pki.leaf_cert_pem);
    const auto ca = resp::certificate(f.pki.ca_cert_pem);
    resp::response_options revoked;
    revoked.status = tlsw::ocsp_cert_status::revoked;
    for (const bool good : {true, false}) {
        CAPTURE(good);
        const auto der = resp::make_response(leaf, ca, resp::issuer_signer(f.pki), good ? resp::response_options{} : revoked);
        const auto file = f.dir / "status.der";
        std::ofstream(file, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
        std::uint16_t port = 0;
        auto server = start_s_server(f, port, {"-status_file", file.string(), "-naccept", "1"});
        auto ctx = tls12_only ? tls12(f.client_context()) : f.client_context();
        ctx.require_ocsp_staple(true);
        auto socket = tlsw::nonblocking_socket::connect("127.0.0.1", port, 10s);
        REQUIRE(socket);
        tlsw::tls_stream<tlsw::nonblocking_socket> tls(ctx, std::move(*socket), {.server_name = "localhost"});
        tls_driver driver(tls);
        driver.run_until(server.get(), [&] { return driver.done() || tls.info().handshakes >= 1; }, 30s);
        INFO(server->transcript() << "\nclient error: " << driver.error_message());
        if (good) {
            REQUIRE(tls.info().handshakes == 1);
            CHECK(tls.info().ocsp.verified);
            CHECK(tls.info().ocsp.status == tlsw::ocsp_cert_status::good);
        } else {
            CHECK(tls.info().handshakes == 0);
            CHECK(tls.info().ocsp.status == tlsw::ocsp_cert_status::revoked);
            CHECK(driver.error_message().find("revoked") != std::string::npos);
        }
    }
}
