// Moved-from objects are safe (issue 20, item 7): every public type's moved-from state is
// valid for destruction, assignment and every call that takes it, which
// then returns an error value (or works on the same data, where moving
// copies), never crashes. add_credentials() with a moved-from credentials
// dereferenced a null pointer.

// Test that header file is self-contained.
#include <tlsw/tlsw.hpp>

#include "support/connection.hpp"
#include "support/harness.hpp"

#include <tlsw/blocking_socket.hpp>
#include <tlsw/nonblocking_socket.hpp>
#include <tlsw/tcp_listener.hpp>
#include <tlsw/testing/fault_transport.hpp>
#include <tlsw/testing/test_pki.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <utility>
#include <vector>

using namespace tlsw_test;
using tlsw::errc;

TEST_CASE("a moved-from credentials works in every call that takes credentials", "[moved_from][credentials]") {
    auto creds = env().server_credentials;
    const auto taken = std::move(creds);
    REQUIRE(taken.data());

    // Moving copies: the source still holds the chain and key.
    auto server_ctx = tlsw::context::server(creds);  // NOLINT(bugprone-use-after-move): what is tested
    auto result = server_ctx.add_credentials(creds);
    REQUIRE(result);
    auto client_ctx = client_context();
    client_ctx.client_certificate(creds);
    connection c(client_ctx, server_ctx);
    REQUIRE_FALSE(c.handshake());

    // Assignment to and from it, and destruction.
    creds = taken;
    auto other = env().server_credentials;
    other = std::move(creds);
    creds = std::move(other);
    CHECK(creds.data());
}

TEST_CASE("a moved-from context stays a valid context with the same configuration", "[moved_from][context]") {
    auto server_ctx = server_context();
    const auto taken = std::move(server_ctx);
    CHECK(server_ctx.is_server());  // NOLINT(bugprone-use-after-move): what is tested
    CHECK(server_ctx.add_credentials(env().server_credentials));
    REQUIRE(server_ctx.trust(env().pki.ca_cert_pem));
    auto client_ctx = client_context();
    auto moved_client = std::move(client_ctx);
    connection c(client_ctx, server_ctx);  // NOLINT(bugprone-use-after-move)
    REQUIRE_FALSE(c.handshake());
    client_ctx = std::move(moved_client);
    server_ctx = taken;
}

TEST_CASE("a moved-from tls_stream returns invalid_state from every call", "[moved_from][tls_stream]") {
    connection c(client_context(), server_context());
    REQUIRE_FALSE(c.handshake());
    auto client = std::move(c.client);
    auto& moved = c.client;  // NOLINT(bugprone-use-after-move): what is tested

    std::array<std::byte, 16> buf{};
    const auto invalid = [](const auto& r) { return !r && r.error() == errc::invalid_state; };
    CHECK(invalid(moved.handshake()));
    CHECK(invalid(moved.write(std::span<const std::byte>(buf))));
    CHECK(invalid(moved.write(std::string_view("text"))));
    CHECK(invalid(moved.read(std::span<std::byte>(buf))));
    CHECK(invalid(moved.shutdown()));
    CHECK(invalid(moved.shutdown(tlsw::shutdown_mode::send, std::chrono::milliseconds(10))));
    CHECK(invalid(moved.renegotiate()));
    CHECK(invalid(moved.update_keys()));
    CHECK(invalid(moved.export_session()));
    CHECK(moved.last_error_detail().empty());
    CHECK(moved.describe().empty());
    CHECK(moved.info().version.empty());
    CHECK(moved.info().peer_chain.empty());
    CHECK_FALSE(moved.handshake_pending());
    CHECK(moved.pending() == 0);
    CHECK_FALSE(moved.has_pending());
    CHECK(moved.buffer_capacity() == 0);

    // The stream it moved to still works; assigning back revives the name.
    REQUIRE(client.write(std::string_view("hello")));
    moved = std::move(client);
    std::array<std::byte, 5> got{};
    auto n = c.server.read(std::span<std::byte>(got));
    REQUIRE(n);
    CHECK(*n == 5);
    CHECK(moved.info().version == default_version());
}

TEST_CASE("a moved-from memory_pair end fails its I/O with an error and closes nothing", "[moved_from][memory_pair]") {
    auto [a, b] = tlsw::memory_pair::make();
    auto taken = std::move(a);
    std::array<std::byte, 4> buf{};
    auto r = a.read_some(buf);  // NOLINT(bugprone-use-after-move): what is tested
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::bad_file_descriptor);
    auto w = a.write_some(buf);
    REQUIRE_FALSE(w);
    CHECK(w.error() == std::errc::bad_file_descriptor);
    CHECK(a.wait(tlsw::readiness::readable, std::chrono::milliseconds(0)));
    CHECK(a.available() == 0);
    a.shutdown_write();
    a.close();
    // The moved-to end still talks to b.
    REQUIRE(taken.write_some(buf));
    CHECK(b.available() == 4);
    a = std::move(taken);
    REQUIRE(a.write_some(buf));
    CHECK(b.available() == 8);

    // A fault_transport moved from holds a moved-from end: errors, no faults.
    tlsw::testing::fault_transport<tlsw::memory_pair::end> faulty(std::move(a), tlsw::testing::fault_plan{});
    auto faulty2 = std::move(faulty);
    CHECK_FALSE(faulty.read_some(buf));  // NOLINT(bugprone-use-after-move)
    CHECK_FALSE(faulty.write_some(buf));
    REQUIRE(faulty2.write_some(buf));
}

TEST_CASE("a moved-from socket and listener are closed and fail their calls with errors",
          "[moved_from][blocking_socket][nonblocking_socket][tcp_listener]") {
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    auto l2 = std::move(*listener);
    CHECK_FALSE(listener->is_open());  // NOLINT(bugprone-use-after-move): what is tested
    CHECK(listener->port() == 0);
    CHECK_FALSE(listener->accept());
    listener->close();

    auto client = tlsw::blocking_socket::connect("127.0.0.1", l2.port());
    REQUIRE(client);
    auto accepted = l2.accept();
    REQUIRE(accepted);
    auto sock = std::move(*client);
    std::array<std::byte, 4> buf{};
    CHECK_FALSE(client->is_open());  // NOLINT(bugprone-use-after-move)
    CHECK_FALSE(client->read_some(buf));
    CHECK_FALSE(client->write_some(buf));
    CHECK(client->set_read_timeout(std::chrono::milliseconds(10)));
    CHECK(client->set_write_timeout(std::chrono::milliseconds(10)));
    CHECK(client->shutdown_write());
    CHECK(client->set_nodelay(true));
    client->close();
    *client = std::move(sock);
    CHECK(client->is_open());

    auto nb = tlsw::nonblocking_socket::connect("127.0.0.1", l2.port());
    REQUIRE(nb);
    auto nb2 = std::move(*nb);
    CHECK_FALSE(nb->is_open());  // NOLINT(bugprone-use-after-move)
    CHECK_FALSE(nb->read_some(buf));
    CHECK_FALSE(nb->write_some(buf));
    CHECK(nb->shutdown_write());
    CHECK(nb->set_nodelay(true));
    *nb = std::move(nb2);
    CHECK(nb->is_open());
}

TEST_CASE("moved-from value types (test PKI, peer_certificate, session_info, certificate chain) are empty values",
          "[moved_from][peer_certificate][session_info][test_pki]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    auto taken = std::move(pki);
    // Every call that takes a test PKI's PEM gets an error value, or the
    // documented exception from the testing helpers; none crashes.
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);  // NOLINT(bugprone-use-after-move)
    CHECK_FALSE(creds);
    auto ctx = client_context();
    CHECK_FALSE(ctx.trust(pki.ca_cert_pem));
    CHECK_THROWS(tlsw::testing::issue_leaf(pki, {}));
    pki = std::move(taken);
    CHECK(tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem));

    connection c(client_context(), server_context());
    REQUIRE_FALSE(c.handshake());
    auto info = c.client.info();
    REQUIRE(info.peer_chain.size() == 2);
    auto info2 = std::move(info);
    CHECK(info2.peer_chain.size() == 2);
    CHECK(info.peer_chain.size() <= 2);  // NOLINT(bugprone-use-after-move): valid, unspecified
    info = info2;
    CHECK(info.peer_chain.size() == 2);

    auto chain = info2.peer_chain;
    auto chain2 = std::move(chain);
    CHECK(chain.empty());  // NOLINT(bugprone-use-after-move)
    CHECK(chain.begin() == chain.end());
    chain = chain2;
    CHECK(chain.size() == 2);

    auto cert = chain2.front();
    auto cert2 = std::move(cert);
    CHECK(cert.der.empty());  // NOLINT(bugprone-use-after-move)
    cert = cert2;
    CHECK_FALSE(cert.der.empty());
}
