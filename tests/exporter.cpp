// tls_stream::export_keying_material: RFC 5705 (TLS 1.2) and RFC 8446
// section 7.5 (TLS 1.3) on both engines: both ends agree, the label, the
// context (and under TLS 1.2 its presence) and the length change the
// bytes, the RFC's refusals, and equality with what OpenSSL computes for
// the same connection (openssl s_client -keymatexport).

// Test that header file is self-contained.
#include <tlsw/tls_stream.hpp>

#include "support/harness.hpp"
#include "support/interop.hpp"
#include "support/stream_pair.hpp"

#include <tlsw/blocking_socket.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/tcp_listener.hpp>

#include <catch2/catch.hpp>

#include <botan/hex.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;
using tlsw::errc;

namespace {

std::span<const std::byte> exporter_bytes(std::string_view text) { return std::as_bytes(std::span(text)); }

template <class S>
std::vector<std::byte> exported(const S& s, std::string_view label, std::optional<std::string_view> context,
                                std::size_t length) {
    std::optional<std::span<const std::byte>> ctx;
    if (context)
        ctx = exporter_bytes(*context);
    auto r = s.export_keying_material(label, ctx, length);
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r);
    REQUIRE(r->size() == length);
    return *r;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("both ends export the same keying material, and label, context and length change it",
                        "[exporter]", all_policies) {
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    stream_pair<TestType> p(tls12_only ? tls12(client_context()) : client_context());
    handshake_both(p.client, p.server);
    const bool tls13 = p.client.info().protocol_version == tlsw::tls_version::tls13;

    const auto none = exported(p.client, "EXPERIMENTAL tlsw", std::nullopt, 32);
    CHECK(none == exported(p.server, "EXPERIMENTAL tlsw", std::nullopt, 32));
    const auto empty = exported(p.client, "EXPERIMENTAL tlsw", "", 32);
    CHECK(empty == exported(p.server, "EXPERIMENTAL tlsw", "", 32));
    const auto some = exported(p.client, "EXPERIMENTAL tlsw", "context", 32);
    CHECK(some == exported(p.server, "EXPERIMENTAL tlsw", "context", 32));
    // RFC 5705: a context given, even empty, is part of the seed; RFC 8446
    // 7.5: none and empty are the same.
    CHECK((none == empty) == tls13);
    CHECK(some != none);
    CHECK(exported(p.client, "EXPERIMENTAL other", std::nullopt, 32) != none);
    CHECK(exported(p.client, "EXPERIMENTAL tlsw", "context2", 32) != some);
    // A longer output starts with the shorter one under TLS 1.2's PRF and
    // differs under TLS 1.3 (the length is part of HKDF-Expand-Label).
    const auto longer = exported(p.client, "EXPERIMENTAL tlsw", std::nullopt, 64);
    CHECK(std::equal(none.begin(), none.end(), longer.begin()) == !tls13);
    CHECK(longer == exported(p.server, "EXPERIMENTAL tlsw", std::nullopt, 64));

    // Application data still flows, once and in order.
    const auto data = pattern(40000, 9);
    CHECK_SAME_BYTES(transfer(p.client, p.server, data, 16384), data);
    CHECK(exported(p.server, "EXPERIMENTAL tlsw", std::nullopt, 32) == none);
}

TEST_CASE("export_keying_material refuses before the handshake, reserved labels and lengths out of bounds",
          "[exporter]") {
    stream_pair<policies<>> p(client_context());
    const auto refused = [](const auto& s, std::string_view label, std::size_t context_size, std::size_t length) {
        const std::string context(context_size, 'c');
        auto r = s.export_keying_material(label, exporter_bytes(context), length);
        REQUIRE_FALSE(r);
        return r.error().code();
    };
    CHECK(refused(p.client, "EXPERIMENTAL tlsw", 0, 32) == errc::invalid_state);
    CHECK(refused(p.server, "EXPERIMENTAL tlsw", 0, 32) == errc::invalid_state);
    handshake_both(p.client, p.server);
    for (std::string_view label : {"client finished", "server finished", "master secret", "extended master secret",
                                   "key expansion"}) {
        CAPTURE(label);
        CHECK(refused(p.client, label, 4, 32) == errc::invalid_argument);
    }
    CHECK(refused(p.client, std::string(250, 'l'), 0, 32) == errc::invalid_argument);
    CHECK(refused(p.client, "EXPERIMENTAL tlsw", 65536, 32) == errc::invalid_argument);
    CHECK(refused(p.client, "EXPERIMENTAL tlsw", 0, 0) == errc::invalid_argument);
    CHECK(refused(p.client, "EXPERIMENTAL tlsw", 0, 8161) == errc::invalid_argument);
    // The bounds themselves are allowed.
    CHECK(exported(p.client, std::string(249, 'l'), std::string(65535, 'c'), 8160) ==
          exported(p.server, std::string(249, 'l'), std::string(65535, 'c'), 8160));
    // A moved-from stream has no session.
    auto moved = std::move(p.client);
    CHECK(refused(p.client, "EXPERIMENTAL tlsw", 0, 32) == errc::invalid_state);
}

TEST_CASE("a tlsw server exports the keying material openssl s_client -keymatexport computes",
          "[exporter][interop][openssl]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    const bool tls12_only = GENERATE(false, true);
    CAPTURE(tls12_only);
    pki_fixture f;
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    REQUIRE(listener);
    std::vector<std::string> argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(listener->port()),
                                     "-CAfile", f.ca(), "-verify_return_error", "-servername", "localhost",
                                     "-keymatexport", "EXPERIMENTAL-tlsw", "-keymatexportlen", "48"};
    if (tls12_only)
        argv.push_back("-tls1_2");
    child_process client(argv);

    // The server, in a thread: handshake, export, then read until the
    // client closes. Every wait is bounded by the socket's timeouts.
    std::string server_hex, server_error, server_version;
    std::thread server([&] {
        if (!listener->wait_readable(20s)) {
            server_error = "no connection";
            return;
        }
        auto socket = listener->accept();
        if (!socket) {
            server_error = socket.error().message();
            return;
        }
        socket->set_read_timeout(20s);
        socket->set_write_timeout(20s);
        tlsw::tls_stream<tlsw::blocking_socket> tls(f.server_context(), std::move(*socket));
        if (auto h = tls.handshake(); !h) {
            server_error = h.error().message();
            return;
        }
        server_version = tls.info().version;
        auto key = tls.export_keying_material("EXPERIMENTAL-tlsw", std::nullopt, 48);
        if (!key) {
            server_error = key.error().message();
            return;
        }
        server_hex = Botan::hex_encode(reinterpret_cast<const std::uint8_t*>(key->data()), key->size());
        std::vector<std::byte> buffer(4096);
        while (tls.read(buffer)) {
        }
    });
    client.write("hello\n");
    client.close_stdin();
    const auto status = client.wait_exit(30s);
    server.join();
    INFO(client.transcript() << "\nserver: " << server_error);
    REQUIRE(status == 0);
    REQUIRE(server_error.empty());
    CHECK(server_version == (tls12_only ? "TLS v1.2" : default_version()));
    REQUIRE(server_hex.size() == 96);
    CHECK_THAT(client.out(), Catch::Contains("Keying material: " + server_hex));
}
