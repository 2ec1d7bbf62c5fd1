// The Asio examples (issue 13, item 3), run as a user runs them against
// OpenSSL's command-line peers: examples/asio_client fetches a page from
// openssl s_server -www, and examples/asio_echo_server serves several
// openssl s_client at once on its one thread. Built and registered by
// examples/meson.build when Asio is found (TLSW_EXAMPLES_DIR names the
// programs' directory).

#include "support/example_programs.hpp"
#include "support/harness.hpp"
#include "support/interop.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;

TEST_CASE("the Asio examples answer --help on stdout and refuse bad options", "[asio][examples]") {
    check_usage("asio_client");
    check_usage("asio_echo_server");
}

TEST_CASE("asio_client fetches a page from openssl s_server -www and verifies the server", "[asio][examples]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    std::uint16_t port = 0;
    auto server = start_listening_peer(
        [&](std::uint16_t p) {
            return std::vector<std::string>{"openssl", "s_server", "-www", "-accept", "127.0.0.1:" + std::to_string(p),
                                            "-cert", f.chain(), "-key", f.key()};
        },
        port);

    SECTION("with the CA that issued the server's certificate, the page arrives whole") {
        child_process client({example("asio_client"), "--ca-file", f.ca(), "--server-name", "localhost", "127.0.0.1",
                              std::to_string(port), "/"});
        const auto status = client.wait_exit(30s);
        INFO(client.transcript());
        REQUIRE(status == 0);
        CHECK(client.out().starts_with("HTTP/1.0 200 ok"));
        CHECK(client.out().find("</HTML>") != std::string::npos);
        CHECK(client.err().find(default_version()) != std::string::npos);
    }
    SECTION("without it, verification fails and nothing is printed") {
        child_process client({example("asio_client"), "--server-name", "localhost", "127.0.0.1", std::to_string(port)});
        const auto status = client.wait_exit(30s);
        INFO(client.transcript());
        CHECK(status == 1);
        CHECK(client.out().empty());
        CHECK(client.err().find("certificate") != std::string::npos);
    }
}

TEST_CASE("asio_echo_server echoes to several openssl s_client at once", "[asio][examples]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    child_process server({example("asio_echo_server"), "--cert", f.chain(), "--key", f.key()});
    REQUIRE(server.wait_until([&] { return server.out().find('\n') != std::string::npos || !server.running(); }, 20s));
    INFO(server.transcript());
    const std::string port = server.out().substr(0, server.out().find('\n'));

    constexpr int clients = 4;
    std::vector<std::unique_ptr<child_process>> peers;
    std::vector<std::string> payloads;
    for (int i = 0; i < clients; ++i) {
        peers.push_back(std::make_unique<child_process>(std::vector<std::string>{
            "openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername", "localhost", "-CAfile", f.ca(),
            "-verify_return_error", "-brief"}));
        payloads.push_back(text_payload(200000, static_cast<std::uint32_t>(60 + i)));
    }
    // Every client connects and sends before any of them finishes: the
    // server has them all open at once.
    std::vector<child_process*> all{&server};
    for (int i = 0; i < clients; ++i) {
        peers[i]->write(payloads[i]);
        all.push_back(peers[i].get());
    }
    const bool echoed = child_process::wait_until_all(
        all,
        [&] {
            for (int i = 0; i < clients; ++i)
                if (peers[i]->out().size() < payloads[i].size())
                    return false;
            return true;
        },
        60s);
    for (int i = 0; i < clients; ++i) {
        INFO("client " << i << ": " << peers[i]->transcript());
        REQUIRE(echoed);
        CHECK(sha256(peers[i]->out()) == sha256(payloads[i]));
        peers[i]->close_stdin();  // s_client sends close_notify and exits
        CHECK(peers[i]->wait_exit(20s) == 0);
    }
    CHECK(server.wait_for_err("closed", 10s));
}
