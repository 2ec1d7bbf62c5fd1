// A TLS client in the manner of `openssl s_client -quiet`: stdin goes to the
// server, the server's data to stdout, diagnostics to stderr.
//
// One thread watches both stdin and the socket with poll(): the stream is
// nonblocking, and each call that returns want_read / want_write is
// repeated, with the same arguments, once poll() reports that readiness.
// A renegotiation the server starts (HelloRequest, TLS 1.2) is accepted
// inside whichever call comes next, as are TLS 1.3's session tickets and
// key updates.
//
//   client --ca-file ca.pem --server-name localhost 127.0.0.1 8443
//   client --pin-sha256 $(openssl x509 -in leaf.pem -pubkey -noout |
//       openssl pkey -pubin -outform der | sha256sum | cut -c1-64) example.com 443
//   printf 'GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n' |
//       client --ign-eof example.com 443
//
// Exit status: 0 when the server closed with close_notify, 1 on any error
// (including a connection that ended without close_notify: truncated), 2 for
// bad arguments.

#include <tlsw/tlsw.hpp>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace {

constexpr const char* usage_text = R"(usage: client [options] HOST PORT

Connects to HOST:PORT over TLS (1.3, or 1.2 when the server has no 1.3, on
Botan 3; 1.2 on Botan 2), verifies the server's certificate and name, then
copies stdin to the connection and the connection to stdout.
On stdin EOF it sends close_notify and waits for the server to close.

options:
  --ca-file FILE       trust only the CA certificates in FILE (PEM) instead of
                       the system store (/etc/ssl/certs)
  --server-name NAME   the name to verify and send as SNI (default: HOST)
  --policy FILE        a Botan text policy replacing tlsw's default one (its
                       allow_tls12 / allow_tls13 then decide the versions)
  --alpn LIST          comma-separated protocols to offer, e.g. h2,http/1.1
  --ign-eof            on stdin EOF, do not close: wait for the server to close
                       (for requests the server answers and then closes; under
                       TLS 1.2 data that arrives after our close_notify is lost)
  --tls-max VERSION    the highest TLS version to offer: 1.2 or 1.3 (default: the
                       highest the library speaks, 1.3 on Botan 3, 1.2 on Botan 2,
                       where 1.3 means 1.2)
  --connect-timeout S  give up connecting, and then the handshake, after S
                       seconds each (default 10)
  --pin-sha256 HEX     also require the server's key to be this one: HEX is the
                       SHA-256 of its SubjectPublicKeyInfo (64 hex digits),
                       checked after the chain, name and dates
  --verbose            print the server certificate's subject, names, issuer
                       and validity after the handshake
  --insecure           DANGER: accept any certificate for any name; anyone on the
                       path can then read and change the traffic
  --help               show this text

exit status: 0 after the server's close_notify; 1 on errors, including a
connection that ended without close_notify (truncated); 2 for bad arguments.
)";

struct options {
    std::string host;
    std::uint16_t port = 0;
    std::string ca_file;
    std::string server_name;
    std::string policy;
    std::vector<std::string> alpn;
    bool ign_eof = false;
    bool insecure = false;
    bool verbose = false;
    std::optional<std::array<std::byte, 32>> pin;
    std::optional<tlsw::tls_version> tls_max;
    std::chrono::seconds connect_timeout{10};
};

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

/** 64 hex digits (either case) as 32 bytes. */
std::optional<std::array<std::byte, 32>> parse_sha256(std::string_view hex) {
    std::array<std::byte, 32> out{};
    if (hex.size() != 64)
        return std::nullopt;
    for (std::size_t i = 0; i < out.size(); ++i) {
        unsigned v = 0;
        const auto [end, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
        if (ec != std::errc() || end != hex.data() + 2 * i + 2)
            return std::nullopt;
        out[i] = static_cast<std::byte>(v);
    }
    return out;
}

/** "1.2" or "1.3", as curl's --tls-max spells them. */
std::optional<tlsw::tls_version> parse_version(std::string_view text) {
    if (text == "1.2")
        return tlsw::tls_version::tls12;
    if (text == "1.3")
        return tlsw::tls_version::tls13;
    return std::nullopt;
}

template <class T>
bool parse_number(std::string_view text, T& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

std::optional<options> parse_options(int argc, char** argv, int& status) {
    options o;
    std::vector<std::string_view> positional;
    status = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> std::optional<std::string_view> {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "client: %s needs a value\n", argv[i]);
                return std::nullopt;
            }
            return std::string_view(argv[++i]);
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage_text, stdout);
            status = 0;
            return std::nullopt;
        } else if (arg == "--ca-file" || arg == "--server-name" || arg == "--policy" || arg == "--alpn" ||
                   arg == "--connect-timeout" || arg == "--pin-sha256" || arg == "--tls-max") {
            auto v = value();
            if (!v)
                return std::nullopt;
            if (arg == "--ca-file") {
                o.ca_file = *v;
            } else if (arg == "--server-name") {
                o.server_name = *v;
            } else if (arg == "--policy") {
                o.policy = *v;
            } else if (arg == "--alpn") {
                o.alpn = split_list(*v);
            } else if (arg == "--pin-sha256") {
                o.pin = parse_sha256(*v);
                if (!o.pin) {
                    std::fputs("client: --pin-sha256 needs 64 hex digits\n", stderr);
                    return std::nullopt;
                }
            } else if (arg == "--tls-max") {
                o.tls_max = parse_version(*v);
                if (!o.tls_max) {
                    std::fputs("client: --tls-max needs 1.2 or 1.3\n", stderr);
                    return std::nullopt;
                }
            } else {
                unsigned seconds = 0;
                if (!parse_number(*v, seconds)) {
                    std::fputs("client: --connect-timeout needs a number of seconds\n", stderr);
                    return std::nullopt;
                }
                o.connect_timeout = std::chrono::seconds(seconds);
            }
        } else if (arg == "--ign-eof") {
            o.ign_eof = true;
        } else if (arg == "--insecure") {
            o.insecure = true;
        } else if (arg == "--verbose") {
            o.verbose = true;
        } else if (arg.starts_with("-") && arg.size() > 1) {
            std::fprintf(stderr, "client: unknown option %s (see --help)\n", argv[i]);
            return std::nullopt;
        } else {
            positional.push_back(arg);
        }
    }
    if (positional.size() != 2 || !parse_number(positional[1], o.port) || o.port == 0) {
        std::fputs("client: expected HOST PORT (see --help)\n", stderr);
        return std::nullopt;
    }
    o.host = positional[0];
    if (o.server_name.empty())
        o.server_name = o.host;
    return o;
}

using stream = tlsw::tls_stream<tlsw::nonblocking_socket>;

/** Writes all of `data` to stdout (blocking: a slow reader slows us down). */
bool write_stdout(std::span<const std::byte> data) {
    while (!data.empty()) {
        const ::ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            std::perror("client: stdout");
            return false;
        }
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

void print_session(const stream& tls, const char* what) {
    const auto& info = tls.info();
    std::fprintf(stderr, "client: %s: %s %s group=%s%s resumed=%s alpn=%s\n", what, info.version.c_str(),
                 info.standard_cipher_suite.c_str(), info.group.empty() ? "-" : info.group.c_str(),
                 info.post_quantum ? " (post-quantum)" : "", info.resumed ? "yes" : "no",
                 info.alpn.empty() ? "-" : info.alpn.c_str());
}

int fail(const char* what, const tlsw::tls_error& e, std::string_view detail = {}) {
    std::fprintf(stderr, "client: %s: %s%s%.*s\n", what, e.message().c_str(), detail.empty() ? "" : ": ",
                 static_cast<int>(detail.size()), detail.data());
    return 1;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : ",") + item;
    return out.empty() ? "-" : out;
}

std::string date(std::chrono::system_clock::time_point t) {
    const std::time_t time = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&time, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return text;
}

/** The server certificate the client verified, for --verbose. */
void print_peer(const stream& tls) {
    const auto& chain = tls.info().peer_chain;
    if (chain.empty())
        return;
    const auto& leaf = chain.front();
    std::fprintf(stderr, "client: server certificate: subject %s\n", leaf.subject.c_str());
    std::fprintf(stderr, "client:   DNS names %s, IP addresses %s\n", join(leaf.dns_names).c_str(),
                 join(leaf.ip_addresses).c_str());
    std::fprintf(stderr, "client:   issuer %s\n", leaf.issuer.c_str());
    std::fprintf(stderr, "client:   valid from %s to %s; chain of %zu, verified=%s\n", date(leaf.not_before).c_str(),
                 date(leaf.not_after).c_str(), chain.size(), tls.info().peer_verified ? "yes" : "no");
}

/** A loading error's message names the file, the PEM block and the reason. */
int fail(const char* what, const tlsw::config_error& e) {
    std::fprintf(stderr, "client: %s: %s\n", what, e.message().c_str());
    return 1;
}

int run(const options& opts) {
    auto ctx = tlsw::context::client();
    if (!opts.ca_file.empty()) {
        ctx.use_system_trust(false);
        if (auto r = ctx.trust_file(opts.ca_file); !r)
            return fail("--ca-file", r.error());
    }
    if (!opts.policy.empty()) {
        if (auto r = ctx.policy_file(opts.policy); !r) {
            std::fprintf(stderr, "client: --policy: %s\n", r.error().message().c_str());  // names file, line and key
            return 1;
        }
    }
    if (opts.tls_max) {
        // The minimum stays TLS 1.2: only the offer's top changes.
        if (auto r = ctx.versions(tlsw::tls_version::tls12, *opts.tls_max); !r)
            return fail("--tls-max", r.error());
    }
    if (opts.pin) {
        // A pin adds to the chain, name and date checks: it never widens them.
        ctx.verify_hook([pin = *opts.pin](const tlsw::verify_request& r) {
            if (r.chain.empty() || r.chain.front().spki_sha256 != pin)
                return tlsw::verify_result::reject("server key does not match --pin-sha256");
            return tlsw::verify_result::accept();
        });
    }
    if (opts.insecure) {
        std::fputs("client: WARNING: --insecure: the server's certificate is not verified\n", stderr);
        ctx.danger_disable_verification();
    }

    auto socket = tlsw::nonblocking_socket::connect(opts.host, opts.port, opts.connect_timeout);
    if (!socket) {
        std::fprintf(stderr, "client: cannot connect to %s port %u: %s\n", opts.host.c_str(), unsigned{opts.port},
                     socket.error().message().c_str());
        return 1;
    }
    (void)socket->set_nodelay(true);
    stream tls(ctx, std::move(*socket), {.server_name = opts.server_name, .port = opts.port, .alpn = opts.alpn});
    const int fd = tls.transport().native_handle();

    // The handshake first, so that a verification failure is reported
    // before anything is read from stdin; bounded like the connection.
    const auto handshake_deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
    for (;;) {
        auto r = tls.handshake();
        if (r)
            break;
        if (!r.error().retryable())
            return fail("handshake", r.error(), tls.last_error_detail());
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(handshake_deadline -
                                                                       std::chrono::steady_clock::now());
        pollfd p{fd, static_cast<short>(r.error() == tlsw::errc::want_write ? POLLOUT : POLLIN), 0};
        const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (ready == 0) {
            std::fputs("client: handshake: timed out\n", stderr);
            return 1;
        }
        if (ready < 0 && errno != EINTR) {
            std::perror("client: poll");
            return 1;
        }
    }
    print_session(tls, "connected");
    if (opts.verbose)
        print_peer(tls);
    std::uint32_t handshakes = tls.info().handshakes;

    std::array<std::byte, 16384> in_buffer;   // from stdin, being written
    std::array<std::byte, 16384> out_buffer;  // from the server, to stdout
    std::span<const std::byte> pending;       // stdin bytes a write has not finished
    bool stdin_open = true;
    bool closing = false;    // stdin ended: close_notify to send
    bool close_sent = false;
    bool write_wants_room = false;  // the write or shutdown in progress returned want_write

    for (;;) {
        // 1. Finish the write in progress: the same arguments every time.
        write_wants_room = false;
        if (!pending.empty()) {
            auto n = tls.write(pending);
            if (n)
                pending = {};
            else if (!n.error().retryable())
                return fail("write", n.error());
            else
                write_wants_room = n.error() == tlsw::errc::want_write;
        }
        // 2. stdin ended and everything is written: send close_notify.
        if (closing && !close_sent && pending.empty()) {
            auto r = tls.shutdown();
            if (r) {
                close_sent = true;
                std::fputs("client: stdin ended, sent close_notify\n", stderr);
            } else if (!r.error().retryable()) {
                return fail("shutdown", r.error());
            } else {
                write_wants_room = r.error() == tlsw::errc::want_write;
            }
        }
        // 3. Read whatever the server sent, until the stream would block.
        bool want_write = false;
        for (;;) {
            auto n = tls.read(out_buffer);
            // Checked after every call: the call that completes a
            // renegotiation may also read the server's last data and its
            // close_notify, and the loop then ends with no other check.
            if (tls.info().handshakes != handshakes) {
                handshakes = tls.info().handshakes;
                print_session(tls, "renegotiated");
            }
            if (n) {
                if (!write_stdout(std::span(out_buffer).first(*n)))
                    return 1;
                continue;
            }
            const auto& e = n.error();
            if (e == tlsw::errc::want_read)
                break;
            if (e == tlsw::errc::want_write) {
                want_write = true;
                break;
            }
            if (e == tlsw::errc::closed) {
                std::fputs("client: server closed the connection (close_notify)\n", stderr);
                return 0;
            }
            if (e == tlsw::errc::truncated) {
                std::fputs("client: connection truncated: the server closed without close_notify\n", stderr);
                return 1;
            }
            if (close_sent && e == tlsw::errc::protocol && e.alert() == tlsw::alert::unexpected_message)
                std::fputs("client: the server sent data after our close_notify; under TLS 1.2 Botan "
                           "cannot read it (see --ign-eof)\n",
                           stderr);
            return fail("read", e);
        }

        // 4. Wait: for the socket always (the server may speak at any time),
        // for stdin only when its last bytes are written (backpressure).
        const short socket_events = static_cast<short>(POLLIN | (want_write || write_wants_room ? POLLOUT : 0));
        pollfd fds[2] = {{fd, socket_events, 0}, {-1, POLLIN, 0}};
        if (stdin_open && pending.empty())
            fds[1].fd = STDIN_FILENO;
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            std::perror("client: poll");
            return 1;
        }
        if (fds[1].revents != 0) {
            // poll() said readable: this read() returns without waiting.
            const ::ssize_t n = ::read(STDIN_FILENO, in_buffer.data(), in_buffer.size());
            if (n > 0) {
                pending = std::span(in_buffer).first(static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                if (n < 0)
                    std::perror("client: stdin");
                stdin_open = false;
                closing = !opts.ign_eof;
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    // tlsw's sockets never raise SIGPIPE; a closed stdout could.
    std::signal(SIGPIPE, SIG_IGN);
    int status = 0;
    const auto opts = parse_options(argc, argv, status);
    if (!opts)
        return status;
    return run(*opts);
}
