#ifndef TLSW_DETAIL_BOTAN2_CONFIG_HPP
#define TLSW_DETAIL_BOTAN2_CONFIG_HPP

// The Botan 2 side of the configuration (included by detail/context_state.hpp
// after default_policy_base): TLS 1.2 only, the ticket key asked from the
// channel's credentials manager, the session-ID cache, classical ECDHE
// (Botan 2 has no ML-KEM).

#include <tlsw/detail/groups.hpp>

#include <botan/tls_policy.h>
#include <botan/tls_session_manager.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw::detail {

/** The highest TLS version (its minor number) this engine speaks. */
inline constexpr unsigned highest_tls_version = 2;

/** Botan 2 asks the channel's credentials manager for the ticket key: the
    session manager never holds it. */
inline constexpr bool session_manager_holds_ticket_key = false;

/** The key-exchange groups of the default policy on Botan 2, most
    preferred first: the elliptic curves of OpenSSL 3.5's default that
    Botan 2 has (no ML-KEM, no X448, and FFDHE only with finite-field
    suites, which tlsw does not offer). */
inline const std::vector<std::uint16_t>& default_groups() {
    static const std::vector<std::uint16_t> groups = {0x001D, 0x0017, 0x0018, 0x0019};
    return groups;
}

/** Whether this engine can use group `code` for ECDHE. */
inline bool engine_has_group(std::uint16_t code) { return code == 0x001D || (code >= 0x0017 && code <= 0x001C); }

/** tlsw's default policy on Botan 2: TLS 1.2 only (Botan 2 has no 1.3). */
class default_policy final : public default_policy_base {
public:
    using default_policy_base::default_policy_base;

    bool allow_tls10() const override { return false; }
    bool allow_tls11() const override { return false; }
    // A zero lifetime makes a Botan client stop offering the ticket extension.
    std::uint32_t session_ticket_lifetime() const override { return configured().session_tickets ? 86400 : 0; }
    std::vector<Botan::TLS::Group_Params> key_exchange_groups() const override {
        return group_params<Botan::TLS::Group_Params>(configured().groups ? *configured().groups : default_groups());
    }
};

/** The text policy keys only Botan 2 reads. */
inline std::vector<std::pair<std::string, policy_value>> version_policy_keys() {
    return {{"allow_tls10", policy_value::boolean},
            {"allow_tls11", policy_value::boolean},
            {"allow_dtls10", policy_value::boolean},
            {"send_fallback_scsv", policy_value::boolean}};
}

/** Reads the policy values only Botan 2 has (read_every_policy_value). */
inline void read_version_policy_values(const Botan::TLS::Policy& policy) {
    static_cast<void>(policy.allow_tls10());
    static_cast<void>(policy.allow_tls11());
    static_cast<void>(policy.send_fallback_scsv(Botan::TLS::Protocol_Version::TLS_V12));
}

/** Why a parsed text policy cannot make any handshake, or nothing. */
inline std::optional<std::string> policy_leaves_no_suite(const Botan::TLS::Policy& policy) {
    const std::string no_suite =
        "policy: no TLS 1.2 cipher suite is left by its ciphers, macs, key_exchange_methods and signature_methods";
    if (!policy.allow_tls12())
        return std::nullopt;
    try {
        // Botan throws when nothing is left, or may return an empty list.
        if (policy.ciphersuite_list(Botan::TLS::Protocol_Version::TLS_V12, false).empty())
            return no_suite;
    } catch (const std::exception&) {
        return no_suite;
    }
    return std::nullopt;
}

/** The session cache a configuration's streams share: `size` sessions in
    memory, none when 0. */
inline std::shared_ptr<Botan::TLS::Session_Manager> make_session_manager(std::size_t size, const Botan::SymmetricKey&) {
    if (size > 0)
        return std::make_shared<Botan::TLS::Session_Manager_In_Memory>(rng(), size);
    return std::make_shared<Botan::TLS::Session_Manager_Noop>();
}

}  // namespace tlsw::detail

#endif
