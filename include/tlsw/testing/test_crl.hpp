#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_TESTING_TEST_CRL_HPP
#define TLSW_TESTING_TEST_CRL_HPP

/** @file
    Certificate revocation lists made on the spot by a test PKI's CA
    (testing/test_pki.hpp), for tests of context::add_crl(). */

#include <tlsw/testing/test_pki.hpp>

#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509_crl.h>
#include <botan/x509cert.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace tlsw::testing {

/** When a CRL made by make_crl() is valid, relative to now. */
struct crl_options {
    /** Its thisUpdate; in the past by default, to tolerate clock skew. */
    std::chrono::seconds this_update_offset{-3600};
    /** How long after thisUpdate its nextUpdate comes. */
    std::chrono::seconds lifetime{86400 * 7};
};

/** A CRL, as PEM ("X509 CRL"), signed by the CA of `ca` (which must carry
    ca_cert_pem and ca_key_pem; its leaf fields are ignored), that revokes
    the first certificate of each PEM text in `revoked` (a leaf_cert_pem or
    chain_pem of a test_pki from the same CA), reason unspecified. An
    empty `revoked` gives a CRL that revokes nothing. Throws what Botan
    throws for PEM that does not parse. */
inline std::string make_crl(const test_pki& ca, const std::vector<std::string>& revoked = {},
                            const crl_options& options = {}) {
    Botan::DataSource_Memory cert_source(ca.ca_cert_pem);
    const Botan::X509_Certificate ca_cert(cert_source);
    Botan::DataSource_Memory key_source(ca.ca_key_pem);
    const std::unique_ptr<Botan::Private_Key> ca_key = Botan::PKCS8::load_key(key_source);
    Botan::RandomNumberGenerator& rng = Botan::system_rng();
    const Botan::X509_CA authority(ca_cert, *ca_key, "SHA-256", rng);
    const auto issued = std::chrono::system_clock::now() + options.this_update_offset;
    Botan::X509_CRL crl = authority.new_crl(rng, issued, options.lifetime);
    if (!revoked.empty()) {
        std::vector<Botan::CRL_Entry> entries;
        for (const auto& pem : revoked) {
            Botan::DataSource_Memory source(pem);
            entries.emplace_back(Botan::X509_Certificate(source));
        }
        crl = authority.update_crl(crl, entries, rng, issued, options.lifetime);
    }
    return crl.PEM_encode();
}

}  // namespace tlsw::testing

#endif
