#ifndef TLSW_TESTS_SUPPORT_EXAMPLE_PROGRAMS_HPP
#define TLSW_TESTS_SUPPORT_EXAMPLE_PROGRAMS_HPP

// What the tests of the example programs share (tests/examples.cpp,
// tests/example_server.cpp, tests/soak_server.cpp): the programs' paths,
// examples/server started on an OS-chosen port, bounded client sockets,
// and readers for echo data and HTTP responses. The programs' directory
// comes from examples/meson.build (TLSW_EXAMPLES_DIR).

#include "interop.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#ifndef TLSW_EXAMPLES_DIR
#error "examples/meson.build defines TLSW_EXAMPLES_DIR"
#endif

// Under AddressSanitizer freed memory waits in quarantine and mallinfo2()
// knows nothing: memory figures are printed but not checked.
#if defined(__SANITIZE_ADDRESS__)
#define TLSW_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLSW_SANITIZED 1
#endif
#endif

namespace tlsw_test {

inline std::string example(std::string_view name) {
    return std::string(TLSW_EXAMPLES_DIR) + "/" + std::string(name);
}

/** examples/server on 127.0.0.1, port chosen by the OS and read from its
    stdout. The child_process destructor stops it. */
struct example_server {
    std::unique_ptr<child_process> process;
    std::uint16_t port = 0;

    explicit example_server(const pki_fixture& f, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {example("server"), "--cert", f.chain(), "--key", f.key(), "--print-port"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        process = std::make_unique<child_process>(argv);
        const bool up = process->wait_until([&] { return process->out().find('\n') != std::string::npos; }, 20s);
        INFO(process->transcript());
        REQUIRE(up);
        port = static_cast<std::uint16_t>(std::stoul(process->out()));
        CHECK(process->err().find("listening on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
    }
    child_process& operator*() { return *process; }
    child_process* operator->() { return process.get(); }

    /** The server's resident memory in KiB (VmRSS of /proc/PID/status), 0 if unknown. */
    std::size_t rss_kib() const {
        std::ifstream in("/proc/" + std::to_string(process->pid()) + "/status");
        std::string line;
        while (std::getline(in, line))
            if (line.starts_with("VmRSS:"))
                return std::stoull(line.substr(6));
        return 0;
    }
};

/** Checks the usage convention every example follows: `--help` prints
    the usage on stdout and exits 0; an unknown option prints it on stderr
    and exits 2. */
inline void check_usage(std::string_view name) {
    CAPTURE(name);
    child_process help({example(name), "--help"});
    REQUIRE(help.wait_exit(20s) == 0);
    CHECK(help.out().starts_with("usage: "));
    child_process bad({example(name), "--no-such-option", "x"});
    CHECK(bad.wait_exit(20s) == 2);
    CHECK(bad.err().starts_with("usage: "));
}

inline std::vector<std::string> example_client(const pki_fixture& f, std::uint16_t port,
                                               std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {example("client"), "--ca-file", f.ca(), "--server-name", "localhost"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("127.0.0.1");
    argv.push_back(std::to_string(port));
    return argv;
}

/** Pumps a client and a server process until pred() holds (30 s at most). */
template <class Pred>
bool both_until(child_process& a, child_process& b, Pred pred) {
    child_process* both[] = {&a, &b};
    return child_process::wait_until_all(both, pred, 30s);
}

/** A blocking socket connected to 127.0.0.1:port whose reads and writes
    give up after `limit`: a broken server fails the test instead of
    hanging it. */
inline tlsw::blocking_socket bounded_connect(std::uint16_t port, std::chrono::seconds limit = 20s) {
    auto socket = tlsw::blocking_socket::connect("127.0.0.1", port, 10s);
    REQUIRE(socket);
    set_socket_timeouts(socket->native_handle(), limit);
    return std::move(*socket);
}

/** A blocking client; partial_write makes each write of a few bytes one
    record of its own. */
using client_stream = tlsw::tls_stream<tlsw::blocking_socket, tlsw::partial_write>;

/** Writes `text` whole (over partial_write: record after record); false
    on an error. Uses no Catch2 macro: soak workers call it from threads. */
inline bool write_all(client_stream& tls, std::string_view text) {
    while (!text.empty()) {
        auto n = tls.write(bytes_of(text));
        if (!n)
            return false;
        text.remove_prefix(*n);
    }
    return true;
}

/** Reads until `size` bytes arrived (or an error); returns them. Like the
    other readers here it uses no Catch2 macro (soak workers are threads). */
template <class Stream>
std::string read_exactly(Stream& tls, std::size_t size) {
    std::string got;
    std::vector<std::byte> buffer(16384);
    while (got.size() < size) {
        auto n = tls.read(buffer);
        if (!n)
            break;
        got.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
    return got;
}

/** Reads one HTTP response: its head, then Content-Length bytes of body.
    Returns what arrived, shorter on an error (the caller compares). */
template <class Stream>
std::string read_response(Stream& tls) {
    std::string response;
    std::vector<std::byte> buffer(16384);
    std::size_t expected = std::string::npos;
    while (response.size() < expected) {
        auto n = tls.read(buffer);
        if (!n)
            break;
        response.append(reinterpret_cast<const char*>(buffer.data()), *n);
        const auto head_end = response.find("\r\n\r\n");
        const auto length_at = response.find("Content-Length: ");
        if (head_end != std::string::npos && length_at != std::string::npos && length_at < head_end)
            expected = head_end + 4 + std::stoul(response.substr(length_at + 16));
    }
    return response;
}

/** The body of an HTTP response (after the blank line), or empty. */
inline std::string body_of(const std::string& response) {
    const auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : response.substr(at + 4);
}

}  // namespace tlsw_test

#endif
