#ifndef TLSW_TESTS_SUPPORT_ASIO_HPP
#define TLSW_TESTS_SUPPORT_ASIO_HPP

// What the Asio tests share (tests/asio.cpp, tests/asio_stream.cpp): an
// io_context whose coroutines report their failures, and connected TCP
// socket pairs on 127.0.0.1. Include <tlsw/asio.hpp> first.

#include <tlsw/asio.hpp>

#if defined(TLSW_ASIO_BOOST)
#include <boost/asio.hpp>
#else
#include <asio.hpp>
#endif

#include <chrono>
#include <exception>
#include <optional>

namespace tlsw_test {

namespace net = tlsw::asio::net;

/** One io_context, the coroutines spawned on it, and their failures. */
struct runner {
    net::io_context io;
    int started = 0;
    int finished = 0;
    std::exception_ptr failure;

    auto on_done() {
        ++started;
        return [this](std::exception_ptr e) {
            if (e && !failure)
                failure = e;
            ++finished;
        };
    }
    template <class Awaitable>
    void spawn(Awaitable a) {
        net::co_spawn(io, std::move(a), on_done());
    }
    /** Runs until every coroutine has finished (true), or `limit` passes
        (false); rethrows the first failure, such as a REQUIRE's. */
    bool run(std::chrono::seconds limit = std::chrono::seconds(60)) {
        io.run_for(limit);
        if (failure)
            std::rethrow_exception(failure);
        return finished == started;
    }
};

struct socket_pair {
    net::ip::tcp::socket client;
    net::ip::tcp::socket server;
};

/** Two connected TCP sockets on 127.0.0.1, on `ex` (an io_context, or a
    strand for a multi-threaded one). With `buffer` > 0, both ends'
    SO_SNDBUF and SO_RCVBUF are set to it before the connection exists
    (Linux doubles the value and applies its own minimum). */
template <class Executor>
socket_pair connect_pair(Executor&& ex, int buffer = 0) {
    using tcp = net::ip::tcp;
    tcp::acceptor acceptor(ex);
    const tcp::endpoint local(net::ip::make_address("127.0.0.1"), 0);
    acceptor.open(local.protocol());
    tcp::socket client(ex), server(ex);
    client.open(local.protocol());
    if (buffer > 0) {
        client.set_option(net::socket_base::send_buffer_size(buffer));
        client.set_option(net::socket_base::receive_buffer_size(buffer));
        // An accepted socket inherits the listener's buffer sizes.
        acceptor.set_option(net::socket_base::send_buffer_size(buffer));
        acceptor.set_option(net::socket_base::receive_buffer_size(buffer));
    }
    acceptor.bind(local);
    acceptor.listen();
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    return {std::move(client), std::move(server)};
}

}  // namespace tlsw_test

#endif
