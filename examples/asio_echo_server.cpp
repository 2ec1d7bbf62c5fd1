// A coroutine TLS echo server on Asio: every client gets a coroutine, all
// of them on one io_context thread. It listens on 127.0.0.1 (port 0 by
// default: the OS picks; the port goes to stdout), echoes what each client
// sends, and answers a client's close_notify with its own. Try it with
//   openssl s_client -connect 127.0.0.1:PORT -CAfile ca.pem -servername localhost

#include <tlsw/asio.hpp>  // first: it picks the Asio flavour and configures it
#include <asio.hpp>

#include "asio_server_main.hpp"

#include <array>
#include <iostream>

namespace tio = tlsw::asio;

asio::awaitable<void> serve(const tlsw::context& ctx, asio::ip::tcp::socket socket) {
    asio::error_code ignored;
    const auto peer = socket.remote_endpoint(ignored);
    tlsw::tls_stream<tio::nonblocking_socket> tls(ctx, tio::nonblocking_socket(std::move(socket)));
    std::array<std::byte, 16384> buffer;
    for (;;) {
        auto n = co_await tio::async_read(tls, buffer);  // handshakes first
        if (!n) {
            if (n.error() == tlsw::errc::closed)
                (void)co_await tio::async_shutdown(tls);  // our close_notify in reply
            std::cerr << peer << ": " << n.error().message() << "\n";
            co_return;
        }
        if (auto w = co_await tio::async_write(tls, std::span(buffer).first(*n)); !w) {
            std::cerr << peer << ": " << w.error().message() << "\n";
            co_return;
        }
    }
}

int main(int argc, char** argv) { return example::server_main(argc, argv, "asio_echo_server", serve); }
