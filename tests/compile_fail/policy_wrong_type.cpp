// Must not compile: a tls_stream given `int` as a policy.
//
// The build compiles this file expecting failure and then defines
// TLSW_POLICY_WRONG_TYPE_REJECTED=1 for tests/policy.cpp. The first error
// must be the static_assert in policy.hpp, "tls_stream policies are
// tlsw::full_write, tlsw::partial_write, tlsw::fixed_buffer or
// tlsw::moving_buffer". Compiled with -DTLSW_COMPILE_FAIL_CONTROL, the same
// file names a valid policy and must compile: that shows nothing else in
// this file is wrong.
#include <tlsw/context.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/policy.hpp>
#include <tlsw/tls_stream.hpp>

#include <utility>

#ifdef TLSW_COMPILE_FAIL_CONTROL
using stream = tlsw::tls_stream<tlsw::memory_pair::end, tlsw::partial_write>;
#else
using stream = tlsw::tls_stream<tlsw::memory_pair::end, int>;
#endif

// Defining a stream object is all a user writes before the first call, so
// that alone must be enough to be told (it instantiates the class).
void define_a_stream(const tlsw::context& ctx, tlsw::memory_pair::end end) {
    stream s(ctx, std::move(end));
    static_cast<void>(s);
}

int main() {}
