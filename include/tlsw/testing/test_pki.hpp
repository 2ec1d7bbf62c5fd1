#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_TESTING_TEST_PKI_HPP
#define TLSW_TESTING_TEST_PKI_HPP

/** @file
    tlsw::testing::make_test_pki(): a throwaway CA and a leaf made on the
    spot (in memory or written to files), for tests of code that uses tlsw. */

// Botan 2 and 3 spell the certificate-building calls differently: the few
// that differ are in detail/botan2/pki.hpp and detail/botan3/pki.hpp.
#include <botan/build.h>
#if BOTAN_VERSION_MAJOR >= 3
#include <tlsw/detail/botan3/pki.hpp>
#else
#include <tlsw/detail/botan2/pki.hpp>
#endif

#include <botan/data_src.h>
#include <botan/der_enc.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/hex.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>
#include <botan/x509self.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw::testing {

/** The key algorithm of a generated certificate. */
enum class key_type {
    ecdsa_p256, ///< ECDSA on secp256r1; fast to generate, the default
    rsa_2048,   ///< for peers or cipher suites that need RSA; keygen takes noticeably longer
};

/** What make_test_pki() and issue_leaf() put into the leaf certificate. */
struct pki_options {
    /** The leaf's subject alternative names; the first is also its CN. Each
        name that parses as an IPv4 or IPv6 address becomes an IP SAN, any
        other a DNS SAN (ASCII; use A-labels for IDNs). Must not be empty. */
    std::vector<std::string> hosts = {"localhost"};
    key_type key = key_type::ecdsa_p256;  ///< The key type of the CA and of the leaf.
    /** Leaf validity relative to now. A negative not_after_offset gives an
        expired leaf, a positive not_before_offset a not-yet-valid one;
        not_after_offset must be later than not_before_offset. */
    /** @{ */
    std::chrono::seconds not_before_offset{-3600};
    std::chrono::seconds not_after_offset{86400 * 30};
    /** @} */
    /** Extra DNS names added to the leaf after `hosts` (filler-N.invalid,
        about 24 bytes each in the certificate), to make a large
        certificate: 9,000 give a leaf of over 200 KiB, for tests of
        handshake messages larger than a record or a read. */
    std::size_t filler_names = 0;
};

/** A CA and one leaf it issued, all PEM; generated per run so nothing expires in the repository. */
struct test_pki {
    std::string ca_cert_pem;   ///< the CA certificate: what a client trusts
    std::string ca_key_pem;    ///< PKCS#8 PEM, unencrypted (lets a test issue more leaves)
    std::string leaf_cert_pem; ///< the leaf only
    std::string chain_pem;     ///< leaf followed by CA: what a server presents
    std::string leaf_key_pem;  ///< PKCS#8 PEM, unencrypted
};

/** Where write_files() put each PEM file. */
struct pki_files {
    std::filesystem::path ca;    ///< ca.pem: for -CAfile / --x509cafile
    std::filesystem::path chain; ///< chain.pem: leaf then CA, for -cert / --x509certfile
    std::filesystem::path leaf;  ///< leaf.pem: the leaf alone, e.g. for `openssl verify`
    std::filesystem::path key;   ///< key.pem: the leaf key, for -key / --x509keyfile
};

namespace detail {

using tlsw::detail::pki::raw_extension;

/** DER of a SubjectAltName for hosts (RFC 5280 4.2.1.6): dNSName [2] or iPAddress [7]. */
inline std::vector<std::uint8_t> encode_subject_alt_name(const std::vector<std::string>& hosts) {
    std::vector<std::uint8_t> out;
    Botan::DER_Encoder der(out);
    tlsw::detail::pki::start_sequence(der);
    for (const std::string& host : hosts) {
        std::array<std::uint8_t, 16> ip{};
        if (host.empty())
            throw std::invalid_argument("tlsw::testing: empty host name");
        if (::inet_pton(AF_INET, host.c_str(), ip.data()) == 1)
            tlsw::detail::pki::add_context_object(der, 7, ip.data(), 4);
        else if (::inet_pton(AF_INET6, host.c_str(), ip.data()) == 1)
            tlsw::detail::pki::add_context_object(der, 7, ip.data(), 16);
        else if (host.find(':') != std::string::npos) // a DNS SAN would hide the typo
            throw std::invalid_argument("tlsw::testing: malformed IPv6 address: " + host);
        else
            tlsw::detail::pki::add_context_object(der, 2, reinterpret_cast<const std::uint8_t*>(host.data()), host.size());
    }
    der.end_cons();
    return out;
}

/** Throws std::invalid_argument for options no leaf can be made from;
    called before any key generation, which is the slow part. */
inline void check_options(const pki_options& options) {
    if (options.hosts.empty())
        throw std::invalid_argument("tlsw::testing: pki_options::hosts is empty");
    if (options.not_after_offset <= options.not_before_offset)
        throw std::invalid_argument("tlsw::testing: not_after_offset must be later than not_before_offset");
    encode_subject_alt_name(options.hosts); // for its host name checks
}

inline std::unique_ptr<Botan::Private_Key> make_key(key_type type, Botan::RandomNumberGenerator& rng) {
    if (type == key_type::rsa_2048)
        return std::make_unique<Botan::RSA_PrivateKey>(rng, 2048);
    return std::make_unique<Botan::ECDSA_PrivateKey>(rng, tlsw::detail::pki::p256());
}

/** Issues a leaf from ca_cert/ca_key; the CA fields of the result are the given PEM. */
inline test_pki issue(const Botan::X509_Certificate& ca_cert, const Botan::Private_Key& ca_key,
                      const pki_options& options, std::chrono::system_clock::time_point now) {
    check_options(options);
    Botan::RandomNumberGenerator& rng = Botan::system_rng();
    const std::unique_ptr<Botan::Private_Key> key = make_key(options.key, rng);
    const std::vector<std::uint8_t> public_key = key->subject_public_key();

    // keyEncipherment too for RSA, else peers refuse TLS 1.2 static-RSA key exchange.
    const Botan::Key_Constraints usage = tlsw::detail::pki::leaf_usage(options.key == key_type::rsa_2048);

    Botan::Extensions extensions;
    namespace ext = Botan::Cert_Extension;
    using tlsw::detail::pki::add_extension;
    add_extension<ext::Basic_Constraints>(extensions, true, false);
    add_extension<ext::Key_Usage>(extensions, true, usage);
    add_extension<ext::Extended_Key_Usage>(
        extensions, false,
        std::vector<Botan::OID>{Botan::OID::from_string("PKIX.ServerAuth"), Botan::OID::from_string("PKIX.ClientAuth")});
    add_extension<ext::Authority_Key_ID>(extensions, false, ca_cert.subject_key_id());
    add_extension<ext::Subject_Key_ID>(extensions, false, public_key, "SHA-1");
    std::vector<std::string> names = options.hosts;
    for (std::size_t i = 0; i < options.filler_names; ++i)
        names.push_back("filler-" + std::to_string(i) + ".invalid");
    add_extension<raw_extension>(extensions, false, ext::Subject_Alternative_Name::static_oid(),
                                 encode_subject_alt_name(names));

    Botan::X509_DN subject;
    subject.add_attribute("X520.CommonName", options.hosts.front());

    const Botan::X509_Certificate leaf = tlsw::detail::pki::sign_certificate(
        ca_key, rng, public_key, Botan::X509_Time(now + options.not_before_offset),
        Botan::X509_Time(now + options.not_after_offset), ca_cert.subject_dn(), subject, extensions);

    test_pki result;
    result.ca_cert_pem = ca_cert.PEM_encode();
    result.ca_key_pem = Botan::PKCS8::PEM_encode(ca_key);
    result.leaf_cert_pem = leaf.PEM_encode();
    result.chain_pem = result.leaf_cert_pem + result.ca_cert_pem;
    result.leaf_key_pem = Botan::PKCS8::PEM_encode(*key);
    return result;
}

} // namespace detail

/** Makes a fresh CA and a leaf it signed, as configured by options.

    The CA is self-signed, CA:true with pathlen 0 and key usage
    keyCertSign/cRLSign, with the same key type as the leaf and a random
    suffix in its CN so two PKIs never share an issuer name. It is valid from
    an hour ago (tolerates peer clock skew) for a year, stretched to cover
    the leaf's validity. The leaf is CA:false, digitalSignature,
    serverAuth + clientAuth. Throws std::invalid_argument for bad options,
    Botan exceptions if key generation or signing fails. */
inline test_pki make_test_pki(const pki_options& options) {
    using namespace std::chrono_literals;
    detail::check_options(options);
    const auto now = std::chrono::system_clock::now();
    Botan::RandomNumberGenerator& rng = Botan::system_rng();
    const std::unique_ptr<Botan::Private_Key> ca_key = detail::make_key(options.key, rng);

    Botan::X509_Cert_Options ca_options;
    ca_options.common_name = "tlsw test CA " + Botan::hex_encode(rng.random_vec(4));
    ca_options.CA_key(0); // signs leaves only
    ca_options.start = Botan::X509_Time(std::min(now - 1h, now + options.not_before_offset));
    ca_options.end = Botan::X509_Time(std::max(now + 24h * 365, now + options.not_after_offset));
    const Botan::X509_Certificate ca_cert = Botan::X509::create_self_signed_cert(ca_options, *ca_key, "SHA-256", rng);

    return detail::issue(ca_cert, *ca_key, options, now);
}

/** Makes a fresh CA and a leaf for host with otherwise default pki_options. */
inline test_pki make_test_pki(std::string_view host = "localhost") {
    pki_options options;
    options.hosts = {std::string(host)};
    return make_test_pki(options);
}

/** Issues another leaf (a client certificate, a leaf for another name)
    from the CA of ca, which must carry ca_cert_pem and ca_key_pem; its leaf
    fields are ignored. The result has the same CA fields and a new leaf and
    key. The leaf may outlive the CA; nothing clamps it, so tests can build
    that case on purpose. */
inline test_pki issue_leaf(const test_pki& ca, const pki_options& options) {
    Botan::DataSource_Memory cert_source(ca.ca_cert_pem);
    const Botan::X509_Certificate ca_cert(cert_source);
    Botan::DataSource_Memory key_source(ca.ca_key_pem);
    const std::unique_ptr<Botan::Private_Key> ca_key = Botan::PKCS8::load_key(key_source);
    return detail::issue(ca_cert, *ca_key, options, std::chrono::system_clock::now());
}

/** Writes ca.pem, chain.pem, leaf.pem and key.pem (the leaf key) into dir,
    creating dir if needed and overwriting those files, for command-line
    peers such as openssl s_server or gnutls-serv. Throws
    std::filesystem::filesystem_error or std::runtime_error on failure. */
inline pki_files write_files(const test_pki& pki, const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    const pki_files files{dir / "ca.pem", dir / "chain.pem", dir / "leaf.pem", dir / "key.pem"};
    const auto write = [](const std::filesystem::path& path, const std::string& text) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out)
            throw std::runtime_error("tlsw::testing: cannot write " + path.string());
    };
    write(files.ca, pki.ca_cert_pem);
    write(files.chain, pki.chain_pem);
    write(files.leaf, pki.leaf_cert_pem);
    write(files.key, pki.leaf_key_pem);
    return files;
}

} // namespace tlsw::testing

#endif
