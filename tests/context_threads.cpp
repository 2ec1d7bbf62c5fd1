// A context is shared between threads (DESIGN.md): handshakes, session
// cache and tickets, reads of the context and setters, all at once. Built
// with ThreadSanitizer by the `tsan` configuration of scripts/test.sh.

// Test that header file is self-contained.
#include <tlsw/context.hpp>

#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace tlsw_test;
using stream = tlsw::tls_stream<tlsw::memory_pair::end>;

namespace {

struct tally {
    std::atomic<int> done{0};
    std::atomic<int> resumed{0};
    std::atomic<int> failed{0};
};

/** One handshake and a short exchange between fresh streams of the two
    contexts; `check`, when given, judges the client's session. */
void one_connection(const tlsw::context& client_ctx, const tlsw::context& server_ctx, tally& t,
                    const std::function<bool(const tlsw::session_info&)>& check = {}) {
    auto [a, b] = tlsw::memory_pair::make();
    stream client(client_ctx, std::move(a), localhost());
    stream server(server_ctx, std::move(b));
    for (int round = 0; round < 200; ++round) {
        auto c = client.handshake();
        auto s = server.handshake();
        if (c && s) {
            const auto msg = pattern(100, static_cast<std::uint32_t>(round));
            std::vector<std::byte> got(100);
            if (!client.write(msg) || !server.read(got) || got != msg) {
                ++t.failed;
                return;
            }
            // Under TLS 1.3 the session ticket comes after the handshake:
            // the client reads it for the next connection to resume.
            std::byte none[1];
            if (auto r = client.read(none); !r && !r.error().retryable()) {
                ++t.failed;
                return;
            }
            if (check && !check(client.info())) {
                ++t.failed;
                return;
            }
            ++t.done;
            t.resumed += client.info().resumed && server.info().resumed;
            return;
        }
        if ((!c && !c.error().retryable()) || (!s && !s.error().retryable())) {
            ++t.failed;
            return;
        }
    }
    ++t.failed;
}

}  // namespace

TEST_CASE("one client and one server context serve 4 threads of 100 handshakes each, resuming sessions",
          "[context][threads]") {
    const auto tickets = GENERATE(true, false);
    CAPTURE(tickets);
    auto server_ctx = server_context();
    server_ctx.session_tickets(tickets);
    auto client_ctx = client_context();
    constexpr int threads = 4;
    constexpr int per_thread = 100;

    tally t;
    std::atomic<bool> stop{false};
    std::atomic<long> reads{0};
    // Reads of both contexts while handshakes run: the role, and copies,
    // which are then changed (a copy's change never reaches the original).
    std::thread reader([&] {
        while (!stop) {
            tlsw::context copy = client_ctx;
            tlsw::context server_copy = server_ctx;
            reads += copy.is_server() ? 0 : 1;
            reads += server_copy.is_server() ? 1 : 0;
            copy.use_system_trust(false);
            server_copy.allow_client_renegotiation(false);
        }
    });
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i)
        workers.emplace_back([&] {
            for (int n = 0; n < per_thread; ++n)
                one_connection(client_ctx, server_ctx, t);
        });
    for (auto& w : workers)
        w.join();
    stop = true;
    reader.join();

    CHECK(t.failed == 0);
    CHECK(t.done == threads * per_thread);
    // Every connection after the first few resumes; at least half is a loose floor.
    CHECK(t.resumed >= threads * per_thread / 2);
    CHECK(reads > 0);
}

TEST_CASE("setters on a shared context race with stream creation in other threads without harm",
          "[context][threads][snapshot]") {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    std::atomic<bool> stop{false};
    // Changes that keep every connection possible: each stream gets one
    // whole configuration, before or after a change.
    std::thread changer([&] {
        for (int i = 0; !stop; ++i) {
            server_ctx.alpn({i % 2 ? "h2" : "http/1.1"});
            server_ctx.session_tickets(i % 3 != 0);
            server_ctx.allow_client_renegotiation(i % 2 == 0);
            client_ctx.session_cache(true, 10 + static_cast<std::size_t>(i % 5));
            (void)client_ctx.trust(env().pki.ca_cert_pem);
            (void)server_ctx.policy(i % 2 ? "allow_tls12 = true\n" : "negotiate_encrypt_then_mac = true\n");
        }
    });
    tally t;
    std::vector<std::thread> workers;
    for (int i = 0; i < 4; ++i)
        workers.emplace_back([&] {
            for (int n = 0; n < 25; ++n)
                one_connection(client_ctx, server_ctx, t);
        });
    for (auto& w : workers)
        w.join();
    stop = true;
    changer.join();
    CHECK(t.failed == 0);
    CHECK(t.done == 100);
}

// Issue 22, item 5: credentials replaced, added and removed, and a
// credentials callback set and removed, while other threads handshake.
TEST_CASE("a server's credentials replaced and removed while 4 threads handshake: each handshake presents whole "
          "credentials the context held",
          "[context][threads][credentials]") {
    const auto leaf = [] {
        auto pki = tlsw::testing::issue_leaf(env().pki, {});
        return *tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    };
    const auto a = leaf(), b = leaf(), extra = leaf();
    const auto der_of = [](const tlsw::credentials& creds) {
        const auto der = creds.data()->chain.front().BER_encode();
        const auto bytes = std::as_bytes(std::span(der));
        return std::vector<std::byte>(bytes.begin(), bytes.end());
    };
    const auto a_der = der_of(a), b_der = der_of(b);
    auto server_ctx = tlsw::context::server(a);
    const auto client_ctx = client_context();
    std::atomic<bool> stop{false};
    std::atomic<int> refused{0};
    std::atomic<int> changes{0};
    std::thread changer([&] {
        tlsw::credentials current = a, next = b;
        for (int i = 0; !stop; ++i) {
            refused += !server_ctx.replace_credentials(current, next);
            std::swap(current, next);
            refused += !server_ctx.add_credentials(extra);
            refused += !server_ctx.remove_credentials(extra);
            // The callback runs in the handshaking threads, all at once.
            if (i % 2)
                refused += !server_ctx.choose_credentials(
                    [&](const tlsw::client_hello& hello) { return std::optional<tlsw::credentials>(hello.accepts(a) ? a : b); });
            else
                refused += !server_ctx.choose_credentials(nullptr);
            ++changes;
        }
    });
    tally t;
    const auto presents_a_or_b = [&](const tlsw::session_info& info) {
        return !info.peer_chain.empty() && (info.peer_chain.front().der == a_der || info.peer_chain.front().der == b_der);
    };
    std::vector<std::thread> workers;
    for (int i = 0; i < 4; ++i)
        workers.emplace_back([&] {
            for (int n = 0; n < 25; ++n)
                one_connection(client_ctx, server_ctx, t, presents_a_or_b);
        });
    for (auto& w : workers)
        w.join();
    stop = true;
    changer.join();
    CHECK(refused == 0);
    CHECK(t.failed == 0);
    CHECK(t.done == 100);
    CHECK(changes > 0);
}
