// Fuzz target: policy text.
//
// Input: any bytes, given whole as the text of context::policy() to a
// client and a server context (the two roles read different values). What
// is checked:
// - nothing throws out of policy(), and a refusal is invalid_argument with
//   a message that says where ("policy line N: ..." or "policy: ...");
// - a refused policy leaves the context's previous policy in place;
// - whatever policy() accepts, Botan accepts: every value of the accepted
//   policy reads without an exception, and a client and a server that both
//   accepted it run a handshake over a memory_pair (it may fail, for
//   example when the policy excludes the fixed PKI's ECDSA key, but
//   nothing may throw or crash).
// Seeds (make_seeds): Botan's own policies printed as text, tlsw's
// default, and a few written by hand (comments, CRLF line ends, every kind
// of value). Run: see README.md in this directory.

#include "fuzz_common.hpp"

#include <string>
#include <string_view>

namespace {

/** The policy's refusal as the contract has it: invalid_argument, and a
    message naming the line or the whole policy. */
void check_refusal(const tlsw::config_result<void>& r) {
    FUZZ_CHECK(r.error().error() == tlsw::errc::invalid_argument, "policy() refused with another code than invalid_argument");
    const std::string& detail = r.error().detail();
    FUZZ_CHECK(detail.starts_with("policy line ") || detail.starts_with("policy: "),
               "policy() refused without saying where");
}

/** A handshake between the two contexts; its outcome is not checked,
    only that it ends. */
void handshake(const tlsw::context& cctx, const tlsw::context& sctx) {
    using stream = tlsw::tls_stream<tlsw::memory_pair::end>;
    auto ends = tlsw::memory_pair::make(64 * 1024);
    stream client(cctx, std::move(ends.first), tlsw_fuzz::localhost());
    stream server(sctx, std::move(ends.second));
    bool client_done = false, server_done = false;
    for (int i = 0; i < 64 && !(client_done && server_done); ++i) {
        if (!client_done) {
            auto r = client.handshake();
            client_done = r || !r.error().retryable();
        }
        if (!server_done) {
            auto r = server.handshake();
            server_done = r || !r.error().retryable();
        }
    }
    FUZZ_CHECK(client_done && server_done, "a handshake under an accepted policy did not end");
    tlsw_fuzz::trace("handshake: client %s, server %s\n", client.info().cipher_suite.c_str(),
                     server.info().cipher_suite.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tlsw_fuzz::guarded([&] {
        const std::string_view text(reinterpret_cast<const char*>(data), size);
        tlsw::detail::reseed_fuzzing_rng(tlsw_fuzz::rng_seed);
        auto sctx = tlsw_fuzz::server_context(tlsw_fuzz::config{});
        auto cctx = tlsw_fuzz::client_context();
        bool accepted = true;
        for (auto* ctx : {&cctx, &sctx}) {
            const auto before = ctx->state();
            auto r = ctx->policy(text);
            if (r) {
                FUZZ_CHECK(ctx->state()->text_policy, "policy() accepted but set no policy");
                // Throws (a violation, through guarded) where Botan would.
                tlsw::detail::read_every_policy_value(ctx->state()->tls_policy());
                continue;
            }
            tlsw_fuzz::trace("refused: %s\n", r.error().detail().c_str());
            check_refusal(r);
            FUZZ_CHECK(ctx->state() == before, "a refused policy changed the context");
            accepted = false;
        }
        if (accepted)
            handshake(cctx, sctx);
    });
}
