// Key-exchange groups against OpenSSL (openssl s_server and s_client; in
// the Debian 13 root that is OpenSSL 3.5, which offers and prefers
// X25519MLKEM768): the post-quantum default on Botan 3, the classical
// groups a peer may offer alone, and HelloRetryRequest in both directions.
// On Botan 2 the same runs show classical ECDHE under TLS 1.2.

#include "support/harness.hpp"
#include "support/interop.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;

namespace {

bool kx_interop_tls13() { return default_version() == "TLS v1.3"; }

/** The group a default tlsw peer ends up with against a default OpenSSL
    3.5 one: the post-quantum hybrid on Botan 3, x25519 on Botan 2. */
std::string kx_default_group() { return kx_interop_tls13() ? "X25519MLKEM768" : "x25519"; }

/** Runs `openssl s_client -brief` with `extra` against `server`, sends a
    line and "quit", and returns what the server reported: the client ran
    to its end, the line came back. */
tlsw_test::tlsw_server::report kx_s_client(const pki_fixture& f, tlsw_server& server, std::vector<std::string> extra,
                                           std::string& client_err) {
    std::vector<std::string> argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port()),
                                     "-CAfile", f.ca(), "-verify_return_error", "-servername", "localhost", "-brief"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child_process client(argv);
    client.write("hello\nquit\n");
    const auto status = client.wait_exit(30s);
    client_err = client.err();
    const auto reports = server.wait_reports(1, 10s);
    INFO(client.transcript());
    REQUIRE(status == 0);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].end == "quit");
    CHECK(client.out() == "hello\nquit\n");
    return reports[0];
}

/** Connects a tlsw client to `server` (s_server on `port`), sends a line,
    waits for it on the server's stdout and closes; returns the stream's
    session_info. */
tlsw::session_info kx_tlsw_client(const tlsw::context& ctx, std::uint16_t port, child_process& server) {
    auto socket = tlsw::nonblocking_socket::connect("127.0.0.1", port, 10s);
    REQUIRE(socket);
    tlsw::tls_stream<tlsw::nonblocking_socket> tls(ctx, std::move(*socket), {.server_name = "localhost"});
    tls_driver driver(tls);
    driver.send("hello\n");
    const bool ok = driver.run_until(&server, [&] { return driver.done() || server.out().find("hello\n") != std::string::npos; }, 30s);
    INFO(server.transcript() << "\nclient error: " << driver.error_message());
    REQUIRE(ok);
    REQUIRE_FALSE(driver.done());
    driver.shutdown();
    driver.run_until(&server, [&] { return driver.done(); }, 10s);
    return tls.info();
}

}  // namespace

TEST_CASE("openssl s_client and a default tlsw server negotiate X25519MLKEM768 (Botan 3)",
          "[interop][openssl][server][key_exchange]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    tlsw_server server(f.server_context());
    std::string err;
    const auto report = kx_s_client(f, server, {}, err);
    CHECK(report.info.group == kx_default_group());
    CHECK(report.info.post_quantum == kx_interop_tls13());
    if (kx_interop_tls13())
        CHECK_THAT(err, Catch::Contains("Negotiated TLS1.3 group: X25519MLKEM768"));
}

TEST_CASE("openssl s_client offering only P-384, X448 or ffdhe2048 completes with a default tlsw server",
          "[interop][openssl][server][key_exchange]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    const auto [openssl_name, iana] = GENERATE(table<std::string, std::string>(
        {{"P-384", "secp384r1"}, {"X448", "x448"}, {"ffdhe2048", "ffdhe2048"}, {"P-521", "secp521r1"}}));
    CAPTURE(openssl_name);
    // Botan 2 speaks TLS 1.2, where OpenSSL's -groups also limits the
    // curves of ECDSA certificates (the test leaf is P-256), and has no
    // X448; tests/key_exchange.cpp covers its P-384 in-process.
    if (!kx_interop_tls13())
        return;
    pki_fixture f;
    tlsw_server server(f.server_context());
    std::string err;
    const auto report = kx_s_client(f, server, {"-groups", openssl_name}, err);
    CHECK(report.info.group == iana);
    CHECK_FALSE(report.info.post_quantum);
}

TEST_CASE("a tlsw server asks openssl s_client for an X25519MLKEM768 share it did not send (HelloRetryRequest)",
          "[interop][openssl][server][key_exchange][hello_retry]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    if (!kx_interop_tls13())
        return;  // no key shares in TLS 1.2
    pki_fixture f;
    tlsw_server server(f.server_context());
    std::string err;
    // OpenSSL sends a key share for the first group listed only.
    const auto report = kx_s_client(f, server, {"-groups", "P-256:X25519MLKEM768"}, err);
    CHECK(report.info.group == "X25519MLKEM768");
    CHECK_THAT(err, Catch::Contains("Negotiated TLS1.3 group: X25519MLKEM768"));
}

TEST_CASE("a default tlsw client and openssl s_server negotiate X25519MLKEM768 (Botan 3), and follow its HelloRetryRequest",
          "[interop][openssl][client][key_exchange][hello_retry]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    SECTION("a default s_server") {
        std::uint16_t port = 0;
        auto server = start_s_server(f, port, {"-brief"});
        const auto info = kx_tlsw_client(f.client_context(), port, *server);
        CHECK(info.group == kx_default_group());
        CHECK(info.post_quantum == kx_interop_tls13());
        if (kx_interop_tls13()) {
            // s_server -brief names the groups the client offered, in its
            // order, and the key share taken.
            CHECK_THAT(server->err(), Catch::Contains("Supported groups: X25519MLKEM768:x25519:secp256r1:secp384r1:"
                                                      "secp521r1:x448:ffdhe2048:ffdhe3072"));
            CHECK_THAT(server->err(), Catch::Contains("Peer Temp Key: X25519MLKEM768"));
        }
    }
    SECTION("an s_server taking only P-384: the client's shares (X25519MLKEM768, x25519) do not fit") {
        std::uint16_t port = 0;
        auto server = start_s_server(f, port, {"-brief", "-groups", "P-384"});
        const auto info = kx_tlsw_client(f.client_context(), port, *server);
        CHECK(info.group == "secp384r1");
        CHECK_FALSE(info.post_quantum);
    }
}
