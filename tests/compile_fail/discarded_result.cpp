// Must not compile with -Werror: each DISCARD line drops a result that
// says whether a call failed ([[nodiscard]]): one error per line, and no
// other. With -DTLSW_COMPILE_FAIL_CONTROL each result is cast to void,
// the one sanctioned way to drop it, and the file compiles clean.
#include <tlsw/context.hpp>
#include <tlsw/credentials.hpp>
#include <tlsw/expected.hpp>

#include <cstddef>
#include <span>

#ifdef TLSW_COMPILE_FAIL_CONTROL
#define DISCARD(call) static_cast<void>(call)
#else
#define DISCARD(call) call
#endif

void drop_results(tlsw::context& ctx, tlsw::credentials creds, tlsw::result<int> r, std::span<const std::byte> key) {
    DISCARD(ctx.policy("allow_tls12 = true"));
    DISCARD(ctx.policy_file("policy.txt"));
    DISCARD(ctx.trust("PEM"));
    DISCARD(ctx.trust_file("ca.pem"));
    DISCARD(ctx.versions(tlsw::tls_version::tls12, tlsw::tls_version::tls13));
    DISCARD(ctx.session_ticket_key(key));
    DISCARD(ctx.rotate_session_ticket_key());
    DISCARD(ctx.add_credentials(creds));
    DISCARD(ctx.danger_key_log_file("keys.log"));
    DISCARD(tlsw::credentials::from_pem("chain", "key"));
    DISCARD(tlsw::credentials::from_files("chain.pem", "key.pem"));
    DISCARD(r.and_then([](int) { return tlsw::result<int>(1); }));
    DISCARD(r.transform([](int v) { return v + 1; }));
    DISCARD(r.or_else([](const tlsw::tls_error&) { return tlsw::result<int>(0); }));
    DISCARD(r.transform_error([](const tlsw::tls_error& e) { return e; }));
}

int main() {}
