// The soak test of examples/server (issue 9): N connections over loopback,
// mixing normal clients (HTTP, POST /echo, echo), clients that vanish
// mid-handshake or mid-request, garbage senders, slow clients and
// renegotiating clients (under TLS 1.3, which has no renegotiation, clients
// that send a KeyUpdate asking the server for one too). At the end the server is alive, answers a normal
// request correctly, and its RSS is back within 10% of where it was after
// the warm-up.
//
// meson test runs it with 500 connections (suite "soak"). The long run:
//   TLSW_SOAK_CONNECTIONS=10000 BUILD/examples/test_examples --filenames-as-tags "[#soak_server]"
// (TLSW_SOAK_WORKERS sets the concurrent clients, 32 by default). It prints
// connections/s and the server's RSS figures on stdout.

#include "support/example_programs.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace tlsw_test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

std::size_t env_number(const char* name, std::size_t fallback) {
    const char* text = std::getenv(name);
    return text && *text ? static_cast<std::size_t>(std::strtoull(text, nullptr, 10)) : fallback;
}

enum kind : unsigned { normal_http, normal_echo, normal_post, vanish_handshake, garbage, slow, renegotiating,
                       vanish_request, kinds };
constexpr std::array<const char*, kinds> kind_names = {"normal HTTP", "normal echo", "normal POST", "vanish mid-handshake",
                                                       "garbage", "slow", "renegotiate/KeyUpdate", "vanish mid-request"};
// Which kind connection i is: normal clients are half of them.
constexpr std::array<kind, 12> schedule = {normal_http, vanish_handshake, normal_echo, garbage, normal_post, slow,
                                           normal_http, renegotiating, normal_echo, vanish_request, normal_http, slow};

/** What the workers report; guarded by its mutex (Catch assertions are
    not thread-safe, so workers only count and describe). */
struct tally {
    std::mutex mutex;
    std::array<std::uint64_t, kinds> ran{};
    std::array<std::uint64_t, kinds> failed{};
    std::string first_failure;

    void note(kind k, const std::string& failure) {
        std::lock_guard lock(mutex);
        ++ran[k];
        if (!failure.empty()) {
            ++failed[k];
            if (first_failure.empty())
                first_failure = std::string(kind_names[k]) + ": " + failure;
        }
    }
};

std::optional<tlsw::blocking_socket> connect_bounded(std::uint16_t port) {
    auto socket = tlsw::blocking_socket::connect("127.0.0.1", port, 10s);
    if (!socket)
        return std::nullopt;
    set_socket_timeouts(socket->native_handle(), 20s);
    (void)socket->set_nodelay(true);
    return std::move(*socket);
}

std::string get(client_stream& tls, const std::string& path) {
    if (!write_all(tls, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        return "write failed";
    const std::string response = read_response(tls);
    if (!response.starts_with("HTTP/1.1 200 OK\r\n") || response.find("path: " + path + "\n") == std::string::npos)
        return "bad response: " + response.substr(0, 80);
    return {};
}

/** Runs connection `i` of kind `k`; returns what went wrong, or empty. */
std::string run_client(kind k, std::size_t i, const tlsw::context& ctx, std::uint16_t port) {
    auto socket = connect_bounded(port);
    if (!socket)
        return "connect failed";
    const std::string path = "/soak/" + std::to_string(i);
    switch (k) {
    case vanish_handshake: {
        // A real ClientHello, then the socket closes under it.
        auto nb = tlsw::nonblocking_socket::from_fd(socket->release());
        if (!nb)
            return "from_fd failed";
        tlsw::tls_stream<tlsw::nonblocking_socket> tls(ctx, std::move(*nb), {.server_name = "localhost"});
        (void)tls.handshake();  // sends the ClientHello, returns want_read
        if (i % 2 == 0)
            std::this_thread::sleep_for(5ms);  // sometimes after the server answered
        return {};
    }
    case garbage: {
        std::string junk = text_payload(1000 + i % 3000, static_cast<std::uint32_t>(i));
        if (i % 2 == 0)
            junk[0] = '\x16';  // looks like a handshake record at first
        (void)socket->write_some(bytes_of(junk));
        std::array<std::byte, 512> buffer;
        for (int reads = 0; reads < 100; ++reads) {
            auto n = socket->read_some(buffer);  // until the server closes
            if (!n || *n == 0)
                return {};
        }
        return "the server kept answering garbage";
    }
    default: break;
    }

    client_stream tls(ctx, std::move(*socket), {.server_name = "localhost"});
    switch (k) {
    case normal_http: {
        if (auto e = get(tls, path); !e.empty())
            return e;
        if (auto e = get(tls, path + "/again"); !e.empty())
            return e;
        break;
    }
    case normal_echo: {
        const std::string data = text_payload(100 + i % 5000, static_cast<std::uint32_t>(i));
        if (!write_all(tls, data) || read_exactly(tls, data.size()) != data)
            return "echo differs";
        break;
    }
    case normal_post: {
        const std::string body = text_payload(10 + i % 8000, static_cast<std::uint32_t>(i));
        if (!write_all(tls, "POST /echo HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                                body))
            return "write failed";
        if (body_of(read_response(tls)) != body)
            return "POST /echo body differs";
        break;
    }
    case slow: {
        const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
        for (std::size_t at = 0; at < request.size(); at += 8) {
            if (!write_all(tls, std::string_view(request).substr(at, 8)))
                return "write failed";
            std::this_thread::sleep_for(20ms);
        }
        const std::string response = read_response(tls);
        if (response.find("path: " + path + "\n") == std::string::npos)
            return "bad response: " + response.substr(0, 80);
        break;
    }
    case renegotiating: {
        if (auto e = get(tls, path); !e.empty())
            return e;
        if (tls.info().version == "TLS v1.3") {
            // No renegotiation in TLS 1.3: new keys both ways instead.
            if (auto r = tls.update_keys(true); !r)
                return "update_keys: " + r.error().message();
        } else {
            if (auto r = tls.renegotiate(); !r)
                return "renegotiate: " + r.error().message();
            if (auto r = tls.handshake(); !r)
                return "renegotiation: " + r.error().message();
            if (tls.info().handshakes != 2)
                return "the server did not renegotiate";
        }
        if (auto e = get(tls, path + "/renegotiated"); !e.empty())
            return e;
        break;
    }
    case vanish_request: {
        (void)write_all(tls, "GET " + path + " HT");
        return {};  // the socket closes mid-request
    }
    default: break;
    }
    // Half the normal clients close properly, the others just drop.
    if (i % 2 == 0 && !tls.shutdown())
        return "shutdown failed";
    return {};
}

/** Runs connections [from, to) on `workers` threads. */
void run_batch(std::size_t from, std::size_t to, std::size_t workers, const tlsw::context& ctx,
               const std::string& ca_pem, std::uint16_t port, tally& t) {
    std::atomic<std::size_t> next{from};
    std::vector<std::jthread> threads;
    for (std::size_t w = 0; w < workers; ++w)
        threads.emplace_back([&] {
            for (std::size_t i = next++; i < to; i = next++) {
                const kind k = schedule[i % schedule.size()];
                // One in five makes a full handshake: a new context has no
                // session to resume.
                if (i % 5 == 0) {
                    auto fresh = tlsw::context::client();
                    fresh.use_system_trust(false);
                    (void)fresh.trust(ca_pem);
                    t.note(k, run_client(k, i, fresh, port));
                } else {
                    t.note(k, run_client(k, i, ctx, port));
                }
            }
        });
}

}  // namespace

TEST_CASE("the example server survives a soak of every kind of client and returns to its memory",
          "[example_server][soak]") {
    const std::size_t total = std::max<std::size_t>(env_number("TLSW_SOAK_CONNECTIONS", 500), 100);
    const std::size_t workers = std::max<std::size_t>(env_number("TLSW_SOAK_WORKERS", 32), 1);
    const std::size_t warm_up = std::min<std::size_t>(total / 5, 500);
    pki_fixture f;
    example_server server(f, {"--quiet", "--stats", "--allow-client-renegotiation", "--handshake-timeout", "3",
                              "--request-timeout", "3", "--idle-timeout", "10"});
    const auto ctx = f.client_context();
    tally t;
    const auto settle = [&] {
        // The last connections close and the server gives back freed pages
        // (it trims once idle for a second).
        std::this_thread::sleep_for(1500ms);
        server->pump(0ms);
    };

    const std::size_t rss_start = server.rss_kib();
    const auto start = clock_type::now();
    run_batch(0, warm_up, workers, ctx, f.pki.ca_cert_pem, server.port, t);
    settle();
    const std::size_t rss_warm = server.rss_kib();

    std::atomic<bool> running{true};
    std::atomic<std::size_t> rss_peak{rss_warm};
    std::jthread sampler([&] {
        while (running) {
            rss_peak = std::max<std::size_t>(rss_peak, server.rss_kib());
            std::this_thread::sleep_for(50ms);
        }
    });
    const auto main_start = clock_type::now();
    run_batch(warm_up, total, workers, ctx, f.pki.ca_cert_pem, server.port, t);
    const auto main_end = clock_type::now();
    running = false;
    sampler.join();
    settle();
    const std::size_t rss_end = server.rss_kib();
    const double seconds = std::chrono::duration<double>(main_end - main_start).count();

    std::printf("soak: %zu connections (%zu warm-up) on %zu workers in %.1f s: %.0f connections/s\n", total, warm_up,
                workers, std::chrono::duration<double>(main_end - start).count(),
                static_cast<double>(total - warm_up) / seconds);
    std::printf("soak: server RSS %zu KiB at start, %zu KiB after warm-up, peak %zu KiB, final %zu KiB\n", rss_start,
                rss_warm, rss_peak.load(), rss_end);
    for (unsigned k = 0; k < kinds; ++k)
        std::printf("soak: %-22s %6llu run, %llu failed\n", kind_names[k],
                    static_cast<unsigned long long>(t.ran[k]), static_cast<unsigned long long>(t.failed[k]));
    std::fflush(stdout);

    INFO("first failure: " << t.first_failure);
    for (kind k : {normal_http, normal_echo, normal_post, slow, renegotiating, garbage})
        CHECK(t.failed[k] == 0);
    REQUIRE(server->running());

    // Alive and correct at the end.
    {
        auto socket = connect_bounded(server.port);
        REQUIRE(socket);
        client_stream tls(ctx, std::move(*socket), {.server_name = "localhost"});
        CHECK(get(tls, "/after-soak").empty());
        CHECK(tls.shutdown());
    }
#ifndef TLSW_SANITIZED
    // Memory back within 10% of where it was after the warm-up.
    CHECK(rss_end * 10 <= rss_warm * 11);
#endif
    server->kill(SIGTERM);
    REQUIRE(server->wait_exit(30s) == 0);
    INFO(server->transcript());
    CHECK(server->err().find("stats: accepted " + std::to_string(total + 1) + ",") != std::string::npos);
    std::printf("%s", server->err().substr(server->err().find("stats:")).c_str());
}
