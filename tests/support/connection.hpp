#ifndef TLSW_TESTS_SUPPORT_CONNECTION_HPP
#define TLSW_TESTS_SUPPORT_CONNECTION_HPP

// A tlsw client and server over a fresh memory_pair, for the tests of what
// contexts configure (context, resumption, server names): they look at the
// handshake's outcome, not at the write contract.

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <utility>

namespace tlsw_test {

/** A client and a server stream of type Stream (default policies unless
    named) over a fresh memory_pair. Made twice from the same two contexts,
    the second connection can resume the first's session. */
template <class Stream = tlsw::tls_stream<tlsw::memory_pair::end>>
struct basic_connection {
    using stream = Stream;

    basic_connection(const tlsw::context& client_ctx, const tlsw::context& server_ctx,
                     tlsw::stream_options options = localhost())
        : basic_connection(client_ctx, server_ctx, std::move(options), tlsw::memory_pair::make()) {}

    /** Runs both handshakes; returns the first hard error, if any. Then
        the client reads once: under TLS 1.3 the server's session tickets
        come after the handshake, and a client has them (to resume or
        export) only after it read them. */
    std::optional<tlsw::tls_error> handshake() {
        for (int i = 0; i < 200; ++i) {
            auto c = client.handshake();
            auto s = server.handshake();
            if (c && s) {
                std::byte none[1];
                if (auto r = client.read(none); !r && !r.error().retryable())
                    return r.error();
                return std::nullopt;
            }
            if (!c && !c.error().retryable())
                return c.error();
            if (!s && !s.error().retryable())
                return s.error();
        }
        FAIL("handshake made no progress");
        return std::nullopt;
    }

    /** Runs the handshakes until the side that receives the other's last
        flight (the server in a full handshake, the client in a resumed
        one) has completed, and returns it; its peer has not read that
        flight yet. */
    stream& handshake_until_one_finished() {
        for (int i = 0; i < 20; ++i) {
            // Each side waits for the other's flight: neither may fail.
            auto c = client.handshake();
            REQUIRE((c || c.error().retryable()));
            if (c)
                return client;
            auto s = server.handshake();
            REQUIRE((s || s.error().retryable()));
            if (s)
                return server;
        }
        FAIL("handshake made no progress");
        return client;
    }

    stream client;
    stream server;

private:
    basic_connection(const tlsw::context& client_ctx, const tlsw::context& server_ctx, tlsw::stream_options options,
                     std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends)
        : client(client_ctx, std::move(ends.first), std::move(options)), server(server_ctx, std::move(ends.second)) {}
};

using connection = basic_connection<>;

/** What each side's handshake ended with: nothing for a side that
    completed, else its error (a side that fails first, and the peer that
    reads its alert). */
struct handshake_errors {
    std::optional<tlsw::tls_error> client;
    std::optional<tlsw::tls_error> server;
};

/** Runs both handshakes of `c` until each has completed or failed; a
    client that completes reads once (TLS 1.3 tickets, or the server's
    alert after the client's last flight). */
template <class Connection>
handshake_errors run_handshakes(Connection& c) {
    handshake_errors out;
    bool client_done = false, server_done = false;
    for (int i = 0; i < 200 && !((client_done || out.client) && (server_done || out.server)); ++i) {
        if (!client_done && !out.client) {
            auto r = c.client.handshake();
            if (r) {
                client_done = true;
            } else if (!r.error().retryable()) {
                out.client = r.error();
            }
        }
        if (!server_done && !out.server) {
            auto r = c.server.handshake();
            if (r)
                server_done = true;
            else if (!r.error().retryable())
                out.server = r.error();
        }
    }
    if (client_done) {
        std::byte none[1];
        for (int i = 0; i < 4; ++i) {
            auto r = c.client.read(none);
            if (!r && !r.error().retryable()) {
                out.client = r.error();
                break;
            }
            (void)c.server.read(none);
        }
    }
    return out;
}

/** How a server lets clients resume: session IDs only, or tickets. */
enum class carrier { session_id, ticket };

}  // namespace tlsw_test

#endif
