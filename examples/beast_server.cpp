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

#include "asio_server_main.hpp"

#include <iostream>
#include <string>

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

int main(int argc, char** argv) { return example::server_main(argc, argv, "beast_server", serve); }
