// examples/server as a small production server (issue 9): HTTP/1.x as real
// clients send it, ALPN, the command line, fairness and bounds (timeouts,
// max-connections, backpressure, no starvation), graceful stop, logs.
// Driven over loopback with the test's own tlsw clients, openssl s_client
// and curl. Built and registered by examples/meson.build.

#include "support/example_programs.hpp"
#include "support/harness.hpp"
#include "support/ocsp_responder.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <fstream>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>

using namespace tlsw_test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

client_stream connect_client(const tlsw::context& ctx, std::uint16_t port, std::vector<std::string> alpn = {},
                             std::chrono::seconds limit = 20s) {
    auto socket = bounded_connect(port, limit);
    (void)socket.set_nodelay(true);
    return client_stream(ctx, std::move(socket), {.server_name = "localhost", .alpn = std::move(alpn)});
}

/** Writes `text` one byte per write, so one byte per record. */
bool write_bytewise(client_stream& tls, std::string_view text, std::chrono::milliseconds pause = 0ms) {
    for (char c : text) {
        if (!write_all(tls, std::string_view(&c, 1)))
            return false;
        if (pause > 0ms)
            std::this_thread::sleep_for(pause);
    }
    return true;
}

/** After the server's last response: the next read reports its close_notify. */
bool server_closes(client_stream& tls) {
    std::array<std::byte, 256> buffer;
    auto r = tls.read(buffer);
    INFO((r ? "read data" : r.error().message()));
    return !r && r.error() == tlsw::errc::closed;
}

std::size_t count_of(const std::string& text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

/** A nonblocking socket whose writes always succeed: what the kernel does
    not take waits here, and goes out on later calls (push()).

    A flooding client needs it: tls_stream::read() first flushes queued
    ciphertext and returns want_write while the transport takes none, so a
    client whose last request is still queued could never read the
    responses that the server, which stopped reading, waits to send. */
class spooling_socket {
public:
    static constexpr bool can_block = false;
    static constexpr bool can_would_block = true;

    explicit spooling_socket(tlsw::nonblocking_socket s) : socket_(std::move(s)) {}

    tlsw::io_result read_some(std::span<std::byte> in) {
        push();
        return socket_.read_some(in);
    }
    tlsw::io_result write_some(std::span<const std::byte> out) {
        spool_.insert(spool_.end(), out.begin(), out.end());
        push();
        return out.size();
    }
    /** Hands the kernel what it takes now. */
    void push() {
        while (at_ < spool_.size()) {
            auto n = socket_.write_some(std::span(spool_).subspan(at_));
            if (!n)
                break;
            at_ += *n;
        }
        if (at_ == spool_.size()) {
            spool_.clear();
            at_ = 0;
        } else if (at_ > (1u << 20)) {
            spool_.erase(spool_.begin(), spool_.begin() + static_cast<std::ptrdiff_t>(at_));
            at_ = 0;
        }
    }
    std::size_t spooled() const noexcept { return spool_.size() - at_; }
    int native_handle() const noexcept { return socket_.native_handle(); }

private:
    tlsw::nonblocking_socket socket_;
    std::vector<std::byte> spool_;
    std::size_t at_ = 0;
};

static_assert(tlsw::nonblocking_transport<spooling_socket> && !tlsw::transport_traits<spooling_socket>::can_block);

/** One honest HTTP request on a new connection: the time from connect to
    the complete answer, or nullopt when it failed or took over `limit`. */
std::optional<std::chrono::milliseconds> timed_request(const tlsw::context& ctx, std::uint16_t port,
                                                      std::chrono::seconds limit) {
    const auto start = clock_type::now();
    auto tls = connect_client(ctx, port, {}, limit);
    if (!write_all(tls, "GET /honest HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        return std::nullopt;
    const std::string response = read_response(tls);
    if (!response.starts_with("HTTP/1.1 200 OK\r\n") || response.find("path: /honest\n") == std::string::npos)
        return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
}

}  // namespace

// ---- 1. HTTP/1.x as clients send it -------------------------------------------

TEST_CASE("the example server assembles a head sent one byte per record before deciding HTTP or echo",
          "[example_server][http]") {
    pki_fixture f;
    example_server server(f);
    const auto ctx = f.client_context();

    SECTION("a GET head, CRLF, one byte per record, the first bytes alone on the wire") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(tls.handshake());
        const std::string request = "GET /split HTTP/1.1\r\nHost: localhost\r\n\r\n";
        // "G", "E", "T" apart: a server deciding from its first record would echo.
        REQUIRE(write_bytewise(tls, request.substr(0, 4), 50ms));
        REQUIRE(write_bytewise(tls, request.substr(4)));
        const std::string response = read_response(tls);
        INFO(server->transcript());
        CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
        CHECK(response.find("path: /split\n") != std::string::npos);
        CHECK(server->wait_for_err("conn 1: \"GET /split HTTP/1.1\" 200", 10s));
    }
    SECTION("HTTP/1.0 with bare LF, one byte per record: one response, then close") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(write_bytewise(tls, "GET /lf HTTP/1.0\n\n"));
        const std::string response = read_response(tls);
        CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
        CHECK(response.find("Connection: close\r\n") != std::string::npos);
        CHECK(response.find("path: /lf\n") != std::string::npos);
        CHECK(server_closes(tls));
    }
    SECTION("a POST /echo whose head and body arrive one byte per record") {
        auto tls = connect_client(ctx, server.port);
        const std::string body = "split body";
        REQUIRE(write_bytewise(tls, "POST /echo HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                                        "\r\n\r\n" + body));
        const std::string response = read_response(tls);
        CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
        CHECK(body_of(response) == body);
    }
    SECTION("text that only starts like a method is echoed once it differs") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(tls.handshake());
        REQUIRE(write_all(tls, "GE"));
        std::this_thread::sleep_for(50ms);
        REQUIRE(write_all(tls, "neric text\n"));
        CHECK(read_exactly(tls, 13) == "GEneric text\n");
    }
}

TEST_CASE("the example server answers openssl s_client's HTTP/1.0 request with bare LF and closes",
          "[example_server][http][openssl]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    example_server server(f);
    child_process client({"openssl", "s_client", "-quiet", "-connect", "127.0.0.1:" + std::to_string(server.port),
                          "-CAfile", f.ca(), "-verify_return_error", "-servername", "localhost"});
    client.write("GET /bare-lf HTTP/1.0\n\n");
    const auto status = client.wait_exit(30s);  // -quiet waits for the server to close
    INFO(client.transcript() << "\n" << server->transcript());
    REQUIRE(status == 0);
    CHECK(client.out().starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(client.out().find("Connection: close\r\n") != std::string::npos);
    CHECK(client.out().find("path: /bare-lf\n") != std::string::npos);
    CHECK(server->wait_for_err("conn 1: sent close_notify", 10s));
}

TEST_CASE("the example server keeps HTTP/1.1 and keep-alive HTTP/1.0 connections and closes plain HTTP/1.0",
          "[example_server][http]") {
    pki_fixture f;
    example_server server(f);
    const auto ctx = f.client_context();

    SECTION("HTTP/1.1: several requests, one connection") {
        auto tls = connect_client(ctx, server.port);
        for (const char* path : {"/a", "/b", "/c"}) {
            REQUIRE(write_all(tls, std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
            const std::string response = read_response(tls);
            CHECK(response.find("Connection: keep-alive\r\n") != std::string::npos);
            CHECK(response.find(std::string("path: ") + path + "\n") != std::string::npos);
        }
        REQUIRE(write_all(tls, "GET /last HTTP/1.1\r\nConnection: close\r\n\r\n"));
        CHECK(read_response(tls).find("Connection: close\r\n") != std::string::npos);
        CHECK(server_closes(tls));
    }
    SECTION("HTTP/1.0 with Connection: keep-alive") {
        auto tls = connect_client(ctx, server.port);
        for (const char* path : {"/x", "/y"}) {
            REQUIRE(write_all(tls, std::string("GET ") + path + " HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
            const std::string response = read_response(tls);
            CHECK(response.find("Connection: keep-alive\r\n") != std::string::npos);
            CHECK(response.find(std::string("path: ") + path + "\n") != std::string::npos);
        }
    }
    SECTION("HTTP/1.0 without it") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(write_all(tls, "GET /once HTTP/1.0\r\n\r\n"));
        CHECK(read_response(tls).find("Connection: close\r\n") != std::string::npos);
        CHECK(server_closes(tls));
    }
    SECTION("HEAD: the head of a GET, no body") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(write_all(tls, "HEAD /h HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n"));
        std::array<std::byte, 16384> buffer;
        auto n = tls.read(buffer);  // one record: the HEAD response alone
        REQUIRE(n);
        const std::string head(reinterpret_cast<const char*>(buffer.data()), *n);
        CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
        CHECK(head.ends_with("\r\n\r\n"));
        CHECK(read_response(tls).find("path: /after\n") != std::string::npos);
    }
}

TEST_CASE("the example server echoes POST /echo bodies, for curl and for pipelined requests",
          "[example_server][http][curl]") {
    pki_fixture f;
    example_server server(f);
    const auto ctx = f.client_context();

    SECTION("curl") {
        TLSW_REQUIRE_PROGRAM("curl");
        const std::string body = text_payload(5000, 3);
        child_process curl({"curl", "-sS", "--cacert", f.ca(), "--resolve",
                            "localhost:" + std::to_string(server.port) + ":127.0.0.1", "--data-binary", body,
                            "https://localhost:" + std::to_string(server.port) + "/echo"});
        const auto status = curl.wait_exit(60s);
        INFO(curl.transcript() << "\n" << server->transcript());
        REQUIRE(status == 0);
        CHECK(curl.out() == body);
    }
    SECTION("pipelined POST and GET in one record come back in order (a CRLF after a body is skipped)") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(write_all(tls, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\r\nGET /next HTTP/1.1\r\n\r\n"
                               "POST /echo HTTP/1.1\r\ncontent-length: 0\r\n\r\n"));
        CHECK(body_of(read_response(tls)) == "hello");
        CHECK(read_response(tls).find("path: /next\n") != std::string::npos);
        const std::string empty = read_response(tls);
        CHECK(empty.find("Content-Length: 0\r\n") != std::string::npos);
        CHECK(body_of(empty).empty());
    }
    SECTION("a body too large for one response record gets 413, chunked bodies 501, and close") {
        for (const std::string head : {"POST /echo HTTP/1.1\r\nContent-Length: 15873\r\n\r\n",
                                       "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
            auto tls = connect_client(ctx, server.port);
            REQUIRE(write_all(tls, head));
            const std::string response = read_response(tls);
            CHECK((response.starts_with("HTTP/1.1 413 ") || response.starts_with("HTTP/1.1 501 ")));
            CHECK(response.find("Connection: close\r\n") != std::string::npos);
            CHECK(server_closes(tls));
        }
        auto tls = connect_client(ctx, server.port);
        const std::string largest = text_payload(15872, 9);
        REQUIRE(write_all(tls, "POST /echo HTTP/1.1\r\nContent-Length: 15872\r\n\r\n" + largest));
        CHECK(body_of(read_response(tls)) == largest);
    }
    SECTION("other methods and paths are refused, and the connection goes on") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(write_all(tls, "POST /other HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcDELETE / HTTP/1.1\r\n\r\n"
                               "BREW / HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"));
        const std::string post = read_response(tls);
        CHECK(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        CHECK(post.find("Allow: GET, HEAD, POST\r\n") != std::string::npos);
        CHECK(read_response(tls).starts_with("HTTP/1.1 405 "));
        CHECK(read_response(tls).starts_with("HTTP/1.1 501 "));
        CHECK(read_response(tls).find("path: /ok\n") != std::string::npos);
    }
}

TEST_CASE("the example server answers a malformed or oversized head with 400 and closes",
          "[example_server][http]") {
    pki_fixture f;
    example_server server(f);
    const auto ctx = f.client_context();
    const std::string oversized = "GET / HTTP/1.1\r\nX-Filler: " + std::string(17 * 1024, 'a');  // no end
    const auto bad = GENERATE_COPY(as<std::string>(), "GET /no-version\r\n\r\n", "GET / HTTP/1.1\r\nno colon\r\n\r\n",
                                   "GET / HTTP/1.1\r\n folded: x\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                                   "POST /echo HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                                   "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", oversized);
    CAPTURE(bad.substr(0, 60));
    auto tls = connect_client(ctx, server.port);
    REQUIRE(write_all(tls, bad));
    const std::string response = read_response(tls);
    INFO(server->transcript());
    CHECK(response.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(response.find("Connection: close\r\n") != std::string::npos);
    CHECK(server_closes(tls));
}

// ---- 2. ALPN ------------------------------------------------------------------

TEST_CASE("the example server selects http/1.1 by ALPN when offered, and serves clients without ALPN",
          "[example_server][alpn]") {
    pki_fixture f;
    const auto ctx = f.client_context();

    SECTION("default: h2 and http/1.1 offered, http/1.1 chosen; HTTP spoken whatever the first bytes") {
        example_server server(f);
        auto tls = connect_client(ctx, server.port, {"h2", "http/1.1"});
        REQUIRE(tls.handshake());
        CHECK(tls.info().alpn == "http/1.1");
        REQUIRE(write_all(tls, "bogus\r\n\r\n"));  // no method: still HTTP, so 400
        CHECK(read_response(tls).starts_with("HTTP/1.1 400 "));
        CHECK(server->wait_for_err("conn 1: handshake: " + default_version() + " ", 10s));
        CHECK(server->err().find("alpn=http/1.1 sni=localhost resumed=no") != std::string::npos);
    }
    SECTION("default: no ALPN offered, none chosen, echo and HTTP both served") {
        example_server server(f);
        auto echo = connect_client(ctx, server.port);
        REQUIRE(write_all(echo, "ping\n"));
        CHECK(read_exactly(echo, 5) == "ping\n");
        CHECK(echo.info().alpn.empty());
        auto http = connect_client(ctx, server.port, {"h2"});  // nothing the server has: no ALPN
        REQUIRE(write_all(http, "GET /plain HTTP/1.1\r\n\r\n"));
        CHECK(read_response(http).find("alpn: -\n") != std::string::npos);
        CHECK(http.info().alpn.empty());
    }
    SECTION("--alpn overrides the list") {
        example_server server(f, {"--alpn=echo,foo"});
        auto a = connect_client(ctx, server.port, {"foo", "echo"});
        REQUIRE(a.handshake());
        CHECK(a.info().alpn == "echo");  // the server's order decides
        auto b = connect_client(ctx, server.port, {"http/1.1"});
        REQUIRE(b.handshake());
        CHECK(b.info().alpn.empty());
    }
    SECTION("curl offering h2 and http/1.1 gets http/1.1") {
        TLSW_REQUIRE_PROGRAM("curl");
        example_server server(f);
        child_process curl({"curl", "-sS", "-v", "--http2", "--cacert", f.ca(), "--resolve",
                            "localhost:" + std::to_string(server.port) + ":127.0.0.1",
                            "https://localhost:" + std::to_string(server.port) + "/alpn"});
        const auto status = curl.wait_exit(60s);
        INFO(curl.transcript() << "\n" << server->transcript());
        REQUIRE(status == 0);
        CHECK(curl.out().find("alpn: http/1.1\n") != std::string::npos);
        CHECK(curl.err().find("h2") != std::string::npos);  // it did offer h2
    }
    SECTION("openssl s_client -alpn h2,http/1.1") {
        TLSW_REQUIRE_PROGRAM("openssl");
        example_server server(f);
        child_process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port),
                              "-CAfile", f.ca(), "-servername", "localhost", "-alpn", "h2,http/1.1", "-ign_eof"});
        client.write("GET /s HTTP/1.0\r\n\r\n");
        const auto status = client.wait_exit(30s);
        INFO(client.transcript() << "\n" << server->transcript());
        REQUIRE(status == 0);
        CHECK(client.out().find("ALPN protocol: http/1.1") != std::string::npos);
        CHECK(client.out().find("path: /s\n") != std::string::npos);
    }
}

// ---- 3. Command line ----------------------------------------------------------

TEST_CASE("the example server takes --opt value and --opt=value, and exits 2 with usage on unknown options",
          "[example_server][options]") {
    pki_fixture f;
    SECTION("both spellings") {
        child_process p({example("server"), "--cert=" + f.chain(), "--key", f.key(), "--print-port",
                         "--max-connections=7", "--idle-timeout", "30", "--handshake-timeout=2.5",
                         "--request-timeout=4", "--stop-timeout", "1", "--alpn=http/1.1", "--address=127.0.0.1"});
        REQUIRE(p.wait_until([&] { return p.out().find('\n') != std::string::npos; }, 20s));
        INFO(p.transcript());
        CHECK(p.running());
        p.kill(SIGTERM);
        CHECK(p.wait_exit(20s) == 0);
    }
    SECTION("errors") {
        for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
                 {"--bogus"}, {"--bogus=1"}, {"--quiet=yes"}, {"--port=notanumber"}, {"--max-connections", "0"},
                 {"--idle-timeout"}, {"--handshake-timeout=-1"}}) {
            std::vector<std::string> argv = {example("server"), "--cert", f.chain(), "--key", f.key()};
            argv.insert(argv.end(), args.begin(), args.end());
            child_process p(argv);
            INFO(args.front());
            CHECK(p.wait_exit(20s) == 2);
            CHECK(p.err().find("usage: server") != std::string::npos);
            CHECK(p.out().empty());
        }
        child_process unknown({example("server"), "--no-such-option"});
        CHECK(unknown.wait_exit(20s) == 2);
        CHECK(unknown.err().find("unknown option --no-such-option") != std::string::npos);
    }
}

// ---- 4. Fair and bounded ------------------------------------------------------

// Today's server fails this: its turn for a connection lasted as long as
// that client kept sending, so one flooding client held every other one
// (measured before this change: an honest curl timed out after 10 s).
TEST_CASE("a client flooding echo data does not starve an honest client started afterwards",
          "[example_server][fairness][openssl]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    example_server server(f, {"--quiet", "--stats", "--stop-timeout", "1"});
    const auto ctx = f.client_context();
    // An unlimited stream of zeros, echoed back and discarded: the flooder
    // (optimised OpenSSL) sends faster than the server can echo.
    child_process flood({"sh", "-c",
                         "exec openssl s_client -quiet -connect 127.0.0.1:" + std::to_string(server.port) +
                             " -CAfile " + f.ca() + " -servername localhost </dev/zero >/dev/null 2>&1"});
    std::this_thread::sleep_for(1s);  // the flood is on
    REQUIRE(flood.running());

    std::vector<std::chrono::milliseconds> latencies;
    for (int i = 0; i < 5; ++i) {
        const auto latency = timed_request(ctx, server.port, 10s);
        INFO("request " << i);
        REQUIRE(latency);
        latencies.push_back(*latency);
    }
    REQUIRE(flood.running());  // it flooded throughout
    std::sort(latencies.begin(), latencies.end());
    std::string figures;
    for (auto l : latencies)
        figures += std::to_string(l.count()) + " ms ";
    INFO("honest latencies under the flood: " << figures);
    WARN("honest latencies under the flood: " << figures);
    // The correctness bound: the median honest request completes within
    // 500 ms, and none takes more than 2 s even on a loaded machine.
    CHECK(latencies[2] < 500ms);
    CHECK(latencies.back() < 2s);
    // The flood really flowed meanwhile: over a megabyte echoed.
    server->kill(SIGTERM);
    REQUIRE(server->wait_exit(20s) == 0);
    const std::string_view label = "echoed ";
    const auto at = server->err().find(label);
    REQUIRE(at != std::string::npos);
    const auto echoed = std::stoull(server->err().substr(at + label.size()));
    INFO(server->err());
    CHECK(echoed > 1024 * 1024);
}

TEST_CASE("pipelined requests that are never read are throttled on their own connection only",
          "[example_server][fairness][pipelining]") {
    pki_fixture f;
    example_server server(f, {"--quiet"});
    const auto ctx = f.client_context();
    const std::size_t rss_before = server.rss_kib();

    auto socket = tlsw::nonblocking_socket::connect("127.0.0.1", server.port, 10s);
    REQUIRE(socket);
    tlsw::tls_stream<spooling_socket> flooder(ctx, spooling_socket(std::move(*socket)), {.server_name = "localhost"});

    for (auto until = clock_type::now() + 10s;;) {
        auto r = flooder.handshake();
        if (r)
            break;
        if (!r.error().retryable() || clock_type::now() > until)
            FAIL("flooder handshake: " << r.error().message());
        pollfd p{flooder.transport().native_handle(), POLLIN, 0};
        ::poll(&p, 1, 50);
    }

    // Requests /0, /1, ... written in batches of 100 and never read, until
    // the server has stopped taking any bytes for a whole second.
    std::uint64_t sent = 0;
    std::string batch;
    auto& spool = flooder.transport();
    std::size_t last = 0;
    auto stalled_since = clock_type::now();
    const auto give_up = clock_type::now() + 60s;
    bool throttled = false;
    while (!throttled && clock_type::now() < give_up) {
        if (spool.spooled() < 1024 * 1024) {
            batch.clear();
            for (int i = 0; i < 100; ++i)
                batch += "GET /" + std::to_string(sent++) + " HTTP/1.1\r\n\r\n";
            auto n = flooder.write(bytes_of(batch));
            if (!n)
                FAIL("flooder write: " << n.error().message());
            last = spool.spooled();
            stalled_since = clock_type::now();
            continue;
        }
        pollfd p{spool.native_handle(), POLLOUT, 0};
        ::poll(&p, 1, 50);
        spool.push();
        if (spool.spooled() != last) {
            last = spool.spooled();
            stalled_since = clock_type::now();
        } else if (clock_type::now() - stalled_since > 1s) {
            throttled = true;
        }
    }
    INFO("requests written before the server stopped reading: " << sent);
    REQUIRE(throttled);
    // What the server holds for this client is bounded: socket buffers and
    // one request, not the megabytes of requests sent.
    const std::size_t rss_flooded = server.rss_kib();
    INFO("server RSS " << rss_before << " KiB before, " << rss_flooded << " KiB throttled");
#ifndef TLSW_SANITIZED  // AddressSanitizer keeps freed memory in quarantine
    CHECK(rss_flooded < rss_before + 16 * 1024);
#endif

    // Another client is served meanwhile.
    const auto latency = timed_request(ctx, server.port, 10s);
    REQUIRE(latency);
    CHECK(*latency < 2s);

    // The flooder's responses come in order once it reads.
    std::vector<std::byte> buffer(16384);
    for (std::uint64_t i = 0; i < 100; ++i) {
        std::string response;
        for (auto until = clock_type::now() + 10s; clock_type::now() < until;) {
            auto n = flooder.read(buffer);
            if (n) {
                response.assign(reinterpret_cast<const char*>(buffer.data()), *n);
                break;
            }
            if (!n.error().retryable())
                FAIL("flooder read: " << n.error().message());
            pollfd p{spool.native_handle(), POLLIN, 0};
            ::poll(&p, 1, 50);
        }
        INFO("response " << i << ": " << response.substr(0, 300));
        REQUIRE(response.find("path: /" + std::to_string(i) + "\n") != std::string::npos);
    }
    CHECK(server->running());
}

TEST_CASE("a slow-loris client is answered 408 and dropped at the request timeout",
          "[example_server][timeouts]") {
    pki_fixture f;
    example_server server(f, {"--request-timeout", "2", "--idle-timeout", "30"});
    const auto ctx = f.client_context();
    auto tls = connect_client(ctx, server.port);
    REQUIRE(tls.handshake());
    const auto start = clock_type::now();
    // One byte every 250 ms of an endless head: each byte is progress, so
    // only the request's own clock can end it.
    const std::string head = "GET / HTTP/1.1\r\nX-Slow: " + std::string(100, 'a');
    // Between bytes the client waits 250 ms for an answer in read(), not
    // in poll(): under TLS 1.3 the server's session tickets arrive first
    // and are no answer; read() takes them and times out with want_read.
    REQUIRE_FALSE(tls.transport().set_read_timeout(250ms));
    std::string response;
    std::array<std::byte, 4096> buffer;
    for (char c : head) {
        if (!write_all(tls, std::string_view(&c, 1)))
            break;  // the server closed
        auto n = tls.read(buffer);
        if (!n && n.error() == tlsw::errc::want_read)
            continue;
        // The answer: read it up to the server's close_notify.
        REQUIRE_FALSE(tls.transport().set_read_timeout(10s));
        for (; n; n = tls.read(buffer))
            response.append(reinterpret_cast<const char*>(buffer.data()), *n);
        break;
    }
    const auto elapsed = clock_type::now() - start;
    CHECK(server->wait_for_err("conn 1: closed: ", 10s));
    INFO(server->transcript());
    CHECK(response.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    CHECK(elapsed >= 1900ms);
    CHECK(elapsed < 8s);
    CHECK(server->wait_for_err("conn 1: request timeout (2s): 408", 10s));
}

TEST_CASE("a client that trickles its handshake or goes silent is dropped at its timeout",
          "[example_server][timeouts]") {
    pki_fixture f;
    example_server server(f, {"--handshake-timeout", "1", "--idle-timeout", "2"});
    const auto ctx = f.client_context();

    SECTION("a handshake one byte every 200 ms") {
        auto s = bounded_connect(server.port);
        const std::string hello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + std::string(100, 'r');
        const auto start = clock_type::now();
        bool closed = false;
        for (char c : hello) {
            if (!s.write_some(bytes_of(std::string_view(&c, 1))))
                break;
            pollfd p{s.native_handle(), POLLIN, 0};
            if (::poll(&p, 1, 200) > 0) {
                std::array<std::byte, 64> buffer;
                auto n = s.read_some(buffer);
                closed = !n || *n == 0;
                break;
            }
        }
        CHECK(closed);
        CHECK(clock_type::now() - start < 5s);
        CHECK(server->wait_for_err("conn 1: closed: handshake timeout (1s)", 10s));
    }
    SECTION("an established client that says nothing") {
        auto tls = connect_client(ctx, server.port);
        REQUIRE(tls.handshake());
        const auto start = clock_type::now();
        CHECK(server_closes(tls));
        CHECK(clock_type::now() - start >= 1500ms);
        CHECK(clock_type::now() - start < 8s);
        CHECK(server->wait_for_err("conn 1: closed: idle timeout (2s)", 10s));
    }
}

TEST_CASE("beyond --max-connections new connections are accepted, closed at once and counted",
          "[example_server][limits]") {
    pki_fixture f;
    example_server server(f, {"--max-connections", "3", "--stats"});
    const auto ctx = f.client_context();
    std::vector<client_stream> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(connect_client(ctx, server.port));
        REQUIRE(open.back().handshake());
    }
    {
        auto extra = connect_client(ctx, server.port);
        auto r = extra.handshake();
        REQUIRE_FALSE(r);
        INFO(r.error().message());
        CHECK((r.error() == tlsw::errc::truncated || r.error() == tlsw::errc::transport));
    }
    CHECK(server->wait_for_err("conn 4: refused: 3 connections open (--max-connections)", 10s));
    // Those already open still work, and a closed one makes room.
    REQUIRE(write_all(open[0], "GET /still HTTP/1.1\r\n\r\n"));
    CHECK(read_response(open[0]).find("path: /still\n") != std::string::npos);
    REQUIRE(open[2].shutdown());
    REQUIRE(server->wait_for_err("conn 3: closed: client sent close_notify", 10s));
    auto again = connect_client(ctx, server.port);
    CHECK(again.handshake());
    server->kill(SIGTERM);
    REQUIRE(server->wait_exit(20s) == 0);
    CHECK(server->err().find("stats: accepted 5, refused 1 (over --max-connections), peak open 3") !=
          std::string::npos);
}

TEST_CASE("client renegotiation is refused by default and accepted with --allow-client-renegotiation",
          "[example_server][renegotiation]") {
    pki_fixture f;
    const auto ctx = f.client_context();
    const bool allow = GENERATE(false, true);
    CAPTURE(allow);
    // TLS 1.2: TLS 1.3 has no renegotiation.
    example_server server(f, allow ? std::vector<std::string>{"--allow-client-renegotiation", "--tls-max", "1.2"}
                                   : std::vector<std::string>{"--tls-max", "1.2"});
    auto tls = connect_client(ctx, server.port);
    REQUIRE(write_all(tls, "GET /before HTTP/1.1\r\n\r\n"));
    CHECK(read_response(tls).find("path: /before\n") != std::string::npos);
    REQUIRE(tls.renegotiate());
    REQUIRE(tls.handshake());
    REQUIRE(write_all(tls, "GET /after HTTP/1.1\r\n\r\n"));
    CHECK(read_response(tls).find("path: /after\n") != std::string::npos);
    INFO(server->transcript());
    if (allow) {
        CHECK(tls.info().handshakes == 2);
        CHECK(server->wait_for_err("conn 1: renegotiation: handshake 2", 10s));
    } else {
        CHECK(tls.info().handshakes == 1);
        CHECK(tls.info().renegotiations_refused == 1);
        CHECK(server->wait_for_err("conn 1: renegotiation refused", 10s));
    }
}

TEST_CASE("the example server's --renegotiate-after leaves a TLS 1.3 connection as it is and goes on serving",
          "[example_server][renegotiation]") {
    if (default_version() != "TLS v1.3")
        return;  // an engine without TLS 1.3 (Botan 2) renegotiates: tests/examples.cpp
    pki_fixture f;
    const auto ctx = f.client_context();
    example_server server(f, {"--renegotiate-after", "10"});
    auto tls = connect_client(ctx, server.port);
    REQUIRE(write_all(tls, "over ten bytes\n"));
    CHECK(read_exactly(tls, 15) == "over ten bytes\n");
    CHECK(server->wait_for_err("conn 1: cannot renegotiate: ", 10s));
    REQUIRE(write_all(tls, "still echoed\n"));
    CHECK(read_exactly(tls, 13) == "still echoed\n");
    REQUIRE(tls.shutdown());
    CHECK(server->wait_for_err("conn 1: closed: client sent close_notify", 10s));
    CHECK(tls.info().handshakes == 1);
}

TEST_CASE("--stats reports counts and the memory of an idle connection", "[example_server][stats]") {
    pki_fixture f;
    example_server server(f, {"--stats", "--quiet"});
    const auto ctx = f.client_context();
    std::vector<client_stream> idle;
    for (int i = 0; i < 16; ++i) {
        idle.push_back(connect_client(ctx, server.port));
        REQUIRE(write_all(idle.back(), "GET / HTTP/1.1\r\n\r\n"));
        REQUIRE(read_response(idle.back()).starts_with("HTTP/1.1 200 OK"));
    }
    std::this_thread::sleep_for(200ms);  // a loop pass sees them all idle
    server->kill(SIGTERM);
    REQUIRE(server->wait_exit(20s) == 0);
    const std::string& err = server->err();
    INFO(err);
    CHECK(err.find("conn ") == std::string::npos);  // --quiet
    CHECK(err.find("stats: handshakes 16 (resumed ") != std::string::npos);
    CHECK(err.find("stats: requests 16 (bad 0)") != std::string::npos);
    const std::string_view label = "stats: memory per idle connection ";
    const auto at = err.find(label);
    REQUIRE(at != std::string::npos);
    const auto bytes = std::stoull(err.substr(at + label.size()));
    CHECK(err.find("heap growth over 16 idle connections") != std::string::npos);
    WARN("memory per idle connection: " << bytes << " bytes");
    // tls_stream's receive buffer and ciphertext queue plus Botan's channel:
    // tens of KiB, not the hundreds a connection holding records would.
#ifndef TLSW_SANITIZED  // AddressSanitizer's allocator has no mallinfo2 figures
    CHECK(bytes > 1000);
    CHECK(bytes < 128 * 1024);
#endif
}

// ---- 5. Graceful stop ---------------------------------------------------------

TEST_CASE("SIGTERM stops accepting, sends close_notify on every connection and exits 0 within the stop timeout",
          "[example_server][stop]") {
    pki_fixture f;
    example_server server(f, {"--stop-timeout", "2"});
    const auto ctx = f.client_context();
    auto http = connect_client(ctx, server.port);
    REQUIRE(write_all(http, "GET /k HTTP/1.1\r\n\r\n"));
    REQUIRE(read_response(http).find("path: /k\n") != std::string::npos);
    auto echo = connect_client(ctx, server.port);
    REQUIRE(write_all(echo, "hi\n"));
    REQUIRE(read_exactly(echo, 3) == "hi\n");
    auto silent = bounded_connect(server.port);  // mid-handshake: nothing sent
    REQUIRE(server->wait_for_err("conn 3: accepted", 10s));

    const auto start = clock_type::now();
    server->kill(SIGTERM);
    CHECK(server_closes(http));
    CHECK(server_closes(echo));
    // Our close_notify answers theirs; the server then exits well before the stop timeout.
    (void)http.shutdown();
    (void)echo.shutdown();
    const auto status = server->wait_exit(20s);
    INFO(server->transcript());
    REQUIRE(status == 0);
    CHECK(clock_type::now() - start < 2s);
    CHECK(server->err().find("server: stopping: closing 3 connections") != std::string::npos);
    CHECK(server->err().find("conn 3: closed: server stopping") != std::string::npos);
    CHECK(tlsw::blocking_socket::connect("127.0.0.1", server.port, 5s).has_value() == false);
}

TEST_CASE("SIGINT with a client that never answers close_notify ends after the stop timeout, exit 0",
          "[example_server][stop]") {
    pki_fixture f;
    example_server server(f, {"--stop-timeout", "1"});
    const auto ctx = f.client_context();
    auto tls = connect_client(ctx, server.port);
    REQUIRE(write_all(tls, "GET / HTTP/1.1\r\n\r\n"));
    REQUIRE(read_response(tls).starts_with("HTTP/1.1 200"));
    const auto start = clock_type::now();
    server->kill(SIGINT);  // the client keeps its socket open and reads nothing
    REQUIRE(server->wait_for_err("server: stopping: closing 1 connections", 10s));
    CHECK_FALSE(tlsw::blocking_socket::connect("127.0.0.1", server.port, 5s));  // no longer accepting
    const auto status = server->wait_exit(20s);
    INFO(server->transcript());
    REQUIRE(status == 0);
    CHECK(clock_type::now() - start < 4s);
}

// ---- 6. Logs ------------------------------------------------------------------

TEST_CASE("the example server logs one line per connection event, and --quiet silences them", "[example_server][logs]") {
    pki_fixture f;
    const auto ctx = f.client_context();
    SECTION("events") {
        example_server server(f);
        {
            auto tls = connect_client(ctx, server.port, {"http/1.1"});
            REQUIRE(write_all(tls, "GET /logged?q=1 HTTP/1.1\r\n\r\n"));
            REQUIRE(read_response(tls).starts_with("HTTP/1.1 200"));
            REQUIRE(tls.shutdown());
        }
        {
            auto tls = connect_client(ctx, server.port);  // the same context: resumes
            REQUIRE(write_all(tls, "x\n"));
            REQUIRE(read_exactly(tls, 2) == "x\n");
            tls.transport().close();  // no close_notify
        }
        REQUIRE(server->wait_for_err("conn 2: closed: ", 10s));
        const std::string& err = server->err();
        INFO(err);
        CHECK(err.find("conn 1: accepted from 127.0.0.1:") != std::string::npos);
        CHECK(err.find("conn 1: handshake: " + default_version() + " ") != std::string::npos);
        CHECK(err.find(" alpn=http/1.1 sni=localhost resumed=no client=anonymous\n") != std::string::npos);
        CHECK(err.find("conn 1: \"GET /logged?q=1 HTTP/1.1\" 200\n") != std::string::npos);
        CHECK(err.find("conn 1: closed: client sent close_notify\n") != std::string::npos);
        CHECK(err.find("conn 2: handshake: " + default_version() + " ") != std::string::npos);
        CHECK(err.find(" alpn=- sni=localhost resumed=yes client=anonymous\n") != std::string::npos);
        CHECK(err.find("conn 2: closed: read: TLS stream truncated: transport ended without close_notify\n") !=
              std::string::npos);
        CHECK(count_of(err, "conn 1: closed:") == 1);
    }
    SECTION("--quiet") {
        example_server server(f, {"--quiet"});
        auto tls = connect_client(ctx, server.port);
        REQUIRE(write_all(tls, "GET / HTTP/1.1\r\n\r\n"));
        REQUIRE(read_response(tls).starts_with("HTTP/1.1 200"));
        REQUIRE(tls.shutdown());
        server->kill(SIGTERM);
        REQUIRE(server->wait_exit(20s) == 0);
        CHECK(server->err().find("conn ") == std::string::npos);
    }
}

TEST_CASE("with --client-ca the example server logs each client's verified identity, also when it resumes, and "
          "--require-client-cert refuses a client without one",
          "[example_server][logs][client_certificate]") {
    pki_fixture f;
    auto client_pki = tlsw::testing::make_test_pki("client.test");
    const auto client_ca = f.dir / "client_ca.pem";
    std::ofstream(client_ca) << client_pki.ca_cert_pem;
    auto client_creds = tlsw::credentials::from_pem(client_pki.chain_pem, client_pki.leaf_key_pem);
    REQUIRE(client_creds);
    auto with_cert = f.client_context();
    with_cert.client_certificate(*client_creds);
    const auto anonymous = f.client_context();

    SECTION("optional") {
        example_server server(f, {"--client-ca", client_ca.string()});
        for (int i = 0; i < 2; ++i) {  // the second connection resumes
            auto tls = connect_client(with_cert, server.port);
            REQUIRE(write_all(tls, "GET / HTTP/1.1\r\n\r\n"));
            REQUIRE(read_response(tls).starts_with("HTTP/1.1 200"));
            REQUIRE(tls.shutdown());
        }
        {
            auto tls = connect_client(anonymous, server.port);
            REQUIRE(write_all(tls, "GET / HTTP/1.1\r\n\r\n"));
            REQUIRE(read_response(tls).starts_with("HTTP/1.1 200"));
            REQUIRE(tls.shutdown());
        }
        REQUIRE(server->wait_for_err("conn 3: closed: ", 10s));
        const std::string& err = server->err();
        INFO(err);
        const auto line = [&](int conn) {
            const auto at = err.find("conn " + std::to_string(conn) + ": handshake: ");
            return at == std::string::npos ? std::string() : err.substr(at, err.find('\n', at) - at);
        };
        CHECK(line(1).find("resumed=no client=") != std::string::npos);
        CHECK(line(1).find("client.test") != std::string::npos);
        CHECK(line(2).find("resumed=yes client=") != std::string::npos);
        CHECK(line(2).find("client.test") != std::string::npos);
        CHECK(line(3).ends_with(" client=anonymous"));
    }
    SECTION("required") {
        example_server server(f, {"--client-ca=" + client_ca.string(), "--require-client-cert"});
        auto tls = connect_client(anonymous, server.port);
        auto w = write_all(tls, "GET / HTTP/1.1\r\n\r\n");
        if (default_version() == "TLS v1.3") {
            // TLS 1.3: the client's handshake ends with its own Finished,
            // before the server has looked at its (empty) certificate, so
            // the request goes out and the refusal comes with the first read.
            CHECK(w);
            std::array<std::byte, 256> buffer;
            auto r = tls.read(buffer);
            REQUIRE_FALSE(r);
            INFO(r.error().message());
            CHECK(r.error().alert() == tlsw::alert::certificate_required);
            CHECK(r.error().alert_from_peer());
        } else {
            CHECK_FALSE(w);
        }
        REQUIRE(server->wait_for_err("conn 1: closed: ", 10s));
        CHECK(server->err().find("conn 1: handshake: ") == std::string::npos);
    }
}

// A response as OpenSSL's own responder makes it (openssl ocsp -index), for
// the example server's --ocsp; s_client shows it stapled, and a tlsw client
// that requires a staple verifies it.
TEST_CASE("the example server staples --ocsp FILE made by openssl ocsp, and refuses one for another certificate",
          "[ocsp][interop][openssl][example_server]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    pki_fixture f;
    const auto run = [&](std::vector<std::string> argv) {
        child_process p(std::move(argv));
        const auto status = p.wait_exit(30s);
        INFO(p.transcript());
        REQUIRE(status == 0);
    };
    const auto ca_key = f.dir / "ca.key";
    std::ofstream(ca_key) << f.pki.ca_key_pem;
    const auto leaf = tlsw_test::ocsp::certificate(f.pki.leaf_cert_pem);
    std::ofstream(f.dir / "index.txt") << "V\t301231000000Z\t\t" << Botan::hex_encode(leaf.serial_number())
                                       << "\tunknown\t/CN=localhost\n";
    const auto request = (f.dir / "request.der").string();
    const auto response = (f.dir / "response.der").string();
    run({"openssl", "ocsp", "-issuer", f.ca(), "-cert", f.files.leaf.string(), "-no_nonce", "-reqout", request});
    run({"openssl", "ocsp", "-index", (f.dir / "index.txt").string(), "-rsigner", f.ca(), "-rkey", ca_key.string(),
         "-CA", f.ca(), "-reqin", request, "-respout", response, "-ndays", "1"});

    example_server server(f, {"--ocsp", response});
    child_process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port), "-CAfile",
                          f.ca(), "-verify_return_error", "-servername", "localhost", "-status"});
    client.write("quit\n");
    REQUIRE(client.wait_exit(30s) == 0);
    INFO(client.transcript());
    CHECK(client.out().find("OCSP Response Status: successful") != std::string::npos);
    CHECK(client.out().find("Cert Status: good") != std::string::npos);

    auto ctx = f.client_context();
    ctx.require_ocsp_staple(true);
    auto socket = tlsw::nonblocking_socket::connect("127.0.0.1", server.port, 10s);
    REQUIRE(socket);
    tlsw::tls_stream<tlsw::nonblocking_socket> tls(ctx, std::move(*socket), {.server_name = "localhost"});
    tls_driver driver(tls);
    driver.run_until(server.process.get(), [&] { return driver.done() || tls.info().handshakes >= 1; }, 30s);
    INFO(driver.error_message());
    CHECK(tls.info().handshakes == 1);
    CHECK(tls.info().ocsp.verified);
    CHECK(tls.info().ocsp.status == tlsw::ocsp_cert_status::good);

    // A response about another certificate: the server does not start.
    pki_fixture other;
    child_process refused({example("server"), "--cert", other.chain(), "--key", other.key(), "--ocsp", response});
    CHECK(refused.wait_exit(30s) == 1);
    CHECK(refused.err().find("not about the credentials' leaf") != std::string::npos);
}
