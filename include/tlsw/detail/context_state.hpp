#ifndef TLSW_DETAIL_CONTEXT_STATE_HPP
#define TLSW_DETAIL_CONTEXT_STATE_HPP

// The configuration side of the engine: what a context hands its streams
// (an immutable snapshot), the policy, the credentials Botan asks for, the
// session identity that binds a resumable session to the configuration that
// made it, and the checks on policy text and server names. What differs
// between Botan 2 and 3 is in detail/botan2/config.hpp and
// detail/botan3/config.hpp; with the engines, the only code naming Botan::TLS.

#include <tlsw/client_hello.hpp>
#include <tlsw/config_error.hpp>
#include <tlsw/credentials.hpp>
#include <tlsw/expected.hpp>
#include <tlsw/detail/certificate.hpp>
#include <tlsw/detail/ocsp.hpp>
#include <tlsw/detail/rng.hpp>
#include <tlsw/peer_certificate.hpp>

#include <botan/ber_dec.h>
#include <botan/certstor.h>
#include <botan/certstor_system.h>
#include <botan/credentials_manager.h>
#include <botan/hash.h>
#include <botan/mac.h>
#include <botan/tls_algos.h>
#include <botan/tls_ciphersuite.h>
#include <botan/tls_policy.h>
#include <botan/build.h>
#include <botan/tls_session_manager.h>
#include <botan/pkix_types.h>
#include <botan/x509_ext.h>
#include <botan/x509cert.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tlsw::detail {

enum class role : unsigned char { client, server };

/** Client renegotiations a server accepts per connection: at most
    `renegotiation_burst` within any `renegotiation_window`. Further ones
    in that window are refused with a warning no_renegotiation; after
    `renegotiation_refusals_fatal` refusals on one connection (whether the
    server allows renegotiation or not) the next ClientHello ends it with a
    fatal no_renegotiation alert. Each accepted renegotiation is a full
    public-key handshake of work for us and almost none for the peer. */
inline constexpr unsigned renegotiation_burst = 3;
inline constexpr std::chrono::seconds renegotiation_window{60};
inline constexpr unsigned renegotiation_refusals_fatal = 8;

/** Records a server takes from a client that does not answer its
    HelloRequest before it gives up with a fatal handshake_failure: writes
    are held back while the request is outstanding. Application data in
    that time is fatal at once (Botan 2 cannot interleave it), so only
    warning alerts count; a silent client is bounded by the transport (a
    read timeout, or want_read on a nonblocking one). */
inline constexpr unsigned hello_request_patience = 4;

/** The versions a context allows, as their minor numbers (2: TLS 1.2, 3:
    TLS 1.3), and the renegotiation and ticket switches of the default
    policy. */
struct policy_settings {
    bool allow_client_renegotiation = false;
    bool require_client_certificate = false;
    bool session_tickets = true;
    unsigned min_version = 2;
    unsigned max_version = 3;  // clamped to what the engine has (highest_tls_version)
    /** Key-exchange groups by IANA code, most preferred first (context::
        key_exchange_groups); null: the engine's default_groups(). */
    std::shared_ptr<const std::vector<std::uint16_t>> groups;
    /** Send status_request (a client asks for a stapled OCSP response; a
        server answers one): context::request_ocsp_staple. */
    bool request_ocsp = true;
};

/** One server connection's count of the client's renegotiations (the
    limits are renegotiation_burst and its neighbours). */
struct renegotiation_count {
    unsigned accepted = 0;  // in the window that started at window_start
    std::chrono::steady_clock::time_point window_start{};
    unsigned refused = 0;

    /** Decides on one client-initiated renegotiation. */
    bool admit(bool allowed) {
        const auto now = std::chrono::steady_clock::now();
        if (allowed) {
            if (accepted == 0 || now - window_start >= renegotiation_window) {
                window_start = now;
                accepted = 0;
            }
            if (accepted < renegotiation_burst) {
                ++accepted;
                return true;
            }
        }
        ++refused;
        return false;
    }
};

/** What tlsw's default policy is on both engines: forward-secret AEAD
    suites only, secure renegotiation only (TLS 1.2), AES-GCM first where
    the CPU accelerates it. Each engine's default_policy (detail/botan2/,
    detail/botan3/) adds what its Botan version names differently. */
class default_policy_base : public Botan::TLS::Policy {
public:
    using settings = policy_settings;
    using connection_state = renegotiation_count;

    /** `requested`, when given, is true while this server's own HelloRequest
        is outstanding: Botan checks allow_client_initiated_renegotiation()
        on the ClientHello that answers it too, and would refuse the
        renegotiation it asked for. */
    explicit default_policy_base(settings s, const bool* requested = nullptr, connection_state* connection = nullptr)
        : settings_(s), requested_(requested), connection_(connection) {}

    std::vector<std::string> allowed_ciphers() const override { return preferred_ciphers(); }
    std::vector<std::string> allowed_macs() const override { return {"AEAD"}; }
    // Botan asks this once per known suite (about a hundred per handshake),
    // and its own version copies allowed_ciphers() and allowed_macs() each
    // time: compare with ours in place instead.
    bool acceptable_ciphersuite(const Botan::TLS::Ciphersuite& suite) const override {
        if (suite.mac_algo() != "AEAD")
            return false;
        const std::string cipher = suite.cipher_algo();
        const auto& ciphers = preferred_ciphers();
        return std::find(ciphers.begin(), ciphers.end(), cipher) != ciphers.end();
    }
    // ECDHE only: no static RSA (no forward secrecy), no experimental CECPQ1.
    std::vector<std::string> allowed_key_exchange_methods() const override { return {"ECDH"}; }
    std::vector<std::string> allowed_signature_methods() const override { return {"ECDSA", "RSA"}; }
    bool allow_tls12() const override { return settings_.min_version <= 2; }
    bool allow_insecure_renegotiation() const override { return false; }
    // OpenSSL 3's defaults: a client follows a server's HelloRequest; a
    // server refuses a client's renegotiation unless told otherwise.
    bool allow_server_initiated_renegotiation() const override { return true; }
    bool allow_client_initiated_renegotiation() const override {
        if (requested_ && *requested_)
            return true;
        // Botan asks once per ClientHello on an established connection.
        if (!connection_)
            return settings_.allow_client_renegotiation;
        return connection_->admit(settings_.allow_client_renegotiation);
    }
    // Asked right after a refusal: warnings first, then the connection ends.
    bool abort_connection_on_undesired_renegotiation() const override {
        return connection_ && connection_->refused > renegotiation_refusals_fatal;
    }
    bool require_client_certificate_authentication() const override { return settings_.require_client_certificate; }
    // Verification is ours (the engine's tls_verify_cert_chain); real
    // chains rarely come with CRL or OCSP data for every intermediate.
    bool require_cert_revocation_info() const override { return false; }
    bool support_cert_status_message() const override { return settings_.request_ocsp; }
#ifdef TLSW_FUZZING
    // Fuzzing builds: no clock in the hello random, so that a recorded
    // flight still verifies when a fuzz input replays it (see rng.hpp).
    bool include_time_in_hello_random() const override { return false; }
#endif

protected:
    const settings& configured() const noexcept { return settings_; }

private:
    /** One list for the process, not one per policy object: a server
        makes a policy per stream (for its renegotiation count), and a
        per-object copy cost every idle stream its strings. */
    static const std::vector<std::string>& preferred_ciphers() {
        // Botan's own order puts ChaCha20 first, about 3x slower than
        // AES-GCM on CPUs with AES and carry-less multiply instructions.
        static const std::vector<std::string> ciphers =
            has_aes_instructions() ? std::vector<std::string>{"AES-128/GCM", "AES-256/GCM", "ChaCha20Poly1305"}
                                   : std::vector<std::string>{"ChaCha20Poly1305", "AES-128/GCM", "AES-256/GCM"};
        return ciphers;
    }

    static bool has_aes_instructions() noexcept {
#if defined(TLSW_FUZZING)
        return true;  // one order on every CPU: a fuzz input replays the same everywhere
#elif (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
        // Botan's own CPUID header is slated to become internal.
        return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRYPTO)
        return true;
#else
        return false;
#endif
    }

    settings settings_;
    const bool* requested_;
    connection_state* connection_;
};

/** The kinds of value a policy text key takes (check_policy_text). */
enum class policy_value { boolean, number, ciphers, macs, kex, sig_methods, sig_hashes, groups, numbers };

}  // namespace tlsw::detail

// The Botan-version parts of the configuration: default_policy, the text
// policy keys only that version knows, the session manager, the highest
// TLS version. The one place besides detail/engine.hpp that picks a version.
#if BOTAN_VERSION_MAJOR >= 3
#include <tlsw/detail/botan3/client_cache.hpp>
#include <tlsw/detail/botan3/config.hpp>
#else
#include <tlsw/detail/botan2/config.hpp>
#endif

namespace tlsw::detail {

// ---- policy text ---------------------------------------------------------

/** Reads every value of `policy` that tlsw or Botan reads from a policy
    (Text_Policy parses a value only when asked for it, and may throw then):
    what this survives, a handshake survives too. Throws what Botan throws. */
inline void read_every_policy_value(const Botan::TLS::Policy& policy) {
    static_cast<void>(policy.to_string());  // Policy::print: most values; the identity hashes it
    static_cast<void>(policy.allowed_ciphers());
    static_cast<void>(policy.allowed_macs());
    static_cast<void>(policy.allowed_key_exchange_methods());
    static_cast<void>(policy.allowed_signature_methods());
    static_cast<void>(policy.allowed_signature_hashes());
    static_cast<void>(policy.key_exchange_groups());
    static_cast<void>(policy.srtp_profiles());
    static_cast<void>(policy.session_ticket_lifetime());
    static_cast<void>(policy.require_client_certificate_authentication());
    static_cast<void>(policy.allow_client_initiated_renegotiation());
    static_cast<void>(policy.allow_server_initiated_renegotiation());
    static_cast<void>(policy.latest_supported_version(false));  // throws when no version is left
    read_version_policy_values(policy);  // the values only this Botan version has
}

/** A policy in Botan's text format ("key = value" lines), checked and
    rewritten as the text Botan is given. */
struct checked_policy_text {
    /** One "key = value" line per setting, in order: no comments, blank
        lines, carriage returns or extra spaces. Botan reads this text, so
        it reads exactly the values that were checked (it would keep a
        "\r" in a value, and Text_Policy throws when that value is read). */
    std::string text;
    /** For each line of `text`, the number of the line it came from. */
    std::vector<std::size_t> source_lines;
};

/** Checks a policy in Botan's text format before anything uses it:
    Text_Policy parses its values only when the handshake asks for them, so
    a bad value would otherwise fail the first handshake with a
    decode_error, or throw out of whatever reads it first. Returns the
    checked text, or the sentence naming the line and key. The text's own
    line ends may be LF or CRLF. Work is linear in the text's length. */
[[nodiscard]] inline expected<checked_policy_text, std::string> check_policy_text(std::string_view text) {
    using kind = policy_value;
    static const std::map<std::string, kind, std::less<>> keys = [] {
        std::map<std::string, kind, std::less<>> all = {
        {"use_ecc_point_compression", kind::boolean},
        {"allow_tls12", kind::boolean},
        {"allow_dtls12", kind::boolean},
        {"allow_insecure_renegotiation", kind::boolean},
        {"include_time_in_hello_random", kind::boolean},
        {"require_client_certificate_authentication", kind::boolean},
        {"allow_client_initiated_renegotiation", kind::boolean},
        {"allow_server_initiated_renegotiation", kind::boolean},
        {"server_uses_own_ciphersuite_preferences", kind::boolean},
        {"negotiate_encrypt_then_mac", kind::boolean},
        {"support_cert_status_message", kind::boolean},
        {"require_cert_revocation_info", kind::boolean},
        {"hide_unknown_users", kind::boolean},
        {"minimum_ecdh_group_size", kind::number},
        {"minimum_ecdsa_group_size", kind::number},
        {"minimum_dh_group_size", kind::number},
        {"minimum_rsa_bits", kind::number},
        {"minimum_signature_strength", kind::number},
        {"dtls_default_mtu", kind::number},
        {"dtls_initial_timeout", kind::number},
        {"dtls_maximum_timeout", kind::number},
        {"session_ticket_lifetime", kind::number},
        {"ciphers", kind::ciphers},
        {"macs", kind::macs},
        {"key_exchange_methods", kind::kex},
        {"signature_methods", kind::sig_methods},
        {"signature_hashes", kind::sig_hashes},
        {"key_exchange_groups", kind::groups},
        {"groups", kind::groups},
        {"srtp_profiles", kind::numbers},
        };
        // The keys only this Botan version reads (detail/botanN/config.hpp).
        for (const auto& [key, value] : version_policy_keys())
            all.emplace(key, value);
        return all;
    }();
    // The names Botan knows, from its own cipher suite table.
    static const auto known = [] {
        std::map<kind, std::set<std::string, std::less<>>> names;
        for (const auto& suite : Botan::TLS::Ciphersuite::all_known_ciphersuites()) {
            names[kind::ciphers].insert(suite.cipher_algo());
            names[kind::macs].insert(suite.mac_algo());
            names[kind::kex].insert(suite.kex_algo());
            names[kind::sig_methods].insert(suite.sig_algo());
        }
        names[kind::sig_hashes] = {"SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"};
        return names;
    }();
    const auto trim = [](std::string_view s) {
        const auto b = s.find_first_not_of(" \t\r");
        if (b == std::string_view::npos)
            return std::string_view();
        return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
    };
    const auto is_number = [](std::string_view v) {
        return !v.empty() && v.size() <= 10 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
               std::stoull(std::string(v)) <= 0xFFFFFFFFull;
    };
    const auto words = [](std::string_view v) {
        std::vector<std::string> out;
        std::size_t i = 0;
        while (i < v.size()) {
            const auto end = std::min(v.find(' ', i), v.size());
            if (end > i)
                out.emplace_back(v.substr(i, end - i));
            i = end + 1;
        }
        return out;
    };
    // Botan drops a group it does not know; its name table is not
    // exported, so ask it one group at a time.
    const auto known_group = [](const std::string& name) {
        try {
            return !Botan::TLS::Text_Policy("key_exchange_groups = " + name).key_exchange_groups().empty();
        } catch (const std::exception&) {
            return false;
        }
    };

    checked_policy_text out;
    std::size_t line_no = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        ++line_no;
        const auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        line = trim(line.substr(0, line.find('#')));
        if (line.empty())
            continue;
        const std::string where = "policy line " + std::to_string(line_no);
        const auto eq = line.find('=');
        if (eq == std::string_view::npos)
            return unexpected(where + ": expected 'key = value', got '" + std::string(line) + "'");
        const std::string key(trim(line.substr(0, eq)));
        const std::string value(trim(line.substr(eq + 1)));
        const auto it = keys.find(key);
        if (it == keys.end())
            return unexpected(where + ": unknown key '" + key + "'");
        const std::string bad = where + ": key '" + key + "' has a bad value '" + value + "': ";
        std::vector<std::string> checked;  // the value's words, each checked
        switch (it->second) {
        case kind::boolean:
            if (value != "true" && value != "True" && value != "false" && value != "False")
                return unexpected(bad + "expected true or false");
            checked = {value};
            break;
        case kind::number:
            if (!is_number(value))
                return unexpected(bad + "expected a whole number");
            checked = {value};
            break;
        case kind::numbers:
            checked = words(value);
            for (const auto& w : checked)
                if (!is_number(w) || std::stoul(w) > 0xFFFF)
                    return unexpected(bad + "'" + w + "' is not a 16-bit number");
            break;
        case kind::groups:
            checked = words(value);
            for (const auto& w : checked)
                if (!known_group(w))
                    return unexpected(bad + "unknown group '" + w + "'");
            break;
        default:
            checked = words(value);
            for (const auto& w : checked)
                if (!known.at(it->second).contains(w))
                    return unexpected(bad + "unknown name '" + w + "'");
            break;
        }
        // Botan refuses a line that ends at its '='.
        if (checked.empty())
            return unexpected(where + ": key '" + key + "' has no value");
        out.text += key + " =";
        for (const auto& w : checked)
            out.text += ' ' + w;
        out.text += '\n';
        out.source_lines.push_back(line_no);
    }
    return out;
}

/** A checked policy text (check_policy_text) as Botan's Text_Policy, or the
    sentence saying why Botan refuses it: every value is read now, so that
    nothing reading it later throws. A refusal names the first line whose
    policy, with the lines before it, Botan refuses (a value out of Botan's
    range, or lines that together leave no TLS version), found by bisection:
    a few more parses of the text. */
[[nodiscard]] inline expected<std::shared_ptr<const Botan::TLS::Policy>, std::string>
parse_policy_text(const checked_policy_text& checked) {
    // Botan's refusal of the first `lines` lines, or nothing.
    const auto refusal = [&](std::size_t lines) -> std::optional<std::string> {
        std::size_t end = 0;
        for (std::size_t i = 0; i < lines; ++i)
            end = checked.text.find('\n', end) + 1;
        try {
            read_every_policy_value(Botan::TLS::Text_Policy(checked.text.substr(0, end)));
            return std::nullopt;
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
    };
    std::shared_ptr<const Botan::TLS::Policy> policy;
    std::string why;
    try {
        auto parsed = std::make_shared<Botan::TLS::Text_Policy>(checked.text);
        read_every_policy_value(*parsed);
        if (auto none = policy_leaves_no_suite(*parsed))
            return unexpected(std::move(*none));
        return parsed;
    } catch (const std::exception& e) {
        why = e.what();
    }
    // Lines [0, good) pass (no lines: Botan's defaults), [0, bad) do not.
    std::size_t good = 0;
    std::size_t bad = checked.source_lines.size();
    if (bad == 0 || refusal(0))
        return unexpected("policy: Botan refuses it: " + why);
    while (bad - good > 1) {
        const std::size_t mid = good + (bad - good) / 2;
        if (auto r = refusal(mid)) {
            bad = mid;
            why = std::move(*r);
        } else {
            good = mid;
        }
    }
    std::size_t begin = 0;
    for (std::size_t i = 0; i + 1 < bad; ++i)
        begin = checked.text.find('\n', begin) + 1;
    const std::string line = checked.text.substr(begin, checked.text.find('\n', begin) - begin);
    const std::string key = line.substr(0, line.find(" ="));
    return unexpected("policy line " + std::to_string(checked.source_lines[bad - 1]) + ": key '" + key +
                      "': Botan refuses the policy from this line on: " + why);
}

// ---- server names ----------------------------------------------------------

/** The bytes of an IP address literal (IPv4 dotted quad, IPv6, either in
    brackets), or nothing for a DNS name. */
inline std::optional<std::vector<std::uint8_t>> ip_address(std::string_view name) {
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']')
        name = name.substr(1, name.size() - 2);
    const std::string text(name);
    std::array<std::uint8_t, 16> bytes{};
    if (::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1)
        return std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 4);
    if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1)
        return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
    return std::nullopt;
}

/** Whether `cert` has an iPAddress subject alternative name equal to `ip`
    (see ip_san_bytes); an address never matches a DNS name or the common
    name (RFC 6125 1.7.2). */
inline bool has_ip_san(const Botan::X509_Certificate& cert, const std::vector<std::uint8_t>& ip) {
    const auto all = ip_san_bytes(cert);
    return std::find(all.begin(), all.end(), ip) != all.end();
}

// ---- the snapshot ----------------------------------------------------------

/** The system trust store, loaded on first use and shared by every
    snapshot of a context (it never changes under them). */
class system_trust_store {
public:
    Botan::Certificate_Store* get() const {
        std::call_once(once_, [this] {
            try {
                store_ = std::make_unique<Botan::System_Certificate_Store>();
            } catch (const std::exception&) {
                // No system bundle: only the context's own trust applies.
            }
        });
        return store_.get();
    }

private:
    mutable std::once_flag once_;
    mutable std::unique_ptr<Botan::Certificate_Store> store_;
};

/** One configuration of a context, as streams see it: immutable once
    published (context makes a new one for every change), so a stream's
    Botan channel can hold references into it for its whole life. Only the
    session cache changes, and it locks itself. */
struct context_state {
    // ---- what the user set ----
    role side = role::client;
    bool verify = true;
    bool use_system_trust = false;
    default_policy::settings settings;
    std::shared_ptr<const Botan::TLS::Policy> text_policy;  // replaces the default policy and its settings
    std::shared_ptr<const credential_data> creds;
    /** A server's further credentials (context::add_credentials), after
        `creds` in the order added: the first whose leaf names the client's
        SNI is presented, `creds` when none does. */
    std::vector<std::shared_ptr<const credential_data>> more_creds;
    std::shared_ptr<const Botan::Certificate_Store_In_Memory> trust =
        std::make_shared<Botan::Certificate_Store_In_Memory>();
    std::vector<std::string> alpn;  // a server's supported protocols, most preferred first
    Botan::SymmetricKey configured_ticket_key;  // empty: no session tickets
    bool session_cache = true;
    std::size_t session_cache_size = 1000;
    std::shared_ptr<const system_trust_store> system_trust = std::make_shared<system_trust_store>();
    /** context::danger_key_log: receives one NSS key-log line per session
        established; empty when off. Not part of the identity: it decides
        nothing about who may connect. */
    std::shared_ptr<const std::function<void(std::string_view)>> key_log;
    /** context::verify_hook: runs after the built-in checks, or instead of
        them when hook_replaces_checks (danger_verify_hook). */
    std::shared_ptr<const std::function<verify_result(const verify_request&)>> verify_hook;
    bool hook_replaces_checks = false;
    /** What stands for the hook in the identity: 32 random bytes made when
        the hook is set (no other context, in this process or another,
        shares them), or the stable name the user gave it. Never a counter
        or an address: those repeat across processes. */
    std::string verify_hook_identity;
    /** context::session_export_key: the secret exported sessions are
        sealed with (random per context unless set); with the identity it
        makes export_key. */
    Botan::SymmetricKey configured_export_key;
    /** context::staple_ocsp_response: a server's OCSP response per leaf,
        or null. Not part of the identity: it is news about a certificate
        that already is. */
    std::shared_ptr<const ocsp_staples> ocsp_responses;
    /** context::require_ocsp_staple: a client fails a full handshake
        without a good, verified stapled response. */
    bool ocsp_required = false;
    /** context::choose_credentials: picks a server's credentials per
        ClientHello (detail/credential_selection.hpp), in place of the SNI
        match over `creds` and `more_creds`; null when unset. Its identity
        is made as verify_hook_identity's. */
    std::shared_ptr<const credentials_chooser> choose_credentials;
    std::string choose_credentials_identity;
    /** The SHA-256 of each CRL context::add_crl added, for the identity
        (the CRLs themselves are in `trust`, where path validation finds
        them). */
    std::vector<std::string> crl_fingerprints;

    // ---- derived by publish() ----
    std::shared_ptr<const Botan::TLS::Policy> policy;
    /** A hash over every setting that decides who may connect (OpenSSL's
        session-id context): sessions resume only under the same one. */
    std::vector<std::uint8_t> identity;
    /** The key tickets are sealed with: derived from the configured key and
        the identity, so another configuration sharing the configured key
        cannot open them and makes a full handshake instead. */
    Botan::SymmetricKey ticket_key;
    /** The key exported sessions are sealed with: derived from the secret
        configured_export_key and the identity, so a session opens only
        where both match. */
    Botan::SymmetricKey export_key;
    std::shared_ptr<Botan::TLS::Session_Manager> sessions;

    const Botan::TLS::Policy& tls_policy() const { return *policy; }

    std::vector<Botan::Certificate_Store*> trust_stores() const {
        // Botan's interface wants mutable pointers; it only reads.
        std::vector<Botan::Certificate_Store*> stores{const_cast<Botan::Certificate_Store_In_Memory*>(trust.get())};
        if (use_system_trust)
            if (auto* system = system_trust->get())
                stores.push_back(system);
        return stores;
    }

    bool trusts_anyone() const { return !trust->all_subjects().empty(); }

    /** Derives the policy, identity, ticket key and session cache of this
        state from its settings. The cache of `previous` is kept when the
        identity and the cache settings did not change: sessions are shared
        exactly where they were made under the same configuration. */
    void publish(const context_state* previous) {
        policy = text_policy ? text_policy : std::make_shared<default_policy>(settings);
        identity = compute_identity();
        // Tickets need the switch on and a key; the switch never touches
        // the key, so turning tickets off and on keeps a fleet's shared key.
        ticket_key = side == role::server && settings.session_tickets && configured_ticket_key.length() > 0
                         ? derive_key(configured_ticket_key, "tlsw session ticket key")
                         : Botan::SymmetricKey();
        export_key = configured_export_key.length() > 0 ? derive_key(configured_export_key, "tlsw exported session")
                                                        : Botan::SymmetricKey();
        // On Botan 3 the session manager seals the tickets itself, so it
        // holds the ticket key: a new key needs a new manager there.
        if (previous && previous->sessions && previous->identity == identity &&
            previous->session_cache == session_cache && previous->session_cache_size == session_cache_size &&
            (!session_manager_holds_ticket_key || previous->ticket_key == ticket_key)) {
            sessions = previous->sessions;
        } else {
#if BOTAN_VERSION_MAJOR >= 3
            // A client's cache bounded in bytes too (a TLS 1.3 server sends
            // as many tickets as it likes).
            if (side == role::client && session_cache) {
                sessions = std::make_shared<client_session_cache>(shared_rng(), session_cache_size);
                return;
            }
#endif
            sessions = make_session_manager(session_cache ? session_cache_size : 0, ticket_key);
        }
    }

private:
    /** HMAC-SHA-256 under `secret` of `label` and the identity: a key that
        only this secret under this configuration makes. */
    Botan::SymmetricKey derive_key(const Botan::SymmetricKey& secret, std::string_view label) const {
        auto mac = Botan::MessageAuthenticationCode::create_or_throw("HMAC(SHA-256)");
        mac->set_key(secret);
        mac->update(reinterpret_cast<const std::uint8_t*>(label.data()), label.size());
        mac->update(identity);
        return Botan::SymmetricKey(mac->final());
    }

    /** The policy's settings with each list sorted: preference order does
        not decide who may connect, and the default order depends on the
        CPU (servers of one fleet sharing a ticket key may differ in it). */
    std::string canonical_policy() const {
        std::string out;
        const std::string text = policy->to_string();
        std::size_t pos = 0;
        while (pos < text.size()) {
            const std::size_t end = std::min(text.find('\n', pos), text.size());
            const std::string line = text.substr(pos, end - pos);
            pos = end + 1;
            const std::size_t eq = line.find('=');
            if (eq == std::string::npos) {
                out += line + '\n';
                continue;
            }
            std::vector<std::string> values;
            for (std::size_t i = eq + 1; i < line.size();) {
                const std::size_t space = std::min(line.find(' ', i), line.size());
                if (space > i)
                    values.push_back(line.substr(i, space - i));
                i = space + 1;
            }
            std::sort(values.begin(), values.end());
            out += line.substr(0, eq + 1);
            for (const auto& v : values)
                out += ' ' + v;
            out += '\n';
        }
        return out;
    }

    std::vector<std::uint8_t> compute_identity() const {
        auto hash = Botan::HashFunction::create_or_throw("SHA-256");
        const auto add = [&](std::string_view field) {
            const std::uint64_t n = field.size();  // length-prefixed: fields cannot run into each other
            hash->update_be(n);
            hash->update(reinterpret_cast<const std::uint8_t*>(field.data()), field.size());
        };
        add("tlsw session identity 1");
        add(side == role::server ? "server" : "client");
        add(verify ? "verify" : "no verify");
        add(use_system_trust ? "system trust" : "no system trust");
        add(policy->require_client_certificate_authentication() ? "client certificate required" : "optional");
        add(canonical_policy());
        // Botan 2 finds shared_ptrs, Botan 3 certificates (a generic lambda:
        // only the branch of the Botan in use is compiled).
        const auto fingerprint = [](const auto& cert) {
            if constexpr (requires { cert->fingerprint("SHA-256"); })
                return cert->fingerprint("SHA-256");
            else
                return cert.fingerprint("SHA-256");
        };
        std::vector<std::string> anchors;
        for (const auto& dn : trust->all_subjects())
            for (const auto& cert : trust->find_all_certs(dn, {}))
                anchors.push_back(fingerprint(cert));
        std::sort(anchors.begin(), anchors.end());
        anchors.erase(std::unique(anchors.begin(), anchors.end()), anchors.end());
        add("trust");
        for (const auto& a : anchors)
            add(a);
        add("credentials");
        if (creds)
            for (const auto& cert : creds->chain)
                add(cert.fingerprint("SHA-256"));
        if (!more_creds.empty()) {
            // Every certificate a server may present decides who connects to
            // it: a session made under one set must not resume under another.
            add("more credentials");
            for (const auto& more : more_creds) {
                if (!more)
                    continue;
                add(std::to_string(more->chain.size()));
                for (const auto& cert : more->chain)
                    add(cert.fingerprint("SHA-256"));
            }
        }
        add("alpn");
        for (const auto& p : alpn)
            add(p);
        if (ocsp_required)
            add("stapled OCSP response required");
        if (verify_hook) {
            add(hook_replaces_checks ? "verify hook replacing the checks" : "verify hook");
            add(verify_hook_identity);
        }
        // What the callback may present, and which peers a CRL turns away.
        if (choose_credentials) {
            add("credentials callback");
            add(choose_credentials_identity);
        }
        if (!crl_fingerprints.empty()) {
            add("crls");
            for (const auto& crl : crl_fingerprints)
                add(crl);
        }
        const auto digest = hash->final();
        return {digest.begin(), digest.end()};
    }
};

/** Builds Botan's process-wide cipher-suite table, once, before any stream
    can use it. Botan builds it on first use in a function-local static
    whose guard its own code tests inline, outside any sanitizer's view: a
    stream in one thread reading the table another thread just built looked
    like a data race to ThreadSanitizer. Built here, under a guard of
    tlsw's own (which the sanitizer sees), every thread that makes a
    context, and so every stream, comes after it. */
inline void build_botan_tables() {
    static const std::size_t suites = Botan::TLS::Ciphersuite::all_known_ciphersuites().size();
    static_cast<void>(suites);
}

inline std::shared_ptr<context_state> make_context_state(role side) {
    build_botan_tables();
    auto state = std::make_shared<context_state>();
    state->side = side;
    return state;  // the caller finishes it and calls publish()
}

/** What both engines' Credentials_Manager hands Botan from a snapshot:
    certificates, trust and the ticket key, looked up alike on both Botan
    versions (each engine adapts the signatures). One per stream: a
    server's credentials callback narrows it to its choice (choose()). */
class credential_lookup {
public:
    explicit credential_lookup(const context_state& ctx) : ctx_(ctx) {}

    std::vector<Botan::Certificate_Store*> trusted_authorities(const std::string& type) const {
        // A server asks for client certificates only when it trusts someone
        // (Botan sends a CertificateRequest naming these CAs).
        if (type == "tls-server" && !ctx_.trusts_anyone())
            return {};
        return ctx_.trust_stores();
    }

    /** A server gets the client's SNI as `hostname` (empty without one):
        the first credentials whose leaf names it (exact, or a wildcard for
        one leftmost label, RFC 6125 6.4.3) and whose key suits
        `key_types`; else the first credentials whose key suits. */
    std::vector<Botan::X509_Certificate> chain_for(const std::vector<std::string>& key_types,
                                                   const std::string& hostname) const {
        const auto suits = [&](const std::shared_ptr<const credential_data>& c) {
            return c && !c->chain.empty() &&
                   std::find(key_types.begin(), key_types.end(), c->key->algo_name()) != key_types.end();
        };
        if (!hostname.empty())
            for (const auto* c : candidates())
                if (suits(*c) && names_host((*c)->chain.front(), hostname))
                    return (*c)->chain;
        for (const auto* c : candidates())
            if (suits(*c))
                return (*c)->chain;
        return {};
    }

    /** The credentials whose leaf is `cert` (they own its key), or null. */
    std::shared_ptr<const credential_data> credentials_of(const Botan::X509_Certificate& cert) const {
        for (const auto* c : candidates())
            if (*c && !(*c)->chain.empty() && cert == (*c)->chain.front())
                return *c;
        return nullptr;
    }

    const Botan::SymmetricKey& ticket_key() const noexcept { return ctx_.ticket_key; }

    /** Makes `chosen` the only candidate (a server's credentials callback
        chose it for the handshake in flight); null: the snapshot's again. */
    void choose(std::shared_ptr<const credential_data> chosen) noexcept { chosen_ = std::move(chosen); }

private:
    /** `creds`, then the further credentials, in order; or the chosen ones. */
    std::vector<const std::shared_ptr<const credential_data>*> candidates() const {
        if (chosen_)
            return {&chosen_};
        std::vector<const std::shared_ptr<const credential_data>*> all{&ctx_.creds};
        for (const auto& more : ctx_.more_creds)
            all.push_back(&more);
        return all;
    }

    /** RFC 6125 6.4: a DNS SAN (or, without DNS SANs, the CN) equal to
        `host` ignoring ASCII case, or a wildcard "*.rest" whose "*" stands
        for exactly one leftmost label of `host`. */
    static bool names_host(const Botan::X509_Certificate& leaf, const std::string& host) {
        const auto lower = [](std::string s) {
            for (auto& ch : s)
                if (ch >= 'A' && ch <= 'Z')
                    ch = static_cast<char>(ch - 'A' + 'a');
            return s;
        };
        const std::string want = lower(host);
        auto names = dns_sans(leaf);
        if (names.empty())
            names = leaf.subject_info("Name");
        for (const auto& raw : names) {
            const std::string name = lower(raw);
            if (name == want)
                return true;
            const auto dot = want.find('.');
            if (name.size() > 2 && name.starts_with("*.") && dot != std::string::npos && dot > 0 &&
                name.compare(1, std::string::npos, want, dot, std::string::npos) == 0)
                return true;
        }
        return false;
    }

    const context_state& ctx_;
    std::shared_ptr<const credential_data> chosen_;  // kept alive here: Botan 3 shares the key from it
};

}  // namespace tlsw::detail

#endif
