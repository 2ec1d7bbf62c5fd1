#ifndef TLSW_DETAIL_CRL_HPP
#define TLSW_DETAIL_CRL_HPP

// Certificate revocation lists for context::add_crl: parsed from PEM or
// DER, and checked against the context's trust anchors before they join
// its trust store (where Botan's path validation looks them up, on both
// engines and both roles).

#include <tlsw/config_error.hpp>
#include <tlsw/credentials.hpp>
#include <tlsw/detail/context_state.hpp>

#include <botan/build.h>
#include <botan/hash.h>
#include <botan/hex.h>
#include <botan/x509_crl.h>
#include <botan/x509cert.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlsw::detail {

/** Every CRL of `text`: the "X509 CRL" blocks of a PEM text (other blocks
    skipped), or one DER CRL. An error names the block (or the DER) that
    does not parse; a PEM text without a CRL is an error too. */
[[nodiscard]] inline config_result<std::vector<Botan::X509_CRL>> parse_crls(std::string_view text, std::string_view source) {
    std::vector<Botan::X509_CRL> crls;
    if (text.find("-----BEGIN") == std::string_view::npos) {
        try {
            crls.emplace_back(std::vector<std::uint8_t>(text.begin(), text.end()));
        } catch (const std::exception& e) {
            return unexpected(config_invalid(source, std::string("is neither PEM nor a DER CRL (") + e.what() + ")"));
        }
        return crls;
    }
    auto blocks = split_pem(text, source);
    if (!blocks)
        return unexpected(blocks.error());
    for (const auto& block : *blocks) {
        if (block.label != "X509 CRL")
            continue;
        auto der = decode_block(block, source);
        if (!der)
            return unexpected(der.error());
        try {
            crls.emplace_back(std::vector<std::uint8_t>(der->begin(), der->end()));
        } catch (const std::exception& e) {
            return unexpected(config_invalid(source, block.where() + " is damaged: not a CRL (" + e.what() + ")"));
        }
    }
    if (crls.empty())
        return unexpected(config_invalid(source, "holds no X509 CRL block"));
    return crls;
}

/** Why `crl` may not join the trust of `ctx`, or nothing: it must be
    signed by a trust anchor of the context (trust(), or the system store
    when it counts) named as its issuer, whose key usage allows signing
    CRLs, and be valid now (thisUpdate passed, nextUpdate not). */
[[nodiscard]] inline std::optional<std::string> crl_refusal(const Botan::X509_CRL& crl, const context_state& ctx) {
    const std::string issuer = crl.issuer_dn().to_string();
    const auto now = std::chrono::system_clock::now();
    if (crl.this_update().time_is_set() && crl.this_update().to_std_timepoint() > now)
        return "is not valid yet (thisUpdate " + crl.this_update().readable_string() + ")";
    if (crl.next_update().time_is_set() && crl.next_update().to_std_timepoint() < now)
        return "has expired (nextUpdate " + crl.next_update().readable_string() + ")";
    bool issuer_known = false;
    // By name alone: a CA of that name with another key is named below.
    for (auto* store : ctx.trust_stores()) {
        for (const auto& found : store->find_all_certs(crl.issuer_dn(), {})) {
            issuer_known = true;
            try {
#if BOTAN_VERSION_MAJOR >= 3  // Botan 2 finds shared_ptrs, Botan 3 certificates
                const Botan::X509_Certificate& ca = found;
                const auto key = ca.subject_public_key();
                const bool may_sign = ca.allowed_usage(Botan::Key_Constraints::CrlSign);
#else
                const Botan::X509_Certificate& ca = *found;
                const auto key = ca.load_subject_public_key();
                const bool may_sign = ca.allowed_usage(Botan::CRL_SIGN);
#endif
                if (may_sign && key && crl.check_signature(*key))
                    return std::nullopt;
            } catch (const std::exception&) {
                // A CA key Botan cannot load or verify with signed nothing here.
            }
        }
    }
    if (!issuer_known)
        return "is issued by " + issuer + ", which is not a trust anchor of this context (add it with trust() first)";
    return "is not signed by the trusted CA " + issuer + " (a bad signature, or a CA whose key usage excludes cRLSign)";
}

/** The SHA-256 of a CRL's DER, in hex: what the configuration identity holds. */
inline std::string crl_fingerprint(const Botan::X509_CRL& crl) {
    auto hash = Botan::HashFunction::create_or_throw("SHA-256");
    const auto der = crl.BER_encode();
    hash->update(der.data(), der.size());
    return Botan::hex_encode(hash->final());
}

}  // namespace tlsw::detail

#endif
