#ifndef TLSW_TESTS_SUPPORT_STREAM_PAIR_HPP
#define TLSW_TESTS_SUPPORT_STREAM_PAIR_HPP

// A client stream (verifying "localhost") and a server stream over one
// memory pair, of a policy combination from harness.hpp's all_policies.

#include "harness.hpp"

#include <tlsw/memory_pair.hpp>

#include <utility>

namespace tlsw_test {

template <class P>
struct stream_pair {
    using stream = typename P::template stream<tlsw::memory_pair::end>;

    explicit stream_pair(const tlsw::context& client_ctx, const tlsw::context& server_ctx = server_context())
        : stream_pair(tlsw::memory_pair::make(64 * 1024), client_ctx, server_ctx) {}

    stream client;
    stream server;

private:
    stream_pair(std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends, const tlsw::context& client_ctx,
                const tlsw::context& server_ctx)
        : client(client_ctx, std::move(ends.first), localhost()), server(server_ctx, std::move(ends.second)) {}
};

}  // namespace tlsw_test

#endif
