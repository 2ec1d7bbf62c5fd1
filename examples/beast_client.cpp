// A Boost.Beast HTTPS client over tlsw::asio::stream: fetches PATH
// (default "/") from HOST:PORT, verifying the server's certificate against
// the system trust store or --ca-file and its name against HOST (or
// --server-name), and prints the response on stdout. Exits 0 once the
// whole response arrived, 1 on any error (its full text on stderr).
//
//   beast_client [--ca-file FILE] [--server-name NAME] HOST PORT [PATH]
//   e.g. against `openssl s_server -www -cert chain.pem -key key.pem`

#include <boost/asio.hpp>  // before tlsw/asio.hpp: it picks Boost.Asio
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <tlsw/asio.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace net = boost::asio;
namespace http = boost::beast::http;
using tlsw_stream = tlsw::asio::stream<net::ip::tcp::socket>;

net::awaitable<int> fetch(const tlsw::context& ctx, std::string name, std::string host, std::string port,
                          std::string path) {
    const auto ex = co_await net::this_coro::executor;
    net::ip::tcp::resolver resolver(ex);
    net::ip::tcp::socket socket(ex);
    boost::system::error_code ec;
    const auto endpoints = co_await resolver.async_resolve(host, port, net::redirect_error(net::use_awaitable, ec));
    if (!ec)
        co_await net::async_connect(socket, endpoints, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
        std::cerr << "connect: " << ec.message() << "\n";
        co_return 1;
    }
    tlsw_stream tls(ctx, std::move(socket), {.server_name = name});
    if (co_await tls.async_handshake(net::redirect_error(net::use_awaitable, ec)); ec) {
        std::cerr << "handshake: " << ec.message() << "\n";  // the reason, the alert, who sent it
        co_return 1;
    }
    std::cerr << tls.tls().info().version << ", " << tls.tls().info().cipher_suite << "\n";

    http::request<http::empty_body> request(http::verb::get, path, 11);
    request.set(http::field::host, name);
    request.set(http::field::connection, "close");
    co_await http::async_write(tls, request, net::redirect_error(net::use_awaitable, ec));
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    // A response without a length (HTTP/1.0) ends with the server's
    // close_notify, which the stream reports as the end of the stream.
    if (!ec)
        co_await http::async_read(tls, buffer, response, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
        std::cerr << "request: " << ec.message() << "\n";
        co_return 1;
    }
    std::cout << response;
    co_await tls.async_shutdown(net::redirect_error(net::use_awaitable, ec));  // our close_notify: best effort
    co_return 0;
}

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const char* usage = "usage: beast_client [--ca-file FILE] [--server-name NAME] HOST PORT [PATH]\n";
    if (args.size() == 1 && args[0] == "--help") {
        std::cout << usage;
        return 0;
    }
    auto ctx = tlsw::context::client();
    std::string name;
    while (args.size() >= 2 && (args[0] == "--ca-file" || args[0] == "--server-name")) {
        if (args[0] == "--server-name")
            name = args[1];
        else if (auto t = ctx.trust_file(args[1]); !t) {
            std::cerr << "--ca-file: " << t.error().message() << "\n";
            return 2;
        }
        args.erase(args.begin(), args.begin() + 2);
    }
    if (args.size() < 2 || args.size() > 3 || args[0].starts_with("--")) {
        std::cerr << usage;
        return 2;
    }
    if (name.empty())
        name = args[0];
    net::io_context io;
    int status = 1;
    net::co_spawn(io, fetch(ctx, name, args[0], args[1], args.size() == 3 ? args[2] : "/"),
                  [&](std::exception_ptr e, int s) { status = e ? 1 : s; });
    io.run();
    return status;
}
