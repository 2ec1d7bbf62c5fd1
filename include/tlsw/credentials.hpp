#ifndef TLSW_CREDENTIALS_HPP
#define TLSW_CREDENTIALS_HPP

#include <tlsw/error.hpp>

#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/x509cert.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace tlsw {

namespace detail {

struct credential_data {
    std::vector<Botan::X509_Certificate> chain;  // leaf first
    std::unique_ptr<Botan::Private_Key> key;
};

/** Every certificate in a PEM text, in order; empty when none parses. */
inline std::vector<Botan::X509_Certificate> parse_certificates(std::string_view pem) {
    std::vector<Botan::X509_Certificate> certs;
    try {
        Botan::DataSource_Memory source(reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size());
        while (!source.end_of_data()) {
            try {
                certs.emplace_back(source);
            } catch (const Botan::Exception&) {
                // Trailing text after the last certificate is not an error.
                break;
            }
        }
    } catch (const std::exception&) {
        certs.clear();
    }
    return certs;
}

inline expected<std::string, tls_error> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return unexpected(tls_error::from_transport(std::make_error_code(std::errc::no_such_file_or_directory)));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace detail

/** A certificate chain and its private key: what a server presents, or a
    client when the server asks for a certificate.

    Cheap to copy (the parsed data is shared and immutable), so one
    credentials object serves any number of contexts and threads.
*/
class credentials {
public:
    /** Parses a PEM chain (leaf first, then intermediates) and an
        unencrypted PKCS#8 PEM key. Returns errc::invalid_argument when
        either does not parse or the key does not belong to the leaf. */
    static expected<credentials, tls_error> from_pem(std::string_view chain_pem, std::string_view key_pem) {
        auto data = std::make_shared<detail::credential_data>();
        data->chain = detail::parse_certificates(chain_pem);
        if (data->chain.empty())
            return unexpected(tls_error(errc::invalid_argument));
        try {
            Botan::DataSource_Memory source(reinterpret_cast<const std::uint8_t*>(key_pem.data()), key_pem.size());
            data->key = Botan::PKCS8::load_key(source);
        } catch (const std::exception&) {
            return unexpected(tls_error(errc::invalid_argument));
        }
        const auto& leaf_key = data->chain.front().subject_public_key_info();
        if (!data->key || data->key->subject_public_key() != leaf_key)
            return unexpected(tls_error(errc::invalid_argument));
        return credentials(std::move(data));
    }

    /** Reads and parses a PEM chain file and a PEM key file, as from_pem.
        A file that cannot be read is errc::transport with no_such_file_or_directory. */
    static expected<credentials, tls_error> from_files(const std::filesystem::path& chain_file,
                                                       const std::filesystem::path& key_file) {
        auto chain = detail::read_file(chain_file);
        if (!chain)
            return unexpected(chain.error());
        auto key = detail::read_file(key_file);
        if (!key)
            return unexpected(key.error());
        return from_pem(*chain, *key);
    }

    /** The parsed chain and key, for the engine. */
    const std::shared_ptr<const detail::credential_data>& data() const noexcept { return data_; }

private:
    explicit credentials(std::shared_ptr<const detail::credential_data> data) : data_(std::move(data)) {}

    std::shared_ptr<const detail::credential_data> data_;
};

}  // namespace tlsw

#endif
