// A tlsw client against real servers (issue 4, item 4): openssl s_server
// and gnutls-serv, each started on an unused port (bound on 127.0.0.1 port
// 0, released, handed to the peer; retried if the peer loses it) and
// stopped by the test that started it. The client is a nonblocking
// tls_stream driven in the same poll() loop as the peer's pipes
// (tls_driver in tests/support/interop.hpp). A test whose peer program is
// missing says so with a WARN and passes.
//
// openssl s_server prints what it receives on stdout and sends what it
// reads on stdin: that is the server side of both directions. With -brief
// its stdout holds the payload only and it reads no commands from stdin;
// without it, a line "r" on stdin makes it renegotiate.

#include "support/harness.hpp"
#include "support/interop.hpp"

#include <catch2/catch.hpp>

using namespace tlsw_test;
using namespace std::chrono_literals;

namespace {

using client_stream = tlsw::tls_stream<tlsw::nonblocking_socket>;

/** A connected client stream that verifies "localhost" against the fixture's CA. */
client_stream connect_client(const tlsw::context& ctx, std::uint16_t port, tlsw::stream_options options = {}) {
    auto socket = tlsw::nonblocking_socket::connect("127.0.0.1", port, 10s);
    REQUIRE(socket);
    if (options.server_name.empty())
        options.server_name = "localhost";
    return client_stream(ctx, std::move(*socket), std::move(options));
}

/** Runs the client's handshake to its end before s_server gets anything
    on its stdin. s_server watches stdin and its (blocking) socket in one
    select() loop; when both are ready at once it runs the handshake inside
    its SSL_write of the stdin bytes, then calls SSL_read for the socket,
    which blocks until the client sends application data: a client that
    only downloads would wait for ever, and s_server would read no more of
    its stdin. */
void finish_handshake(tls_driver<client_stream>& driver, const client_stream& tls, child_process& server) {
    const bool ok = driver.run_until(&server, [&] { return driver.done() || tls.info().handshakes >= 1; }, 30s);
    INFO(server.transcript() << "\nclient error: " << driver.error_message());
    REQUIRE(ok);
    REQUIRE_FALSE(driver.done());
}

}  // namespace

TEST_CASE("a tlsw client exchanges 4 MiB each way with openssl s_server", "[interop][openssl][client]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    // The engine's highest version, then a client limited to TLS 1.2.
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    std::uint16_t port = 0;
    auto server = start_s_server(f, port, {"-brief"});
    const auto ctx = tls12_only ? tls12(f.client_context()) : f.client_context();
    auto tls = connect_client(ctx, port);
    tls_driver driver(tls);
    finish_handshake(driver, tls, *server);

    const std::string up = text_payload(four_mib, 31);
    const std::string down = text_payload(four_mib, 32);
    driver.send(up);
    server->write(down);
    const bool done = driver.run_until(
        server.get(), [&] { return driver.done() || (driver.received().size() >= down.size() &&
                                                     server->out().size() >= up.size()); },
        120s);
    INFO(server->transcript() << "\nclient error: " << driver.error_message());
    REQUIRE(done);
    REQUIRE_FALSE(driver.done());
    CHECK(sha256(driver.received()) == sha256(down));
    CHECK(sha256(server->out()) == sha256(up));
    CHECK(tls.info().version == (tls12_only ? "TLS v1.2" : default_version()));
}

TEST_CASE("a tlsw client sends 4 MiB through gnutls-serv --echo and gets it back", "[interop][gnutls][client]") {
    TLSW_REQUIRE_PROGRAM("gnutls-serv");
    pki_fixture f;
    // The engine's highest version, then a client limited to TLS 1.2.
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    std::uint16_t port = 0;
    // gnutls-serv has no option for the listening address: it listens on
    // every address (0.0.0.0 and ::); the client connects to 127.0.0.1.
    auto server = start_listening_peer(
        [&](std::uint16_t p) {
            return std::vector<std::string>{"gnutls-serv", "--echo", "-p", std::to_string(p), "--x509certfile",
                                            f.chain(), "--x509keyfile", f.key(), "--disable-client-cert"};
        },
        port);
    const auto ctx = tls12_only ? tls12(f.client_context()) : f.client_context();
    auto tls = connect_client(ctx, port);
    tls_driver driver(tls);

    const std::string payload = text_payload(four_mib, 33);
    driver.send(payload);
    const bool done = driver.run_until(
        server.get(), [&] { return driver.done() || driver.received().size() >= payload.size(); }, 120s);
    INFO(server->transcript() << "\nclient error: " << driver.error_message());
    REQUIRE(done);
    REQUIRE_FALSE(driver.done());
    CHECK(driver.received().size() == payload.size());
    CHECK(sha256(driver.received()) == sha256(payload));
    CHECK(tls.info().version == (tls12_only ? "TLS v1.2" : default_version()));

    // A clean end: close_notify both ways.
    driver.shutdown();
    REQUIRE(driver.run_until(server.get(), [&] { return driver.done(); }, 30s));
    CHECK(driver.closed());
}

TEST_CASE("a tlsw client follows openssl s_server's renegotiation in the middle of a download",
          "[interop][openssl][client][renegotiation]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    // Without -brief s_server reads "r" on its stdin as "renegotiate", and
    // prints diagnostics on stdout along with what it receives (nothing
    // here: the client only downloads). Renegotiation is TLS 1.2's:
    // -tls1_2 (a Botan 3 client would offer 1.3).
    auto server = start_s_server(f, port, {"-tls1_2"});
    const auto ctx = f.client_context();
    auto tls = connect_client(ctx, port);
    tls_driver driver(tls);
    finish_handshake(driver, tls, *server);
    const std::string command = GENERATE(std::string("r"), std::string("R"));
    CAPTURE(command);

    const std::string before = text_payload(1u << 20, 41);
    const std::string after = text_payload(1u << 20, 42);
    server->write(before);
    const bool got = driver.run_until(
        server.get(), [&] { return driver.done() || driver.received().size() >= before.size(); }, 60s);
    INFO(server->transcript() << "\nclient error: " << driver.error_message() << " received "
                              << driver.received().size());
    REQUIRE(got);
    REQUIRE_FALSE(driver.done());
    REQUIRE(tls.info().handshakes == 1);

    // Botan 2 fails a connection that receives application data while its
    // handshake is pending: s_server stays idle (nothing more on its stdin)
    // until the client has finished the renegotiation, and the client,
    // which only reads, sends nothing meanwhile. s_server has read all of
    // `before` from its stdin, so the command comes in a read of its own:
    // "r" renegotiates, "R" also asks for a client certificate (the client
    // has none and sends an empty list; s_server does not insist).
    server->write(command + "\n");
    REQUIRE(driver.run_until(server.get(), [&] { return driver.done() || tls.info().handshakes >= 2; }, 30s));
    REQUIRE_FALSE(driver.done());
    CHECK_FALSE(tls.handshake_pending());

    server->write(after);
    REQUIRE(driver.run_until(
        server.get(), [&] { return driver.done() || driver.received().size() >= before.size() + after.size(); }, 60s));
    REQUIRE_FALSE(driver.done());
    CHECK(sha256(driver.received()) == sha256(before + after));
    CHECK(tls.info().handshakes == 2);
    CHECK(tls.info().renegotiations_refused == 0);
}

TEST_CASE("a tlsw client gets truncated when openssl s_server is killed in the middle of a download",
          "[interop][openssl][client][truncated]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    auto server = start_s_server(f, port, {"-brief"});
    const auto ctx = f.client_context();
    auto tls = connect_client(ctx, port);
    tls_driver driver(tls);
    finish_handshake(driver, tls, *server);
    const std::string part = text_payload(256u << 10, 51);
    server->write(part);
    const bool got =
        driver.run_until(server.get(), [&] { return driver.done() || driver.received().size() >= part.size(); }, 60s);
    INFO(server->transcript() << "\nclient error: " << driver.error_message() << ", received "
                              << driver.received().size());
    REQUIRE(got);
    REQUIRE_FALSE(driver.done());
    // The client sends nothing, so the kernel closes the dead server's
    // socket with a FIN (unread data would make it a reset instead).
    server->kill(SIGKILL);
    REQUIRE(driver.run_until(nullptr, [&] { return driver.done(); }, 30s));
    INFO("client error: " << driver.error_message());
    REQUIRE(driver.error());
    CHECK(driver.error()->code() == tlsw::errc::truncated);
    CHECK(driver.received() == part);
}

TEST_CASE("a tlsw client gets truncated when a server closes TCP after some TLS records",
          "[interop][client][truncated]") {
    pki_fixture f;
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    const std::string part = text_payload(100000, 52);
    const auto server_ctx = f.server_context();
    std::jthread server([&] {
        if (!listener->wait_readable(10s))
            return;
        auto socket = listener->accept();
        if (!socket)
            return;
        set_socket_timeouts(socket->native_handle(), 10s);
        tlsw::tls_stream<tlsw::blocking_socket> tls(server_ctx, std::move(*socket));
        (void)tls.write(bytes_of(part));
        // Close the TCP connection under the stream: no close_notify.
        tls.transport().close();
    });
    const auto ctx = f.client_context();
    auto tls = connect_client(ctx, listener->port());
    tls_driver driver(tls);
    REQUIRE(driver.run_until(nullptr, [&] { return driver.done(); }, 30s));
    INFO("client error: " << driver.error_message());
    REQUIRE(driver.error());
    CHECK(driver.error()->code() == tlsw::errc::truncated);
    CHECK(driver.received() == part);
    // The failure is final: later calls return it again.
    std::array<std::byte, 16> buffer;
    auto again = tls.read(buffer);
    REQUIRE_FALSE(again);
    CHECK(again.error() == tlsw::errc::truncated);
}

TEST_CASE("a tlsw client resumes its session with openssl s_server, by ticket and by session ID",
          "[interop][openssl][client][resumption]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    const bool tickets = GENERATE(true, false);
    CAPTURE(tickets);
    std::uint16_t port = 0;
    auto server = start_s_server(f, port, {"-brief"});
    auto ctx = f.client_context();
    ctx.session_tickets(tickets);  // off: the client offers no ticket extension, so only the ID resumes

    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        // The session cache is keyed by server name and port.
        auto tls = connect_client(ctx, port, {.server_name = "localhost", .port = port});
        tls_driver driver(tls);
        driver.send("hello\n");
        REQUIRE(driver.run_until(server.get(), [&] { return driver.done() || server->out().size() >= 6u * (round + 1); },
                                 30s));
        INFO(server->transcript() << "\nclient error: " << driver.error_message());
        REQUIRE_FALSE(driver.done());
        CHECK(tls.info().resumed == (round == 1));
        // Close cleanly so that the session stays resumable.
        driver.shutdown();
        REQUIRE(driver.run_until(server.get(), [&] { return driver.done(); }, 30s));
        CHECK(driver.closed());
    }
}

TEST_CASE("a tlsw client negotiates ALPN and verifies the name with openssl s_server", "[interop][openssl][client]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    auto server = start_s_server(f, port, {"-brief", "-alpn", "http/1.1"});
    const auto ctx = f.client_context();

    SECTION("the server picks http/1.1 from the client's list") {
        auto tls = connect_client(ctx, port, {.server_name = "localhost", .alpn = {"h2", "http/1.1"}});
        tls_driver driver(tls);
        REQUIRE(driver.run_until(server.get(), [&] { return driver.done() || tls.info().handshakes == 1; }, 30s));
        INFO(server->transcript() << "\nclient error: " << driver.error_message());
        CHECK(tls.info().alpn == "http/1.1");
    }
    SECTION("a name the certificate does not carry fails verification") {
        auto tls = connect_client(ctx, port, {.server_name = "not-localhost.example"});
        tls_driver driver(tls);
        REQUIRE(driver.run_until(server.get(), [&] { return driver.done(); }, 30s));
        REQUIRE(driver.error());
        INFO(driver.error_message());
        CHECK(driver.error()->code() == tlsw::errc::certificate);
        CHECK(driver.error()->certificate() == tlsw::certificate_reason::name_mismatch);
    }
}

TEST_CASE("a tlsw client presents its certificate to openssl s_server when asked", "[interop][openssl][client]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    // -Verify 1: a client certificate is required, checked against ca.pem.
    auto server = start_s_server(f, port, {"-brief", "-Verify", "1", "-CAfile", f.ca()});
    auto ctx = f.client_context();
    const bool with_certificate = GENERATE(true, false);
    CAPTURE(with_certificate);
    if (with_certificate) {
        tlsw::testing::pki_options options;
        options.hosts = {"tlsw-client"};
        const auto leaf = tlsw::testing::issue_leaf(f.pki, options);
        auto creds = tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem);
        REQUIRE(creds);
        ctx.client_certificate(*creds);
    }
    auto tls = connect_client(ctx, port);
    tls_driver driver(tls);
    driver.send("hello\n");
    const bool ended = driver.run_until(
        server.get(), [&] { return driver.done() || server->out().find("hello\n") != std::string::npos; }, 30s);
    INFO(server->transcript() << "\nclient error: " << driver.error_message());
    REQUIRE(ended);
    if (with_certificate) {
        REQUIRE_FALSE(driver.done());
        CHECK(server->out() == "hello\n");
    } else {
        // s_server refuses the handshake: a fatal alert from the peer.
        REQUIRE(driver.error());
        CHECK(driver.error()->alert_from_peer());
        CHECK(server->out().empty());
    }
}
