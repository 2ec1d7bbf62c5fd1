// A blocking HTTPS client as a user writes it (the README's): what one
// translation unit of a typical program costs to compile with tlsw.
// benchmarks/compile.sh compiles it; it is never linked or run there.
#include <tlsw/blocking_socket.hpp>
#include <tlsw/context.hpp>
#include <tlsw/tls_stream.hpp>

#include <cstdio>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
    if (argc != 3)
        return 2;
    auto ctx = tlsw::context::client();
    if (!ctx.trust_file("ca.pem"))
        return 1;
    auto sock = tlsw::blocking_socket::connect(argv[1], static_cast<std::uint16_t>(std::stoi(argv[2])));
    if (!sock)
        return std::fprintf(stderr, "connect: %s\n", sock.error().message().c_str()), 1;
    tlsw::tls_stream<tlsw::blocking_socket> tls(ctx, std::move(*sock), {.server_name = "localhost"});

    std::string_view request = "GET / HTTP/1.0\r\n\r\n";
    if (auto n = tls.write(std::as_bytes(std::span(request))); !n)
        return std::fprintf(stderr, "write: %s\n", n.error().message().c_str()), 1;
    std::string page;
    char buf[4096];
    for (;;) {
        auto got = tls.read(std::as_writable_bytes(std::span(buf)));
        if (!got && got.error() == tlsw::errc::closed)
            break;
        if (!got)
            return std::fprintf(stderr, "read: %s\n", got.error().message().c_str()), 1;
        page.append(buf, *got);
    }
    std::printf("%s\n", page.substr(0, page.find('\r')).c_str());
}
