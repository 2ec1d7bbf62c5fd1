#ifndef TLSW_DETAIL_BOTAN3_CONFIG_HPP
#define TLSW_DETAIL_BOTAN3_CONFIG_HPP

// The Botan 3 side of the configuration (included by detail/context_state.hpp
// after default_policy_base): TLS 1.3 and 1.2, tickets sealed by the session
// manager with the snapshot's ticket key, post-quantum key exchange first.

#include <tlsw/detail/groups.hpp>

#include <botan/credentials_manager.h>
#include <botan/tls_policy.h>
#include <botan/tls_session_manager.h>
#include <botan/tls_session_manager_hybrid.h>
#include <botan/tls_session_manager_memory.h>
#include <botan/tls_session_manager_noop.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw::detail {

/** The highest TLS version (its minor number) this engine speaks. */
inline constexpr unsigned highest_tls_version = 3;

/** Botan 3 seals tickets in the session manager, with a key it asks its
    own credentials manager for: a new ticket key needs a new manager. */
inline constexpr bool session_manager_holds_ticket_key = true;

/** Shares the process-wide generator with Botan 3, which wants a
    shared_ptr: it owns nothing, the generator outlives every channel. */
inline std::shared_ptr<Botan::RandomNumberGenerator> shared_rng() {
    return std::shared_ptr<Botan::RandomNumberGenerator>(std::shared_ptr<void>(), &rng());
}

/** The key-exchange groups of the default policy on Botan 3, most
    preferred first: the hybrid X25519MLKEM768, then what OpenSSL 3.5
    accepts by default. Under TLS 1.2 only the elliptic curves among them
    count (tlsw's TLS 1.2 suites are ECDHE only). */
inline const std::vector<std::uint16_t>& default_groups() {
    static const std::vector<std::uint16_t> groups = {0x11EC, 0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101};
    return groups;
}

/** Whether this engine can use group `code`: every named group but the
    ones Botan 3.7 lacks. */
inline bool engine_has_group(std::uint16_t code) { return code != 0x11ED && group_known(code); }

/** tlsw's default policy on Botan 3: TLS 1.3 and 1.2 by default (the
    context's versions() narrows them), no 0-RTT (Botan 3.7 has none),
    X25519MLKEM768 offered and preferred under TLS 1.3. */
class default_policy final : public default_policy_base {
public:
    using default_policy_base::default_policy_base;

    bool allow_tls13() const override { return configured().max_version >= 3; }
    // TLS 1.3 resumes through tickets alone: with session_tickets(false)
    // the server still sends them, as handles into its session cache
    // (stateful, like TLS 1.2 session IDs); only the stateless ones, which
    // carry the sealed session, need session_tickets(true) and a key. So
    // the lifetime is never 0 here (a Botan 3 client would drop them).
    std::chrono::seconds session_ticket_lifetime() const override { return std::chrono::seconds(86400); }
    // TLS 1.3 servers send tickets after the handshake; one is enough for a
    // client that resumes once per connection.
    std::size_t new_session_tickets_upon_handshake_success() const override { return 1; }
    // Botan 3 hands a connection's secrets to tls_ssl_key_log_data only
    // when its policy allows it; the engine drops them unless the context
    // has a key log (a switch here would change the configuration identity,
    // which the key log must not).
    bool allow_ssl_key_log_file() const override { return true; }

    std::vector<Botan::TLS::Group_Params> key_exchange_groups() const override {
        return group_params<Botan::TLS::Group_Params>(groups());
    }
    // Botan's own default sends one share, for the first classical group.
    std::vector<Botan::TLS::Group_Params> key_exchange_groups_to_offer() const override {
        return group_params<Botan::TLS::Group_Params>(groups_to_offer(groups()));
    }
    Botan::TLS::Group_Params choose_key_exchange_group(const std::vector<Botan::TLS::Group_Params>& supported,
                                                       const std::vector<Botan::TLS::Group_Params>& offered) const override {
        const auto codes = [](const std::vector<Botan::TLS::Group_Params>& in) {
            std::vector<std::uint16_t> out;
            for (auto g : in)
                out.push_back(static_cast<std::uint16_t>(g.code()));
            return out;
        };
        return Botan::TLS::Group_Params(choose_group(groups(), codes(supported), codes(offered)));
    }

private:
    const std::vector<std::uint16_t>& groups() const {
        return configured().groups ? *configured().groups : default_groups();
    }
};

/** The text policy keys only Botan 3 reads. */
inline std::vector<std::pair<std::string, policy_value>> version_policy_keys() {
    return {{"allow_tls13", policy_value::boolean},
            {"allow_ssl_key_log_file", policy_value::boolean},
            {"hash_hello_random", policy_value::boolean},
            {"reuse_session_tickets", policy_value::boolean},
            {"tls_13_middlebox_compatibility_mode", policy_value::boolean},
            {"record_size_limit", policy_value::number},
            {"maximum_session_tickets_per_client_hello", policy_value::number},
            {"new_session_tickets_upon_handshake_success", policy_value::number},
            {"key_exchange_groups_to_offer", policy_value::groups}};
}

/** Reads the policy values only Botan 3 has (read_every_policy_value):
    record_size_limit, for one, throws for a value above 16 bits. */
inline void read_version_policy_values(const Botan::TLS::Policy& policy) {
    static_cast<void>(policy.allow_tls13());
    static_cast<void>(policy.record_size_limit());
    static_cast<void>(policy.key_exchange_groups_to_offer());
    static_cast<void>(policy.maximum_session_tickets_per_client_hello());
    static_cast<void>(policy.new_session_tickets_upon_handshake_success());
    static_cast<void>(policy.reuse_session_tickets());
    static_cast<void>(policy.tls_13_middlebox_compatibility_mode());
    static_cast<void>(policy.hash_hello_random());
    static_cast<void>(policy.allow_ssl_key_log_file());
}

/** Whether `policy` leaves any cipher suite for `version`. */
inline bool has_suites(const Botan::TLS::Policy& policy, Botan::TLS::Protocol_Version version) {
    try {
        return !policy.ciphersuite_list(version).empty();
    } catch (const std::exception&) {
        return false;
    }
}

/** Whether a client with `policy` offers TLS 1.3: Botan 3 text policies
    allow it by default, yet one naming only TLS 1.2 ciphers (CBC) has no
    suite for it, and then offers TLS 1.2. */
inline bool offers_tls13(const Botan::TLS::Policy& policy) {
    return policy.allow_tls13() && has_suites(policy, Botan::TLS::Protocol_Version::TLS_V13);
}

/** Why a parsed text policy cannot make any handshake, or nothing: no
    version it allows has a cipher suite left. */
inline std::optional<std::string> policy_leaves_no_suite(const Botan::TLS::Policy& policy) {
    const bool tls12 = policy.allow_tls12() && has_suites(policy, Botan::TLS::Protocol_Version::TLS_V12);
    if (tls12 || offers_tls13(policy))
        return std::nullopt;
    if (policy.allow_tls12())
        return "policy: no TLS 1.2 cipher suite is left by its ciphers, macs, key_exchange_methods and signature_methods";
    if (policy.allow_tls13())
        return "policy: no TLS 1.3 cipher suite is left by its ciphers";
    return std::nullopt;  // no version at all: Botan's own checks say so at the handshake
}

/** Gives a session manager the ticket key it seals tickets with. */
class ticket_key_provider final : public Botan::Credentials_Manager {
public:
    explicit ticket_key_provider(Botan::SymmetricKey key) : key_(std::move(key)) {}

    Botan::secure_vector<std::uint8_t> session_ticket_key() override { return key_.bits_of(); }

private:
    Botan::SymmetricKey key_;
};

/** The session store a configuration's streams share: tickets sealed with
    `ticket_key` when there is one (stateless), and `size` sessions in
    memory (TLS 1.2 session IDs, a client's received tickets), none when 0. */
inline std::shared_ptr<Botan::TLS::Session_Manager> make_session_manager(std::size_t size,
                                                                        const Botan::SymmetricKey& ticket_key) {
    if (ticket_key.length() > 0) {
        std::unique_ptr<Botan::TLS::Session_Manager> stateful;
        if (size > 0)
            stateful = std::make_unique<Botan::TLS::Session_Manager_In_Memory>(shared_rng(), size);
        else
            stateful = std::make_unique<Botan::TLS::Session_Manager_Noop>();
        return std::make_shared<Botan::TLS::Session_Manager_Hybrid>(
            std::move(stateful), std::make_shared<ticket_key_provider>(ticket_key), shared_rng());
    }
    if (size > 0)
        return std::make_shared<Botan::TLS::Session_Manager_In_Memory>(shared_rng(), size);
    return std::make_shared<Botan::TLS::Session_Manager_Noop>();
}

}  // namespace tlsw::detail

#endif
