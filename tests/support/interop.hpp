#ifndef TLSW_TESTS_SUPPORT_INTEROP_HPP
#define TLSW_TESTS_SUPPORT_INTEROP_HPP

// What the interoperability tests share (tests/interop_*.cpp, issue 4):
// a temporary directory with the test PKI as PEM files for command-line
// peers, free ports, readiness checks, payloads, hashes, an in-process tlsw
// echo/HTTP server, and a driver that runs a nonblocking tlsw stream in the
// same poll() loop as a child process's pipes.

#include "bytes.hpp"
#include "process.hpp"

#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tlsw.hpp>

#include <botan/hash.h>
#include <botan/hex.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace tlsw_test {

using namespace std::chrono_literals;

/** Skips the rest of a test, loudly, when a peer program is not installed.
    Use it before the first SECTION: a return inside one would hide the
    sections after it. */
#define TLSW_REQUIRE_PROGRAM(program)                                                                    \
    do {                                                                                                 \
        if (!::tlsw_test::program_exists(program)) {                                                     \
            WARN("SKIPPED: " << (program) << " is not installed (scripts/install-deps.sh test installs " \
                                             "openssl, gnutls-bin and curl)");                          \
            SUCCEED();                                                                                   \
            return;                                                                                      \
        }                                                                                                \
    } while (false)

/** A fresh directory under $TMPDIR (or /tmp), removed with its contents. */
class temp_dir {
public:
    temp_dir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/tlsw-interop-XXXXXX";
        if (!::mkdtemp(pattern.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/** A CA and a "localhost" leaf, in memory and as PEM files in a temporary
    directory, with the contexts the tests build from them. */
struct pki_fixture {
    temp_dir dir;
    tlsw::testing::test_pki pki = tlsw::testing::make_test_pki("localhost");
    tlsw::testing::pki_files files = tlsw::testing::write_files(pki, dir.path());

    tlsw::credentials server_credentials() const {
        auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
        if (!creds)
            throw std::runtime_error("test credentials do not load");
        return *creds;
    }
    tlsw::context server_context() const { return tlsw::context::server(server_credentials()); }
    /** A client context that trusts this PKI's CA only. */
    tlsw::context client_context() const {
        auto ctx = tlsw::context::client();
        ctx.use_system_trust(false);
        if (!ctx.trust(pki.ca_cert_pem))
            throw std::runtime_error("test CA does not load");
        return ctx;
    }
    std::string ca() const { return files.ca.string(); }
    std::string chain() const { return files.chain.string(); }
    std::string key() const { return files.key.string(); }
};

/** A port nothing listens on right now: bound on 127.0.0.1 port 0, then
    released. Another process may take it before the peer does; callers
    retry (start_listening_peer). */
inline std::uint16_t unused_port() {
    auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
    if (!listener)
        throw std::runtime_error("cannot bind a port: " + listener.error().message());
    return listener->port();
}

/** True when some socket listens on `port` (Linux: /proc/net/tcp and tcp6).
    Unlike a probe connection, this does not disturb a server that serves
    one connection at a time. */
inline bool port_listening(std::uint16_t port) {
    char wanted[8];
    std::snprintf(wanted, sizeof wanted, ":%04X", unsigned{port});
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            if (state == "0A" && local.size() >= 5 && local.ends_with(wanted))
                return true;
        }
    }
    return false;
}

/** Starts a server program on an unused port: `make_argv(port)` gives its
    command line. Waits until it listens; retries with another port when it
    exits first (another process took the port). */
inline std::unique_ptr<child_process> start_listening_peer(
    const std::function<std::vector<std::string>(std::uint16_t)>& make_argv, std::uint16_t& port) {
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {
        port = unused_port();
        auto child = std::make_unique<child_process>(make_argv(port));
        const bool up = child->wait_until([&] { return port_listening(port) || !child->running(); }, 10s);
        if (up && child->running())
            return child;
        last = child->transcript();
    }
    FAIL("the peer server did not start listening:\n" << last);
    return nullptr;
}

/** `openssl s_server` presenting the fixture's leaf on an unused port (set
    in `port`), with `extra` arguments; stopped with the returned process. */
inline std::unique_ptr<child_process> start_s_server(const pki_fixture& f, std::uint16_t& port,
                                              std::vector<std::string> extra) {
    return start_listening_peer(
        [&](std::uint16_t p) {
            std::vector<std::string> argv = {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(p),
                                             "-cert", f.chain(), "-key", f.key()};
            argv.insert(argv.end(), extra.begin(), extra.end());
            return argv;
        },
        port);
}

/** Bounds every blocking send and receive on `fd`: a test's helper
    thread on a blocking socket ends even when its peer goes silent. */
inline void set_socket_timeouts(int fd, std::chrono::seconds limit) {
    const timeval tv{static_cast<time_t>(limit.count()), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/** The size of the large transfers of the interoperability tests. */
constexpr std::size_t four_mib = 4u << 20;

/** Printable bytes for peers that treat their input as text: no letter
    that openssl s_client / s_server or gnutls-cli read as a command at the
    start of a read (Q q R r K k C c P S B), no '^' (gnutls inline
    commands), no '\r', never a line "quit"; a newline every 65 bytes and
    as the last byte, so that a "quit\n" appended is a line of its own. */
inline std::string text_payload(std::size_t size, std::uint32_t seed) {
    static constexpr std::string_view alphabet = "abdefghijlmnotuvwxyz0123456789-+";
    std::string out(size, '\n');
    std::uint32_t x = seed * 2654435761u + 1;
    for (std::size_t i = 0; i < size; ++i) {
        if (i % 65 == 64)
            continue;  // keeps the '\n'
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = alphabet[x % alphabet.size()];
    }
    if (size > 0)
        out.back() = '\n';
    return out;
}

inline std::string sha256(std::string_view data) {
    auto hash = Botan::HashFunction::create_or_throw("SHA-256");
    hash->update(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    return Botan::hex_encode(hash->final());
}

/** An in-process tlsw server on 127.0.0.1 (OS-chosen port), serving one
    connection at a time in its own thread over a nonblocking socket.

    Per connection, like examples/server: a first read starting "GET " is
    HTTP (GET /bytes/N answers N bytes of text_payload(N, 1), any other path
    a short text naming it; keep-alive), anything else is echoed read by
    read, and a line "quit" makes it send close_notify and close. Every
    wait is bounded (20 s without progress ends the connection) and the
    destructor stops the thread.
*/
class tlsw_server {
public:
    /** What one connection did, reported when it ends. */
    struct report {
        tlsw::session_info info;
        std::uint64_t bytes_echoed = 0;
        std::vector<std::string> requests;  // HTTP request lines
        std::string end;                    // "closed by client", "quit", or the error
    };

    explicit tlsw_server(tlsw::context ctx) : ctx_(std::move(ctx)) {
        auto listener = tlsw::tcp_listener::listen("127.0.0.1", 0);
        if (!listener)
            throw std::runtime_error("listen: " + listener.error().message());
        listener_ = std::move(*listener);
        port_ = listener_.port();
        thread_ = std::thread([this] { serve(); });
    }
    tlsw_server(const tlsw_server&) = delete;
    tlsw_server& operator=(const tlsw_server&) = delete;
    ~tlsw_server() {
        stop_ = true;
        thread_.join();
    }

    std::uint16_t port() const noexcept { return port_; }

    /** Handshakes completed on the connection being served (0 between
        connections), updated after every call on the stream: lets a test
        wait for a renegotiation to finish. */
    std::uint32_t live_handshakes() const noexcept { return live_handshakes_.load(); }

    /** Waits until `n` connections have ended; returns the reports so far. */
    std::vector<report> wait_reports(std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, timeout, [&] { return reports_.size() >= n; });
        return reports_;
    }

private:
    using stream = tlsw::tls_stream<tlsw::nonblocking_socket>;

    void serve() {
        while (!stop_) {
            if (!listener_.wait_readable(50ms))
                continue;
            auto socket = listener_.accept_nonblocking();
            if (!socket)
                continue;
            stream tls(ctx_, std::move(*socket));
            report r = converse(tls);
            r.info = tls.info();
            live_handshakes_ = 0;
            {
                std::lock_guard lock(mutex_);
                reports_.push_back(std::move(r));
            }
            changed_.notify_all();
        }
    }

    /** Repeats `call` after want_read / want_write until it returns
        something else; 20 s without readiness, or stop(), is a failure. */
    template <class Call>
    auto retry(stream& tls, Call call) -> decltype(call()) {
        for (;;) {
            auto r = call();
            live_handshakes_ = tls.info().handshakes;
            if (r || !r.error().retryable())
                return r;
            const auto want = r.error() == tlsw::errc::want_write ? tlsw::readiness::writable
                                                                   : tlsw::readiness::readable;
            bool ready = false;
            for (int slice = 0; slice < 400 && !ready && !stop_; ++slice)
                ready = tls.transport().wait(want, 50ms);
            if (!ready)
                return tlsw::unexpected(tlsw::tls_error::from_transport(std::make_error_code(std::errc::timed_out)));
        }
    }

    report converse(stream& tls) {
        report r;
        std::vector<std::byte> buffer(16384);
        std::string line, request;
        bool http = false, first = true;
        for (;;) {
            auto n = retry(tls, [&] { return tls.read(buffer); });
            if (!n) {
                r.end = n.error() == tlsw::errc::closed ? "closed by client" : n.error().message();
                return r;
            }
            const std::string_view data(reinterpret_cast<const char*>(buffer.data()), *n);
            if (first)
                http = data.starts_with("GET ");
            first = false;
            if (http) {
                request.append(data);
                for (auto end = request.find("\r\n\r\n"); end != std::string::npos; end = request.find("\r\n\r\n")) {
                    const std::string head = request.substr(0, end);
                    request.erase(0, end + 4);
                    const std::string request_line = head.substr(0, head.find("\r\n"));
                    r.requests.push_back(request_line);
                    const std::string response = http_response(request_line);
                    if (auto w = retry(tls, [&] { return tls.write(bytes_of(response)); }); !w) {
                        r.end = w.error().message();
                        return r;
                    }
                }
                continue;
            }
            const auto echo = std::span(buffer).first(*n);
            if (auto w = retry(tls, [&] { return tls.write(echo); }); !w) {
                r.end = w.error().message();
                return r;
            }
            r.bytes_echoed += *n;
            for (char c : data) {
                if (c != '\n') {
                    if (line.size() < 8)
                        line += c;
                    continue;
                }
                if (line == "quit") {
                    auto s = retry(tls, [&] { return tls.shutdown(); });
                    r.end = s ? "quit" : "quit, then " + s.error().message();
                    return r;
                }
                line.clear();
            }
        }
    }

    static std::string http_response(const std::string& request_line) {
        // GET <path> HTTP/1.x
        const auto sp1 = request_line.find(' ');
        const auto sp2 = request_line.rfind(' ');
        const std::string path = sp1 == sp2 ? "" : request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string body;
        if (path.starts_with("/bytes/"))
            body = text_payload(std::stoul(path.substr(7)), 1);
        else
            body = "path: " + path + "\n";
        return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: keep-alive\r\n\r\n" + body;
    }

    tlsw::context ctx_;
    tlsw::tcp_listener listener_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint32_t> live_handshakes_{0};
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<report> reports_;
    std::thread thread_;
};

/** Runs a nonblocking tlsw stream in the caller's poll() loop: sends what
    send() queued (repeating each write with the same arguments after
    want_read / want_write, as the write contract asks) and collects what
    arrives, without ever waiting itself. */
template <class Stream>
class tls_driver {
public:
    explicit tls_driver(Stream& tls) : tls_(tls), buffer_(16384) {}

    /** Queues bytes to send. */
    void send(std::string data) {
        if (!data.empty())
            queue_.push_back(std::move(data));
    }
    /** Sends close_notify once the queue is empty. */
    void shutdown() { shutdown_ = true; }

    /** Makes all the progress possible now. */
    void step() {
        if (done())
            return;
        wants_write_ = false;
        while (!queue_.empty()) {
            const std::string& front = queue_.front();
            const std::size_t chunk = std::min<std::size_t>(front.size() - offset_, 65536);
            auto n = tls_.write(bytes_of(std::string_view(front).substr(offset_, chunk)));
            if (!n) {
                if (!note(n.error()))
                    return;
                break;
            }
            offset_ += *n;
            sent_ += *n;
            if (offset_ == front.size()) {
                queue_.pop_front();
                offset_ = 0;
            }
        }
        if (queue_.empty() && shutdown_ && !shutdown_sent_) {
            auto r = tls_.shutdown();
            if (r)
                shutdown_sent_ = true;
            else if (!note(r.error()))
                return;
        }
        for (;;) {
            auto n = tls_.read(buffer_);
            if (n) {
                received_.append(reinterpret_cast<const char*>(buffer_.data()), *n);
                continue;
            }
            if (n.error() == tlsw::errc::closed)
                closed_ = true;
            else
                note(n.error());
            return;
        }
    }

    /** The descriptor and events to poll for before the next step(). */
    pollfd poll_entry() const {
        return {done() ? -1 : tls_.transport().native_handle(),
                static_cast<short>(POLLIN | (wants_write_ ? POLLOUT : 0)), 0};
    }

    /** Steps, pumping `child` in between, until pred() or `timeout`. */
    template <class Pred>
    bool run_until(child_process* child, Pred pred, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            step();
            if (pred())
                return true;
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            pollfd p = poll_entry();
            if (child)
                child->pump(50ms, std::span(&p, 1));
            else
                ::poll(&p, 1, 50);
        }
    }

    bool done() const noexcept { return closed_ || error_.has_value(); }
    bool closed() const noexcept { return closed_; }  ///< the peer's close_notify arrived
    const std::optional<tlsw::tls_error>& error() const noexcept { return error_; }
    std::string error_message() const { return error_ ? error_->message() : std::string("none"); }
    const std::string& received() const noexcept { return received_; }
    std::uint64_t sent() const noexcept { return sent_; }
    bool queue_empty() const noexcept { return queue_.empty(); }

private:
    /** Records a failed call: true to go on (want_*), false when final. */
    bool note(const tlsw::tls_error& e) {
        if (e.retryable()) {
            wants_write_ = wants_write_ || e == tlsw::errc::want_write;
            return true;
        }
        if (!error_)
            error_ = e;
        return false;
    }

    Stream& tls_;
    std::vector<std::byte> buffer_;
    std::deque<std::string> queue_;  // deque: push_back keeps the front's buffer in place for write retries
    std::size_t offset_ = 0;
    std::uint64_t sent_ = 0;
    std::string received_;
    std::optional<tlsw::tls_error> error_;
    bool wants_write_ = false;
    bool shutdown_ = false;
    bool shutdown_sent_ = false;
    bool closed_ = false;
};

}  // namespace tlsw_test

#endif
