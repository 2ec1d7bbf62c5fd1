#ifndef TLSW_DETAIL_BOTAN3_PKI_HPP
#define TLSW_DETAIL_BOTAN3_PKI_HPP

// The certificate-building calls of tlsw/testing/test_pki.hpp on Botan 3,
// where the Botan 2 ones (detail/botan2/pki.hpp) are spelled differently.

#include <botan/der_enc.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pubkey.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tlsw::detail::pki {

/** An extension carrying pre-encoded DER: the SAN is built by hand (as on
    Botan 2.19, whose AlternativeName cannot encode IPv6) and the leaf made
    without a CSR. */
class raw_extension final : public Botan::Certificate_Extension {
public:
    raw_extension(Botan::OID id, std::vector<std::uint8_t> value) : oid(std::move(id)), der(std::move(value)) {}
    Botan::OID oid_of() const override { return oid; }
    std::string oid_name() const override { return "tlsw.testing.raw_extension"; }
    std::unique_ptr<Botan::Certificate_Extension> copy() const override {
        return std::make_unique<raw_extension>(oid, der);
    }

private:
    std::vector<std::uint8_t> encode_inner() const override { return der; }
    void decode_inner(const std::vector<std::uint8_t>&) override {}  // only ever encoded

    Botan::OID oid;
    std::vector<std::uint8_t> der;
};

inline void start_sequence(Botan::DER_Encoder& der) { der.start_sequence(); }

/** Adds a context-specific primitive [tag] holding `bytes`. */
inline void add_context_object(Botan::DER_Encoder& der, unsigned tag, const std::uint8_t* bytes, std::size_t n) {
    der.add_object(Botan::ASN1_Type(tag), Botan::ASN1_Class::ContextSpecific, bytes, n);
}

inline Botan::EC_Group p256() { return Botan::EC_Group::from_name("secp256r1"); }

/** digitalSignature, and keyEncipherment too when `rsa`. */
inline Botan::Key_Constraints leaf_usage(bool rsa) {
    return rsa ? Botan::Key_Constraints(Botan::Key_Constraints::DigitalSignature |
                                        Botan::Key_Constraints::KeyEncipherment)
               : Botan::Key_Constraints(Botan::Key_Constraints::DigitalSignature);
}

template <class Extension, class... Args>
void add_extension(Botan::Extensions& extensions, bool critical, Args&&... args) {
    extensions.add(std::make_unique<Extension>(std::forward<Args>(args)...), critical);
}

/** Signs a certificate for `public_key` with the CA's key (SHA-256). */
inline Botan::X509_Certificate sign_certificate(const Botan::Private_Key& ca_key, Botan::RandomNumberGenerator& rng,
                                                const std::vector<std::uint8_t>& public_key,
                                                const Botan::X509_Time& not_before, const Botan::X509_Time& not_after,
                                                const Botan::X509_DN& issuer, const Botan::X509_DN& subject,
                                                const Botan::Extensions& extensions) {
    const std::unique_ptr<Botan::PK_Signer> signer = Botan::X509_Object::choose_sig_format(ca_key, rng, "SHA-256", "");
    return Botan::X509_CA::make_cert(*signer, rng, signer->algorithm_identifier(), public_key, not_before, not_after,
                                     issuer, subject, extensions);
}

}  // namespace tlsw::detail::pki

#endif
