#ifndef TLSW_DETAIL_BOTAN2_ENGINE_HPP
#define TLSW_DETAIL_BOTAN2_ENGINE_HPP

// The TLS engine on Botan 2.19: TLS 1.2 only. detail/engine.hpp includes it
// when Botan 2 is the Botan found; what it shares with the Botan 3 engine is
// in detail/engine_common.hpp.

#include <tlsw/detail/engine_common.hpp>
#include <tlsw/detail/rng.hpp>

#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_extensions.h>
#include <botan/hex.h>
#include <botan/mac.h>
#include <botan/mem_ops.h>
#include <botan/tls_handshake_msg.h>
#include <botan/tls_messages.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#include <botan/x509path.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw::detail {

/** Hands Botan 2 the snapshot's certificates, trust and ticket key (the
    lookup is credential_lookup's, shared with the Botan 3 engine). */
class credentials_provider final : public Botan::Credentials_Manager {
public:
    explicit credentials_provider(const context_state& ctx) : lookup_(ctx) {}

    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                           const std::string&) override {
        return lookup_.trusted_authorities(type);
    }

    std::vector<Botan::X509_Certificate> find_cert_chain(const std::vector<std::string>& key_types,
                                                         const std::vector<Botan::X509_DN>&, const std::string&,
                                                         const std::string& hostname) override {
        return lookup_.chain_for(key_types, hostname);
    }

    Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                        const std::string&) override {
        const auto creds = lookup_.credentials_of(cert);
        return creds ? creds->key.get() : nullptr;  // the snapshot owns the credentials
    }

    Botan::SymmetricKey psk(const std::string& type, const std::string& context, const std::string& identity) override {
        if (type == "tls-server" && context == "session-ticket" && lookup_.ticket_key().length() > 0)
            return lookup_.ticket_key();
        // The base class throws, which Botan reads as "no tickets".
        return Botan::Credentials_Manager::psk(type, context, identity);
    }

    /** The lookup, for a server's choice per handshake (select_credentials). */
    credential_lookup& lookup() noexcept { return lookup_; }

private:
    credential_lookup lookup_;
};

/** The sans-IO TLS engine: owns one Botan channel and its callbacks. Bytes
    go in through feed() and send(); ciphertext for the peer collects in
    output(), plaintext from the peer in the caller's buffer or the inbox.

    The invariants are engine_core's. Botan 2 speaks TLS 1.2 only:
    update_keys() is refused (KeyUpdate is TLS 1.3's).
*/
class engine final : public engine_core, private Botan::TLS::Callbacks {
public:

    engine(std::shared_ptr<const context_state> ctx, std::string server_name, std::uint16_t port,
           std::vector<std::string> alpn, std::span<const std::byte> resume_from = {})
        : engine_core(std::move(ctx)), creds_(*ctx_), sessions_(*ctx_->sessions) {
        if (ctx_->side == role::client && !take_server_name(server_name))
            return;
        if (ctx_->side == role::client && !resume_from.empty()) {
            // Sealed under this context's secret, and still passing its checks.
            sessions_.import(resume_from, session_export_key(*ctx_));
            if (const auto* imported = sessions_.imported();
                imported && !imported_session_passes(imported->peer_certs(), server_name))
                sessions_.drop_imported();
        }
        guard([&] {
            Botan::TLS::Callbacks& callbacks = *this;  // a private base: convert here, not in make_unique
            if (ctx_->side == role::client) {
                channel_ = std::make_unique<Botan::TLS::Client>(
                    callbacks, sessions_, creds_, ctx_->tls_policy(), rng(),
                    Botan::TLS::Server_Information(server_name, port), Botan::TLS::Protocol_Version::TLS_V12,
                    alpn, 0);
            } else {
                channel_ = std::make_unique<Botan::TLS::Server>(callbacks, *ctx_->sessions, creds_, server_policy(),
                                                                rng(), false, 0);
            }
        });
    }

    // ---- ciphertext in, plaintext out ---------------------------------------

    /** Processes all of `ciphertext`. Plaintext goes to `direct` as far as it
        fits, the rest to the inbox; returns the count stored in `direct`. */
    std::size_t feed(std::span<const std::byte> ciphertext, std::span<std::byte> direct) {
        if (failed_ || !channel_)
            return 0;
        return feed_channel(*channel_, ciphertext, direct, ciphertext.size());
    }

    // ---- operations ---------------------------------------------------------

    /** Encrypts `plaintext` (at most max_record bytes: one record). Returns
        false when the stream failed or either side closed: after a
        close_notify Botan's channel is inactive and throws, and that is
        no failure (the plaintext that came before it stays readable). */
    bool send(std::span<const std::byte> plaintext) {
        if (peer_closed_ || local_closed_) [[unlikely]]
            return false;
        guard([&] { channel_->send(reinterpret_cast<const std::uint8_t*>(plaintext.data()), plaintext.size()); });
        return !failed_;
    }

    /** Queues close_notify; later sends are refused. */
    void close() {
        if (local_closed_ || failed_ || !channel_)
            return;
        local_closed_ = true;
        guard([&] { channel_->close(); });
    }

    /** Ends the session from our side with the fatal alert `a` (queued
        for the peer); failed() after it, with `why` as the detail. */
    void abort(alert a, const char* why) noexcept {
        if (channel_)
            abort_channel(*channel_, a, why);
    }

    /** Starts a renegotiation from our side (ClientHello, or HelloRequest
        from a server). Requires an established session and none in flight. */
    bool renegotiate() { return renegotiate_channel(*channel_); }

    /** Sends a KeyUpdate: TLS 1.3 only, so never on Botan 2 (false). */
    bool update_keys(bool) noexcept { return false; }

    /** The highest version (its minor number) the session may reach:
        TLS 1.2 on Botan 2. */
    static constexpr unsigned max_version = 2;

private:
    // ---- Botan callbacks ------------------------------------------------------

    void tls_emit_data(const std::uint8_t data[], std::size_t size) override { emit(std::as_bytes(std::span(data, size))); }

    void tls_record_received(std::uint64_t, const std::uint8_t data[], std::size_t size) override {
        deliver(std::as_bytes(std::span(data, size)));
    }

    void tls_alert(Botan::TLS::Alert a) override { alert_received(static_cast<alert>(a.type()), a.is_fatal()); }

    bool tls_session_established(const Botan::TLS::Session& session) override {
        record_negotiated(session.version().to_string(), false, session.ciphersuite().to_string(), kex_group_);
        commit_tls12_secrets(session.master_secret(), session.ciphersuite().prf_algo());
        // A server learns the client's SNI name here.
        if (ctx_->side == role::server)
            info_.server_name = session.server_info().hostname();
        log_keys(session);
        if (ctx_->side == role::client && storable_session(session.session_ticket().size(), session.peer_certs()))
            session_ = std::make_unique<Botan::TLS::Session>(session);
        record_peer(session.peer_certs());
        return true;
    }

    void tls_session_activated() override {
        established_ = true;
        in_flight_ = false;
        hello_request_outstanding_ = false;
        info_.resumed = certificates_seen_ == 0;
        info_.alpn = channel_ ? channel_->application_protocol() : std::string();
        ++info_.handshakes;
    }

public:
    /** Keying material (RFC 5705; see tls_stream::export_keying_material). */
    [[nodiscard]] result<std::vector<std::byte>> export_keying_material(std::string_view label,
                                                          std::optional<std::span<const std::byte>> context,
                                                          std::size_t length) const {
        if (auto refused = exporter_refusal(label, context ? context->size() : 0, length))
            return unexpected(*refused);
        return tls12_export(label, context, length);
    }

    /** The client's last established session sealed for export (see
        tls_stream::export_session): empty before one exists. Throws only
        what Botan throws (bad_alloc); the stream catches it. */
    std::vector<std::byte> export_session() const {
        if (!session_)
            return {};
        const auto sealed = session_->encrypt(session_export_key(*ctx_), rng());
        const auto bytes = std::as_bytes(std::span(sealed));
        return {bytes.begin(), bytes.end()};
    }

private:
    /** A client's session cache with one imported session in front: it
        is offered to the server it was made with (name and port), once,
        and everything else goes to the context's cache. */
    class importing_sessions final : public Botan::TLS::Session_Manager {
    public:
        explicit importing_sessions(Botan::TLS::Session_Manager& shared) : shared_(shared) {}

        /** Opens `sealed`; a session that does not open (damaged, or from
            another configuration) is dropped: a full handshake follows. */
        void import(std::span<const std::byte> sealed, const Botan::SymmetricKey& key) {
            try {
                imported_ = std::make_unique<Botan::TLS::Session>(Botan::TLS::Session::decrypt(
                    reinterpret_cast<const std::uint8_t*>(sealed.data()), sealed.size(), key));
            } catch (const std::exception&) {
                imported_.reset();
            }
        }
        const Botan::TLS::Session* imported() const noexcept { return imported_.get(); }
        void drop_imported() noexcept { imported_.reset(); }

        bool load_from_session_id(const std::vector<std::uint8_t>& id, Botan::TLS::Session& out) override {
            return shared_.load_from_session_id(id, out);
        }
        bool load_from_server_info(const Botan::TLS::Server_Information& info, Botan::TLS::Session& out) override {
            if (imported_ && imported_->server_info() == info) {
                out = std::move(*std::exchange(imported_, nullptr));
                return true;
            }
            return shared_.load_from_server_info(info, out);
        }
        void remove_entry(const std::vector<std::uint8_t>& id) override { shared_.remove_entry(id); }
        std::size_t remove_all() override { return shared_.remove_all(); }
        void save(const Botan::TLS::Session& session) override {
            // A hostile server's outsized ticket or chain is not kept.
            if (storable_session(session.session_ticket().size(), session.peer_certs()))
                shared_.save(session);
        }
        std::chrono::seconds session_lifetime() const override { return shared_.session_lifetime(); }

    private:
        Botan::TLS::Session_Manager& shared_;
        std::unique_ptr<Botan::TLS::Session> imported_;  // a pointer: most streams import none
    };

    /** The NSS key-log line of `session`, to the context's key log:
        "CLIENT_RANDOM <client random> <master secret>", lowercase hex. A
        sink that throws is ignored: a debugging aid must not end the
        connection. */
    void log_keys(const Botan::TLS::Session& session) noexcept {
        if (!ctx_->key_log || !*ctx_->key_log || client_random_.empty())
            return;
        try {
            const auto& secret = session.master_secret();
            std::string line = "CLIENT_RANDOM " + Botan::hex_encode(client_random_, false) + " " +
                               Botan::hex_encode(secret.data(), secret.size(), false);
            (*ctx_->key_log)(line);
            Botan::secure_scrub_memory(line.data(), line.size());
        } catch (...) {
        }
    }

    void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& message) override {
        const auto type = message.type();
        if (type == Botan::TLS::CLIENT_HELLO) {
            next_client_random_ = static_cast<const Botan::TLS::Client_Hello&>(message).random();
            certificates_seen_ = 0;
            kex_group_ = 0;
            info_.ocsp = {};  // a resumption staples nothing
            // A client sends ClientHello only when it starts a handshake.
            if (ctx_->side == role::client)
                in_flight_ = true;
            else  // before Botan asks creds_ for a chain
                select_credentials(static_cast<const Botan::TLS::Client_Hello&>(message), creds_.lookup());
        } else if (type == Botan::TLS::SERVER_HELLO) {
            next_server_random_ = static_cast<const Botan::TLS::Server_Hello&>(message).random();
            // A server answers a ClientHello with ServerHello only when it
            // accepts the (re)negotiation; a refusal is a warning alert.
            in_flight_ = true;
        } else if (type == Botan::TLS::CERTIFICATE) {
            ++certificates_seen_;
            // Sent and received messages both pass here; the client's
            // Certificate comes after the server's, so this ends up true
            // exactly when the client answered a request with none.
            client_sent_no_certificate_ = static_cast<const Botan::TLS::Certificate&>(message).empty();
        } else if (type == Botan::TLS::SERVER_KEX) {
            note_server_key_exchange(static_cast<const Botan::TLS::Server_Key_Exchange&>(message).params());
        }
    }

    void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                               const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                               const std::vector<Botan::Certificate_Store*>& roots, Botan::Usage_Type usage,
                               const std::string& hostname, const Botan::TLS::Policy& policy) override {
        verify_chain(chain, usage, hostname, [&](const std::string& name) {
            const Botan::Path_Validation_Restrictions restrictions(false, policy.minimum_signature_strength());
            // The stapled response is checked by check_stapled_ocsp, not
            // here: Botan 2.19 would take any signer it carries.
            return Botan::x509_path_validate(chain, restrictions, roots, name, usage, std::chrono::system_clock::now(),
                                             std::chrono::milliseconds(0), {});
        });
        check_stapled_ocsp(chain, ocsp.empty() || !ocsp.front() ? nullptr : &ocsp.front()->raw_bits());
    }

    std::vector<std::uint8_t> tls_provide_cert_status(const std::vector<Botan::X509_Certificate>& chain,
                                                      const Botan::TLS::Certificate_Status_Request&) override {
        return chain.empty() ? std::vector<std::uint8_t>() : staple_for(ctx_->ocsp_responses, chain.front());
    }

    void tls_modify_extensions(Botan::TLS::Extensions& extensions, Botan::TLS::Connection_Side side) override {
        // RFC 6066 section 3: literal IPv4 and IPv6 addresses are not
        // permitted in a server_name; Botan 2 would send one.
        if (side == Botan::TLS::CLIENT && !server_ip_.empty())
            extensions.remove_extension(Botan::TLS::TLSEXT_SERVER_NAME_INDICATION);
    }

    std::string tls_server_choose_app_protocol(const std::vector<std::string>& offered) override {
        // The server's order of preference decides, among what the client offered.
        for (const auto& mine : ctx_->alpn)
            if (std::find(offered.begin(), offered.end(), mine) != offered.end())
                return mine;
        return {};
    }

    credentials_provider creds_;
    std::unique_ptr<Botan::TLS::Session> session_;  // a client's last session, for export_session(); a pointer: servers hold none
    importing_sessions sessions_;                 // the context's cache, after an imported session
    std::unique_ptr<Botan::TLS::Channel> channel_;  // last: it refers to everything above
};

}  // namespace tlsw::detail

#endif
