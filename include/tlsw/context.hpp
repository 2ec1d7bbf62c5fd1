#ifndef TLSW_CONTEXT_HPP
#define TLSW_CONTEXT_HPP

#include <tlsw/credentials.hpp>
#include <tlsw/detail/engine.hpp>
#include <tlsw/error.hpp>

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw {

/** What the streams of one side share: role, credentials, trust, TLS
    policy, session cache.

    A context is a handle: copies share one state. Configure it first, then
    make streams from it; from then on it is read-only (the session cache
    locks itself) and safe to use from any number of threads. Changing it
    while streams made from it run is a data race.
*/
class context {
public:
    /** A client context. It verifies the server's chain and host name
        against the system trust store (/etc/ssl/certs) and whatever
        trust() adds. */
    static context client() {
        auto state = detail::make_context_state(detail::role::client);
        state->use_system_trust = true;
        return context(std::move(state));
    }

    /** A server context presenting `creds`. It issues session tickets
        under a random key made here, caches session IDs, and refuses a
        client's renegotiation unless allow_client_renegotiation(true). */
    static context server(credentials creds) {
        auto state = detail::make_context_state(detail::role::server);
        state->creds = creds.data();
        state->ticket_key = Botan::SymmetricKey(detail::rng(), 32);
        return context(std::move(state));
    }

    /** Adds the certificates of a PEM text as trust anchors, all or none:
        a damaged block anywhere (bad base64 or DER, a missing END line)
        is errc::invalid_argument naming the block's number and line, and
        nothing is added. Text between blocks and blocks of other kinds
        (comments, CRLs) are skipped; a text without any certificate is an
        error. On a server, trust anchors make it ask clients for a
        certificate. */
    config_result<void> trust(std::string_view ca_pem) {
        auto certs = detail::parse_certificates(ca_pem, "trust PEM");
        if (!certs)
            return unexpected(certs.error());
        for (const auto& cert : *certs)
            state_->trust.add_certificate(cert);
        return {};
    }

    /** Reads a PEM file of trust anchors, as trust(); messages name the
        file. A file that cannot be read is errc::transport carrying the
        OS error. */
    config_result<void> trust_file(const std::filesystem::path& ca_file) {
        auto text = detail::load_file(ca_file);
        if (!text)
            return unexpected(text.error());
        auto certs = detail::parse_certificates(*text, ca_file.string());
        if (!certs)
            return unexpected(certs.error());
        for (const auto& cert : *certs)
            state_->trust.add_certificate(cert);
        return {};
    }

    /** Whether the system trust store counts (on by default for clients). */
    context& use_system_trust(bool on) {
        state_->use_system_trust = on;
        return *this;
    }

    /** Accepts any peer certificate, for any name. Anyone on the path can
        then read and change the traffic: for tests and diagnostics only. */
    context& danger_disable_verification() {
        state_->verify = false;
        return *this;
    }

    /** Lets a server accept a client's secure renegotiation (refused with a
        warning no_renegotiation by default, as OpenSSL 3 does). */
    context& allow_client_renegotiation(bool allow) {
        state_->settings.allow_client_renegotiation = allow;
        state_->settings_changed();
        return *this;
    }

    /** Makes a server fail the handshake of a client that sends no
        certificate. A server asks for one whenever trust() gave it CAs;
        without this, a client may decline. */
    context& require_client_certificate(bool require) {
        state_->settings.require_client_certificate = require;
        state_->settings_changed();
        return *this;
    }

    /** Turns session tickets (RFC 5077) on or off: a server issues them, a
        client offers to take them. On by default; resumption by session ID
        works either way. */
    context& session_tickets(bool on) {
        state_->settings.session_tickets = on;
        state_->settings_changed();
        if (!on)
            state_->ticket_key = Botan::SymmetricKey();
        else if (state_->side == detail::role::server && state_->ticket_key.length() == 0)
            state_->ticket_key = Botan::SymmetricKey(detail::rng(), 32);
        return *this;
    }

    /** Sets a server's ticket encryption key (at least 32 bytes), so that
        several servers, or a restarted one, accept each other's tickets.
        Returns invalid_argument for a shorter key. */
    result<void> session_ticket_key(std::span<const std::byte> key) {
        if (key.size() < 32)
            return unexpected(tls_error(errc::invalid_argument));
        state_->ticket_key = Botan::SymmetricKey(reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
        return {};
    }

    /** Replaces the default TLS policy by one in Botan's text format (the
        `key = value` lines of `botan tls_server --policy`); the file then
        also governs renegotiation and client certificates. Returns
        invalid_argument when it does not parse. */
    result<void> policy(std::string_view text) {
        if (!state_->load_text_policy(std::string(text)))
            return unexpected(tls_error(errc::invalid_argument));
        return {};
    }

    /** Reads a policy file, as policy(). */
    result<void> policy_file(const std::filesystem::path& file) {
        auto text = detail::read_file(file);
        if (!text)
            return unexpected(text.error());
        return policy(*text);
    }

    /** A server's supported ALPN protocols, most preferred first. */
    context& alpn(std::vector<std::string> protocols) {
        state_->alpn = std::move(protocols);
        return *this;
    }

    /** Credentials a client presents when the server asks for a certificate. */
    context& client_certificate(credentials creds) {
        state_->creds = creds.data();
        return *this;
    }

    bool is_server() const noexcept { return state_->side == detail::role::server; }

    /** The shared state, for tls_stream. */
    std::shared_ptr<const detail::context_state> state() const noexcept { return state_; }

private:
    explicit context(std::shared_ptr<detail::context_state> state) : state_(std::move(state)) {}

    std::shared_ptr<detail::context_state> state_;
};

}  // namespace tlsw

#endif
