#include "connection.hpp"

#include "http.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <utility>

#include <poll.h>

namespace example {

namespace {

// A response is one write, so one record: the largest /echo body leaves
// room for the response head within the 16 KiB of one record.
constexpr std::size_t max_body = connection::stream::max_record - 512;
// Buffers larger than this are given back once empty, so that an idle
// connection holds no request-sized memory.
constexpr std::size_t keep_capacity = 1024;

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

/** The request line as it may go to the log: printable, at most 200 characters. */
std::string printable(std::string_view text) {
    std::string out(text.substr(0, 200));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            c = '?';
    if (text.size() > 200)
        out += "...";
    return out;
}

long long seconds(std::chrono::milliseconds d) { return static_cast<long long>(d.count() / 1000); }

}  // namespace

void log_line(bool quiet, const char* format, ...) {
    if (quiet)
        return;
    char line[1024];
    std::va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (n < 0)
        return;
    const auto length = std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 2);
    line[length] = '\n';
    std::fwrite(line, 1, length + 1, stderr);  // stderr is unbuffered: one write per line
}

connection::connection(unsigned id, const tlsw::context& ctx, tlsw::nonblocking_socket socket,
                       const settings& config, counters& stats, std::span<std::byte> scratch)
    : id_(id), config_(config), stats_(stats), scratch_(scratch), tls_(ctx, std::move(socket)),
      accepted_(clock_type::now()), last_progress_(accepted_) {
    // Responses are single small records: send each at once.
    (void)tls_.transport().set_nodelay(true);
}

void connection::log(const char* format, ...) const {
    if (config_.quiet)
        return;
    char text[900];
    std::va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    log_line(false, "conn %u: %s", id_, text);
}

short connection::events() const noexcept { return wants_write_ ? POLLOUT : POLLIN; }

bool connection::has_work() const noexcept { return more_ || tls_.has_pending(); }

clock_type::time_point connection::deadline() const noexcept {
    switch (phase_) {
    case phase::handshake: return accepted_ + config_.handshake_timeout;
    case phase::closing:
    case phase::lingering: return linger_until_;
    case phase::open: break;
    }
    // A response that waits for the client to read: idle. A request being
    // received: its own clock, which bytes trickling in do not reset (a
    // slow-loris client sends one byte per second forever).
    if (out_.empty() && request_started_)
        return *request_started_ + config_.request_timeout;
    const auto idle = last_progress_ + config_.idle_timeout;
    return close_after_ ? std::min(idle, linger_until_) : idle;
}

bool connection::idle() const noexcept {
    return phase_ == phase::open && out_.empty() && in_.empty() && !tls_.has_pending();
}

bool connection::end(const char* reason) {
    log("closed: %s", reason);
    ++stats_.closed;
    return false;
}

bool connection::end_with_error(const tlsw::tls_error& e, const char* what) {
    char reason[512];
    std::snprintf(reason, sizeof reason, "%s: %s", what, e.message().c_str());
    return end(reason);
}

bool connection::wait_for(const tlsw::tls_error& e) {
    wants_write_ = e == tlsw::errc::want_write;
    return true;
}

void connection::note_handshakes() {
    const auto& info = tls_.info();
    if (info.handshakes != handshakes_seen_) {
        if (handshakes_seen_ == 0) {
            ++stats_.handshakes;
            stats_.resumed += info.resumed ? 1 : 0;
            // The client's identity: the verified subject of its certificate
            // (kept across resumption), "anonymous" when it sent none.
            const std::string client = info.peer_verified && !info.peer_chain.empty()
                                           ? info.peer_chain.front().subject
                                           : std::string(info.peer_chain.empty() ? "anonymous" : "unverified");
            log("handshake: %s %s group=%s%s alpn=%s sni=%s resumed=%s client=%s", info.version.c_str(),
                info.standard_cipher_suite.c_str(), info.group.empty() ? "-" : info.group.c_str(),
                info.post_quantum ? " (post-quantum)" : "", info.alpn.empty() ? "-" : info.alpn.c_str(),
                info.server_name.empty() ? "-" : info.server_name.c_str(), info.resumed ? "yes" : "no", client.c_str());
        } else {
            stats_.renegotiations += info.handshakes - handshakes_seen_;
            log("renegotiation: handshake %u, %s group=%s resumed=%s", info.handshakes,
                info.standard_cipher_suite.c_str(), info.group.empty() ? "-" : info.group.c_str(),
                info.resumed ? "yes" : "no");
        }
        handshakes_seen_ = info.handshakes;
    }
    if (info.renegotiations_refused != refusals_seen_) {
        stats_.renegotiations_refused += info.renegotiations_refused - refusals_seen_;
        refusals_seen_ = info.renegotiations_refused;
        log("renegotiation refused (%u on this connection)", refusals_seen_);
    }
}

bool connection::turn() {
    more_ = false;
    wants_write_ = false;
    switch (phase_) {
    case phase::handshake: {
        auto r = tls_.handshake();
        if (!r) {
            if (r.error().retryable())
                return wait_for(r.error());
            ++stats_.handshake_failures;
            return end_with_error(r.error(), "handshake");
        }
        note_handshakes();
        progress();
        phase_ = phase::open;
        // A client that chose http/1.1 by ALPN speaks HTTP whatever it sends.
        if (tls_.info().alpn == "http/1.1")
            mode_ = mode::http;
        more_ = true;  // its first request may be here already
        return true;
    }
    case phase::open: return open_turn();
    case phase::closing: {
        auto r = tls_.shutdown();
        if (!r) {
            if (r.error().retryable())
                return wait_for(r.error());
            return end_with_error(r.error(), "sending close_notify");
        }
        log("sent close_notify");
        // Half-close the TCP side too, then read until the client goes:
        // closing a socket with unread bytes would send a reset, which can
        // overtake our close_notify at the client.
        (void)tls_.transport().shutdown_write();
        phase_ = phase::lingering;
        linger_until_ = clock_type::now() + config_.linger_timeout;
        more_ = true;
        return true;
    }
    case phase::lingering: {
        auto r = tls_.read(scratch_);
        if (r) {
            more_ = true;  // data after our close_notify: dropped
            return true;
        }
        if (r.error().retryable())
            return wait_for(r.error());
        if (r.error() == tlsw::errc::closed || r.error() == tlsw::errc::truncated)
            return end(close_reason_.c_str());
        return end_with_error(r.error(), "after close_notify");
    }
    }
    return false;
}

bool connection::open_turn() {
    enum result : unsigned char { go, wait, over };
    const auto write_step = [this]() -> result {
        auto n = tls_.write(bytes_of(out_));
        note_handshakes();
        if (!n) {
            if (n.error().retryable()) {
                wait_for(n.error());
                return wait;
            }
            end_with_error(n.error(), "write");
            return over;
        }
        progress();
        if (mode_ == mode::echo) {
            echoed_ += out_.size();
            stats_.echoed_bytes += out_.size();
        }
        out_.clear();
        release_buffers();
        // Requests that waited behind this response start their clock now.
        if (!in_.empty() && mode_ == mode::http)
            request_started_ = clock_type::now();
        if (stopping_)
            start_close("server stopping");
        else if (close_after_)
            start_close(close_reason_);
        return go;
    };

    // The response in flight first: while it waits for room, nothing more
    // is read from this client (backpressure on its own connection only).
    if (!out_.empty()) {
        if (const auto r = write_step(); r != go)
            return r == wait;
        more_ = true;
        return true;
    }
    if (stopping_) {
        start_close("server stopping");
        more_ = true;
        return true;
    }

    if (config_.renegotiate_after && !renegotiated_ && echoed_ >= *config_.renegotiate_after &&
        !tls_.has_pending() && !tls_.handshake_pending()) {
        renegotiated_ = true;
        log("starting a renegotiation after %llu bytes echoed", static_cast<unsigned long long>(echoed_));
        auto r = tls_.renegotiate();
        if (!r && (r.error() == tlsw::errc::invalid_state || r.error() == tlsw::errc::wrong_tls_version)) {
            // A --policy file that refuses renegotiation, or a TLS 1.3
            // connection, which has none: carry on without.
            log("cannot renegotiate: %s", r.error().message().c_str());
        } else if (!r && !r.error().retryable()) {
            return end_with_error(r.error(), "renegotiate");
        }
        // On want_write the HelloRequest waits in the stream; the next read
        // flushes it.
        more_ = true;
        return true;
    }

    // One request from what is buffered, else one record from the client.
    if (!answer_one()) {
        auto n = tls_.read(scratch_);
        note_handshakes();
        if (!n) {
            if (n.error().retryable())
                return wait_for(n.error());
            if (n.error() == tlsw::errc::closed)
                return end("client sent close_notify");
            return end_with_error(n.error(), "read");
        }
        progress();
        const std::string_view data(reinterpret_cast<const char*>(scratch_.data()), *n);
        if (mode_ == mode::echo) {
            echo(data);
        } else {
            if (in_.empty())
                request_started_ = clock_type::now();
            in_.append(data);
            if (mode_ == mode::undecided) {
                switch (http::sniff(in_)) {
                case http::sniff_result::http: mode_ = mode::http; break;
                case http::sniff_result::other: {
                    mode_ = mode::echo;
                    request_started_.reset();
                    const std::string first = std::exchange(in_, std::string());
                    echo(first);
                    break;
                }
                case http::sniff_result::undecided: break;
                }
            }
            if (mode_ == mode::http)
                answer_one();
        }
    }

    // Its response at once: most fit in the socket without waiting.
    if (!out_.empty()) {
        if (const auto r = write_step(); r != go)
            return r == wait;
    }
    more_ = true;
    return true;
}

void connection::echo(std::string_view data) {
    out_.assign(data);  // written back as one write of the same length: one record
    // A line "quit" (also "quit\r") ends the conversation once echoed.
    for (char c : data) {
        if (c == '\n') {
            if (line_ == "quit" || line_ == "quit\r") {
                close_after_ = true;
                close_reason_ = "quit";
                linger_until_ = clock_type::now() + config_.linger_timeout;
            }
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

bool connection::answer_one() {
    if (mode_ != mode::http)
        return false;
    // Line ends between requests (clients may add one after a body) are no
    // request: they must not start the request timeout.
    in_.erase(0, std::min(in_.find_first_not_of("\r\n"), in_.size()));
    if (in_.empty()) {
        request_started_.reset();
        return false;
    }
    const auto parsed = http::parse(in_);
    if (parsed.kind == http::parse_result::incomplete)
        return false;
    if (parsed.kind == http::parse_result::bad) {
        ++stats_.requests;
        ++stats_.bad_requests;
        log("bad request (%s): 400", parsed.why);
        close_reason_ = "bad request";
        respond(http::response(400, "Bad Request", std::string(parsed.why) + "\n", false), false);
        in_.clear();
        return true;
    }
    const auto& req = parsed.req;
    const std::string line = printable(req.line);
    const auto refuse = [&](int status, const char* reason, std::string_view body) {
        ++stats_.requests;
        ++stats_.bad_requests;
        log("\"%s\" %d", line.c_str(), status);
        close_reason_ = "refused request";
        respond(http::response(status, reason, body, false), false);
        in_.clear();
        return true;
    };
    if (req.has_transfer_encoding)
        return refuse(501, "Not Implemented", "Transfer-Encoding is not supported\n");
    if (req.content_length > max_body)
        return refuse(413, "Content Too Large", "the body is larger than one record\n");
    if (in_.size() < parsed.head_size + req.content_length)
        return false;  // the body is still coming

    ++stats_.requests;
    const std::string_view body = std::string_view(in_).substr(parsed.head_size, req.content_length);
    int status = 200;
    std::string response;
    if (req.method == "GET" || req.method == "HEAD") {
        const auto& info = tls_.info();
        std::string text = "hello from tlsw\npath: " + std::string(req.target) + "\nprotocol: " + info.version +
                           "\ncipher: " + info.cipher_suite + "\nalpn: " + (info.alpn.empty() ? "-" : info.alpn) +
                           "\nresumed: " + (info.resumed ? "yes" : "no") + "\n";
        response = http::response(200, "OK", text, req.keep_alive, req.method == "HEAD");
    } else if (req.method == "POST" && req.target == "/echo") {
        response = http::response(200, "OK", body, req.keep_alive);
    } else {
        const bool known = std::find(http::methods.begin(), http::methods.end(), req.method) != http::methods.end();
        status = known ? 405 : 501;
        response = known ? http::response(405, "Method Not Allowed", "only GET, HEAD and POST /echo\n", req.keep_alive,
                                          false, "Allow: GET, HEAD, POST\r\n")
                         : http::response(501, "Not Implemented", "unknown method\n", req.keep_alive);
    }
    log("\"%s\" %d", line.c_str(), status);
    in_.erase(0, parsed.head_size + req.content_length);
    request_started_.reset();
    if (!in_.empty())
        request_started_ = clock_type::now();  // the next request, pipelined
    if (!req.keep_alive)
        close_reason_ = "request without keep-alive answered";
    respond(std::move(response), req.keep_alive);
    return true;
}

void connection::respond(std::string response, bool keep_alive) {
    out_ = std::move(response);
    if (!keep_alive) {
        close_after_ = true;
        // A client that then reads nothing does not hold the connection
        // for the whole idle timeout.
        linger_until_ = clock_type::now() + config_.linger_timeout;
    }
}

void connection::start_close(std::string reason) {
    close_reason_ = std::move(reason);
    phase_ = phase::closing;
    linger_until_ = clock_type::now() + config_.linger_timeout;
    in_.clear();
    release_buffers();
}

void connection::release_buffers() {
    if (in_.empty() && in_.capacity() > keep_capacity)
        std::string().swap(in_);
    if (out_.empty() && out_.capacity() > keep_capacity)
        std::string().swap(out_);
}

bool connection::expire() {
    char reason[128];
    switch (phase_) {
    case phase::handshake:
        ++stats_.timeouts;
        ++stats_.handshake_failures;
        std::snprintf(reason, sizeof reason, "handshake timeout (%llds)", seconds(config_.handshake_timeout));
        return end(reason);
    case phase::closing:
    case phase::lingering: return end((close_reason_ + "; no close_notify back in time").c_str());
    case phase::open: break;
    }
    ++stats_.timeouts;
    if (out_.empty() && request_started_) {
        std::snprintf(reason, sizeof reason, "request timeout (%llds)", seconds(config_.request_timeout));
        if (mode_ != mode::http)
            return end(reason);
        // 408 and close_notify, within the linger time.
        log("%s: 408", reason);
        in_.clear();
        request_started_.reset();
        respond(http::response(408, "Request Timeout", "request timeout\n", false), false);
        close_reason_ = reason;
        more_ = true;
        return true;
    }
    if (!out_.empty())
        return end(close_after_ ? "the client did not read our last response in time"
                                : "idle timeout (the client reads nothing)");
    // Idle between requests: a close_notify, so that the client can tell
    // this close from an attack on the connection.
    std::snprintf(reason, sizeof reason, "idle timeout (%llds)", seconds(config_.idle_timeout));
    start_close(reason);
    more_ = true;
    return true;
}

bool connection::stop() {
    stopping_ = true;
    switch (phase_) {
    case phase::handshake: return end("server stopping");
    case phase::open:
        if (out_.empty())
            start_close("server stopping");
        more_ = true;
        return true;
    case phase::closing:
    case phase::lingering: return true;
    }
    return false;
}

}  // namespace example
