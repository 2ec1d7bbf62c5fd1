// What the Asio example servers share: the command line
// (--cert chain.pem --key key.pem [--port N]), a listening socket on
// 127.0.0.1 (port 0 by default: the OS picks; the port goes to stdout), and
// an accept loop that gives every client a coroutine, all on one
// io_context thread. In the Asio flavour <tlsw/asio.hpp> picked.

#ifndef TLSW_EXAMPLES_ASIO_SERVER_MAIN_HPP
#define TLSW_EXAMPLES_ASIO_SERVER_MAIN_HPP

#include <tlsw/asio.hpp>

#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>

namespace example {

namespace net = tlsw::asio::net;

template <class Serve>
net::awaitable<void> accept_loop(const tlsw::context& ctx, net::ip::tcp::acceptor& acceptor, Serve serve) {
    for (;;) {
        tlsw::asio::error_code ec;
        auto socket = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
        if (!ec)
            net::co_spawn(acceptor.get_executor(), serve(ctx, std::move(socket)), net::detached);
        else
            std::cerr << "accept: " << ec.message() << "\n";
    }
}

/** main() of a server named `name`: serve(ctx, socket) is each client's coroutine. */
template <class Serve>
int server_main(int argc, char** argv, std::string_view name, Serve serve) {
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
        return (help ? std::cout : std::cerr) << "usage: " << name << " --cert chain.pem --key key.pem [--port N]\n",
               help ? 0 : 2;
    auto creds = tlsw::credentials::from_files(cert, key);
    if (!creds)
        return std::cerr << creds.error().message() << "\n", 1;
    const auto ctx = tlsw::context::server(*creds);

    net::io_context io;
    tlsw::asio::error_code ec;
    net::ip::tcp::acceptor acceptor(io);
    const net::ip::tcp::endpoint at(net::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(std::stoi(port)));
    acceptor.open(at.protocol(), ec);
    if (!ec)
        acceptor.bind(at, ec);
    if (!ec)
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        return std::cerr << "listen: " << ec.message() << "\n", 1;
    std::cout << acceptor.local_endpoint().port() << std::endl;
    net::co_spawn(io, accept_loop(ctx, acceptor, serve), net::detached);
    io.run();
    return 0;
}

}  // namespace example

#endif
