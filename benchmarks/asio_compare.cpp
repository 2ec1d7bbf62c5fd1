// What an Asio user would pick instead, side by side in one run:
// tlsw::asio::stream, asio::ssl::stream<tcp::socket> (OpenSSL 3), and
// tlsw's own nonblocking API (tls_stream<nonblocking_socket>) driven by a
// poll() loop. Both ends of every connection are the same implementation,
// in one thread, over loopback TCP (TCP_NODELAY); the Asio ones run as
// C++20 coroutines on one io_context.
//
// Figures: 64-byte echo round trips per second (the client writes 64
// bytes, the server reads them and writes them back, the client reads
// them), bulk throughput of 16 KiB writes (MiB/s), full handshakes per
// second (a new TCP connection each, no resumption), and heap per idle
// connection (glibc's mallinfo2(), in-use bytes after N connections
// handshook and echoed once, divided by the 2N streams, the sockets
// included). Each round measures the three in turn (the order rotating);
// the median of the rounds is printed, as lines `figure impl value`.
//
// Like for like: TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256 over X25519,
// the same certificate chain, the client verifying it and the host name;
// no session caches or tickets.
//
//   asio_compare [--quick]

#include <tlsw/asio.hpp>  // first: it picks the Asio flavour (standalone) and configures it
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>

#include "common.hpp"
#include "peers.hpp"

#include <malloc.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using bench::check;
using bench::die;

bool quick = false;

std::size_t heap_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/** A connected loopback TCP pair with TCP_NODELAY on both ends. */
std::pair<tcp::socket, tcp::socket> tcp_pair(asio::io_context& io, tcp::acceptor& acceptor) {
    tcp::socket client(io), server(io);
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    client.set_option(tcp::no_delay(true));
    server.set_option(tcp::no_delay(true));
    return {std::move(client), std::move(server)};
}

// ---- the two Asio streams, behind one face -----------------------------------

struct tlsw_asio {
    static constexpr const char* name = "tlsw::asio::stream";
    using stream = tlsw::asio::stream<tcp::socket>;
    bench::tlsw_contexts ctx = bench::make_tlsw_contexts(false, false);

    stream client(tcp::socket s) { return stream(ctx.client, std::move(s), {.server_name = "localhost"}); }
    stream server(tcp::socket s) { return stream(ctx.server, std::move(s)); }
    static auto client_handshake(stream& s) { return s.async_handshake(asio::use_awaitable); }
    static auto server_handshake(stream& s) { return s.async_handshake(asio::use_awaitable); }
};

struct openssl_asio {
    static constexpr const char* name = "asio::ssl::stream";
    using stream = asio::ssl::stream<tcp::socket>;
    bench::openssl_contexts ossl{false};
    asio::ssl::context client_ctx = adopt(ossl.client());
    asio::ssl::context server_ctx = adopt(ossl.server());

    static asio::ssl::context adopt(SSL_CTX* ctx) {
        SSL_CTX_up_ref(ctx);  // asio::ssl::context frees the one it holds
        return asio::ssl::context(ctx);
    }
    stream client(tcp::socket s) {
        stream st(std::move(s), client_ctx);
        check(SSL_set_tlsext_host_name(st.native_handle(), "localhost") == 1, "SNI");
        check(SSL_set1_host(st.native_handle(), "localhost") == 1, "host name check");
        return st;
    }
    stream server(tcp::socket s) { return stream(std::move(s), server_ctx); }
    static auto client_handshake(stream& s) { return s.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable); }
    static auto server_handshake(stream& s) { return s.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable); }
};

template <class Impl>
struct asio_runner {
    Impl impl;
    asio::io_context io;
    tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};

    template <class F>
    double timed(F f) {
        double seconds = 0;
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            const auto start = clock_type::now();
            co_await f();
            seconds = seconds_since(start);
        }, [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
        io.restart();
        io.run();
        return seconds;
    }

    using stream = typename Impl::stream;
    std::pair<stream, stream> connected() {
        auto [c, s] = tcp_pair(io, acceptor);
        return {impl.client(std::move(c)), impl.server(std::move(s))};
    }
    static asio::awaitable<void> handshake(stream& c, stream& s) {
        co_await (Impl::client_handshake(c) && Impl::server_handshake(s));
    }

    double echo(std::size_t messages) {
        auto [c, s] = connected();
        timed([&]() { return handshake(c, s); });
        return messages / timed([&]() -> asio::awaitable<void> {
            auto server = [&]() -> asio::awaitable<void> {
                std::array<char, 64> in;
                for (std::size_t i = 0; i < messages; ++i) {
                    co_await asio::async_read(s, asio::buffer(in), asio::use_awaitable);
                    co_await asio::async_write(s, asio::buffer(in), asio::use_awaitable);
                }
            };
            auto client = [&]() -> asio::awaitable<void> {
                std::array<char, 64> out{}, in;
                for (std::size_t i = 0; i < messages; ++i) {
                    out[0] = static_cast<char>(i);
                    co_await asio::async_write(c, asio::buffer(out), asio::use_awaitable);
                    co_await asio::async_read(c, asio::buffer(in), asio::use_awaitable);
                    check(in[0] == out[0], "echo: wrong bytes");
                }
            };
            co_await (server() && client());
        });
    }

    double bulk(std::size_t total) {
        auto [c, s] = connected();
        timed([&]() { return handshake(c, s); });
        const auto data = bench::payload(bench::max_record);
        const double seconds = timed([&]() -> asio::awaitable<void> {
            auto writer = [&]() -> asio::awaitable<void> {
                for (std::size_t done = 0; done < total; done += data.size())
                    co_await asio::async_write(c, asio::buffer(data), asio::use_awaitable);
            };
            auto reader = [&]() -> asio::awaitable<void> {
                std::vector<char> in(bench::read_buffer_size);
                for (std::size_t got = 0; got < total;)
                    got += co_await s.async_read_some(asio::buffer(in), asio::use_awaitable);
            };
            co_await (writer() && reader());
        });
        return double(total) / (1 << 20) / seconds;
    }

    double handshakes(int count) {
        return count / timed([&]() -> asio::awaitable<void> {
            for (int i = 0; i < count; ++i) {
                auto [c, s] = connected();
                co_await handshake(c, s);
            }
        });
    }

    double heap_per_connection(int count) {
        std::vector<std::pair<stream, stream>> pairs;
        pairs.reserve(static_cast<std::size_t>(count));
        const std::size_t before = heap_in_use();
        for (int i = 0; i < count; ++i) {
            pairs.push_back(connected());
            auto& [c, s] = pairs.back();
            timed([&]() -> asio::awaitable<void> {
                co_await handshake(c, s);
                std::array<char, 64> out{}, in;
                co_await (asio::async_write(c, asio::buffer(out), asio::use_awaitable) &&
                          asio::async_read(s, asio::buffer(in), asio::use_awaitable));
            });
        }
        return double(heap_in_use() - before) / (2.0 * count);
    }
};

// ---- tlsw's nonblocking API in a poll() loop ----------------------------------

/** One endpoint's work as a state machine: step() makes progress until
    it needs readiness (returns POLLIN or POLLOUT) or is done (0). */
using task = std::function<short()>;

/** Runs tasks over their sockets until all are done. */
void poll_loop(std::vector<std::pair<int, task>>& tasks) {
    std::vector<pollfd> fds(tasks.size());
    std::vector<bool> done(tasks.size(), false);
    for (std::size_t left = tasks.size(); left > 0;) {
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            fds[i] = {.fd = done[i] ? -1 : tasks[i].first, .events = 0, .revents = 0};
            if (done[i])
                continue;
            const short want = tasks[i].second();
            if (want == 0) {
                done[i] = true;
                fds[i].fd = -1;
                --left;
            } else {
                fds[i].events = want;
            }
        }
        if (left > 0 && ::poll(fds.data(), fds.size(), 10000) <= 0)
            die("poll loop: nothing happened for 10 s");
    }
}

/** POLLIN / POLLOUT for a retryable error; dies on any other. */
short wanted(const tlsw::tls_error& e, const char* what) {
    if (e == tlsw::errc::want_read)
        return POLLIN;
    if (e == tlsw::errc::want_write)
        return POLLOUT;
    die(std::string(what) + ": " + e.message());
}

struct tlsw_poll {
    static constexpr const char* name = "tlsw poll() loop";
    using stream = tlsw::tls_stream<tlsw::nonblocking_socket>;
    bench::tlsw_contexts ctx = bench::make_tlsw_contexts(false, false);
    asio::io_context io;  // only to make the TCP pairs
    tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};

    std::pair<stream, stream> connected() {
        auto [c, s] = tcp_pair(io, acceptor);
        auto cs = tlsw::nonblocking_socket::from_fd(c.release());
        auto ss = tlsw::nonblocking_socket::from_fd(s.release());
        check(cs && ss, "from_fd");
        return {stream(ctx.client, std::move(*cs), {.server_name = "localhost"}), stream(ctx.server, std::move(*ss))};
    }
    static int fd(stream& s) { return s.transport().native_handle(); }

    static void handshake(stream& c, stream& s) {
        auto step = [](stream& st) {
            return [&st]() -> short {
                auto r = st.handshake();
                return r ? 0 : wanted(r.error(), "handshake");
            };
        };
        std::vector<std::pair<int, task>> tasks{{fd(c), step(c)}, {fd(s), step(s)}};
        poll_loop(tasks);
    }

    /** A task that writes `data` `times` times, then is done. */
    static task writer(stream& st, std::span<const std::byte> data, std::size_t times) {
        return [&st, data, times, done = std::size_t(0)]() mutable -> short {
            for (; done < times; ++done) {
                auto r = st.write(data);
                if (!r)
                    return wanted(r.error(), "write");
            }
            return 0;
        };
    }
    /** A task that reads until `total` bytes arrived. */
    static task reader(stream& st, std::span<std::byte> buffer, std::size_t total) {
        return [&st, buffer, total, got = std::size_t(0)]() mutable -> short {
            while (got < total) {
                auto r = st.read(buffer.first(std::min(buffer.size(), total - got)));
                if (!r)
                    return wanted(r.error(), "read");
                got += *r;
            }
            return 0;
        };
    }

    double echo(std::size_t messages) {
        auto [c, s] = connected();
        handshake(c, s);
        std::array<std::byte, 64> out{}, in_c{}, in_s{};
        // Each side alternates: the client writes then reads, the server reads then writes.
        auto alternate = [](stream& st, std::span<const std::byte> out, std::span<std::byte> in, bool writes_first,
                            std::size_t messages) -> task {
            return [&st, out, in, writes_first, messages, i = std::size_t(0), writing = writes_first,
                    got = std::size_t(0)]() mutable -> short {
                while (i < messages) {
                    if (writing) {
                        auto r = st.write(writes_first ? out : std::span<const std::byte>(in));
                        if (!r)
                            return wanted(r.error(), "echo write");
                        writing = false;
                        if (!writes_first)
                            ++i;
                    } else {
                        for (; got < in.size();) {
                            auto r = st.read(in.subspan(got));
                            if (!r)
                                return wanted(r.error(), "echo read");
                            got += *r;
                        }
                        got = 0;
                        writing = true;
                        if (writes_first)
                            ++i;
                    }
                }
                return 0;
            };
        };
        std::vector<std::pair<int, task>> tasks{{fd(c), alternate(c, out, in_c, true, messages)},
                                                {fd(s), alternate(s, out, in_s, false, messages)}};
        const auto start = clock_type::now();
        poll_loop(tasks);
        return messages / seconds_since(start);
    }

    double bulk(std::size_t total) {
        auto [c, s] = connected();
        handshake(c, s);
        const auto data = bench::payload(bench::max_record);
        std::vector<std::byte> in(bench::read_buffer_size);
        std::vector<std::pair<int, task>> tasks{{fd(c), writer(c, data, total / data.size())},
                                                {fd(s), reader(s, in, total / data.size() * data.size())}};
        const auto start = clock_type::now();
        poll_loop(tasks);
        return double(total) / (1 << 20) / seconds_since(start);
    }

    double handshakes(int count) {
        const auto start = clock_type::now();
        for (int i = 0; i < count; ++i) {
            auto [c, s] = connected();
            handshake(c, s);
        }
        return count / seconds_since(start);
    }

    double heap_per_connection(int count) {
        std::vector<std::pair<stream, stream>> pairs;
        pairs.reserve(static_cast<std::size_t>(count));
        const std::size_t before = heap_in_use();
        for (int i = 0; i < count; ++i) {
            pairs.push_back(connected());
            auto& [c, s] = pairs.back();
            handshake(c, s);
            std::array<std::byte, 64> out{}, in{};
            std::vector<std::pair<int, task>> tasks{{fd(c), writer(c, out, 1)}, {fd(s), reader(s, in, 64)}};
            poll_loop(tasks);
        }
        return double(heap_in_use() - before) / (2.0 * count);
    }
};

// ---- the run ---------------------------------------------------------------------

std::map<std::string, std::vector<double>> samples;

template <class Runner>
void measure(Runner& r, const char* name) {
    const std::size_t messages = quick ? 2000 : 20000;
    const std::size_t bulk_bytes = (quick ? 32u : 256u) << 20;
    const int handshakes = quick ? 20 : 100;
    const int idle = quick ? 20 : 100;
    samples[std::string("echo64 ") + name].push_back(r.echo(messages));
    samples[std::string("bulk16k ") + name].push_back(r.bulk(bulk_bytes));
    samples[std::string("handshakes ") + name].push_back(r.handshakes(handshakes));
    samples[std::string("heap_idle ") + name].push_back(r.heap_per_connection(idle));
}

}  // namespace

int main(int argc, char** argv) {
    // Before Botan's first secure allocation: no locked pool, so that its
    // secure_vector memory shows in mallinfo2() like everything else.
    ::setenv("BOTAN_MLOCK_POOL_SIZE", "0", 1);
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--quick")
            quick = true;
        else
            return std::fprintf(stderr, "usage: asio_compare [--quick]\n"), 2;
    }
    asio_runner<tlsw_asio> a;
    asio_runner<openssl_asio> o;
    tlsw_poll p;
    const int rounds = quick ? 1 : 5;
    for (int round = 0; round < rounds; ++round) {
        // The order rotates, so that a change of load hits all three alike.
        for (int k = 0; k < 3; ++k) {
            switch ((round + k) % 3) {
            case 0: measure(a, "tlsw_asio"); break;
            case 1: measure(o, "openssl_asio"); break;
            default: measure(p, "tlsw_poll"); break;
            }
        }
        std::fprintf(stderr, "round %d of %d done\n", round + 1, rounds);
    }
    for (auto& [key, values] : samples)
        std::printf("%s %.6g\n", key.c_str(), bench::median(values));
}
