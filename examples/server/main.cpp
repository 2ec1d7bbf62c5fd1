// A small TLS server on tlsw's nonblocking API: HTTP/1.x and echo, many
// connections in one poll() loop, every connection bounded in time and
// memory, none able to starve the others.
//
// The parts: main.cpp (this file) reads the options and runs the loop;
// connection.hpp/.cpp is one connection's state machine (handshake,
// requests, close_notify); http.hpp parses request heads.
//
// The loop gives each ready connection one turn at a time, and a turn does
// a bounded amount of work (one record in, one response out), so a client
// that floods gets its share and no more. SIGINT and SIGTERM stop it
// gracefully: no new connections, close_notify on every open one, a
// bounded wait, exit 0.
//
//   test_pki certs && server --cert certs/chain.pem --key certs/key.pem --port 8443
//   curl --cacert certs/ca.pem --resolve localhost:8443:127.0.0.1 https://localhost:8443/hello
//   openssl s_client -connect 127.0.0.1:8443 -CAfile certs/ca.pem -servername localhost

#include "connection.hpp"

#include <tlsw/tlsw.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using example::clock_type;
using namespace std::chrono_literals;

constexpr const char* usage_text = R"(usage: server --cert FILE --key FILE [options]

A TLS HTTP/1.x and echo server on tlsw (TLS 1.3 and 1.2 on Botan 3, TLS 1.2
on Botan 2): one poll() loop, many connections, each served fairly and
within time and memory bounds.

Per connection, once the handshake is done:
- HTTP when the client chose http/1.1 by ALPN or its first bytes are a
  method and a space ("GET ", "POST "...): GET and HEAD get a short text
  page, POST /echo returns its body (Content-Length, up to 15872 bytes);
  heads end with CRLF CRLF or LF LF; HTTP/1.1 keeps the connection open,
  HTTP/1.0 closes unless "Connection: keep-alive"; a malformed head, or
  one over 16 KiB, gets 400 and close. Each response is one TLS record.
- echo otherwise: every record read is written back as one record; a line
  "quit" makes the server send close_notify and close.
Options take their value as "--opt value" or "--opt=value"; times are in
seconds (fractions allowed).

options:
  --cert FILE                   certificate chain, PEM, leaf first (required)
  --key FILE                    the leaf's private key, PKCS#8 PEM (required)
  --address ADDR                address to listen on (default 127.0.0.1)
  --port N                      port to listen on; 0 lets the OS choose (default 0)
  --print-port                  write the port as the first line of stdout
  --alpn LIST                   comma-separated ALPN protocols to select from, most
                                preferred first (default http/1.1; "" for none).
                                Clients offering none of them, or no ALPN, are served too
  --ocsp FILE                   staple this DER OCSP response (openssl ocsp -respout) for
                                the certificate when a client asks; refused unless it is
                                about the certificate. Replace the file and restart before
                                its nextUpdate
  --client-ca FILE              ask clients for a certificate from these CAs (PEM);
                                a client may still decline unless --require-client-cert
  --require-client-cert         fail the handshake of a client without a certificate
  --policy FILE                 Botan text policy replacing tlsw's default one;
                                it then also decides client renegotiation and versions
  --tls-max VERSION             the highest TLS version to accept: 1.2 or 1.3 (default:
                                the highest the library speaks, 1.3 on Botan 3, 1.2 on
                                Botan 2, where 1.3 means 1.2). TLS 1.3 has no
                                renegotiation: the two options below need 1.2
  --allow-client-renegotiation  accept a client's renegotiation (refused by default,
                                with a warning alert; the connection goes on)
  --renegotiate-after N         start a renegotiation once N bytes were echoed on a
                                connection (the client must be idle then: Botan fails a
                                connection whose data crosses the request); a TLS 1.3
                                connection logs "cannot renegotiate" and goes on
  --max-connections N           connections served at once (default 1024); more are
                                accepted and closed at once, and counted
  --handshake-timeout S         drop a connection whose handshake takes longer (default 5)
  --request-timeout S           answer 408 and close when a request head and body take
                                longer than this from their first byte (default 10)
  --idle-timeout S              close a connection that makes no progress (default 60)
  --stop-timeout S              on SIGINT/SIGTERM, wait this long for connections to
                                close after close_notify (default 5)
  --exit-after N                exit once N connections have ended
  --quiet                       no per-connection log lines
  --stats                       on exit, print counts and memory per idle connection
  --help                        show this text

Logs go to stderr, one line per connection event ("conn N: ..."): accept,
handshake (version, suite, ALPN, SNI, resumed, and the client's verified
certificate subject or "anonymous" when --client-ca is given), each request line and its
status, renegotiations, and one "closed: REASON" line.
"listening on ADDRESS:PORT" goes to stderr once the socket listens.
)";

struct options {
    std::string cert;
    std::string key;
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    bool print_port = false;
    std::string policy;
    std::string client_ca;
    std::string ocsp;
    bool require_client_cert = false;
    std::vector<std::string> alpn = {"http/1.1"};
    std::optional<tlsw::tls_version> tls_max;
    bool allow_client_renegotiation = false;
    std::size_t max_connections = 1024;
    std::chrono::milliseconds stop_timeout{5'000};
    std::optional<std::uint64_t> exit_after;
    bool stats = false;
    example::settings connection;
};

template <class T>
bool parse_number(std::string_view text, T& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

bool parse_seconds(std::string_view text, std::chrono::milliseconds& out) {
    double seconds = 0;
    if (!parse_number(text, seconds) || !(seconds >= 0) || seconds > 1e6)
        return false;
    out = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    return true;
}

/** "1.2" or "1.3", as curl's --tls-max spells them. */
bool parse_version(std::string_view text, std::optional<tlsw::tls_version>& out) {
    if (text == "1.2")
        out = tlsw::tls_version::tls12;
    else if (text == "1.3")
        out = tlsw::tls_version::tls13;
    else
        return false;
    return true;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    while (!text.empty()) {
        const auto comma = text.find(',');
        if (auto item = text.substr(0, comma); !item.empty())
            items.emplace_back(item);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    }
    return items;
}

/** The options, or the exit status when the program should stop now. */
std::optional<options> parse_options(int argc, char** argv, int& status) {
    options o;
    status = 2;
    const auto bad = [&](const char* format, std::string_view what) {
        std::fprintf(stderr, "server: ");
        std::fprintf(stderr, format, static_cast<int>(what.size()), what.data());
        std::fprintf(stderr, "\n\n%s", usage_text);
        return std::nullopt;
    };
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        // "--opt=value" and "--opt value" mean the same.
        std::optional<std::string_view> inline_value;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            inline_value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        const auto value = [&]() -> std::optional<std::string_view> {
            if (inline_value)
                return inline_value;
            if (i + 1 >= argc)
                return std::nullopt;
            return std::string_view(argv[++i]);
        };
        const auto flag = [&](bool& out) {
            out = true;
            return !inline_value;
        };
        bool ok = true;
        std::uint64_t count = 0;
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage_text, stdout);
            status = 0;
            return std::nullopt;
        } else if (arg == "--print-port") {
            ok = flag(o.print_port);
        } else if (arg == "--require-client-cert") {
            ok = flag(o.require_client_cert);
        } else if (arg == "--allow-client-renegotiation") {
            ok = flag(o.allow_client_renegotiation);
        } else if (arg == "--quiet") {
            ok = flag(o.connection.quiet);
        } else if (arg == "--stats") {
            ok = flag(o.stats);
        } else if (arg == "--cert" || arg == "--key" || arg == "--address" || arg == "--policy" || arg == "--client-ca" ||
                   arg == "--ocsp" || arg == "--alpn" || arg == "--port" || arg == "--renegotiate-after" || arg == "--exit-after" ||
                   arg == "--max-connections" || arg == "--tls-max" || arg.ends_with("-timeout")) {
            const auto v = value();
            if (!v)
                return bad("%.*s needs a value", arg);
            if (arg == "--cert")
                o.cert = *v;
            else if (arg == "--key")
                o.key = *v;
            else if (arg == "--address")
                o.address = *v;
            else if (arg == "--policy")
                o.policy = *v;
            else if (arg == "--client-ca")
                o.client_ca = *v;
            else if (arg == "--ocsp")
                o.ocsp = *v;
            else if (arg == "--alpn")
                o.alpn = split_list(*v);
            else if (arg == "--port")
                ok = parse_number(*v, o.port);
            else if (arg == "--renegotiate-after")
                ok = parse_number(*v, count) && (o.connection.renegotiate_after = count, true);
            else if (arg == "--exit-after")
                ok = parse_number(*v, count) && (o.exit_after = count, true);
            else if (arg == "--max-connections")
                ok = parse_number(*v, o.max_connections) && o.max_connections > 0;
            else if (arg == "--tls-max")
                ok = parse_version(*v, o.tls_max);
            else if (arg == "--handshake-timeout")
                ok = parse_seconds(*v, o.connection.handshake_timeout);
            else if (arg == "--request-timeout")
                ok = parse_seconds(*v, o.connection.request_timeout);
            else if (arg == "--idle-timeout")
                ok = parse_seconds(*v, o.connection.idle_timeout);
            else if (arg == "--stop-timeout")
                ok = parse_seconds(*v, o.stop_timeout);
            else
                return bad("unknown option %.*s", arg);
            if (!ok)
                return bad("bad value for %.*s", std::string_view(argv[i]));
            continue;
        } else {
            return bad("unknown option %.*s", arg);
        }
        if (!ok)
            return bad("%.*s takes no value", arg);
    }
    if (o.cert.empty() || o.key.empty()) {
        std::fprintf(stderr, "server: --cert and --key are required\n\n%s", usage_text);
        return std::nullopt;
    }
    return o;
}

// ---- signals --------------------------------------------------------------

// SIGINT and SIGTERM write a byte to this pipe, which the loop polls: a
// signal arriving just before poll() still wakes it.
int signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
    const int saved = errno;
    const char byte = 1;
    (void)!::write(signal_pipe[1], &byte, 1);
    errno = saved;
}

bool install_signal_handlers() {
    if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    return ::sigaction(SIGINT, &action, nullptr) == 0 && ::sigaction(SIGTERM, &action, nullptr) == 0;
}

// ---- memory figures for --stats -------------------------------------------

std::size_t heap_in_use() {
    const auto info = ::mallinfo2();
    return info.uordblks + info.hblkhd;
}

/** A line of /proc/self/status in KiB (VmRSS, VmHWM), or 0. */
std::size_t status_kib(std::string_view key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
            return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
    return 0;
}

std::string peer_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    char text[INET6_ADDRSTRLEN] = "?";
    std::uint16_t port = 0;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        if (ss.ss_family == AF_INET) {
            sockaddr_in in{};
            std::memcpy(&in, &ss, sizeof in);
            ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
            port = ntohs(in.sin_port);
        } else if (ss.ss_family == AF_INET6) {
            sockaddr_in6 in6{};
            std::memcpy(&in6, &ss, sizeof in6);
            ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
            port = ntohs(in6.sin6_port);
        }
    }
    return std::string(text) + ":" + std::to_string(port);
}

// ---- the server -----------------------------------------------------------

int run(const options& opts) {
    auto creds = tlsw::credentials::from_files(opts.cert, opts.key);
    if (!creds) {
        // The message names the file, the PEM block and the reason.
        std::fprintf(stderr, "server: cannot load the certificate and key: %s\n", creds.error().message().c_str());
        return 1;
    }
    auto ctx = tlsw::context::server(*creds);
    ctx.allow_client_renegotiation(opts.allow_client_renegotiation);
    ctx.alpn(opts.alpn);
    if (opts.tls_max) {
        // The minimum stays TLS 1.2: only the top of the range changes.
        if (auto r = ctx.versions(tlsw::tls_version::tls12, *opts.tls_max); !r) {
            std::fprintf(stderr, "server: --tls-max: %s\n", r.error().message().c_str());
            return 1;
        }
    }
    if (!opts.ocsp.empty()) {
        if (auto r = ctx.staple_ocsp_response_file(*creds, opts.ocsp); !r) {
            std::fprintf(stderr, "server: --ocsp: %s\n", r.error().message().c_str());
            return 1;
        }
    }
    if (!opts.client_ca.empty()) {
        if (auto r = ctx.trust_file(opts.client_ca); !r) {
            std::fprintf(stderr, "server: client CAs: %s\n", r.error().message().c_str());
            return 1;
        }
        ctx.require_client_certificate(opts.require_client_cert);
    }
    if (!opts.policy.empty()) {
        if (auto r = ctx.policy_file(opts.policy); !r) {
            std::fprintf(stderr, "server: policy %s: %s\n", opts.policy.c_str(), r.error().message().c_str());
            return 1;
        }
    }

    // One descriptor per connection: allow as many as the hard limit does.
    if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (!install_signal_handlers()) {
        std::perror("server: signal handlers");
        return 1;
    }

    auto listener = tlsw::tcp_listener::listen(opts.address, opts.port, 1024);
    if (!listener) {
        std::fprintf(stderr, "server: cannot listen on %s:%u: %s\n", opts.address.c_str(), unsigned{opts.port},
                     listener.error().message().c_str());
        return 1;
    }
    if (auto ec = listener->set_nonblocking(true)) {
        std::fprintf(stderr, "server: %s\n", ec.message().c_str());
        return 1;
    }
    std::fprintf(stderr, "listening on %s:%u\n", opts.address.c_str(), unsigned{listener->port()});
    if (opts.print_port) {
        std::printf("%u\n", unsigned{listener->port()});
        std::fflush(stdout);
    }

    example::counters stats;
    std::vector<std::byte> scratch(tlsw::tls_stream<tlsw::nonblocking_socket>::max_record);
    std::list<example::connection> connections;
    std::vector<pollfd> fds;
    std::vector<std::list<example::connection>::iterator> polled;
    std::vector<bool> had_work;
    unsigned next_id = 1;
    std::size_t peak_connections = 0;
    const std::size_t heap_at_start = heap_in_use();
    std::size_t per_idle_connection = 0, idle_measured = 0;
    auto pause_accept_until = clock_type::time_point::min();
    auto last_trim = clock_type::now() - 1h;
    std::optional<clock_type::time_point> stop_deadline;
    const bool quiet = opts.connection.quiet;

    bool trim_owed = false;
    const auto finish = [&](std::list<example::connection>::iterator it) {
        connections.erase(it);
        trim_owed = true;
    };

    for (;;) {
        auto now = clock_type::now();
        if (stop_deadline && (connections.empty() || now >= *stop_deadline))
            break;
        if (opts.exit_after && stats.closed >= *opts.exit_after)
            break;

        fds.clear();
        polled.clear();
        had_work.clear();
        const bool accepting = listener->is_open() && now >= pause_accept_until;
        fds.push_back({signal_pipe[0], POLLIN, 0});
        fds.push_back({accepting ? listener->native_handle() : -1, POLLIN, 0});
        auto next_deadline = clock_type::time_point::max();
        if (listener->is_open() && !accepting)
            next_deadline = pause_accept_until;
        if (stop_deadline)
            next_deadline = std::min(next_deadline, *stop_deadline);
        bool any_work = false;
        std::size_t idle = 0;
        for (auto it = connections.begin(); it != connections.end(); ++it) {
            const bool work = it->has_work();
            fds.push_back({it->fd(), it->events(), 0});
            polled.push_back(it);
            had_work.push_back(work);
            any_work = any_work || work;
            next_deadline = std::min(next_deadline, it->deadline());
            idle += it->idle() ? 1 : 0;
        }
        // Memory per idle connection: heap growth over the start, measured
        // when every connection is idle and there are more than ever before.
        if (opts.stats && idle == connections.size() && idle >= 8 && idle > idle_measured) {
            idle_measured = idle;
            const std::size_t heap = heap_in_use();
            per_idle_connection = heap > heap_at_start ? (heap - heap_at_start) / idle : 0;
        }
        // A server that emptied after a burst gives the freed pages back to
        // the system (at most once a second: it walks the whole heap).
        if (connections.empty() && trim_owed) {
            if (now - last_trim >= 1s) {
                ::malloc_trim(0);
                last_trim = now;
                trim_owed = false;
            } else {
                next_deadline = std::min(next_deadline, last_trim + 1s);
            }
        }

        int timeout = -1;
        if (any_work) {
            timeout = 0;
        } else if (next_deadline != clock_type::time_point::max()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - now).count();
            timeout = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
        }
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
            std::perror("server: poll");
            return 1;
        }

        if (fds[0].revents != 0 && !stop_deadline) {
            char drain[64];
            while (::read(signal_pipe[0], drain, sizeof drain) > 0) {
            }
            // Stop: accept nothing more, close_notify on every connection.
            listener->close();
            stop_deadline = clock_type::now() + opts.stop_timeout;
            example::log_line(false, "server: stopping: closing %zu connections", connections.size());
            for (auto it = connections.begin(); it != connections.end();) {
                auto next = std::next(it);
                if (!it->stop())
                    finish(it);
                it = next;
            }
            continue;  // `polled` may name erased connections
        }

        // Every connection gets at most one turn per pass, in order.
        for (std::size_t i = 0; i < polled.size(); ++i) {
            auto it = polled[i];
            bool alive = true;
            if (fds[i + 2].revents != 0 || had_work[i]) {
                alive = it->turn();
                if (alive && clock_type::now() >= it->deadline())
                    alive = it->expire();
            } else if (clock_type::now() >= it->deadline()) {
                alive = it->expire();
            }
            if (!alive)
                finish(it);
        }

        // Accept a bounded number per pass, so that a connection storm
        // cannot hold up the connections already open.
        if (fds[1].revents != 0 && listener->is_open()) {
            for (int accepted = 0; accepted < 64; ++accepted) {
                auto socket = listener->accept_nonblocking();
                if (!socket) {
                    if (!tlsw::is_would_block(socket.error())) {
                        // Out of descriptors, typically: stop accepting for a
                        // moment rather than spin on a readable listener.
                        example::log_line(false, "server: accept: %s", socket.error().message().c_str());
                        pause_accept_until = clock_type::now() + 100ms;
                    }
                    break;
                }
                const unsigned id = next_id++;
                ++stats.accepted;
                if (connections.size() >= opts.max_connections) {
                    ++stats.refused;
                    example::log_line(quiet, "conn %u: refused: %zu connections open (--max-connections)", id,
                                      connections.size());
                    continue;  // the socket closes here
                }
                example::log_line(quiet, "conn %u: accepted from %s", id, peer_address(socket->native_handle()).c_str());
                connections.emplace_back(id, ctx, std::move(*socket), opts.connection, stats, scratch);
                peak_connections = std::max(peak_connections, connections.size());
            }
        }
    }

    if (stop_deadline) {
        // Whatever did not finish in time is closed now.
        for (auto it = connections.begin(); it != connections.end(); it = connections.begin()) {
            example::log_line(quiet, "server: dropping a connection that did not close in time");
            finish(it);
        }
    }
    if (opts.stats) {
        std::fprintf(stderr,
                     "stats: accepted %llu, refused %llu (over --max-connections), peak open %zu\n"
                     "stats: handshakes %llu (resumed %llu), failed %llu, timeouts %llu\n"
                     "stats: requests %llu (bad %llu), echoed %llu bytes, renegotiations %llu (refused %llu)\n"
                     "stats: memory per idle connection %zu bytes (heap growth over %zu idle connections)\n"
                     "stats: rss %zu KiB, peak rss %zu KiB\n",
                     static_cast<unsigned long long>(stats.accepted), static_cast<unsigned long long>(stats.refused),
                     peak_connections, static_cast<unsigned long long>(stats.handshakes),
                     static_cast<unsigned long long>(stats.resumed),
                     static_cast<unsigned long long>(stats.handshake_failures),
                     static_cast<unsigned long long>(stats.timeouts), static_cast<unsigned long long>(stats.requests),
                     static_cast<unsigned long long>(stats.bad_requests),
                     static_cast<unsigned long long>(stats.echoed_bytes),
                     static_cast<unsigned long long>(stats.renegotiations),
                     static_cast<unsigned long long>(stats.renegotiations_refused), per_idle_connection, idle_measured,
                     status_kib("VmRSS"), status_kib("VmHWM"));
    }
    std::fprintf(stderr, "server: %llu connections served, exiting\n", static_cast<unsigned long long>(stats.closed));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // tlsw's sockets never raise SIGPIPE; stdout and stderr could.
    std::signal(SIGPIPE, SIG_IGN);
    int status = 0;
    const auto opts = parse_options(argc, argv, status);
    if (!opts)
        return status;
    return run(*opts);
}
