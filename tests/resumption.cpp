// Resumption never widens access (issue 8, item 1): a session or ticket
// resumes only under the configuration that issued it; anything else makes
// a full handshake, which then applies the configuration in force.

// Test that header file is self-contained.
#include <tlsw/context.hpp>

#include "support/connection.hpp"
#include "support/harness.hpp"

#include "support/process.hpp"

#include <tlsw/blocking_socket.hpp>
#include <tlsw/tcp_listener.hpp>
#include <tlsw/testing/test_pki.hpp>

#include <catch2/catch.hpp>

#include <botan/hex.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

using namespace tlsw_test;
using tlsw::errc;

namespace {

/** How a second server context differs from the first. */
enum class change { require_certificate, other_trust, verification_off, other_alpn, other_credentials, cipher_order };

const char* name(change c) {
    switch (c) {
    case change::require_certificate: return "client certificate required";
    case change::other_trust: return "another CA trusted for clients";
    case change::verification_off: return "verification off";
    case change::other_alpn: return "another ALPN list";
    case change::other_credentials: return "other server credentials";
    case change::cipher_order: return "only the order of preference of cipher suites (resumes)";
    }
    return "?";
}

}  // namespace

TEST_CASE("a session made before a server required client certificates does not resume without one",
          "[resumption][client_certificate]") {
    const auto how = GENERATE(carrier::session_id, carrier::ticket);
    CAPTURE(how == carrier::ticket ? "ticket" : "session ID");
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(env().pki.ca_cert_pem));  // asks for a certificate, does not require one
    server_ctx.session_tickets(how == carrier::ticket);
    auto client_ctx = client_context();  // presents none

    connection first(client_ctx, server_ctx);
    REQUIRE_FALSE(first.handshake());
    CHECK_FALSE(first.server.info().peer_verified);

    server_ctx.require_client_certificate(true);
    connection second(client_ctx, server_ctx);
    auto e = second.handshake();
    REQUIRE(e);  // a full handshake, which the missing certificate fails
    CHECK_FALSE(second.server.info().resumed);
}

TEST_CASE("a ticket or session resumes only under the server configuration that issued it, even with a shared "
          "ticket key",
          "[resumption][ticket]") {
    const auto what = GENERATE(change::require_certificate, change::other_trust, change::verification_off,
                               change::other_alpn, change::other_credentials, change::cipher_order);
    const auto how = GENERATE(carrier::session_id, carrier::ticket);
    CAPTURE(name(what), how == carrier::ticket ? "ticket" : "session ID");
    const auto key = pattern(32, 5);

    // The issuer: trusts the test CA for clients, client certificate optional.
    auto issuer = server_context();
    REQUIRE(issuer.trust(env().pki.ca_cert_pem));
    issuer.alpn({"h2"});
    REQUIRE(issuer.session_ticket_key(key));
    issuer.session_tickets(how == carrier::ticket);
    const std::string policy = "macs = AEAD\nkey_exchange_methods = ECDH\nciphers = ";
    if (what == change::cipher_order)
        REQUIRE(issuer.policy(policy + "AES-128/GCM AES-256/GCM\n"));

    // The other configuration: for session IDs, the same context changed
    // (it shares its cache); for tickets, a second context with the same key.
    auto other = how == carrier::ticket ? server_context() : issuer;
    if (how == carrier::ticket) {
        REQUIRE(other.trust(env().pki.ca_cert_pem));
        other.alpn({"h2"});
        REQUIRE(other.session_ticket_key(key));
        if (what == change::cipher_order)
            REQUIRE(other.policy(policy + "AES-128/GCM AES-256/GCM\n"));
    }
    switch (what) {
    case change::require_certificate: other.require_client_certificate(true); break;
    case change::other_trust: REQUIRE(other.trust(tlsw::testing::make_test_pki("x").ca_cert_pem)); break;
    case change::verification_off: other.danger_disable_verification(); break;
    case change::other_alpn: other.alpn({"http/1.1"}); break;
    case change::other_credentials: {
        auto leaf = tlsw::testing::issue_leaf(env().pki, {});
        other = tlsw::context::server(*tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem));
        REQUIRE(other.trust(env().pki.ca_cert_pem));
        other.alpn({"h2"});
        REQUIRE(other.session_ticket_key(key));
        other.session_tickets(how == carrier::ticket);
        break;
    }
    case change::cipher_order: REQUIRE(other.policy(policy + "AES-256/GCM AES-128/GCM\n")); break;
    }

    // TLS 1.3 resumes only with a suite of the session's hash: Botan 3's
    // server picks its preferred suite first, so reordered preferences
    // (AES-256-GCM-SHA384 first) make a full handshake there. The identity
    // rule is the same on both versions; TLS 1.2 shows it for the order.
    auto client_ctx = what == change::cipher_order ? tls12(client_context()) : client_context();
    tlsw::stream_options options{.server_name = "localhost", .alpn = {"h2"}};
    connection first(client_ctx, issuer, options);
    REQUIRE_FALSE(first.handshake());

    // Control: the issuer itself resumes.
    connection again(client_ctx, issuer, options);
    REQUIRE_FALSE(again.handshake());
    CHECK(again.server.info().resumed);

    connection second(client_ctx, other, options);
    auto e = second.handshake();
    if (what == change::require_certificate) {
        REQUIRE(e);  // full handshake: the client has no certificate
    } else {
        INFO((e ? e->message() : std::string("ok")));
        REQUIRE_FALSE(e);  // a full handshake, never an error
    }
    // Preference order does not decide who may connect: servers that differ
    // only in it (e.g. by CPU, in one fleet) share sessions.
    const bool same_identity = what == change::cipher_order;
    CHECK(second.server.info().resumed == same_identity);
    CHECK(second.client.info().resumed == same_identity);
}

TEST_CASE("a client session made without verification is not resumed by a verifying context", "[resumption][client]") {
    // The server presents a certificate from a CA the verifying client does
    // not trust: only a resumption could let that client in.
    auto stranger = tlsw::testing::make_test_pki("localhost");
    auto server_ctx = tlsw::context::server(*tlsw::credentials::from_pem(stranger.chain_pem, stranger.leaf_key_pem));

    auto verifying = client_context();
    auto insecure = verifying;
    insecure.danger_disable_verification();

    connection first(insecure, server_ctx);
    REQUIRE_FALSE(first.handshake());

    connection second(verifying, server_ctx);
    auto e = second.handshake();
    REQUIRE(e);
    CHECK(*e == errc::certificate);
    CHECK_FALSE(second.client.info().resumed);
}

TEST_CASE("a resumed server session still reports the client certificate verified when it was made",
          "[resumption][client_certificate]") {
    const auto how = GENERATE(carrier::session_id, carrier::ticket);
    CAPTURE(how == carrier::ticket ? "ticket" : "session ID");
    auto server_ctx = server_context();
    REQUIRE(server_ctx.trust(env().pki.ca_cert_pem));
    server_ctx.require_client_certificate(true);
    server_ctx.session_tickets(how == carrier::ticket);
    auto client_ctx = client_context();
    client_ctx.client_certificate(client_credentials());

    connection first(client_ctx, server_ctx);
    REQUIRE_FALSE(first.handshake());
    CHECK_FALSE(first.server.info().resumed);
    CHECK(first.server.info().peer_verified);
    CHECK(first.server.info().peer_common_name == "client.test");
    CHECK(first.client.info().peer_verified);
    CHECK(first.client.info().peer_common_name == "localhost");

    connection second(client_ctx, server_ctx);
    REQUIRE_FALSE(second.handshake());
    CHECK(second.server.info().resumed);
    CHECK(second.server.info().peer_verified);
    CHECK(second.server.info().peer_common_name == "client.test");
    CHECK(second.client.info().peer_verified);
}

TEST_CASE("a server without client certificates reports its client as not verified", "[resumption][client_certificate]") {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    client_ctx.client_certificate(client_credentials());  // never asked for
    connection c(client_ctx, server_ctx);
    REQUIRE_FALSE(c.handshake());
    CHECK_FALSE(c.server.info().peer_verified);
    CHECK(c.server.info().peer_common_name.empty());

    auto insecure = client_context();
    insecure.danger_disable_verification();
    connection d(insecure, server_ctx);
    REQUIRE_FALSE(d.handshake());
    CHECK_FALSE(d.client.info().peer_verified);  // not verified, whatever it presented
}

TEST_CASE("the session cache can be turned off or bounded per context, on both sides", "[resumption][session_cache]") {
    SECTION("a server without a cache resumes no session ID") {
        auto server_ctx = server_context();
        server_ctx.session_tickets(false).session_cache(false);
        auto client_ctx = client_context();
        connection first(client_ctx, server_ctx);
        REQUIRE_FALSE(first.handshake());
        connection second(client_ctx, server_ctx);
        REQUIRE_FALSE(second.handshake());
        CHECK_FALSE(second.server.info().resumed);
    }
    SECTION("a client without a cache offers no session, not even a ticket") {
        auto server_ctx = server_context();
        auto client_ctx = client_context();
        client_ctx.session_cache(false);
        connection first(client_ctx, server_ctx);
        REQUIRE_FALSE(first.handshake());
        connection second(client_ctx, server_ctx);
        REQUIRE_FALSE(second.handshake());
        CHECK_FALSE(second.client.info().resumed);
    }
    SECTION("a client cache of one session keeps only the latest server") {
        auto server_ctx = server_context();
        auto client_ctx = client_context();
        client_ctx.session_cache(true, 1);
        auto to_port = [](std::uint16_t port) { return tlsw::stream_options{.server_name = "localhost", .port = port}; };
        connection a(client_ctx, server_ctx, to_port(1));
        REQUIRE_FALSE(a.handshake());
        connection b(client_ctx, server_ctx, to_port(2));
        REQUIRE_FALSE(b.handshake());
        connection b_again(client_ctx, server_ctx, to_port(2));
        REQUIRE_FALSE(b_again.handshake());
        CHECK(b_again.client.info().resumed);
        connection a_again(client_ctx, server_ctx, to_port(1));
        REQUIRE_FALSE(a_again.handshake());
        CHECK_FALSE(a_again.client.info().resumed);
    }
    SECTION("a server cache of one session keeps only the latest client's") {
        auto server_ctx = server_context();
        server_ctx.session_tickets(false).session_cache(true, 1);
        auto alice = client_context();
        auto bob = client_context();
        connection a(alice, server_ctx);
        REQUIRE_FALSE(a.handshake());
        connection b(bob, server_ctx);
        REQUIRE_FALSE(b.handshake());
        connection b_again(bob, server_ctx);
        REQUIRE_FALSE(b_again.handshake());
        CHECK(b_again.server.info().resumed);
        connection a_again(alice, server_ctx);
        REQUIRE_FALSE(a_again.handshake());
        CHECK_FALSE(a_again.server.info().resumed);
    }
}

// ---- the verification hook's identity holds across processes (issue 20, item 2)

namespace {

tlsw::verify_result accept_all(const tlsw::verify_request&) { return tlsw::verify_result::accept(); }

/** A server context sharing a ticket key with its fleet, requiring client
    certificates from the test CA, with a hook (named or not). */
tlsw::context hooked_server(std::span<const std::byte> key, std::string_view hook_name) {
    auto ctx = server_context();
    REQUIRE(ctx.trust(env().pki.ca_cert_pem));
    ctx.require_client_certificate(true);
    REQUIRE(ctx.session_ticket_key(key));
    ctx.verify_hook(accept_all, hook_name);
    return ctx;
}

}  // namespace

TEST_CASE("servers sharing a ticket key resume each other's tickets under hooks only when the hooks carry the same "
          "name",
          "[resumption][ticket][verify_hook]") {
    const auto key = pattern(32, 21);
    auto client_ctx = client_context();
    client_ctx.client_certificate(client_credentials());
    struct pairing {
        const char* first;
        const char* second;
        bool resumes;
    };
    const auto p = GENERATE(pairing{"", "", false}, pairing{"pin v1", "pin v1", true}, pairing{"pin v1", "pin v2", false},
                            pairing{"pin v1", "", false});
    CAPTURE(p.first, p.second);
    // Configured independently, as two processes would be.
    auto a = hooked_server(key, p.first);
    auto b = hooked_server(key, p.second);
    connection first(client_ctx, a);
    REQUIRE_FALSE(first.handshake());
    connection second(client_ctx, b);
    REQUIRE_FALSE(second.handshake());
    CHECK(second.server.info().resumed == p.resumes);
    CHECK(second.server.info().peer_verified);
}

// The child side of the next test: a server in a process of its own (the
// test program run again with this hidden test's tag), configured from the
// files and the environment its parent gives it; it serves one connection
// and prints how its handshake ended.
TEST_CASE("(child process) one connection to a ticket server with a verification hook", "[.resumption_child]") {
    const char* dir_env = std::getenv("TLSW_TEST_CHILD_DIR");
    const char* hook_env = std::getenv("TLSW_TEST_CHILD_HOOK");
    if (!dir_env || !hook_env)
        return;  // run by hand, without a parent
    const std::filesystem::path dir = dir_env;
    auto creds = tlsw::credentials::from_files(dir / "chain.pem", dir / "key.pem");
    REQUIRE(creds);
    auto ctx = tlsw::context::server(*creds);
    REQUIRE(ctx.trust_file(dir / "ca.pem"));
    ctx.require_client_certificate(true);
    std::ifstream key_file(dir / "ticket.key");
    std::string key_hex;
    key_file >> key_hex;
    const auto key = Botan::hex_decode(key_hex);
    REQUIRE(ctx.session_ticket_key(std::as_bytes(std::span(key))));
    // The first hook this process sets, as in the parent's other child.
    const bool accept = std::string_view(hook_env) == "accept";
    ctx.verify_hook([accept](const tlsw::verify_request&) {
        return accept ? tlsw::verify_result::accept() : tlsw::verify_result::reject("stricter hook");
    });
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    std::printf("port %u\n", unsigned(listener->port()));
    std::fflush(stdout);
    auto sock = listener->accept();
    REQUIRE(sock);
    REQUIRE_FALSE(sock->set_read_timeout(std::chrono::seconds(20)));
    tlsw::tls_stream<tlsw::blocking_socket> server(ctx, std::move(*sock));
    if (auto h = server.handshake(); !h) {
        std::printf("failed: %s\n", server.describe().c_str());
    } else {
        std::printf("resumed %d\n", server.info().resumed ? 1 : 0);
        (void)server.write(std::string_view("ok"));
        (void)server.shutdown();
    }
    std::fflush(stdout);
}

TEST_CASE("a ticket from a server process with one hook does not resume at a restarted server process with a "
          "stricter hook, and the stricter hook runs",
          "[resumption][ticket][verify_hook][process]") {
    char exe[4096];
    const auto len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    REQUIRE(len > 0);
    const std::string self(exe, static_cast<std::size_t>(len));
    const auto dir = std::filesystem::temp_directory_path() / ("tlsw-resumption-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    tlsw::testing::write_files(env().pki, dir);
    {
        std::ofstream key_file(dir / "ticket.key");
        const auto key = pattern(32, 22);
        key_file << Botan::hex_encode(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()) << "\n";
    }
    auto client_ctx = client_context();
    client_ctx.client_certificate(client_credentials());

    // Runs one child server with `hook`; returns what it printed.
    const auto serve_one = [&](const char* hook) {
        ::setenv("TLSW_TEST_CHILD_DIR", dir.c_str(), 1);
        ::setenv("TLSW_TEST_CHILD_HOOK", hook, 1);
        child_process child({self, "[resumption_child]"});
        ::unsetenv("TLSW_TEST_CHILD_DIR");
        ::unsetenv("TLSW_TEST_CHILD_HOOK");
        // Catch2 prints a line of its own first.
        const auto port_line = [&] {
            const auto at = child.out().find("port ");
            return at != std::string::npos && child.out().find('\n', at) != std::string::npos ? at : std::string::npos;
        };
        REQUIRE(child.wait_until([&] { return port_line() != std::string::npos || !child.running(); },
                                 std::chrono::seconds(30)));
        INFO(child.transcript());
        REQUIRE(port_line() != std::string::npos);
        unsigned port = 0;
        REQUIRE(std::sscanf(child.out().c_str() + port_line(), "port %u", &port) == 1);
        auto sock = tlsw::blocking_socket::connect("127.0.0.1", static_cast<std::uint16_t>(port));
        REQUIRE(sock);
        REQUIRE_FALSE(sock->set_read_timeout(std::chrono::seconds(20)));
        // One cache key for both servers (port 443), as for one name behind a restart.
        tlsw::tls_stream<tlsw::blocking_socket> client(client_ctx, std::move(*sock),
                                                       {.server_name = "localhost", .port = 443});
        std::string got;
        if (client.handshake()) {
            // Reads the server's data (and, under TLS 1.3, its ticket) to its close.
            std::array<std::byte, 64> buf;
            for (;;) {
                auto r = client.read(buf);
                if (!r)
                    break;
                got.append(reinterpret_cast<const char*>(buf.data()), *r);
            }
        }
        const bool resumed = client.info().resumed;
        REQUIRE(child.wait_exit(std::chrono::seconds(30)));
        INFO(child.transcript());
        return std::pair(child.out(), resumed && got == "ok");
    };

    const auto [first_out, first_resumed] = serve_one("accept");
    CHECK(first_out.find("resumed 0") != std::string::npos);
    CHECK_FALSE(first_resumed);
    const auto [second_out, second_resumed] = serve_one("reject");
    INFO(second_out);
    CHECK(second_out.find("failed") != std::string::npos);  // the stricter hook ran and refused
    CHECK(second_out.find("stricter hook") != std::string::npos);
    CHECK_FALSE(second_resumed);
    std::filesystem::remove_all(dir);
}

#if BOTAN_VERSION_MAJOR >= 3
TEST_CASE("a TLS 1.3 client's session cache stays within its byte bound however many tickets a server sends",
          "[resumption][session_cache][tls13]") {
    // A server with a large chain (every stored session carries it) that
    // sends 320 tickets after one handshake: more than the cache's bytes.
    tlsw::testing::pki_options options;
    options.hosts = {"localhost"};
    for (int i = 0; i < 600; ++i)
        options.hosts.push_back("host-" + std::to_string(i) + ".server.example.test");
    const auto leaf = tlsw::testing::issue_leaf(env().pki, options);
    auto server_ctx = tlsw::context::server(*tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem));
    REQUIRE(server_ctx.policy("new_session_tickets_upon_handshake_success = 320\n"));
    auto client_ctx = client_context();
    connection c(client_ctx, server_ctx);
    REQUIRE_FALSE(c.handshake());
    REQUIRE(c.client.info().version == "TLS v1.3");
    std::byte none[1];
    for (int i = 0; i < 50; ++i) {
        (void)c.server.write(std::span<const std::byte>());  // flushes what the full memory pair refused
        auto r = c.client.read(none);
        REQUIRE_FALSE(r);
        REQUIRE(r.error().retryable());
    }
    auto* cache = dynamic_cast<tlsw::detail::client_session_cache*>(client_ctx.state()->sessions.get());
    REQUIRE(cache);
    const auto bytes = cache->bytes();
    CHECK(bytes > tlsw::detail::max_client_cache_bytes / 2);  // it did fill up
    CHECK(bytes <= tlsw::detail::max_client_cache_bytes);
    // It still resumes.
    connection again(client_ctx, server_ctx);
    REQUIRE_FALSE(again.handshake());
    CHECK(again.client.info().resumed);
}
#endif
