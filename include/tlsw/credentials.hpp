#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_CREDENTIALS_HPP
#define TLSW_CREDENTIALS_HPP

/** @file
    tlsw::credentials: a certificate chain and its private key, loaded from
    PEM files or text, checked to belong together; cheap to copy and shared
    between contexts and threads. */

#include <tlsw/config_error.hpp>
#include <tlsw/error.hpp>

#include <botan/asn1_obj.h>
#include <botan/base64.h>
#include <botan/ber_dec.h>
#include <botan/data_src.h>
#include <botan/der_enc.h>
#include <botan/pk_algs.h>
#include <botan/pkcs8.h>
#include <botan/pkix_types.h>
#include <botan/x509cert.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tlsw {

namespace detail {

struct credential_data {
    std::vector<Botan::X509_Certificate> chain;  // leaf first
    std::unique_ptr<Botan::Private_Key> key;
};

/** The largest configuration file read: far above any real PEM bundle
    (Debian's holds about 140 CAs in 200 KB), and a bound on a path that
    names a device or a huge file by mistake. */
inline constexpr std::size_t max_config_file = 64u << 20;

/** An invalid_argument config_error: "<source>: <what>". */
inline config_error config_invalid(std::string_view source, const std::string& what) {
    return config_error(tls_error(errc::invalid_argument), std::string(source) + ": " + what);
}

/** The whole of a configuration file, or why it cannot be read: the file
    and the OS's reason (errc::transport carrying errno). */
[[nodiscard]] inline config_result<std::string> load_file(const std::filesystem::path& path) {
    const auto fail = [&](int e) {
        const std::error_code ec(e, std::system_category());
        // message() reads "transport error: Permission denied: key.pem: cannot be read".
        return unexpected(config_error(tls_error::from_transport(ec), path.string() + ": cannot be read"));
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errno);
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    std::string text;
    char buf[16384];
    for (;;) {
        const ::ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(errno);  // EISDIR for a directory
        }
        if (n == 0)
            return text;
        if (text.size() + static_cast<std::size_t>(n) > max_config_file)
            return unexpected(config_invalid(path.string(), "is larger than 64 MiB, too large for a PEM file"));
        text.append(buf, static_cast<std::size_t>(n));
    }
}

/** load_file for callers that want only the tls_error. */
[[nodiscard]] inline expected<std::string, tls_error> read_file(const std::filesystem::path& path) {
    auto text = load_file(path);
    if (!text)
        return unexpected(text.error().error());
    return std::move(*text);
}

/** One "-----BEGIN label-----" ... "-----END label-----" block of a PEM text. */
struct pem_block {
    std::string label;
    std::size_t number = 0;  ///< 1 for the first block of the text
    std::size_t line = 0;    ///< the line of its BEGIN, from 1
    std::string body;        ///< the lines between BEGIN and END
    bool has_headers = false; ///< RFC 1421 headers ("Proc-Type: 4,ENCRYPTED")

    /** "PEM block 3 (CERTIFICATE) at line 41", for messages. */
    std::string where() const {
        return "PEM block " + std::to_string(number) + " (" + label + ") at line " + std::to_string(line);
    }
};

/** Every block of a PEM text, in order. Text outside blocks (comments, as
    some CA bundles carry between certificates) is ignored; a block whose
    END line is missing or names another label is an error naming the
    block, so a damaged bundle is never silently cut short. */
[[nodiscard]] inline config_result<std::vector<pem_block>> split_pem(std::string_view text, std::string_view source) {
    std::vector<pem_block> blocks;
    std::optional<pem_block> open;
    std::size_t line_number = 0;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        ++line_number;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        const bool begin = line.starts_with("-----BEGIN ") && line.ends_with("-----") && line.size() > 16;
        const bool end = line.starts_with("-----END ") && line.ends_with("-----") && line.size() > 14;
        // A BEGIN line we do not recognise, or one that is missing, would
        // hide its block as a comment.
        if (!open && !begin && line.find("-----BEGIN") != std::string_view::npos)
            return unexpected(config_invalid(source, "line " + std::to_string(line_number) +
                                                         " is a damaged BEGIN line: \"" + std::string(line.substr(0, 64)) +
                                                         "\""));
        if (!open && line.find("-----END") != std::string_view::npos)
            return unexpected(config_invalid(source, "line " + std::to_string(line_number) +
                                                         " ends a PEM block that has no BEGIN line"));
        if (open) {
            if (begin)
                return unexpected(config_invalid(source, open->where() + " has no END line: line " +
                                                             std::to_string(line_number) + " begins another block"));
            if (end) {
                const auto label = line.substr(9, line.size() - 14);
                if (label != open->label)
                    return unexpected(config_invalid(source, open->where() + " ends with END " + std::string(label) +
                                                                 " at line " + std::to_string(line_number)));
                blocks.push_back(std::move(*open));
                open.reset();
            } else if (line.find(':') != std::string_view::npos) {
                open->has_headers = true;
            } else {
                open->body.append(line);
                open->body.push_back('\n');
            }
        } else if (begin) {
            open.emplace();
            open->label = std::string(line.substr(11, line.size() - 16));
            open->number = blocks.size() + 1;
            open->line = line_number;
        }
    }
    if (open)
        return unexpected(config_invalid(source, open->where() + " has no END line: the text ends inside it"));
    return blocks;
}

/** The DER inside a block, or why it is not base64. */
[[nodiscard]] inline config_result<Botan::secure_vector<std::uint8_t>> decode_block(const pem_block& block, std::string_view source) {
    try {
        auto der = Botan::base64_decode(block.body);
        if (der.empty())
            return unexpected(config_invalid(source, block.where() + " is damaged: it is empty"));
        return der;
    } catch (const std::exception&) {
        return unexpected(config_invalid(source, block.where() + " is damaged: its body is not valid base64"));
    }
}

inline bool is_certificate_label(std::string_view label) {
    return label == "CERTIFICATE" || label == "X509 CERTIFICATE";
}

/** Every certificate of a PEM text, in order, or an error naming the
    first block that does not parse (never a silently shortened list).
    Blocks of other kinds (a CRL, a key) are skipped; a text without any
    certificate is an error. `source` names the text in messages. */
[[nodiscard]] inline config_result<std::vector<Botan::X509_Certificate>> parse_certificates(std::string_view pem,
                                                                               std::string_view source) {
    auto blocks = split_pem(pem, source);
    if (!blocks)
        return unexpected(blocks.error());
    std::vector<Botan::X509_Certificate> certs;
    for (const auto& block : *blocks) {
        if (block.label == "TRUSTED CERTIFICATE")
            return unexpected(config_invalid(source, block.where() +
                                                         " is in OpenSSL's own trusted-certificate format, which tlsw "
                                                         "does not read: store it as a plain CERTIFICATE"));
        if (!is_certificate_label(block.label))
            continue;
        auto der = decode_block(block, source);
        if (!der)
            return unexpected(der.error());
        try {
            certs.emplace_back(std::vector<std::uint8_t>(der->begin(), der->end()));
        } catch (const std::exception& e) {
            return unexpected(config_invalid(source, block.where() + " is damaged: not a certificate (" + e.what() + ")"));
        }
    }
    if (certs.empty())
        return unexpected(config_invalid(source, blocks->empty() ? "is not PEM: no \"-----BEGIN\" line found"
                                                                 : "holds no CERTIFICATE block"));
    return certs;
}

/** The private key of a PEM text: PKCS#8 ("PRIVATE KEY", or "ENCRYPTED
    PRIVATE KEY" with a passphrase), PKCS#1 RSA ("RSA PRIVATE KEY") or SEC1
    EC ("EC PRIVATE KEY"). Other blocks (certificates, EC PARAMETERS) are
    skipped; more than one key is an error. */
[[nodiscard]] inline config_result<std::unique_ptr<Botan::Private_Key>>
parse_private_key(std::string_view pem, std::string_view source, const std::string_view* passphrase) {
    auto blocks = split_pem(pem, source);
    if (!blocks)
        return unexpected(blocks.error());
    const pem_block* found = nullptr;
    for (const auto& block : *blocks) {
        if (!block.label.ends_with("PRIVATE KEY"))
            continue;
        if (found)
            return unexpected(config_invalid(source, "holds more than one private key (" + found->where() + " and " +
                                                         block.where() + ")"));
        found = &block;
    }
    if (!found)
        return unexpected(config_invalid(source, blocks->empty() ? "is not PEM: no \"-----BEGIN\" line found"
                                                                 : "holds no PRIVATE KEY block"));
    const pem_block& block = *found;
    const bool pkcs8 = block.label == "PRIVATE KEY";
    const bool encrypted = block.label == "ENCRYPTED PRIVATE KEY";
    const bool rsa = block.label == "RSA PRIVATE KEY";
    const bool ec = block.label == "EC PRIVATE KEY";
    if (!pkcs8 && !encrypted && !rsa && !ec)
        return unexpected(config_invalid(source, block.where() +
                                                     " is an unsupported key type: tlsw takes RSA and ECDSA keys as "
                                                     "PRIVATE KEY (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY"));
    if (block.has_headers)
        return unexpected(config_invalid(source, block.where() +
                                                     " is encrypted with OpenSSL's legacy PEM encryption, which tlsw "
                                                     "does not read: convert it to PKCS#8 (openssl pkcs8 -topk8)"));
    if (encrypted && !passphrase)
        return unexpected(config_invalid(source, block.where() +
                                                     " is encrypted: pass its passphrase, or give an unencrypted key"));
    auto der = decode_block(block, source);
    if (!der)
        return unexpected(der.error());

    std::unique_ptr<Botan::Private_Key> key;
    try {
        if (pkcs8 || encrypted) {
            Botan::DataSource_Memory in(*der);
            key = encrypted ? Botan::PKCS8::load_key(in, std::string(*passphrase)) : Botan::PKCS8::load_key(in);
        } else if (rsa) {
            // PKCS#1 RSAPrivateKey is what PKCS#8 wraps for RSA.
            key = Botan::load_private_key(Botan::AlgorithmIdentifier("RSA", Botan::AlgorithmIdentifier::USE_NULL_PARAM),
                                          *der);
        } else {
            // SEC1 ECPrivateKey is what PKCS#8 wraps for EC, with the curve
            // moved into the algorithm identifier; here it sits in field [0].
            Botan::OID curve;
            Botan::secure_vector<std::uint8_t> scalar;
#if BOTAN_VERSION_MAJOR >= 3  // Botan 3 made the ASN.1 tags scoped enums
            const auto sequence = Botan::ASN1_Type::Sequence, octets = Botan::ASN1_Type::OctetString, field0 = Botan::ASN1_Type(0);
            const auto universal = Botan::ASN1_Class::Universal, explicit_tag = Botan::ASN1_Class::ExplicitContextSpecific;
#else
            const auto sequence = Botan::SEQUENCE, octets = Botan::OCTET_STRING, field0 = Botan::ASN1_Tag(0);
            const auto universal = Botan::UNIVERSAL;
            const auto explicit_tag = Botan::PRIVATE;  // Botan 2's name for CONSTRUCTED | CONTEXT_SPECIFIC
#endif
            Botan::BER_Decoder(*der)
                .start_cons(sequence, universal)
                .decode_and_check<std::size_t>(1, "unknown EC private key version")
                .decode(scalar, octets)
                .decode_optional(curve, field0, explicit_tag);
            if (curve.empty())
                return unexpected(config_invalid(source, block.where() + " names no curve"));
            std::vector<std::uint8_t> parameters;
            Botan::DER_Encoder(parameters).encode(curve);
            key = Botan::load_private_key(Botan::AlgorithmIdentifier("ECDSA", parameters), *der);
        }
    } catch (const std::exception& e) {
        if (encrypted)
            return unexpected(config_invalid(source, block.where() +
                                                         " cannot be decrypted with the passphrase given, or is damaged"));
        return unexpected(config_invalid(source, block.where() + " is damaged or of an unsupported type (" + e.what() + ")"));
    }
    if (!key)
        return unexpected(config_invalid(source, block.where() + " does not load"));
    const auto algo = key->algo_name();
    if (algo != "RSA" && algo != "ECDSA")
        return unexpected(config_invalid(source, block.where() + " is an unsupported key type: " + algo +
                                                     " (tlsw signs with RSA or ECDSA keys)"));
    return key;
}

}  // namespace detail

/** A certificate chain and its private key: what a server presents, or a
    client when the server asks for a certificate.

    Cheap to copy (the parsed data is shared and immutable), so one
    credentials object serves any number of contexts and threads.

    Loading fails with a config_error whose message() names the text or
    file, the PEM block (number and line) where it applies, and the reason:
    a damaged block (bad base64 or DER, a missing END line) anywhere in the
    chain, text that is not PEM, an encrypted key without its passphrase,
    a key type other than RSA or ECDSA, or a key that does not belong to
    the leaf. Text between PEM blocks (comments) is ignored.
*/
class credentials {
public:
    /** Parses a PEM chain (leaf first, then intermediates) and a PEM
        private key: PKCS#8 ("BEGIN PRIVATE KEY"), PKCS#1 RSA ("BEGIN RSA
        PRIVATE KEY") or SEC1 EC ("BEGIN EC PRIVATE KEY"), unencrypted.
        Other blocks in either text (a CRL, EC PARAMETERS) are skipped.
        Returns errc::invalid_argument, with what is wrong and where, when
        either does not parse or the key does not belong to the leaf. */
    [[nodiscard]] static config_result<credentials> from_pem(std::string_view chain_pem, std::string_view key_pem) {
        return load(chain_pem, "chain PEM", key_pem, "key PEM", nullptr);
    }

    /** As from_pem, for a key that may be encrypted PKCS#8 ("BEGIN
        ENCRYPTED PRIVATE KEY") under `passphrase`. A wrong passphrase is
        errc::invalid_argument. OpenSSL's legacy PEM encryption
        ("Proc-Type: 4,ENCRYPTED") is not read: convert such a key with
        `openssl pkcs8 -topk8`. */
    [[nodiscard]] static config_result<credentials> from_pem(std::string_view chain_pem, std::string_view key_pem,
                                               std::string_view passphrase) {
        return load(chain_pem, "chain PEM", key_pem, "key PEM", &passphrase);
    }

    /** Reads a PEM chain file and a PEM key file and parses them as
        from_pem; messages name the files. A file that cannot be read is
        errc::transport carrying the OS error (error().transport_error():
        no_such_file_or_directory, permission_denied, is_a_directory...);
        one larger than 64 MiB is errc::invalid_argument (no PEM file is
        that large, and the bound stops a path to a device by mistake). */
    [[nodiscard]] static config_result<credentials> from_files(const std::filesystem::path& chain_file,
                                                 const std::filesystem::path& key_file) {
        return load_files(chain_file, key_file, nullptr);
    }

    /** As from_files, for a key that may be encrypted under `passphrase`. */
    [[nodiscard]] static config_result<credentials> from_files(const std::filesystem::path& chain_file,
                                                 const std::filesystem::path& key_file, std::string_view passphrase) {
        return load_files(chain_file, key_file, &passphrase);
    }

    /** Moving copies (the data is shared and immutable): a moved-from
        object still holds the same chain and key, so every call that
        takes one works with it. */
    /** @{ */
    credentials(const credentials&) = default;
    credentials(credentials&& other) noexcept : data_(other.data_) {}
    credentials& operator=(const credentials&) = default;
    credentials& operator=(credentials&& other) noexcept {
        data_ = other.data_;
        return *this;
    }
    /** @} */
    ~credentials() = default;

    /** The parsed chain and key, for the engine. */
    const std::shared_ptr<const detail::credential_data>& data() const noexcept { return data_; }

private:
    explicit credentials(std::shared_ptr<const detail::credential_data> data) : data_(std::move(data)) {}

    [[nodiscard]] static config_result<credentials> load_files(const std::filesystem::path& chain_file,
                                                 const std::filesystem::path& key_file,
                                                 const std::string_view* passphrase) {
        auto chain = detail::load_file(chain_file);
        if (!chain)
            return unexpected(chain.error());
        auto key = detail::load_file(key_file);
        if (!key)
            return unexpected(key.error());
        return load(*chain, chain_file.string(), *key, key_file.string(), passphrase);
    }

    [[nodiscard]] static config_result<credentials> load(std::string_view chain_pem, std::string_view chain_source,
                                           std::string_view key_pem, std::string_view key_source,
                                           const std::string_view* passphrase) {
        auto data = std::make_shared<detail::credential_data>();
        auto chain = detail::parse_certificates(chain_pem, chain_source);
        if (!chain)
            return unexpected(chain.error());
        data->chain = std::move(*chain);
        auto key = detail::parse_private_key(key_pem, key_source, passphrase);
        if (!key)
            return unexpected(key.error());
        data->key = std::move(*key);
        if (data->key->subject_public_key() != data->chain.front().subject_public_key_info()) {
            std::string leaf = data->chain.front().subject_dn().get_first_attribute("CN");
            leaf = leaf.empty() ? "the first certificate" : "the first certificate (CN=" + leaf + ")";
            return unexpected(detail::config_invalid(key_source, "the private key does not belong to " + leaf + " of " +
                                                                     std::string(chain_source)));
        }
        return credentials(std::move(data));
    }

    std::shared_ptr<const detail::credential_data> data_;
};

}  // namespace tlsw

#endif
