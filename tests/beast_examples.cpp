// The Boost.Beast examples, run as a user runs them: examples/beast_client
// fetches pages from openssl s_server -www, from examples/server and from
// examples/beast_server; examples/beast_server answers curl, openssl
// s_client and beast_client. Built and registered by examples/meson.build
// when Boost.Beast is found (TLSW_EXAMPLES_DIR names the programs'
// directory).

#include "support/example_programs.hpp"
#include "support/harness.hpp"
#include "support/interop.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;

namespace {

/** examples/beast_server on an OS-chosen port, read from its stdout. */
struct beast_server {
    std::unique_ptr<child_process> process;
    std::string port;

    explicit beast_server(const pki_fixture& f) {
        process = std::make_unique<child_process>(
            std::vector<std::string>{example("beast_server"), "--cert", f.chain(), "--key", f.key()});
        const bool up = process->wait_until(
            [&] { return process->out().find('\n') != std::string::npos || !process->running(); }, 20s);
        INFO(process->transcript());
        REQUIRE(up);
        port = process->out().substr(0, process->out().find('\n'));
        REQUIRE_FALSE(port.empty());
    }
};

/** beast_client's command line for 127.0.0.1:port, verifying "localhost" against the fixture's CA. */
std::vector<std::string> beast_client(const pki_fixture& f, const std::string& port, const std::string& path) {
    return {example("beast_client"), "--ca-file", f.ca(), "--server-name", "localhost", "127.0.0.1", port, path};
}

}  // namespace

TEST_CASE("the Beast examples answer --help on stdout and refuse bad options", "[beast][examples]") {
    check_usage("beast_client");
    check_usage("beast_server");
}

TEST_CASE("beast_client fetches a page from openssl s_server -www, verifying it, and says why when it cannot",
          "[beast][examples][openssl]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    auto server = start_s_server(f, port, {"-www"});

    SECTION("with the CA that issued the certificate, the page arrives whole (its end is the close_notify)") {
        child_process client(beast_client(f, std::to_string(port), "/"));
        const auto status = client.wait_exit(30s);
        INFO(client.transcript());
        REQUIRE(status == 0);
        CHECK(client.out().starts_with("HTTP/1.0 200 ok"));
        CHECK(client.out().find("</HTML>") != std::string::npos);
        CHECK(client.err().find(default_version()) != std::string::npos);
    }
    SECTION("without it, the error names the reason and the alert the client sent") {
        child_process client({example("beast_client"), "--server-name", "localhost", "127.0.0.1",
                              std::to_string(port)});
        const auto status = client.wait_exit(30s);
        INFO(client.transcript());
        CHECK(status == 1);
        CHECK(client.out().empty());
        CHECK(client.err().find("handshake: certificate verification failed: certificate issuer is unknown or "
                                "untrusted (alert sent: ") != std::string::npos);
    }
}

TEST_CASE("beast_client fetches /hello from the example server, verifying it", "[beast][examples]") {
    pki_fixture f;
    example_server server(f);
    child_process client(beast_client(f, std::to_string(server.port), "/hello"));
    const auto status = client.wait_exit(30s);
    INFO(client.transcript() << "\n" << server->transcript());
    REQUIRE(status == 0);
    CHECK(client.out().starts_with("HTTP/1.1 200 OK"));
    CHECK(client.out().find("hello from tlsw\npath: /hello\n") != std::string::npos);
}

TEST_CASE("beast_server answers curl (two requests on one connection), openssl s_client and beast_client",
          "[beast][examples][curl][openssl]") {
    pki_fixture f;
    beast_server server(f);
    INFO(server.process->transcript());

    SECTION("curl") {
        TLSW_REQUIRE_PROGRAM("curl");
        const std::string base = "https://localhost:" + server.port;
        child_process curl({"curl", "-sS", "--cacert", f.ca(), "--resolve", "localhost:" + server.port + ":127.0.0.1",
                            base + "/one", base + "/two"});
        const auto status = curl.wait_exit(60s);
        INFO(curl.transcript());
        REQUIRE(status == 0);
        CHECK(curl.out() == "hello from beast over tlsw\npath: /one\nprotocol: " + default_version() +
                                "\nhello from beast over tlsw\npath: /two\nprotocol: " + default_version() + "\n");
        CHECK(curl.err().find("Re-using existing connection") == std::string::npos);  // -sS: quiet
    }
    SECTION("openssl s_client") {
        TLSW_REQUIRE_PROGRAM("openssl");
        child_process client({"openssl", "s_client", "-connect", "127.0.0.1:" + server.port, "-servername",
                              "localhost", "-CAfile", f.ca(), "-verify_return_error", "-quiet"});
        client.write("GET /s_client HTTP/1.0\r\n\r\n");
        child_process* both[] = {&client, server.process.get()};
        const bool answered = child_process::wait_until_all(
            both, [&] { return client.out().find("path: /s_client\n") != std::string::npos; }, 30s);
        INFO(client.transcript());
        CHECK(answered);
        CHECK(client.out().starts_with("HTTP/1.0 200 OK\r\n"));
        client.close_stdin();
        CHECK(client.wait_exit(20s) == 0);
    }
    SECTION("beast_client") {
        child_process client(beast_client(f, server.port, "/from-beast"));
        child_process* both[] = {&client, server.process.get()};
        child_process::wait_until_all(both, [&] { return !client.running(); }, 30s);
        const auto status = client.wait_exit(10s);
        INFO(client.transcript());
        REQUIRE(status == 0);
        CHECK(client.out().starts_with("HTTP/1.1 200 OK"));
        CHECK(client.out().find("path: /from-beast\n") != std::string::npos);
        // The client's close_notify, answered.
        CHECK(server.process->wait_for_err("closed", 10s));
    }
}
