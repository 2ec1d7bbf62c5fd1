#ifndef TLSW_DETAIL_CERTIFICATE_HPP
#define TLSW_DETAIL_CERTIFICATE_HPP

// Turns Botan's certificates into tlsw's plain peer_certificate values, so
// that no Botan type reaches the public API.

#include <tlsw/peer_certificate.hpp>
#include <tlsw/session_info.hpp>

#include <botan/ber_dec.h>
#include <botan/hash.h>
#include <botan/x509_ext.h>
#include <botan/x509cert.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace tlsw::detail {

/** The iPAddress subject alternative names of `cert`, as raw bytes (4
    or 16 each). The SAN is decoded here rather than through Botan's
    AlternativeName, which drops 16-byte (IPv6) addresses when it parses a
    certificate. A SAN that does not decode names nothing. */
inline std::vector<std::vector<std::uint8_t>> ip_san_bytes(const Botan::X509_Certificate& cert) {
    std::vector<std::vector<std::uint8_t>> out;
    static const Botan::OID san_oid = Botan::OID::from_string("X509v3.SubjectAlternativeName");
    try {
        const auto raw = cert.v3_extensions().extensions_raw();
        const auto it = raw.find(san_oid);
        if (it == raw.end())
            return out;
        Botan::BER_Decoder outer(it->second.first);
        // The SEQUENCE of GeneralNames, opened without naming ASN.1 enums
        // (Botan 2 and 3 spell them differently).
        const Botan::BER_Object sequence = outer.get_next_object();
        if (static_cast<int>(sequence.type()) != 16)
            return out;
        Botan::BER_Decoder names(sequence);
        while (names.more_items()) {
            const Botan::BER_Object name = names.get_next_object();
            // [7] iPAddress, context-specific (class 0x80): compared as
            // numbers, since Botan 2 and 3 name these enums differently.
            if (static_cast<int>(name.type()) == 7 && static_cast<int>(name.get_class()) == 0x80)
                out.emplace_back(name.bits(), name.bits() + name.length());
        }
    } catch (const std::exception&) {
        out.clear();
    }
    return out;
}

/** The DNS subject alternative names of a certificate's AlternativeName:
    dns() on Botan 3, get_attribute("DNS") on Botan 2 (deprecated in 3). A
    template, so that only the branch of the Botan in use is compiled. */
template <class AlternativeName>
std::vector<std::string> dns_names_of(const AlternativeName& alt) {
    if constexpr (requires { alt.dns(); }) {
        const auto& dns = alt.dns();
        return {dns.begin(), dns.end()};
    } else {
        return alt.get_attribute("DNS");
    }
}

inline std::vector<std::string> dns_sans(const Botan::X509_Certificate& cert) {
    return dns_names_of(cert.subject_alt_name());
}

/** The IPv4 and IPv6 subject alternative names of `cert` as text. */
inline std::vector<std::string> ip_sans(const Botan::X509_Certificate& cert) {
    std::vector<std::string> out;
    char text[48];
    for (const auto& b : ip_san_bytes(cert)) {
        if (b.size() == 4) {
            std::snprintf(text, sizeof text, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
            out.emplace_back(text);
        } else if (b.size() == 16) {
            std::string s;
            for (std::size_t i = 0; i < 8; ++i) {
                std::snprintf(text, sizeof text, "%s%x", i ? ":" : "", unsigned(b[2 * i] << 8 | b[2 * i + 1]));
                s += text;
            }
            out.push_back(std::move(s));
        }
    }
    return out;
}

/** A value copy of `cert`: DER, names, dates and the key's pin. */
inline peer_certificate to_peer_certificate(const Botan::X509_Certificate& cert) {
    peer_certificate p;
    const auto der = cert.BER_encode();
    p.der.resize(der.size());
    if (!der.empty())
        std::memcpy(p.der.data(), der.data(), der.size());
    p.subject = cert.subject_dn().to_string();
    p.issuer = cert.issuer_dn().to_string();
    const auto cn = cert.subject_info("X520.CommonName");
    if (!cn.empty())
        p.common_name = cn.front();
    p.dns_names = dns_sans(cert);
    p.ip_addresses = ip_sans(cert);
    p.not_before = cert.not_before().to_std_timepoint();
    p.not_after = cert.not_after().to_std_timepoint();
    auto sha = Botan::HashFunction::create_or_throw("SHA-256");
    sha->update(cert.subject_public_key_info());
    const auto digest = sha->final();
    std::memcpy(p.spki_sha256.data(), digest.data(), std::min(digest.size(), p.spki_sha256.size()));
    return p;
}

inline std::vector<peer_certificate> to_peer_chain(const std::vector<Botan::X509_Certificate>& certs) {
    std::vector<peer_certificate> chain;
    chain.reserve(certs.size());
    for (const auto& c : certs)
        chain.push_back(to_peer_certificate(c));
    return chain;
}

/** The peer's chain as Botan holds it, for a certificate_chain to convert
    when first read: keeping Botan's objects costs a reference count each
    (they share their parsed data); converting costs DER re-encoding, DN
    text and a SHA-256 per certificate, most of a resumed handshake's own
    work, which most connections never look at. */
class botan_chain_source final : public chain_source {
public:
    explicit botan_chain_source(const std::vector<Botan::X509_Certificate>& certs) : certs_(certs) {}
    std::vector<peer_certificate> convert() const override { return to_peer_chain(certs_); }

private:
    std::vector<Botan::X509_Certificate> certs_;
};

/** The chain of a handshake, converted when first read; nothing allocated for an empty one. */
inline certificate_chain lazy_peer_chain(const std::vector<Botan::X509_Certificate>& certs) {
    if (certs.empty())
        return {};
    return certificate_chain(std::make_shared<const botan_chain_source>(certs));
}

}  // namespace tlsw::detail

#endif
