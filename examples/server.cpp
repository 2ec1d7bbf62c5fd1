// A TLS echo and HTTP server: many connections at once in one poll() loop
// over nonblocking tls_streams.
//
// Per connection, the first application data decides the mode:
// - it starts with "GET ": HTTP/1.1. Every request `GET <path> HTTP/1.x`
//   gets one complete response (headers and body) in a single write, so a
//   single record; the connection stays open until the client closes it
//   (or sends "Connection: close").
// - anything else: echo. Each read() is written back as one write() of the
//   same length (one record: a read returns at most 16384 bytes). After
//   echoing a line "quit" the server sends close_notify and closes.
//
// Diagnostics go to stderr, one line per event, prefixed "conn N:". Errors
// caused by a client end that connection only: Botan sends the alert, the
// server closes the socket and goes on. The session cache and the ticket
// key belong to the context (resumption works across connections); nothing
// else outlives a connection.
//
//   test_pki certs && server --cert certs/chain.pem --key certs/key.pem --port 8443
//   openssl s_client -connect 127.0.0.1:8443 -CAfile certs/ca.pem -servername localhost
//   curl --cacert certs/ca.pem --resolve localhost:8443:127.0.0.1 https://localhost:8443/hello

#include <tlsw/tlsw.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>

namespace {

using clock_type = std::chrono::steady_clock;
using stream = tlsw::tls_stream<tlsw::nonblocking_socket>;

constexpr const char* usage_text = R"(usage: server --cert FILE --key FILE [options]

A TLS 1.2 echo and HTTP server on tlsw (one poll() loop, many connections).
Per connection: a first record starting "GET " is served as HTTP/1.1 (one
response per request, keep-alive unless the client sends "Connection:
close"); anything else is echoed back read by read, and a line "quit"
makes the server close with close_notify. (examples/test_pki makes a
throwaway certificate to try it with.)

options:
  --cert FILE                   certificate chain, PEM, leaf first (required)
  --key FILE                    the leaf's private key, PKCS#8 PEM (required)
  --address ADDR                address to listen on (default 127.0.0.1)
  --port N                      port to listen on; 0 lets the OS choose (default 0)
  --print-port                  write the port as the first line of stdout
  --policy FILE                 Botan text policy replacing tlsw's default one;
                                it then also decides client renegotiation
  --alpn LIST                   comma-separated protocols to select from, most preferred first
  --allow-client-renegotiation  accept a client's renegotiation (refused by default)
  --renegotiate-after N         start a renegotiation once N bytes were echoed on a
                                connection (the client must be idle then: Botan 2 fails a
                                connection whose data crosses the request)
  --idle-timeout SECONDS        close a connection that makes no progress (default 60)
  --exit-after N                exit once N connections have ended
  --help                        show this text

"listening on ADDRESS:PORT" goes to stderr once the socket listens.
)";

struct options {
    std::string cert;
    std::string key;
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    bool print_port = false;
    std::string policy;
    std::vector<std::string> alpn;
    bool allow_client_renegotiation = false;
    std::optional<std::uint64_t> renegotiate_after;
    std::chrono::seconds idle_timeout{60};
    std::optional<std::uint64_t> exit_after;
};

template <class T>
bool parse_number(std::string_view text, T& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
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

/** The options, or an exit status when the program should stop now. */
std::optional<options> parse_options(int argc, char** argv, int& status) {
    options o;
    status = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> std::optional<std::string_view> {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "server: %s needs a value\n", argv[i]);
                return std::nullopt;
            }
            return std::string_view(argv[++i]);
        };
        const auto number = [&](auto& out) {
            auto v = value();
            if (v && parse_number(*v, out))
                return true;
            if (v)
                std::fprintf(stderr, "server: %s: not a number: %.*s\n", arg.data(), static_cast<int>(v->size()),
                             v->data());
            return false;
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage_text, stdout);
            status = 0;
            return std::nullopt;
        } else if (arg == "--cert" || arg == "--key" || arg == "--address" || arg == "--policy" || arg == "--alpn") {
            auto v = value();
            if (!v)
                return std::nullopt;
            if (arg == "--cert")
                o.cert = *v;
            else if (arg == "--key")
                o.key = *v;
            else if (arg == "--address")
                o.address = *v;
            else if (arg == "--policy")
                o.policy = *v;
            else
                o.alpn = split_list(*v);
        } else if (arg == "--port") {
            if (!number(o.port))
                return std::nullopt;
        } else if (arg == "--renegotiate-after") {
            std::uint64_t n = 0;
            if (!number(n))
                return std::nullopt;
            o.renegotiate_after = n;
        } else if (arg == "--exit-after") {
            std::uint64_t n = 0;
            if (!number(n))
                return std::nullopt;
            o.exit_after = n;
        } else if (arg == "--idle-timeout") {
            unsigned seconds = 0;
            if (!number(seconds))
                return std::nullopt;
            o.idle_timeout = std::chrono::seconds(seconds);
        } else if (arg == "--print-port") {
            o.print_port = true;
        } else if (arg == "--allow-client-renegotiation") {
            o.allow_client_renegotiation = true;
        } else {
            std::fprintf(stderr, "server: unknown argument %s (see --help)\n", argv[i]);
            return std::nullopt;
        }
    }
    if (o.cert.empty() || o.key.empty()) {
        std::fputs("server: --cert and --key are required (see --help)\n", stderr);
        return std::nullopt;
    }
    return o;
}

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

/** One client: its stream and where its conversation stands. */
class connection {
public:
    connection(unsigned id, const tlsw::context& ctx, tlsw::nonblocking_socket sock, const options& opts)
        : id_(id), opts_(opts), tls_(ctx, std::move(sock)), buffer_(std::make_unique<std::byte[]>(buffer_size)) {
        (void)tls_.transport().set_nodelay(true);
        touch();
    }

    int fd() const noexcept { return tls_.transport().native_handle(); }

    /** The poll() events this connection waits for. */
    short events() const noexcept { return waiting_for_write_ ? POLLOUT : POLLIN; }

    clock_type::time_point deadline() const noexcept { return deadline_; }

    /** Makes all the progress possible without waiting. Returns false once
        the connection is over and can be destroyed (which closes it). */
    bool run() {
        for (;;) {
            const step_result r = step();
            note_handshakes();  // a call may have completed one
            if (r == step_result::again)
                continue;
            return r == step_result::wait;
        }
    }

    /** Ends a connection that made no progress for too long. */
    void expire() {
        if (phase_ == phase::lingering)
            log("closed (the client did not answer our close_notify)");
        else
            log("idle for %llds, closing", static_cast<long long>(opts_.idle_timeout.count()));
    }

private:
    // At most one record's plaintext, so that writing back what one read
    // returned makes one record.
    static constexpr std::size_t buffer_size = 16384;
    static constexpr std::size_t max_request = 16384;

    enum class mode : unsigned char { unknown, echo, http };
    enum class phase : unsigned char { talking, closing, lingering };
    enum class step_result : unsigned char { again, wait, done };

    /** One diagnostic line on stderr, written with a single call. */
    __attribute__((format(printf, 2, 3))) void log(const char* format, ...) const {
        char line[512];
        int n = std::snprintf(line, sizeof line, "conn %u: ", id_);
        std::va_list args;
        va_start(args, format);
        std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, format, args);
        va_end(args);
        std::fprintf(stderr, "%s\n", line);
    }

    void touch() { deadline_ = clock_type::now() + opts_.idle_timeout; }

    /** Logs each completed handshake once: the first, then renegotiations. */
    void note_handshakes() {
        const auto& info = tls_.info();
        if (info.handshakes == handshakes_logged_)
            return;
        handshakes_logged_ = info.handshakes;
        if (info.handshakes == 1)
            log("handshake done: %s %s resumed=%s alpn=%s sni=%s", info.version.c_str(), info.cipher_suite.c_str(),
                info.resumed ? "yes" : "no", info.alpn.empty() ? "-" : info.alpn.c_str(),
                info.server_name.empty() ? "-" : info.server_name.c_str());
        else
            log("handshake %u done (renegotiation) resumed=%s", info.handshakes, info.resumed ? "yes" : "no");
    }

    /** A call returned `e`: wait for readiness, or end the connection. */
    step_result handle(const tlsw::tls_error& e, const char* what) {
        if (e.retryable()) {
            waiting_for_write_ = e == tlsw::errc::want_write;
            return step_result::wait;
        }
        if (e == tlsw::errc::closed)
            log("client closed (close_notify); %llu bytes echoed", static_cast<unsigned long long>(echoed_));
        else
            log("%s: %s", what, e.message().c_str());
        return step_result::done;
    }

    step_result step() {
        switch (phase_) {
        case phase::closing: {
            if (auto r = tls_.shutdown(); !r)
                return handle(r.error(), "shutdown");
            log("sent close_notify");
            // Half-close the TCP side too, then read until the client goes:
            // closing a socket with unread bytes would send a reset, which
            // can overtake our close_notify at the client.
            (void)tls_.transport().shutdown_write();
            phase_ = phase::lingering;
            deadline_ = clock_type::now() + std::chrono::seconds(2);
            return step_result::again;
        }
        case phase::lingering: {
            auto r = tls_.read(std::span(buffer_.get(), buffer_size));
            if (r)
                return step_result::again;  // data after our close_notify: dropped
            if (r.error().retryable())
                return handle(r.error(), "linger");
            log("closed");
            return step_result::done;
        }
        case phase::talking: break;
        }

        if (!responses_.empty())
            return write_front();

        if (renegotiation_due()) {
            renegotiated_ = true;
            log("starting renegotiation after %llu bytes", static_cast<unsigned long long>(echoed_));
            auto r = tls_.renegotiate();
            if (!r && r.error() == tlsw::errc::invalid_state) {
                // A --policy file that refuses renegotiation: carry on without.
                log("cannot renegotiate: %s", r.error().message().c_str());
            } else if (!r && r.error() == tlsw::errc::want_write) {
                // The HelloRequest waits for room; the next call sends it
                // (repeating renegotiate() would also do).
            } else if (!r) {
                return handle(r.error(), "renegotiate");
            }
            return step_result::again;
        }

        auto n = tls_.read(std::span(buffer_.get(), buffer_size));
        note_handshakes();  // before the data it may have completed the handshake for
        if (!n)
            return handle(n.error(), "read");
        touch();
        const std::string_view data(reinterpret_cast<const char*>(buffer_.get()), *n);
        if (mode_ == mode::unknown)
            mode_ = data.starts_with("GET ") ? mode::http : mode::echo;
        if (mode_ == mode::echo)
            echo(data);
        else
            http(data);
        return step_result::again;
    }

    /** Writes the first queued response, repeating the same call (same
        buffer) after want_read / want_write as the write contract asks. */
    step_result write_front() {
        const std::string& out = responses_.front();
        auto n = tls_.write(bytes_of(out));
        if (!n)
            return handle(n.error(), "write");
        touch();
        if (mode_ == mode::echo)
            echoed_ += out.size();
        responses_.pop_front();
        if (responses_.empty() && close_after_) {
            phase_ = phase::closing;
        }
        return step_result::again;
    }

    bool renegotiation_due() const {
        return opts_.renegotiate_after && !renegotiated_ && echoed_ >= *opts_.renegotiate_after &&
               responses_.empty() && tls_.pending() == 0 && !tls_.handshake_pending();
    }

    void echo(std::string_view data) {
        responses_.emplace_back(data);
        // A line "quit" (also "quit\r") ends the conversation once echoed.
        for (char c : data) {
            if (c == '\n') {
                if (line_ == "quit" || line_ == "quit\r")
                    close_after_ = true;
                line_.clear();
            } else if (line_.size() < 6) {
                line_ += c;
            } else {
                line_ = "xxxxxx";  // longer than any command
            }
        }
        if (close_after_)
            log("quit received");
    }

    void http(std::string_view data) {
        request_.append(data);
        for (;;) {
            const auto end = request_.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (request_.size() > max_request) {
                    respond(431, "Request Header Fields Too Large", "request too large\n", true);
                    request_.clear();
                }
                return;
            }
            const std::string head = request_.substr(0, end);
            request_.erase(0, end + 4);
            answer(head);
            if (close_after_)
                return;
        }
    }

    /** Answers one request (its head, without the blank line). */
    void answer(std::string_view head) {
        const std::string_view line = head.substr(0, head.find("\r\n"));
        // GET <path> HTTP/1.x
        const auto sp1 = line.find(' ');
        const auto sp2 = line.rfind(' ');
        const std::string_view method = line.substr(0, sp1);
        const std::string_view path = sp1 == sp2 ? std::string_view() : line.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::string_view version = sp1 == sp2 ? std::string_view() : line.substr(sp2 + 1);
        if (method != "GET" || path.empty() || path.find(' ') != std::string_view::npos ||
            (version != "HTTP/1.1" && version != "HTTP/1.0")) {
            log("bad request line");
            respond(400, "Bad Request", "bad request\n", true);
            return;
        }
        const auto& info = tls_.info();
        std::string body = "hello from tlsw\npath: " + std::string(path) + "\nprotocol: " + info.version +
                           "\ncipher: " + info.cipher_suite + "\nresumed: " + (info.resumed ? "yes" : "no") + "\n";
        log("GET %.*s", static_cast<int>(path.size()), path.data());
        // Keep-alive unless the client asks to close (or speaks HTTP/1.0
        // without asking to keep it).
        const bool close = has_header(head, "connection", "close") ||
                           (version == "HTTP/1.0" && !has_header(head, "connection", "keep-alive"));
        respond(200, "OK", body, close);
    }

    /** True when the request head has header `name` with `value` (both
        compared without regard to case). */
    static bool has_header(std::string_view head, std::string_view name, std::string_view value) {
        const auto lower = [](std::string_view s) {
            std::string out(s);
            for (char& c : out)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return out;
        };
        const std::string text = lower(head);
        const std::string wanted = "\r\n" + lower(name) + ":";
        for (auto at = text.find(wanted); at != std::string::npos; at = text.find(wanted, at + 1)) {
            const auto end = text.find("\r\n", at + 2);
            std::string_view field = std::string_view(text).substr(at + wanted.size(), end - at - wanted.size());
            while (!field.empty() && field.front() == ' ')
                field.remove_prefix(1);
            while (!field.empty() && field.back() == ' ')
                field.remove_suffix(1);
            if (field == lower(value))
                return true;
        }
        return false;
    }

    void respond(int status, std::string_view reason, std::string_view body, bool close) {
        std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                          "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: " + (close ? "close" : "keep-alive") + "\r\n\r\n";
        out += body;
        responses_.push_back(std::move(out));  // one write, so one record (it is far below 16 KiB)
        close_after_ = close_after_ || close;
    }

    unsigned id_;
    const options& opts_;
    stream tls_;
    std::unique_ptr<std::byte[]> buffer_;
    std::deque<std::string> responses_;  // the front is being written
    std::string request_;                // HTTP: bytes of requests not yet complete
    std::string line_;                   // echo: the start of the current line
    std::uint64_t echoed_ = 0;
    clock_type::time_point deadline_;
    std::uint32_t handshakes_logged_ = 0;
    mode mode_ = mode::unknown;
    phase phase_ = phase::talking;
    bool waiting_for_write_ = false;
    bool close_after_ = false;
    bool renegotiated_ = false;
};

int run(const options& opts) {
    auto creds = tlsw::credentials::from_files(opts.cert, opts.key);
    if (!creds) {
        // The message names the file, the PEM block and the reason.
        std::fprintf(stderr, "server: cannot load the certificate and key: %s\n", creds.error().message().c_str());
        return 1;
    }
    auto ctx = tlsw::context::server(*creds);
    ctx.allow_client_renegotiation(opts.allow_client_renegotiation);
    if (!opts.alpn.empty())
        ctx.alpn(opts.alpn);
    if (!opts.policy.empty()) {
        if (auto r = ctx.policy_file(opts.policy); !r) {
            std::fprintf(stderr, "server: policy %s: %s\n", opts.policy.c_str(), r.error().message().c_str());
            return 1;
        }
    }

    auto listener = tlsw::tcp_listener::listen(opts.address, opts.port);
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

    std::list<connection> connections;
    std::vector<pollfd> fds;
    std::vector<std::list<connection>::iterator> polled;
    unsigned next_id = 1;
    std::uint64_t ended = 0;
    auto pause_accept_until = clock_type::time_point::min();

    const auto finish = [&](std::list<connection>::iterator it) {
        connections.erase(it);
        ++ended;
    };

    while (!opts.exit_after || ended < *opts.exit_after) {
        const auto now = clock_type::now();
        fds.clear();
        polled.clear();
        const bool accepting = now >= pause_accept_until;
        fds.push_back({accepting ? listener->native_handle() : -1, POLLIN, 0});
        auto next_deadline = accepting ? clock_type::time_point::max() : pause_accept_until;
        for (auto it = connections.begin(); it != connections.end(); ++it) {
            fds.push_back({it->fd(), it->events(), 0});
            polled.push_back(it);
            next_deadline = std::min(next_deadline, it->deadline());
        }
        int timeout = -1;
        if (next_deadline != clock_type::time_point::max()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - now).count();
            timeout = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
        }
        if (::poll(fds.data(), fds.size(), timeout) < 0) {
            if (errno == EINTR)
                continue;
            std::perror("server: poll");
            return 1;
        }

        for (std::size_t i = 0; i < polled.size(); ++i) {
            auto it = polled[i];
            if (fds[i + 1].revents != 0) {
                if (!it->run())
                    finish(it);
            } else if (clock_type::now() >= it->deadline()) {
                it->expire();
                finish(it);
            }
        }

        if (fds[0].revents != 0) {
            for (;;) {
                auto socket = listener->accept_nonblocking();
                if (!socket) {
                    if (!tlsw::is_would_block(socket.error())) {
                        // Out of descriptors, typically: stop accepting for a
                        // moment rather than spin on a readable listener.
                        std::fprintf(stderr, "server: accept: %s\n", socket.error().message().c_str());
                        pause_accept_until = clock_type::now() + std::chrono::milliseconds(100);
                    }
                    break;
                }
                const unsigned id = next_id++;
                std::fprintf(stderr, "conn %u: accepted from port %u\n", id, unsigned{socket->peer_port()});
                connections.emplace_back(id, ctx, std::move(*socket), opts);
                if (!connections.back().run())
                    finish(std::prev(connections.end()));
            }
        }
    }
    std::fprintf(stderr, "server: %llu connections served, exiting\n", static_cast<unsigned long long>(ended));
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
