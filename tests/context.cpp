// Test that header file is self-contained.
#include <tlsw/context.hpp>

#include "support/harness.hpp"

#include <botan/auto_rng.h>
#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/x509_ca.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>
#include <atomic>
#include <unistd.h>

using namespace tlsw_test;
using tlsw::errc;
using stream = tlsw::tls_stream<tlsw::memory_pair::end>;

namespace {

/** A client and a server stream over a fresh pair, handshaken; returns the client's info. */
struct connection {
    connection(const tlsw::context& client_ctx, const tlsw::context& server_ctx, tlsw::stream_options options)
        : connection(client_ctx, server_ctx, std::move(options), tlsw::memory_pair::make()) {}

    /** Runs both handshakes; returns the first hard error, if any. */
    std::optional<tlsw::tls_error> handshake() {
        for (int i = 0; i < 200; ++i) {
            auto c = client.handshake();
            auto s = server.handshake();
            if (c && s)
                return std::nullopt;
            if (!c && !c.error().retryable())
                return c.error();
            if (!s && !s.error().retryable())
                return s.error();
        }
        FAIL("handshake made no progress");
        return std::nullopt;
    }

    stream client;
    stream server;

private:
    connection(const tlsw::context& client_ctx, const tlsw::context& server_ctx, tlsw::stream_options options,
               std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends)
        : client(client_ctx, std::move(ends.first), std::move(options)),
          server(server_ctx, std::move(ends.second)) {}
};

}  // namespace

TEST_CASE("a client resumes a session by session ID when tickets are off", "[context][resumption]") {
    auto server_ctx = server_context();
    server_ctx.session_tickets(false);
    auto client_ctx = client_context();

    connection first(client_ctx, server_ctx, localhost());
    REQUIRE_FALSE(first.handshake());
    CHECK_FALSE(first.client.info().resumed);

    connection second(client_ctx, server_ctx, localhost());
    REQUIRE_FALSE(second.handshake());
    CHECK(second.client.info().resumed);
    CHECK(second.server.info().resumed);
}

TEST_CASE("a client resumes a session by ticket at a server that cached nothing", "[context][resumption]") {
    // Two server contexts share the ticket key but not the session cache:
    // the second can only resume through the ticket.
    const auto key = pattern(32, 99);
    auto first_server = server_context();
    REQUIRE(first_server.session_ticket_key(key));
    auto second_server = server_context();
    REQUIRE(second_server.session_ticket_key(key));
    auto client_ctx = client_context();

    connection first(client_ctx, first_server, localhost());
    REQUIRE_FALSE(first.handshake());
    CHECK_FALSE(first.client.info().resumed);

    connection second(client_ctx, second_server, localhost());
    REQUIRE_FALSE(second.handshake());
    CHECK(second.client.info().resumed);
    CHECK(second.server.info().resumed);
}

TEST_CASE("a ticket from another key falls back to a full handshake", "[context][resumption]") {
    auto first_server = server_context();
    auto second_server = server_context();  // its own random ticket key and cache
    auto client_ctx = client_context();
    connection first(client_ctx, first_server, localhost());
    REQUIRE_FALSE(first.handshake());
    connection second(client_ctx, second_server, localhost());
    REQUIRE_FALSE(second.handshake());
    CHECK_FALSE(second.client.info().resumed);
}

TEST_CASE("a ticket key shorter than 32 bytes is refused", "[context][resumption]") {
    auto ctx = server_context();
    auto r = ctx.session_ticket_key(pattern(16));
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
}

TEST_CASE("the server picks its most preferred ALPN protocol among the client's", "[context][alpn]") {
    auto server_ctx = server_context();
    server_ctx.alpn({"h2", "http/1.1"});
    connection c(client_context(), server_ctx, {.server_name = "localhost", .alpn = {"http/1.1", "h2"}});
    REQUIRE_FALSE(c.handshake());
    CHECK(c.client.info().alpn == "h2");
    CHECK(c.server.info().alpn == "h2");
}

TEST_CASE("without a common ALPN protocol none is negotiated", "[context][alpn]") {
    auto server_ctx = server_context();
    server_ctx.alpn({"h2"});
    connection c(client_context(), server_ctx, {.server_name = "localhost", .alpn = {"imap"}});
    REQUIRE_FALSE(c.handshake());
    CHECK(c.client.info().alpn.empty());
}

TEST_CASE("a server that requires a client certificate accepts one from its CA", "[context][client_certificate]") {
    auto client_pki = tlsw::testing::make_test_pki("client.test");
    auto client_creds = tlsw::credentials::from_pem(client_pki.chain_pem, client_pki.leaf_key_pem);
    REQUIRE(client_creds);
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(client_pki.ca_cert_pem));
    server_ctx.require_client_certificate(true);
    auto client_ctx = client_context();
    client_ctx.client_certificate(*client_creds);

    connection c(client_ctx, server_ctx, localhost());
    auto e = c.handshake();
    INFO((e ? e->message() : std::string("ok")));
    REQUIRE_FALSE(e);
}

TEST_CASE("a server that requires a client certificate fails a client without one", "[context][client_certificate]") {
    auto client_pki = tlsw::testing::make_test_pki("client.test");
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(client_pki.ca_cert_pem));
    server_ctx.require_client_certificate(true);

    connection c(client_context(), server_ctx, localhost());
    auto e = c.handshake();
    REQUIRE(e);
    CHECK_FALSE(e->retryable());
    CHECK((*e == errc::protocol || *e == errc::certificate));
}

TEST_CASE("a server refuses a client certificate from a CA it does not trust", "[context][client_certificate]") {
    auto trusted = tlsw::testing::make_test_pki("client.test");
    auto stranger = tlsw::testing::make_test_pki("client.test");
    auto stranger_creds = tlsw::credentials::from_pem(stranger.chain_pem, stranger.leaf_key_pem);
    REQUIRE(stranger_creds);
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(trusted.ca_cert_pem));
    auto client_ctx = client_context();
    client_ctx.client_certificate(*stranger_creds);

    connection c(client_ctx, server_ctx, localhost());
    auto e = c.handshake();
    REQUIRE(e);
    CHECK(*e == errc::certificate);
}

TEST_CASE("a text policy replaces the default policy", "[context][policy]") {
    auto server_ctx = server_context();
    REQUIRE(server_ctx.policy("ciphers = ChaCha20Poly1305\nkey_exchange_methods = ECDH\nmacs = AEAD\n"));
    connection c(client_context(), server_ctx, localhost());
    REQUIRE_FALSE(c.handshake());
    CHECK_THAT(c.client.info().cipher_suite, Catch::Contains("CHACHA20_POLY1305"));
}

TEST_CASE("a policy that does not parse is refused", "[context][policy]") {
    auto ctx = server_context();
    auto r = ctx.policy("this line has no equals sign\n");
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(ctx.policy_file("/nonexistent/policy.txt").error() == errc::transport);
}

TEST_CASE("trust_file reads a CA file, and the system store alone does not trust the test CA", "[context][trust]") {
    const auto dir = std::filesystem::temp_directory_path() / ("tlsw-context-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream(dir / "ca.pem") << env().pki.ca_cert_pem;
    }
    auto with_file = tlsw::context::client();
    REQUIRE(with_file.trust_file(dir / "ca.pem"));
    std::filesystem::remove_all(dir);
    connection trusted(with_file, server_context(), localhost());
    CHECK_FALSE(trusted.handshake());

    connection untrusted(tlsw::context::client(), server_context(), localhost());
    auto e = untrusted.handshake();
    REQUIRE(e);
    CHECK(*e == errc::certificate);
    CHECK(e->certificate() == tlsw::certificate_reason::unknown_issuer);

    CHECK(tlsw::context::client().trust("not a certificate").error() == errc::invalid_argument);
}

TEST_CASE("one context serves streams in several threads at once", "[context][threads]") {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 5; ++i) {
                auto [a, b] = tlsw::memory_pair::make();
                stream client(client_ctx, std::move(a), localhost());
                stream server(server_ctx, std::move(b));
                bool done = false;
                for (int round = 0; round < 100 && !done; ++round) {
                    auto c = client.handshake();
                    auto s = server.handshake();
                    done = c && s;
                }
                ok += done;
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(ok == 20);
}

TEST_CASE("the default server policy refuses clients that offer only CBC, static RSA or CECPQ1", "[context][policy]") {
    // Static RSA suites sign nothing: Botan lists them under "IMPLICIT".
    // CECPQ1 exists only with AES-256/GCM and ChaCha20Poly1305.
    const std::string offer =
        GENERATE(std::string("ciphers = AES-128\nmacs = SHA-256 SHA-1\nsignature_methods = ECDSA RSA\n"),
                 std::string("ciphers = AES-128/GCM\nkey_exchange_methods = RSA\nsignature_methods = IMPLICIT\n"),
                 std::string("ciphers = AES-256/GCM ChaCha20Poly1305\nkey_exchange_methods = CECPQ1\n"));
    CAPTURE(offer);
    auto client_ctx = client_context();
    REQUIRE(client_ctx.policy(offer));
    connection c(client_ctx, server_context(), localhost());
    auto e = c.handshake();
    REQUIRE(e);
    INFO(e->message());
    CHECK(*e == errc::protocol);
    CHECK(e->has_alert());
}

TEST_CASE("the default policy refuses insecure renegotiation and TLS versions before 1.2", "[context][policy]") {
    // A client that does not support secure renegotiation (RFC 5746) or
    // offers only TLS 1.1 is refused by the default server.
    auto client_ctx = client_context();
    REQUIRE(client_ctx.policy("allow_tls12 = false\nallow_tls11 = true\nallow_tls10 = true\n"));
    connection c(client_ctx, server_context(), localhost());
    auto e = c.handshake();
    REQUIRE(e);
    CHECK(*e == errc::protocol);
}

// Trust loading (issue 8 item 10): a bundle loads whole or not at all, and
// an error names the file, the block and the reason.

namespace {

/** An empty CRL signed by `pki`'s CA, as PEM: a valid block that is not a certificate. */
std::string crl_pem(const tlsw::testing::test_pki& pki) {
    Botan::AutoSeeded_RNG rng;
    Botan::DataSource_Memory key_source(pki.ca_key_pem);
    const auto ca_key = Botan::PKCS8::load_key(key_source);
    const Botan::X509_Certificate ca_cert(std::vector<std::uint8_t>(pki.ca_cert_pem.begin(), pki.ca_cert_pem.end()));
    const Botan::X509_CA ca(ca_cert, *ca_key, "SHA-256", rng);
    return ca.new_crl(rng).PEM_encode();
}

/** Whether a client with `client_ctx` completes a handshake with a server presenting `pki`'s leaf. */
bool trusts(const tlsw::context& client_ctx, const tlsw::testing::test_pki& pki) {
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    REQUIRE(creds);
    connection c(client_ctx, tlsw::context::server(*creds), localhost());
    return !c.handshake();
}

std::size_t lines_in(std::string_view text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("trust loads every CA of a bundle with comments and CRLs between them", "[context][trust][pem]") {
    const auto first = tlsw::testing::make_test_pki("localhost");
    const auto second = tlsw::testing::make_test_pki("localhost");
    const std::string bundle = "# First CA\n" + first.ca_cert_pem + crl_pem(first) + "\n# Second CA\n=====\n" +
                               second.ca_cert_pem + "# end of bundle\n";
    auto ctx = tlsw::context::client();
    ctx.use_system_trust(false);
    auto r = ctx.trust(bundle);
    INFO((r ? std::string("loaded") : r.error().message()));
    REQUIRE(r);
    // Two CAs in, two CAs trusted: the old parser stopped at the CRL.
    CHECK(trusts(ctx, first));
    CHECK(trusts(ctx, second));
}

TEST_CASE("trust refuses a bundle with a damaged middle block, naming its position, and adds none of it",
          "[context][trust][pem]") {
    const auto first = tlsw::testing::make_test_pki("localhost");
    const auto second = tlsw::testing::make_test_pki("localhost");
    std::string damaged = second.ca_cert_pem;
    damaged[damaged.find('\n') + 5] = '*';
    const auto third = tlsw::testing::make_test_pki("localhost");
    const std::string bundle = first.ca_cert_pem + damaged + third.ca_cert_pem;

    auto ctx = tlsw::context::client();
    ctx.use_system_trust(false);
    auto r = ctx.trust(bundle);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(r.error().message() == "invalid argument: trust PEM: PEM block 2 (CERTIFICATE) at line " +
                                     std::to_string(lines_in(first.ca_cert_pem) + 1) +
                                     " is damaged: its body is not valid base64");
    // All or nothing: not even the good first block was added.
    CHECK_FALSE(trusts(ctx, first));
    CHECK_FALSE(trusts(ctx, third));
}

TEST_CASE("trust_file names the file and the OS's reason when it cannot be read, and the file and block when it is "
          "damaged",
          "[context][trust][files]") {
    const auto dir = std::filesystem::temp_directory_path() / ("tlsw-context-trust-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto pki = tlsw::testing::make_test_pki("localhost");
    {
        std::ofstream(dir / "cut.pem") << pki.ca_cert_pem.substr(0, 100);
    }
    auto ctx = tlsw::context::client();
    auto missing = ctx.trust_file(dir / "missing.pem");
    auto directory = ctx.trust_file(dir);
    auto cut = ctx.trust_file(dir / "cut.pem");
    std::filesystem::remove_all(dir);

    REQUIRE_FALSE(missing);
    CHECK(missing.error() == errc::transport);
    CHECK(missing.error().error().transport_error() == std::errc::no_such_file_or_directory);
    CHECK(missing.error().message() ==
          "transport error: No such file or directory: " + (dir / "missing.pem").string() + ": cannot be read");
    REQUIRE_FALSE(directory);
    CHECK(directory.error() == errc::transport);
    CHECK(directory.error().error().transport_error() == std::errc::is_a_directory);
    REQUIRE_FALSE(cut);
    CHECK(cut.error() == errc::invalid_argument);
    CHECK(cut.error().detail() ==
          (dir / "cut.pem").string() + ": PEM block 1 (CERTIFICATE) at line 1 has no END line: the text ends inside it");
}
