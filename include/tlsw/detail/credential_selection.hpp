#ifndef TLSW_DETAIL_CREDENTIAL_SELECTION_HPP
#define TLSW_DETAIL_CREDENTIAL_SELECTION_HPP

// A server's choice of credentials for each handshake: the ClientHello
// described for the context's callback (context::choose_credentials), the
// call itself, and what fails the handshake when nothing can be presented.
// Both engines call it from tls_inspect_handshake_msg on the ClientHello,
// which Botan 2 and 3 run before they ask their Credentials_Manager for a
// chain; the choice then narrows credential_lookup to one credentials.

#include <tlsw/client_hello.hpp>
#include <tlsw/error.hpp>
#include <tlsw/detail/context_state.hpp>

#include <botan/tls_extensions.h>
#include <botan/tls_version.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tlsw::detail {

/** A Botan code point (Botan 2: an enum; Botan 3: a class with wire_code()) as its number. */
template <class Code>
std::uint16_t wire_code(const Code& code) {
    if constexpr (requires { code.wire_code(); })
        return static_cast<std::uint16_t>(code.wire_code());
    else
        return static_cast<std::uint16_t>(code);
}

/** The public description of a parsed Botan ClientHello (either version's). */
template <class Hello>
client_hello describe_client_hello(const Hello& hello) {
    client_hello out;
    out.server_name = hello.sni_hostname();
    out.alpn = hello.next_protocols();
    for (const auto& scheme : hello.signature_schemes())
        out.signature_schemes.push_back(wire_code(scheme));
    // Botan 2's Supported_Groups splits its list into curves and
    // finite-field groups; Botan 3's keeps the client's order.
    if constexpr (requires { hello.extensions().template get<Botan::TLS::Supported_Groups>()->groups(); }) {
        if (const auto* groups = hello.extensions().template get<Botan::TLS::Supported_Groups>())
            for (const auto& g : groups->groups())
                out.groups.push_back(wire_code(g));
    } else {
        for (const auto& g : hello.supported_ecc_curves())
            out.groups.push_back(wire_code(g));
        for (const auto& g : hello.supported_dh_groups())
            out.groups.push_back(wire_code(g));
    }
    const auto add_version = [&](const Botan::TLS::Protocol_Version& v) {
        if (v.major_version() != 3)
            return;
        const auto tlsw_version = v.minor_version() == 4 ? tls_version::tls13 : v.minor_version() == 3 ? tls_version::tls12
                                                                                                     : tls_version{};
        if (tlsw_version != tls_version{} &&
            std::find(out.versions.begin(), out.versions.end(), tlsw_version) == out.versions.end())
            out.versions.push_back(tlsw_version);
    };
    for (const auto& v : hello.supported_versions())
        add_version(v);
    if (out.versions.empty()) {
        if constexpr (requires { hello.legacy_version(); })
            add_version(hello.legacy_version());
        else
            add_version(hello.version());
    }
    std::sort(out.versions.begin(), out.versions.end(),
              [](tls_version a, tls_version b) { return static_cast<unsigned>(a) > static_cast<unsigned>(b); });
    return out;
}

/** Why a server cannot present credentials to a client: the alert that
    fails the handshake, and the sentence for last_error_detail(). */
struct credential_refusal {
    alert type;
    std::string detail;
};

/** One server stream's choice of credentials, made once per ClientHello
    that starts a handshake. */
class credential_selection {
public:
    /** Decides on a received ClientHello: narrows `lookup` to what the
        context's callback chose (or, without a callback, leaves it to the
        SNI match), or returns the refusal that must fail the handshake:
        the callback chose none (unrecognized_name when the client sent a
        server name, else handshake_failure), it threw (internal_error), or
        the server has no credentials at all (handshake_failure). The same
        hello seen again (the second ClientHello after a HelloRetryRequest
        keeps its random, RFC 8446 4.1.2; Botan 3 hands a TLS 1.2 hello to
        its TLS 1.2 server after its TLS 1.3 one saw it) keeps the choice:
        the callback runs once per handshake. */
    template <class Hello>
    std::optional<credential_refusal> on_client_hello(const context_state& ctx, const Hello& hello,
                                                      credential_lookup& lookup) {
        if (!random_.empty() && hello.random() == random_)
            return std::nullopt;
        random_ = hello.random();
        if (!ctx.choose_credentials) {
            lookup.choose(nullptr);
            if (!ctx.creds && ctx.more_creds.empty())
                return credential_refusal{alert::handshake_failure,
                                          "this server has no credentials: all were removed from its context"};
            return std::nullopt;
        }
        const client_hello description = describe_client_hello(hello);
        std::optional<credentials> chosen;
        try {
            chosen = (*ctx.choose_credentials)(description);
        } catch (const std::exception& e) {
            return credential_refusal{alert::internal_error, std::string("the credentials callback threw: ") + e.what()};
        } catch (...) {
            return credential_refusal{alert::internal_error, "the credentials callback threw"};
        }
        if (!chosen || !chosen->data() || chosen->data()->chain.empty()) {
            if (description.server_name.empty())
                return credential_refusal{alert::handshake_failure,
                                          "the credentials callback chose none for a client that sent no server name"};
            return credential_refusal{alert::unrecognized_name, "the credentials callback chose none for server name \"" +
                                                                    description.server_name + "\""};
        }
        lookup.choose(chosen->data());
        return std::nullopt;
    }

private:
    std::vector<std::uint8_t> random_;  // of the ClientHello the choice was made for
};

}  // namespace tlsw::detail

#endif
