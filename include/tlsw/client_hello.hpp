#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_CLIENT_HELLO_HPP
#define TLSW_CLIENT_HELLO_HPP

/** @file
    tlsw::client_hello: what a server's credentials callback
    (context::choose_credentials) sees of a ClientHello. */

#include <tlsw/credentials.hpp>
#include <tlsw/detail/groups.hpp>
#include <tlsw/session_info.hpp>

#include <botan/ecc_key.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlsw {

/** What a client's ClientHello asks for, as a server's credentials
    callback (context::choose_credentials) sees it: the parts that decide
    which certificate to present, in the client's order.

    A peer writes all of it. Each list comes from one extension, which TLS
    bounds to 65535 bytes (so at most 32767 code points, or 65535 bytes of
    names); nothing here is larger than the ClientHello that carried it.
*/
struct client_hello {
    /** The host name of the server_name extension (SNI), as sent; empty
        without one (a client connecting to an IP address sends none). */
    std::string server_name;
    /** The ALPN protocols offered ("h2", "http/1.1"), or empty. */
    std::vector<std::string> alpn;
    /** The signature_algorithms extension: IANA TLS SignatureScheme code
        points (0x0403 ecdsa_secp256r1_sha256, 0x0804 rsa_pss_rsae_sha256,
        0x0401 rsa_pkcs1_sha256, ...); empty when the client sent none. */
    std::vector<std::uint16_t> signature_schemes;
    /** The supported_groups extension: IANA TLS Supported Groups code
        points (0x11EC X25519MLKEM768, 0x001D x25519, 0x0017 secp256r1,
        ...), including ones tlsw does not know; see group_names(). On
        Botan 2 the elliptic curves come first, then any finite-field
        groups. */
    std::vector<std::uint16_t> groups;
    /** The TLS versions offered that tlsw speaks, highest first: from the
        supported_versions extension, else the hello's own version (TLS 1.2
        clients send no extension). Versions below 1.2 are left out. */
    std::vector<tls_version> versions;

    /** Whether the client offers ALPN protocol `protocol`. */
    [[nodiscard]] bool offers_alpn(std::string_view protocol) const {
        return std::find(alpn.begin(), alpn.end(), protocol) != alpn.end();
    }

    /** Whether the client supports group `name`, an IANA name as
        context::key_exchange_groups() takes it (case ignored; P-256 too). */
    [[nodiscard]] bool offers_group(std::string_view name) const {
        const auto code = detail::group_code(name);
        return code && std::find(groups.begin(), groups.end(), *code) != groups.end();
    }

    /** The groups by IANA name ("x25519", "secp256r1"; "0x" and four hex
        digits for a group without a name), in the client's order. */
    [[nodiscard]] std::vector<std::string> group_names() const {
        std::vector<std::string> names;
        names.reserve(groups.size());
        for (const auto code : groups)
            names.push_back(detail::group_name(code));
        return names;
    }

    /** Whether the client offers TLS version `v`. */
    [[nodiscard]] bool offers_version(tls_version v) const {
        return std::find(versions.begin(), versions.end(), v) != versions.end();
    }

    /** Whether the client takes signatures by the key of `creds` in at
        least one version it offers: an RSA key needs rsa_pss_rsae_* (or,
        under TLS 1.2, rsa_pkcs1_*), an ECDSA key the ecdsa_* scheme of its
        curve (under TLS 1.2, any ecdsa_* scheme). True when the client
        sent no signature_algorithms (TLS 1.2's defaults then apply);
        false for credentials that hold nothing. Lets a callback pick
        between an ECDSA and an RSA certificate for one name. */
    [[nodiscard]] bool accepts(const credentials& creds) const {
        if (!creds.data() || !creds.data()->key)
            return false;
        if (signature_schemes.empty())
            return true;
        const bool tls12 = versions.empty() || offers_version(tls_version::tls12);
        const bool tls13 = offers_version(tls_version::tls13);
        const auto offered = [&](std::uint16_t code) {
            return std::find(signature_schemes.begin(), signature_schemes.end(), code) != signature_schemes.end();
        };
        const auto& key = *creds.data()->key;
        if (key.algo_name() == "RSA")
            return offered(0x0804) || offered(0x0805) || offered(0x0806) ||
                   (tls12 && (offered(0x0401) || offered(0x0501) || offered(0x0601)));
        if (key.algo_name() != "ECDSA")
            return false;
        // TLS 1.3 binds each ECDSA scheme to one curve (RFC 8446 4.2.3).
        std::uint16_t own = 0;
        if (const auto* ec = dynamic_cast<const Botan::EC_PublicKey*>(&key)) {
            const auto curve = ec->domain().get_curve_oid();
            own = curve == Botan::OID::from_string("secp256r1")   ? 0x0403
                  : curve == Botan::OID::from_string("secp384r1") ? 0x0503
                  : curve == Botan::OID::from_string("secp521r1") ? 0x0603
                                                                   : 0;
        }
        return (tls13 && own && offered(own)) || (tls12 && (offered(0x0403) || offered(0x0503) || offered(0x0603)));
    }
};

/** What a server's credentials callback returns (context::
    choose_credentials): the credentials to present, or std::nullopt to
    refuse the handshake. */
using credentials_chooser = std::function<std::optional<credentials>(const client_hello&)>;

}  // namespace tlsw

#endif
