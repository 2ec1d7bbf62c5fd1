// Must not compile: a tls_stream given two write modes.
//
// compile_fail/check.sh expects exactly one error: the static_assert in
// policy.hpp, "conflicting write modes: pass at most one of
// tlsw::full_write and tlsw::partial_write".
#include <tlsw/context.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/policy.hpp>
#include <tlsw/tls_stream.hpp>

#include <utility>

using stream = tlsw::tls_stream<tlsw::memory_pair::end, tlsw::full_write, tlsw::partial_write>;

// Defining a stream object is all a user writes before the first call, so
// that alone must be enough to be told (it instantiates the class).
void define_a_stream(const tlsw::context& ctx, tlsw::memory_pair::end end) {
    stream s(ctx, std::move(end));
    static_cast<void>(s);
}

int main() {}
