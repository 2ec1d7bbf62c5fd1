// Must not compile: a policy written before the transport. The one error
// must be the static_assert in tls_stream.hpp saying that the transport
// comes first (not "Transport must model tlsw::transport", a policy error
// about memory_pair::end, and a constructor that does not match).
#include <tlsw/context.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/policy.hpp>
#include <tlsw/tls_stream.hpp>

#include <utility>

using stream = tlsw::tls_stream<tlsw::partial_write, tlsw::memory_pair::end>;

void define_a_stream(const tlsw::context& ctx, tlsw::memory_pair::end end) {
    stream s(ctx, std::move(end));
    static_cast<void>(s);
}

int main() {}
