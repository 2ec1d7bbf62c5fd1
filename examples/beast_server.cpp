// A Boost.Beast HTTPS server over tlsw::asio::stream: every client gets a
// coroutine, all on one io_context thread. It listens on 127.0.0.1 (port 0
// by default: the OS picks; the port goes to stdout), answers each GET with
// a short text naming the path and the TLS version, keeps connections
// alive as HTTP/1.1 asks, and answers a client's close_notify with its own.
//
//   beast_server --cert chain.pem --key key.pem [--port N]
//   curl --cacert ca.pem --resolve localhost:PORT:127.0.0.1 https://localhost:PORT/hello

#include <boost/asio.hpp>  // before tlsw/asio.hpp: it picks Boost.Asio
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <tlsw/asio.hpp>

#include <iostream>
#include <string>
#include <string_view>

namespace net = boost::asio;
namespace http = boost::beast::http;
using tlsw_stream = tlsw::asio::stream<net::ip::tcp::socket>;

net::awaitable<void> serve(const tlsw::context& ctx, net::ip::tcp::socket socket) {
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    tlsw_stream tls(ctx, std::move(socket));
    boost::beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        co_await http::async_read(tls, buffer, request, net::redirect_error(net::use_awaitable, ec));
        if (ec)
            break;  // the handshake or the request failed, or the client closed
        http::response<http::string_body> response(http::status::ok, request.version());
        response.set(http::field::content_type, "text/plain");
        response.body() = "hello from beast over tlsw\npath: " + std::string(request.target()) +
                          "\nprotocol: " + tls.tls().info().version + "\n";
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        co_await http::async_write(tls, response, net::redirect_error(net::use_awaitable, ec));
        if (ec || !response.keep_alive())
            break;
    }
    // http::error::end_of_stream: the client's close_notify came between requests.
    if (ec && ec != http::error::end_of_stream)
        std::cerr << peer << ": " << ec.message() << "\n";  // the reason, the alert, who sent it
    co_await tls.async_shutdown(net::redirect_error(net::use_awaitable, ec));
    std::cerr << peer << ": closed\n";
}

net::awaitable<void> accept_loop(const tlsw::context& ctx, net::ip::tcp::acceptor& acceptor) {
    for (;;) {
        boost::system::error_code ec;
        auto socket = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
        if (!ec)
            net::co_spawn(acceptor.get_executor(), serve(ctx, std::move(socket)), net::detached);
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
        return (help ? std::cout : std::cerr) << "usage: beast_server --cert chain.pem --key key.pem [--port N]\n",
               help ? 0 : 2;
    auto creds = tlsw::credentials::from_files(cert, key);
    if (!creds)
        return std::cerr << creds.error().message() << "\n", 1;
    const auto ctx = tlsw::context::server(*creds);

    net::io_context io;
    boost::system::error_code ec;
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
    net::co_spawn(io, accept_loop(ctx, acceptor), net::detached);
    io.run();
}
