// A coroutine HTTPS client on Asio: fetches PATH (default "/") from
// HOST:PORT, verifying the server's certificate against the system trust
// store or --ca-file and its name against HOST (or --server-name), and
// prints the response on stdout. Exits 0 when the server ends with
// close_notify, 1 on any error (including a truncated response).
//
//   asio_client [--ca-file FILE] [--server-name NAME] HOST PORT [PATH]
//   e.g. against `openssl s_server -www -cert chain.pem -key key.pem`

#include <tlsw/asio.hpp>  // first: it picks the Asio flavour and configures it
#include <asio.hpp>

#include <array>
#include <iostream>
#include <string>
#include <vector>

namespace tio = tlsw::asio;

asio::awaitable<int> fetch(const tlsw::context& ctx, std::string name, std::string host, std::string port,
                           std::string path) {
    const auto ex = co_await asio::this_coro::executor;
    asio::error_code ec;
    asio::ip::tcp::resolver resolver(ex);
    asio::ip::tcp::socket socket(ex);
    const auto endpoints = co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
        co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        std::cerr << "connect: " << ec.message() << "\n";
        co_return 1;
    }
    tlsw::tls_stream<tio::nonblocking_socket> tls(ctx, tio::nonblocking_socket(std::move(socket)), {.server_name = name});
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + name + "\r\n\r\n";
    if (auto w = co_await tio::async_write(tls, std::as_bytes(std::span(request))); !w) {
        std::cerr << "handshake or write: " << w.error().message() << "\n";
        co_return 1;
    }
    std::cerr << tls.info().version << ", " << tls.info().cipher_suite << "\n";
    std::array<char, 16384> buffer;
    for (;;) {
        auto n = co_await tio::async_read(tls, std::as_writable_bytes(std::span(buffer)));
        if (!n) {
            if (n.error() == tlsw::errc::closed)
                co_return 0;  // the server's close_notify: the whole response
            std::cerr << "read: " << n.error().message() << "\n";
            co_return 1;
        }
        std::cout.write(buffer.data(), static_cast<std::streamsize>(*n));
    }
}

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto ctx = tlsw::context::client();
    std::string name;
    while (args.size() >= 2 && (args[0] == "--ca-file" || args[0] == "--server-name")) {
        if (args[0] == "--server-name")
            name = args[1];
        else if (auto t = ctx.trust_file(args[1]); !t)
            return std::cerr << args[1] << ": " << t.error().message() << "\n", 1;
        args.erase(args.begin(), args.begin() + 2);
    }
    const bool help = args.size() == 1 && args[0] == "--help";
    if (help || args.size() < 2 || args.size() > 3 || args[0].starts_with("-"))
        return (help ? std::cout : std::cerr) << "usage: asio_client [--ca-file FILE] [--server-name NAME] HOST PORT [PATH]\n",
               help ? 0 : 2;
    asio::io_context io;
    int status = 1;
    asio::co_spawn(io, fetch(ctx, name.empty() ? args[0] : name, args[0], args[1], args.size() > 2 ? args[2] : "/"),
                   [&](std::exception_ptr e, int s) { status = e ? 1 : s; });
    io.run();
    return status;
}
