// Must not compile: a tls_stream given `int` as a policy.
//
// compile_fail/check.sh expects exactly one error: the static_assert in
// policy.hpp, "tls_stream policies are tlsw::full_write, ..." naming every
// policy (clang used to add "no type named 'category'").
#include <tlsw/context.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/policy.hpp>
#include <tlsw/tls_stream.hpp>

#include <utility>

using stream = tlsw::tls_stream<tlsw::memory_pair::end, int>;

// Defining a stream object is all a user writes before the first call, so
// that alone must be enough to be told (it instantiates the class).
void define_a_stream(const tlsw::context& ctx, tlsw::memory_pair::end end) {
    stream s(ctx, std::move(end));
    static_cast<void>(s);
}

int main() {}
