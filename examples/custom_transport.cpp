// Your own transport: any type with read_some / write_some returning
// tlsw::io_result is one (see include/tlsw/transport.hpp). This one wraps a
// file descriptor, here one end of a socketpair(); a client and a server
// stream do a round trip over it, each in its own thread.

#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tlsw.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

// ---- the transport: everything tls_stream needs --------------------------
class fd_transport {
public:
    static constexpr bool can_block = true;  // a blocking descriptor: calls wait,
    static constexpr bool can_would_block = false;  // never would_block()

    explicit fd_transport(int fd) noexcept : fd_(fd) {}
    fd_transport(fd_transport&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    fd_transport& operator=(fd_transport&&) = delete;
    ~fd_transport() {
        if (fd_ >= 0)
            ::close(fd_);
    }

    tlsw::io_result read_some(std::span<std::byte> in) noexcept {
        return result([&] { return ::read(fd_, in.data(), in.size()); });  // 0 is EOF, as tlsw expects
    }
    tlsw::io_result write_some(std::span<const std::byte> out) noexcept {
        return result([&] { return ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL); });  // no SIGPIPE
    }

private:
    template <class Call>
    static tlsw::io_result result(Call call) noexcept {
        ::ssize_t n;
        while ((n = call()) < 0 && errno == EINTR) {}
        if (n < 0)
            return tlsw::unexpected(std::error_code(errno, std::generic_category()));
        return static_cast<std::size_t>(n);
    }

    int fd_;
};
// ---------------------------------------------------------------------------

static_assert(tlsw::blocking_transport<fd_transport>);

namespace {

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

}  // namespace

int main() {
    auto pki = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    auto client_ctx = tlsw::context::client();
    client_ctx.use_system_trust(false);
    if (!creds || !client_ctx.trust(pki.ca_cert_pem))
        return 1;
    auto server_ctx = tlsw::context::server(*creds);

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        std::perror("socketpair");
        return 1;
    }

    // The server: read one message, answer it, wait for the client's close.
    bool server_ok = false;
    std::thread server_thread([&, fd = fds[1]] {
        tlsw::tls_stream<fd_transport> server(server_ctx, fd_transport(fd));
        std::array<std::byte, 256> buffer;
        auto n = server.read(buffer);
        if (!n || std::string_view(reinterpret_cast<const char*>(buffer.data()), *n) != "ping")
            return;
        if (!server.write(bytes_of("pong")))
            return;
        auto end = server.read(buffer);
        server_ok = !end && end.error() == tlsw::errc::closed;
    });

    int status = 1;
    {
        tlsw::tls_stream<fd_transport> client(client_ctx, fd_transport(fds[0]), {.server_name = "localhost"});
        std::array<std::byte, 256> buffer;
        if (auto w = client.write(bytes_of("ping")); !w) {
            std::fprintf(stderr, "client write: %s\n", w.error().message().c_str());
        } else if (auto n = client.read(buffer); !n) {
            std::fprintf(stderr, "client read: %s\n", n.error().message().c_str());
        } else {
            std::printf("client got: %.*s over %s, %s\n", static_cast<int>(*n),
                        reinterpret_cast<const char*>(buffer.data()), client.info().version.c_str(),
                        client.info().cipher_suite.c_str());
            // close_notify both ways: wait for the server's answer before
            // closing the descriptor under it.
            status = client.shutdown(tlsw::shutdown_mode::send_and_wait) ? 0 : 1;
        }
    }  // closing the client's descriptor ends the server's read if anything failed
    server_thread.join();
    return status == 0 && server_ok ? 0 : 1;
}
