#ifndef TLSW_TESTS_SUPPORT_OCSP_RESPONDER_HPP
#define TLSW_TESTS_SUPPORT_OCSP_RESPONDER_HPP

// OCSP responses made at test time (RFC 6960 4.2.1), DER encoded by hand
// and signed with Botan, so that a test chooses every field: the status,
// thisUpdate and nextUpdate (a stale response), the signer (the issuer, a
// delegated responder, an unrelated key) and the certificate it is about.

#include <tlsw/ocsp.hpp>
#include <tlsw/testing/test_pki.hpp>

#include <botan/build.h>
#include <botan/data_src.h>
#include <botan/hash.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/x509cert.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tlsw_test::ocsp {

using bytes = std::vector<std::uint8_t>;

/** A DER element: tag, definite length, contents. */
inline bytes tlv(std::uint8_t tag, const bytes& content) {
    bytes out{tag};
    const std::size_t n = content.size();
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else {
        bytes len;
        for (std::size_t v = n; v > 0; v >>= 8)
            len.insert(len.begin(), static_cast<std::uint8_t>(v & 0xFF));
        out.push_back(static_cast<std::uint8_t>(0x80 | len.size()));
        out.insert(out.end(), len.begin(), len.end());
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

inline bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline bytes seq(std::initializer_list<bytes> parts) { return tlv(0x30, cat(parts)); }

inline bytes generalized_time(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%d%H%M%SZ", &tm);
    return tlv(0x18, bytes(text, text + std::string(text).size()));
}

inline Botan::X509_Certificate certificate(const std::string& pem) {
    Botan::DataSource_Memory source(pem);
    return Botan::X509_Certificate(source);
}

inline std::unique_ptr<Botan::Private_Key> private_key(const std::string& pem) {
    Botan::DataSource_Memory source(pem);
    return Botan::PKCS8::load_key(source);
}

/** Who signs a response, and how its responder ID names the signer. */
struct signer {
    Botan::X509_Certificate cert;  // the responder's certificate (its name or key hash is the responder ID)
    std::shared_ptr<Botan::Private_Key> key;  // ECDSA P-256, as test_pki makes
    bool include_cert = false;  // carry `cert` in the response (a delegated responder must)
    bool by_key = false;        // responder ID byKey instead of byName
};

/** The signer of `pki`'s CA: the issuer itself. */
inline signer issuer_signer(const tlsw::testing::test_pki& pki) {
    return {certificate(pki.ca_cert_pem), private_key(pki.ca_key_pem)};
}

/** A responder certificate `pki`'s CA issues: with the OCSP-signing
    extended key usage (a delegated responder), or without it. */
inline signer delegated_signer(const tlsw::testing::test_pki& pki, bool ocsp_signing_usage = true) {
    auto& rng = Botan::system_rng();
    const auto ca_cert = certificate(pki.ca_cert_pem);
    const auto ca_key = private_key(pki.ca_key_pem);
    std::shared_ptr<Botan::Private_Key> key =
        std::make_unique<Botan::ECDSA_PrivateKey>(rng, tlsw::detail::pki::p256());
    Botan::Extensions extensions;
    namespace ext = Botan::Cert_Extension;
    tlsw::detail::pki::add_extension<ext::Basic_Constraints>(extensions, true, false);
    tlsw::detail::pki::add_extension<ext::Extended_Key_Usage>(
        extensions, false,
        std::vector<Botan::OID>{Botan::OID::from_string(ocsp_signing_usage ? "1.3.6.1.5.5.7.3.9" : "1.3.6.1.5.5.7.3.1")});
    Botan::X509_DN subject;
    subject.add_attribute("X520.CommonName", "tlsw test OCSP responder");
    const auto now = std::chrono::system_clock::now();
    auto cert = tlsw::detail::pki::sign_certificate(*ca_key, rng, key->subject_public_key(),
                                                    Botan::X509_Time(now - std::chrono::hours(1)),
                                                    Botan::X509_Time(now + std::chrono::hours(24)), ca_cert.subject_dn(),
                                                    subject, extensions);
    return {cert, key, true, false};
}

/** What a response says. Times are relative to now. */
struct response_options {
    tlsw::ocsp_cert_status status = tlsw::ocsp_cert_status::good;
    std::chrono::seconds this_update{-3600};
    std::optional<std::chrono::seconds> next_update = std::chrono::seconds(86400);
    std::chrono::seconds revoked_at{-7200};
};

/** A DER OCSPResponse about `leaf` (issued by `issuer`), signed by `by`. */
inline bytes make_response(const Botan::X509_Certificate& leaf, const Botan::X509_Certificate& issuer, const signer& by,
                           const response_options& options = {}) {
    const auto now = std::chrono::system_clock::now();
    auto sha1 = Botan::HashFunction::create_or_throw("SHA-1");
    const auto digest = [&](const std::vector<std::uint8_t>& data) {
        const auto d = sha1->process(data);
        return bytes(d.begin(), d.end());
    };
    bytes serial = leaf.serial_number();
    if (serial.empty() || (serial.front() & 0x80))
        serial.insert(serial.begin(), 0);
    const bytes sha1_id = seq({tlv(0x06, {0x2B, 0x0E, 0x03, 0x02, 0x1A}), tlv(0x05, {})});
    const bytes cert_id = seq({sha1_id, tlv(0x04, digest(leaf.raw_issuer_dn())),
                               tlv(0x04, digest(issuer.subject_public_key_bitstring())), tlv(0x02, serial)});
    bytes status;
    switch (options.status) {
    case tlsw::ocsp_cert_status::good: status = tlv(0x80, {}); break;
    case tlsw::ocsp_cert_status::revoked: status = tlv(0xA1, generalized_time(now + options.revoked_at)); break;
    case tlsw::ocsp_cert_status::unknown: status = tlv(0x82, {}); break;
    }
    const bytes next = options.next_update ? tlv(0xA0, generalized_time(now + *options.next_update)) : bytes();
    const bytes single = seq({cert_id, status, generalized_time(now + options.this_update), next});
    const bytes responder = by.by_key ? tlv(0xA2, tlv(0x04, digest(by.cert.subject_public_key_bitstring())))
                                      : tlv(0xA1, by.cert.raw_subject_dn());
    const bytes tbs = seq({responder, generalized_time(now - std::chrono::seconds(60)), seq({single})});

    auto& rng = Botan::system_rng();
#if BOTAN_VERSION_MAJOR >= 3
    Botan::PK_Signer pk_signer(*by.key, rng, "SHA-256", Botan::Signature_Format::DerSequence);
#else
    Botan::PK_Signer pk_signer(*by.key, rng, "EMSA1(SHA-256)", Botan::DER_SEQUENCE);
#endif
    const auto signature = pk_signer.sign_message(tbs, rng);
    bytes bit_string{0};
    bit_string.insert(bit_string.end(), signature.begin(), signature.end());
    const bytes ecdsa_sha256 = seq({tlv(0x06, {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02})});
    const bytes certs = by.include_cert ? tlv(0xA0, seq({by.cert.BER_encode()})) : bytes();
    const bytes basic = seq({tbs, ecdsa_sha256, tlv(0x03, bit_string), certs});
    const bytes basic_oid = tlv(0x06, {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01});
    return seq({tlv(0x0A, {0}), tlv(0xA0, seq({basic_oid, tlv(0x04, basic)}))});
}

/** An OCSPResponse with an error status and no response (tryLater: 3). */
inline bytes error_response(std::uint8_t status = 3) { return seq({tlv(0x0A, {status})}); }

inline std::span<const std::byte> as_span(const bytes& b) { return std::as_bytes(std::span(b)); }

}  // namespace tlsw_test::ocsp

#endif
