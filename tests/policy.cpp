// Test that header file is self-contained.
#include <tlsw/policy.hpp>

#include <tlsw/context.hpp>

#include "support/connection.hpp"
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>

namespace {

using tlsw::detail::policy_set;

// Looks like a write mode, but is not one of tlsw's: is_policy_v must say no.
struct look_alike_write_mode {
    using category = tlsw::detail::write_mode_tag;
    static constexpr bool partial = true;
};

// The resolved flags of a policy set, as a pair that compares with ==.
struct flags {
    bool partial_write;
    bool moving_buffer;
    friend constexpr bool operator==(flags, flags) = default;
};

template <class... Policies>
constexpr flags resolve() {
    return {policy_set<Policies...>::partial_write, policy_set<Policies...>::moving_buffer};
}

}  // namespace

TEST_CASE("policies are empty types", "[policy]") {
    // tls_stream holds them with [[no_unique_address]]: they must cost nothing.
    STATIC_REQUIRE(std::is_empty_v<tlsw::full_write>);
    STATIC_REQUIRE(std::is_empty_v<tlsw::partial_write>);
    STATIC_REQUIRE(std::is_empty_v<tlsw::fixed_buffer>);
    STATIC_REQUIRE(std::is_empty_v<tlsw::moving_buffer>);
    STATIC_REQUIRE(std::is_empty_v<policy_set<tlsw::partial_write, tlsw::moving_buffer>>);
}

TEST_CASE("write modes and retry buffers are two separate categories", "[policy]") {
    STATIC_REQUIRE(std::is_same_v<tlsw::full_write::category, tlsw::partial_write::category>);
    STATIC_REQUIRE(std::is_same_v<tlsw::fixed_buffer::category, tlsw::moving_buffer::category>);
    STATIC_REQUIRE(!std::is_same_v<tlsw::full_write::category, tlsw::fixed_buffer::category>);
    STATIC_REQUIRE(!tlsw::full_write::partial);
    STATIC_REQUIRE(tlsw::partial_write::partial);
    STATIC_REQUIRE(!tlsw::fixed_buffer::moving);
    STATIC_REQUIRE(tlsw::moving_buffer::moving);
}

TEST_CASE("is_policy_v is true exactly for the four policy types", "[policy]") {
    STATIC_REQUIRE(tlsw::is_policy_v<tlsw::full_write>);
    STATIC_REQUIRE(tlsw::is_policy_v<tlsw::partial_write>);
    STATIC_REQUIRE(tlsw::is_policy_v<tlsw::fixed_buffer>);
    STATIC_REQUIRE(tlsw::is_policy_v<tlsw::moving_buffer>);

    STATIC_REQUIRE(!tlsw::is_policy_v<int>);
    STATIC_REQUIRE(!tlsw::is_policy_v<void>);
    STATIC_REQUIRE(look_alike_write_mode::partial);
    STATIC_REQUIRE(!tlsw::is_policy_v<look_alike_write_mode>);
    STATIC_REQUIRE(!tlsw::is_policy_v<tlsw::detail::write_mode_tag>);
    STATIC_REQUIRE(!tlsw::is_policy_v<tlsw::detail::retry_buffer_tag>);
    // Qualified or referenced forms are not the policy itself.
    STATIC_REQUIRE(!tlsw::is_policy_v<const tlsw::full_write>);
    STATIC_REQUIRE(!tlsw::is_policy_v<tlsw::partial_write&>);
    STATIC_REQUIRE(!tlsw::is_policy_v<tlsw::moving_buffer*>);
}

TEST_CASE("an empty policy set resolves to full_write and fixed_buffer", "[policy][defaults]") {
    STATIC_REQUIRE(!policy_set<>::partial_write);
    STATIC_REQUIRE(!policy_set<>::moving_buffer);
    // Naming a default is the same as leaving it out.
    STATIC_REQUIRE(resolve<tlsw::full_write>() == resolve<>());
    STATIC_REQUIRE(resolve<tlsw::fixed_buffer>() == resolve<>());
    STATIC_REQUIRE(resolve<tlsw::full_write, tlsw::fixed_buffer>() == resolve<>());
}

TEST_CASE("each policy sets only its own flag", "[policy]") {
    STATIC_REQUIRE(resolve<tlsw::partial_write>() == flags{true, false});
    STATIC_REQUIRE(resolve<tlsw::moving_buffer>() == flags{false, true});
    STATIC_REQUIRE(resolve<tlsw::partial_write, tlsw::fixed_buffer>() == flags{true, false});
    STATIC_REQUIRE(resolve<tlsw::full_write, tlsw::moving_buffer>() == flags{false, true});
    STATIC_REQUIRE(resolve<tlsw::partial_write, tlsw::moving_buffer>() == flags{true, true});
}

TEST_CASE("policy order does not matter", "[policy]") {
    STATIC_REQUIRE(resolve<tlsw::moving_buffer, tlsw::partial_write>() ==
                   resolve<tlsw::partial_write, tlsw::moving_buffer>());
    STATIC_REQUIRE(resolve<tlsw::moving_buffer, tlsw::partial_write>() == flags{true, true});
    STATIC_REQUIRE(resolve<tlsw::fixed_buffer, tlsw::partial_write>() ==
                   resolve<tlsw::partial_write, tlsw::fixed_buffer>());
    STATIC_REQUIRE(resolve<tlsw::moving_buffer, tlsw::full_write>() ==
                   resolve<tlsw::full_write, tlsw::moving_buffer>());
    STATIC_REQUIRE(resolve<tlsw::fixed_buffer, tlsw::full_write>() ==
                   resolve<tlsw::full_write, tlsw::fixed_buffer>());
}

// ---- policy text (context::policy) ----------------------------------------
// Whatever policy() accepts, Botan reads without throwing; whatever Botan
// refuses comes back as a config_error naming the line. Botan keeps a "\r"
// in a value and throws when the value is read: a CRLF policy used to pass
// tlsw's checks and then throw out of policy() itself.

namespace {

/** The policy text as Botan prints it back (every value read). */
std::string printed_policy(const tlsw::context& ctx) { return ctx.state()->tls_policy().to_string(); }

/** The policy text that turns off every TLS version this Botan has. */
std::string no_version_policy() {
    return tlsw_test::default_version() == "TLS v1.3" ? "allow_tls12 = false\nallow_tls13 = false\n"
                                                     : "allow_tls12 = false\n";
}

}  // namespace

TEST_CASE("a policy with CRLF line ends loads as the same policy with LF ends, and handshakes",
          "[policy][policy_text]") {
    const std::string lf = "allow_tls12 = true\nciphers = AES-256/GCM AES-128/GCM\nminimum_rsa_bits = 2048\n"
                           "session_ticket_lifetime = 3600\nsignature_hashes = SHA-256 SHA-384\n";
    std::string crlf;
    for (char c : lf)
        crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);

    auto lf_ctx = tlsw_test::server_context();
    REQUIRE(lf_ctx.policy(lf));
    auto crlf_ctx = tlsw_test::server_context();
    auto r = crlf_ctx.policy(crlf);
    INFO((r ? std::string("accepted") : r.error().message()));
    REQUIRE(r);
    CHECK(printed_policy(crlf_ctx) == printed_policy(lf_ctx));
    tlsw_test::connection c(tlsw_test::client_context(), crlf_ctx, tlsw_test::localhost());
    CHECK_FALSE(c.handshake());

    // A client too (it reads other values first), and comments after values.
    auto client_ctx = tlsw_test::client_context();
    REQUIRE(client_ctx.policy("minimum_rsa_bits = 2048 # at least\r\nallow_tls12 = true\t\r\n"));
    tlsw_test::connection d(client_ctx, tlsw_test::server_context(), tlsw_test::localhost());
    CHECK_FALSE(d.handshake());
}

TEST_CASE("a policy Botan refuses is a config_error naming the line, and nothing throws", "[policy][policy_text]") {
    struct refused_policy {
        std::string text;
        std::string named;
    };
    const auto bad = GENERATE(
        // Botan refuses a line that ends at its '='.
        refused_policy{"allow_tls12 = true\nciphers =\n", "policy line 2: key 'ciphers' has no value"},
        refused_policy{"allow_tls12 = true\r\nmacs = \r\n", "policy line 2: key 'macs' has no value"},
        // Botan 3 throws when it reads a record size limit above 16 bits
        // (and Botan 2 does not know the key).
        refused_policy{"allow_tls12 = true\nrecord_size_limit = 70000\n", "policy line 2: "},
        // No TLS version left: Botan throws when it picks one.
        refused_policy{"# nothing\n" + no_version_policy(), "policy line "});
    CAPTURE(bad.text);
    for (auto ctx : {tlsw_test::client_context(), tlsw_test::server_context()}) {
        const auto before = printed_policy(ctx);
        tlsw::config_result<void> r;
        REQUIRE_NOTHROW(r = ctx.policy(bad.text));
        REQUIRE_FALSE(r);
        CHECK(r.error() == tlsw::errc::invalid_argument);
        CHECK_THAT(r.error().message(), Catch::Contains(bad.named));
        CHECK(printed_policy(ctx) == before);
    }
}
