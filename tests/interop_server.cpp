// A tlsw server against real clients (issue 4, item 4): openssl s_client,
// gnutls-cli and curl, each started on 127.0.0.1 against an in-process
// tlsw server (tests/support/interop.hpp) on an OS-chosen port, and stopped
// by the test that started it. A test whose peer program is missing says
// so with a WARN and passes; scripts/install-deps.sh test installs them.
//
// The peers read their stdin as text and some read command letters at the
// start of a read (s_client: Q, R; gnutls-cli: ^...^): payloads come from
// text_payload(), which avoids them. The in-process server closes with
// close_notify after echoing a line "quit"; the clients are run so that
// they wait for that close (s_client -quiet ignores stdin EOF), because in
// TLS 1.2 a close_notify from the client ends the conversation: the server
// answers with its own and drops what it had still to send (RFC 5246
// 7.2.1).

#include "support/harness.hpp"
#include "support/interop.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

using namespace tlsw_test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> s_client(const pki_fixture& f, std::uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                                     "-CAfile", f.ca(), "-verify_return_error", "-servername", "localhost"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::vector<std::string> gnutls_cli(const pki_fixture& f, std::uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> argv = {"gnutls-cli", "--x509cafile", f.ca(), "-p", std::to_string(port), "localhost",
                                     "--logfile", (f.dir / "gnutls-cli.log").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::string gnutls_log(const pki_fixture& f) {
    std::ifstream in(f.dir / "gnutls-cli.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/** Runs a client that echoes `payload` (ending in "quit\n") through the
    server and exits when the server closes; checks the bytes by hash and
    the version negotiated ("TLS v1.3"). */
void check_echo(child_process& client, tlsw_server& server, const std::string& payload, const std::string& version,
                const std::string& log = {}) {
    client.write(payload);
    const auto status = client.wait_exit(120s);
    const auto reports = server.wait_reports(1, 10s);
    INFO(client.transcript() << log);
    INFO("server: " << (reports.empty() ? "no report" : reports[0].end));
    REQUIRE(status == 0);
    CHECK(client.out().size() == payload.size());
    CHECK(sha256(client.out()) == sha256(payload));
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].end == "quit");
    CHECK(reports[0].bytes_echoed == payload.size());
    CHECK(reports[0].info.version == version);
    CHECK(reports[0].info.handshakes == 1);
}

/** `server` reports two connections: a full handshake, then a resumed one. */
void check_full_then_resumed(tlsw_server& server) {
    const auto reports = server.wait_reports(2, 10s);
    REQUIRE(reports.size() == 2);
    CHECK_FALSE(reports[0].info.resumed);
    CHECK(reports[1].info.resumed);
}

}  // namespace

TEST_CASE("openssl s_client echoes 4 MiB through a tlsw server, byte for byte", "[interop][openssl][server]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    // The engine's highest version, then TLS 1.2 as the client's maximum.
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    tlsw_server server(f.server_context());
    // -quiet: payload only on stdout, stdin EOF ignored, no command letters.
    std::vector<std::string> extra = {"-quiet"};
    if (tls12_only)
        extra.push_back("-tls1_2");
    child_process client(s_client(f, server.port(), extra));
    check_echo(client, server, text_payload(four_mib, 11) + "quit\n", tls12_only ? "TLS v1.2" : default_version());
}

TEST_CASE("gnutls-cli echoes 4 MiB through a tlsw server, byte for byte", "[interop][gnutls][server]") {
    TLSW_REQUIRE_PROGRAM("gnutls-cli");
    pki_fixture f;
    // The engine's highest version, then TLS 1.2 as the client's maximum.
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    tlsw_server server(f.server_context());
    // --logfile keeps gnutls-cli's own messages off stdout.
    std::vector<std::string> extra;
    if (tls12_only)
        extra = {"--priority", "NORMAL:-VERS-TLS1.3"};
    child_process client(gnutls_cli(f, server.port(), extra));
    check_echo(client, server, text_payload(four_mib, 12) + "quit\n", tls12_only ? "TLS v1.2" : default_version(),
               gnutls_log(f));
}

TEST_CASE("curl gets HTTP answers from a tlsw server, verifying it", "[interop][curl][server]") {
    TLSW_REQUIRE_PROGRAM("curl");
    pki_fixture f;
    tlsw_server server(f.server_context());
    const std::string base = "https://localhost:" + std::to_string(server.port());

    SECTION("two requests on one kept-alive connection, localhost resolved by the system") {
        // "localhost" may resolve to ::1 first: curl then falls back to 127.0.0.1.
        child_process curl({"curl", "-sS", "--cacert", f.ca(), base + "/first", base + "/second"});
        const auto status = curl.wait_exit(60s);
        INFO(curl.transcript());
        REQUIRE(status == 0);
        CHECK(curl.out() == "path: /first\npath: /second\n");
        const auto reports = server.wait_reports(1, 10s);
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].requests == std::vector<std::string>{"GET /first HTTP/1.1", "GET /second HTTP/1.1"});
    }
    SECTION("a 4 MiB body, with --resolve, checked by hash") {
        const std::string port = std::to_string(server.port());
        child_process curl({"curl", "-sS", "--cacert", f.ca(), "--resolve", "localhost:" + port + ":127.0.0.1",
                            base + "/bytes/" + std::to_string(four_mib)});
        const auto status = curl.wait_exit(120s);
        INFO(curl.transcript());
        REQUIRE(status == 0);
        CHECK(curl.out().size() == four_mib);
        CHECK(sha256(curl.out()) == sha256(text_payload(four_mib, 1)));
    }
    SECTION("curl refuses the server when it trusts another CA") {
        const auto other = tlsw::testing::write_files(tlsw::testing::make_test_pki("localhost"), f.dir / "other");
        child_process curl({"curl", "-sS", "--cacert", other.ca.string(), base + "/x"});
        const auto status = curl.wait_exit(60s);
        INFO(curl.transcript());
        REQUIRE(status.has_value());
        CHECK(*status == 60);  // CURLE_PEER_FAILED_VERIFICATION
        CHECK(curl.out().empty());
        const auto reports = server.wait_reports(1, 10s);
        REQUIRE(reports.size() == 1);
        // Usually curl's unknown_ca alert; a reset when curl's close
        // overtakes it (the server's handshake messages were still unread).
        INFO("server: " << reports[0].end);
        CHECK(reports[0].info.handshakes == 0);
        CHECK((reports[0].end.find("unknown_ca") != std::string::npos ||
               reports[0].end.find("transport error") != std::string::npos));
    }
}

TEST_CASE("openssl s_client resumes a tlsw server's session by ticket and by session ID",
          "[interop][openssl][server][resumption]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    const std::string sessions = (f.dir / "session.pem").string();

    // Without -quiet s_client prints "New, ..." or "Reused, ..."; -ign_eof
    // keeps it connected until the server closes after "quit".
    const auto connect = [&](std::uint16_t port, std::vector<std::string> extra, bool tls12_only = true) {
        extra.push_back("-ign_eof");
        // TLS 1.2 unless asked: the test reads s_client's "New/Reused,
        // TLSv1.2" lines and resumes by session ID (TLS 1.3 has none).
        if (tls12_only)
            extra.push_back("-tls1_2");
        child_process client(s_client(f, port, extra));
        client.write("quit\n");
        const auto status = client.wait_exit(60s);
        INFO(client.transcript());
        REQUIRE(status == 0);
        return client.out();
    };

    SECTION("by ticket: a second server with the same ticket key and an empty session cache resumes it") {
        const std::vector<std::byte> key(32, std::byte{0x5a});
        auto first_ctx = f.server_context();
        REQUIRE(first_ctx.session_ticket_key(key));
        auto second_ctx = f.server_context();
        REQUIRE(second_ctx.session_ticket_key(key));
        tlsw_server first(first_ctx);
        tlsw_server second(second_ctx);

        const auto out1 = connect(first.port(), {"-sess_out", sessions});
        CHECK(out1.find("New, TLSv1.2") != std::string::npos);
        CHECK(out1.find("TLS session ticket:") != std::string::npos);
        const auto out2 = connect(second.port(), {"-sess_in", sessions});
        CHECK(out2.find("Reused, TLSv1.2") != std::string::npos);

        const auto r1 = first.wait_reports(1, 10s);
        const auto r2 = second.wait_reports(1, 10s);
        REQUIRE(r1.size() == 1);
        REQUIRE(r2.size() == 1);
        CHECK_FALSE(r1[0].info.resumed);
        CHECK(r2[0].info.resumed);
    }
    SECTION("TLS 1.3: the tickets sent after the handshake resume on a second server with the same ticket key") {
        if (default_version() != "TLS v1.3")
            return;  // Botan 2: no TLS 1.3
        const std::vector<std::byte> key(32, std::byte{0x5a});
        auto first_ctx = f.server_context();
        REQUIRE(first_ctx.session_ticket_key(key));
        auto second_ctx = f.server_context();
        REQUIRE(second_ctx.session_ticket_key(key));
        tlsw_server first(first_ctx);
        tlsw_server second(second_ctx);

        const auto out1 = connect(first.port(), {"-sess_out", sessions}, false);
        CHECK(out1.find("New, TLSv1.3") != std::string::npos);
        const auto out2 = connect(second.port(), {"-sess_in", sessions}, false);
        CHECK(out2.find("Reused, TLSv1.3") != std::string::npos);

        const auto r1 = first.wait_reports(1, 10s);
        const auto r2 = second.wait_reports(1, 10s);
        REQUIRE(r1.size() == 1);
        REQUIRE(r2.size() == 1);
        CHECK_FALSE(r1[0].info.resumed);
        CHECK(r2[0].info.resumed);
        CHECK(r2[0].info.version == "TLS v1.3");
    }
    SECTION("by session ID: tickets off on the server, -no_ticket on the client") {
        auto ctx = f.server_context();
        ctx.session_tickets(false);
        tlsw_server server(ctx);
        const auto out1 = connect(server.port(), {"-no_ticket", "-sess_out", sessions});
        CHECK(out1.find("New, TLSv1.2") != std::string::npos);
        CHECK(out1.find("TLS session ticket:") == std::string::npos);
        const auto out2 = connect(server.port(), {"-no_ticket", "-sess_in", sessions});
        CHECK(out2.find("Reused, TLSv1.2") != std::string::npos);
        check_full_then_resumed(server);
    }
}

TEST_CASE("gnutls-cli --resume resumes a tlsw server's session, with and without tickets",
          "[interop][gnutls][server][resumption]") {
    TLSW_REQUIRE_PROGRAM("gnutls-cli");
    pki_fixture f;
    const bool tickets = GENERATE(true, false);
    CAPTURE(tickets);
    tlsw_server server(f.server_context());
    std::vector<std::string> extra = {"--resume"};
    if (!tickets)
        extra.push_back("--noticket");
    child_process client(gnutls_cli(f, server.port(), extra));
    // gnutls-cli --resume connects, disconnects and connects again with the
    // session, then talks on the second connection.
    client.write("quit\n");
    const auto status = client.wait_exit(60s);
    const std::string log = gnutls_log(f);
    INFO(client.transcript() << "\n" << log);
    REQUIRE(status == 0);
    CHECK(log.find("This is a resumed session") != std::string::npos);
    check_full_then_resumed(server);
}

TEST_CASE("openssl s_client renegotiates in the middle of an echo with a tlsw server that allows it",
          "[interop][openssl][server][renegotiation]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    auto ctx = f.server_context();
    ctx.allow_client_renegotiation(true);
    tlsw_server server(ctx);
    // -brief: payload only on stdout, but unlike -quiet it still reads a
    // line starting "R" as a renegotiation request.
    // Renegotiation is TLS 1.2's: -tls1_2 (a Botan 3 server would choose 1.3).
    child_process client(s_client(f, server.port(), {"-brief", "-tls1_2"}));
    const std::string before = text_payload(1u << 20, 21);
    const std::string after = text_payload(1u << 20, 22) + "quit\n";

    client.write(before);
    REQUIRE(client.wait_until([&] { return client.out().size() >= before.size(); }, 60s));
    // The client has read all of `before` from its stdin, so "R\n" arrives
    // in a read of its own, as a command.
    client.write("R\n");
    REQUIRE(client.wait_for_err("RENEGOTIATING", 30s));
    INFO(client.transcript());
    REQUIRE(client.wait_until([&] { return server.live_handshakes() >= 2; }, 30s));
    client.write(after);
    const auto status = client.wait_exit(60s);
    INFO(client.transcript());
    REQUIRE(status == 0);
    CHECK(sha256(client.out()) == sha256(before + after));

    const auto reports = server.wait_reports(1, 10s);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].end == "quit");
    CHECK(reports[0].info.handshakes == 2);
    CHECK(reports[0].bytes_echoed == before.size() + after.size());
}

TEST_CASE("gnutls-cli renegotiates in the middle of an echo with a tlsw server that allows it",
          "[interop][gnutls][server][renegotiation]") {
    TLSW_REQUIRE_PROGRAM("gnutls-cli");
    pki_fixture f;
    auto ctx = f.server_context();
    ctx.allow_client_renegotiation(true);
    tlsw_server server(ctx);
    // Renegotiation is TLS 1.2's (a Botan 3 server would choose 1.3).
    child_process client(gnutls_cli(f, server.port(), {"--inline-commands", "--priority", "NORMAL:-VERS-TLS1.3"}));
    const std::string before = text_payload(1u << 20, 23);
    const std::string after = text_payload(1u << 20, 24) + "quit\n";

    client.write(before);
    REQUIRE(client.wait_until([&] { return client.out().size() >= before.size(); }, 60s));
    client.write("^renegotiate^\n");
    REQUIRE(client.wait_until([&] { return server.live_handshakes() >= 2; }, 30s));
    client.write(after);
    const auto status = client.wait_exit(60s);
    INFO(client.transcript() << "\n" << gnutls_log(f));
    REQUIRE(status == 0);
    CHECK(sha256(client.out()) == sha256(before + after));

    const auto reports = server.wait_reports(1, 10s);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].info.handshakes == 2);
    CHECK(reports[0].bytes_echoed == before.size() + after.size());
}

TEST_CASE("a default tlsw server refuses openssl s_client's renegotiation", "[interop][openssl][server][renegotiation]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    tlsw_server server(f.server_context());
    child_process client(s_client(f, server.port(), {"-brief", "-tls1_2"}));  // renegotiation is TLS 1.2's
    client.write("hello\n");
    REQUIRE(client.wait_for_out("hello\n", 30s));
    client.write("R\n");
    // The server answers the ClientHello with a warning no_renegotiation;
    // OpenSSL 3 makes that fatal on its side (SSL_R_NO_RENEGOTIATION), so
    // the client gives up and the connection ends.
    const auto status = client.wait_exit(30s);
    INFO(client.transcript());
    REQUIRE(status.has_value());
    const auto reports = server.wait_reports(1, 10s);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].info.handshakes == 1);
    // "renegotiations refused by either side": here, the server's own refusal.
    CHECK(reports[0].info.renegotiations_refused == 1);
}

// session_info::server_name is "the SNI name the client sent": on a server,
// what s_client -servername sent.
TEST_CASE("a tlsw server reports the SNI name openssl s_client sent", "[interop][openssl][server]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    tlsw_server server(f.server_context());
    child_process client(s_client(f, server.port(), {"-quiet"}));
    client.write("quit\n");
    REQUIRE(client.wait_exit(60s) == 0);
    const auto reports = server.wait_reports(1, 10s);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].info.server_name == "localhost");
}
