// A coroutine TLS echo server on Asio: every client gets a coroutine, all
// of them on one io_context thread. It listens on 127.0.0.1 (port 0 by
// default: the OS picks; the port goes to stdout), echoes what each client
// sends, and answers a client's close_notify with its own. Try it with
//   openssl s_client -connect 127.0.0.1:PORT -CAfile ca.pem -servername localhost

#include <tlsw/asio.hpp>  // first: it picks the Asio flavour and configures it
#include <asio.hpp>

#include <array>
#include <iostream>
#include <string>

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

asio::awaitable<void> accept_loop(const tlsw::context& ctx, asio::ip::tcp::acceptor& acceptor) {
    for (;;) {
        asio::error_code ec;
        auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec)
            asio::co_spawn(acceptor.get_executor(), serve(ctx, std::move(socket)), asio::detached);
        else
            std::cerr << "accept: " << ec.message() << "\n";
    }
}

int main(int argc, char** argv) {
    std::string cert, key, port = "0";
    bool ok = argc % 2 == 1;
    for (int i = 1; ok && i + 1 < argc; i += 2) {
        const std::string_view option = argv[i];
        ok = option == "--cert" || option == "--key" || option == "--port";
        (option == "--cert" ? cert : option == "--key" ? key : port) = argv[i + 1];
    }
    const bool help = argc == 2 && std::string_view(argv[1]) == "--help";
    if (help || !ok || cert.empty() || key.empty() || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos)
        return (help ? std::cout : std::cerr) << "usage: asio_echo_server --cert chain.pem --key key.pem [--port N]\n",
               help ? 0 : 2;
    auto creds = tlsw::credentials::from_files(cert, key);
    if (!creds)
        return std::cerr << creds.error().message() << "\n", 1;
    const auto ctx = tlsw::context::server(*creds);

    asio::io_context io;
    asio::error_code ec;
    asio::ip::tcp::acceptor acceptor(io);
    const asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(std::stoi(port)));
    acceptor.open(at.protocol(), ec);
    if (!ec)
        acceptor.bind(at, ec);
    if (!ec)
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return std::cerr << "listen: " << ec.message() << "\n", 1;
    std::cout << acceptor.local_endpoint().port() << std::endl;
    asio::co_spawn(io, accept_loop(ctx, acceptor), asio::detached);
    io.run();
}
