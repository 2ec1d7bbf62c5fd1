#ifndef TLSW_DETAIL_BOTAN3_ENGINE_HPP
#define TLSW_DETAIL_BOTAN3_ENGINE_HPP

// The TLS engine on Botan 3: TLS 1.3 by default, TLS 1.2 when the peer
// cannot (or the context's versions() say so). detail/engine.hpp includes
// it when Botan 3 is the Botan found; what it shares with the Botan 2
// engine is in detail/engine_common.hpp.

#include <tlsw/detail/engine_common.hpp>
#include <tlsw/detail/rng.hpp>

#include <botan/hex.h>
#include <botan/mem_ops.h>
#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_extensions.h>
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

/** Hands Botan 3 the snapshot's certificates and trust (the lookup is
    credential_lookup's, shared with the Botan 2 engine). The ticket key
    goes to the session manager instead (detail/botan3/config.hpp). */
class credentials_provider final : public Botan::Credentials_Manager {
public:
    explicit credentials_provider(const context_state& ctx) : lookup_(ctx) {}

    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                           const std::string&) override {
        return lookup_.trusted_authorities(type);
    }

    std::vector<Botan::X509_Certificate> find_cert_chain(const std::vector<std::string>& key_types,
                                                         const std::vector<Botan::AlgorithmIdentifier>&,
                                                         const std::vector<Botan::X509_DN>&, const std::string&,
                                                         const std::string& hostname) override {
        return lookup_.chain_for(key_types, hostname);
    }

    std::shared_ptr<Botan::Private_Key> private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                                        const std::string&) override {
        // Shares ownership of the credentials the key belongs to.
        const auto creds = lookup_.credentials_of(cert);
        if (!creds)
            return nullptr;
        return std::shared_ptr<Botan::Private_Key>(creds, creds->key.get());
    }

    /** The lookup, for a server's choice per handshake (select_credentials). */
    credential_lookup& lookup() noexcept { return lookup_; }

private:
    credential_lookup lookup_;
};

/** The sans-IO TLS engine on Botan 3: owns one Botan channel and its
    callbacks. Bytes go in through feed() and send(); ciphertext for the
    peer collects in output(), plaintext from the peer in the caller's
    buffer or the inbox. The invariants are engine_core's.

    What differs from the Botan 2 engine:
    - TLS 1.3 is offered and preferred; TLS 1.2 when the peer or the
      context's versions() say so. 0-RTT is never offered nor accepted.
    - Under TLS 1.3, renegotiate() is refused (false; the stream says
      wrong_tls_version) and update_keys() sends a KeyUpdate. The peer's
      NewSessionTicket and KeyUpdate are handled inside feed() and start
      no handshake.
    - Tickets under TLS 1.3 arrive after the handshake: a client holds a
      resumable session only once it has read past the server's Finished.
    - After our close_notify under TLS 1.3 the peer may go on sending
      (half-close) and feed() still delivers it; under TLS 1.2 the channel
      ends reading, as on Botan 2.
    - Ciphertext is fed to Botan at most feed_chunk bytes at a time.
*/
class engine final : public engine_core, private Botan::TLS::Callbacks {
public:
    engine(std::shared_ptr<const context_state> ctx, std::string server_name, std::uint16_t port,
           std::vector<std::string> alpn, std::span<const std::byte> resume_from = {})
        : engine_core(std::move(ctx)), creds_(*ctx_) {
        if (ctx_->side == role::client && !take_server_name(server_name))
            return;
        guard([&] {
            // Botan 3 wants shared_ptrs; these alias members of this engine,
            // which outlive the channel (channel_ is the last member).
            const std::shared_ptr<Botan::TLS::Callbacks> callbacks(std::shared_ptr<void>(),
                                                                   static_cast<Botan::TLS::Callbacks*>(this));
            const std::shared_ptr<Botan::Credentials_Manager> creds(std::shared_ptr<void>(), &creds_);
            if (ctx_->side == role::client) {
                client_sessions_ = std::make_shared<client_sessions>(ctx_->sessions);
                if (!resume_from.empty()) {
                    // Sealed under this context's secret, and still passing its checks.
                    client_sessions_->import(resume_from, session_export_key(*ctx_));
                    if (const auto* imported = client_sessions_->imported();
                        imported && !imported_session_passes(imported->peer_certs(), server_name))
                        client_sessions_->drop_imported();
                }
                const auto& policy = ctx_->policy;
                // The constructor throws when the policy forbids the version offered.
                const bool tls13 = ctx_->text_policy ? offers_tls13(*policy) : policy->allow_tls13();
                const auto offer = tls13 ? Botan::TLS::Protocol_Version::latest_tls_version()
                                                         : Botan::TLS::Protocol_Version(Botan::TLS::Protocol_Version::TLS_V12);
                channel_ = std::make_unique<Botan::TLS::Client>(callbacks, client_sessions_, creds, policy,
                                                                shared_rng(), Botan::TLS::Server_Information(server_name, port),
                                                                offer, alpn, 0);
            } else {
                // Non-owning too: the policy is the context's or own_policy_.
                const std::shared_ptr<const Botan::TLS::Policy> policy(std::shared_ptr<void>(), &server_policy());
                channel_ = std::make_unique<Botan::TLS::Server>(callbacks, ctx_->sessions, creds, policy,
                                                                shared_rng(), false, 0);
            }
        });
    }

    // ---- ciphertext in, plaintext out ---------------------------------------

    /** Processes all of `ciphertext`. Plaintext goes to `direct` as far as it
        fits, the rest to the inbox; returns the count stored in `direct`. */
    std::size_t feed(std::span<const std::byte> ciphertext, std::span<std::byte> direct) {
        if (failed_ || !channel_)
            return 0;
        // Bounded chunks: Botan 3.7's TLS 1.3 record layer copies the rest
        // of its input for every record it takes out (quadratic on a large
        // buffer of small records).
        return feed_channel(*channel_, ciphertext, direct, feed_chunk);
    }

    // ---- operations ---------------------------------------------------------

    /** Encrypts `plaintext` (at most max_record bytes: one record). Returns
        false when the stream failed or either side closed (after our
        close_notify the channel refuses to send; after the peer's, Botan
        has answered it). */
    bool send(std::span<const std::byte> plaintext) {
        if (peer_closed_ || local_closed_) [[unlikely]]
            return false;
        guard([&] { channel_->send(std::span(reinterpret_cast<const std::uint8_t*>(plaintext.data()), plaintext.size())); });
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

    /** Starts a TLS 1.2 renegotiation from our side (ClientHello, or
        HelloRequest from a server). Requires an established TLS 1.2
        session and none in flight: false under TLS 1.3, which has none
        (Botan would throw Invalid_Argument). */
    bool renegotiate() { return renegotiate_channel(*channel_); }

    /** Sends a TLS 1.3 KeyUpdate, asking the peer to update its keys too
        when `request_peer`. False without a TLS 1.3 session ready (Botan
        would throw Invalid_Argument under TLS 1.2). */
    bool update_keys(bool request_peer) {
        if (!ready() || !tls13_)
            return false;
        guard([&] { channel_->update_traffic_keys(request_peer); });
        return !failed_;
    }

    /** Keying material (RFC 5705 under TLS 1.2, RFC 8446 section 7.5
        under TLS 1.3; see tls_stream::export_keying_material). TLS 1.2
        derives it here from the master secret Botan's key-log callback
        gave; without it (a text policy that does not allow the key log)
        Botan's exporter, which cannot tell an empty context from none,
        so an empty one is refused. */
    [[nodiscard]] result<std::vector<std::byte>> export_keying_material(std::string_view label,
                                                          std::optional<std::span<const std::byte>> context,
                                                          std::size_t length) const {
        if (auto refused = exporter_refusal(label, context ? context->size() : 0, length))
            return unexpected(*refused);
        if (!tls13_ && !tls12_secret_.empty())
            return tls12_export(label, context, length);
        if (!tls13_ && context && context->empty())
            return unexpected(tls_error(errc::invalid_argument));
        // TLS 1.3 hashes the context: none and empty are the same (RFC 8446 7.5).
        const std::string_view bytes = context ? std::string_view(reinterpret_cast<const char*>(context->data()), context->size())
                                               : std::string_view();
        const auto key = channel_->key_material_export(label, bytes, length);
        const auto* k = reinterpret_cast<const std::byte*>(key.begin());
        return std::vector<std::byte>(k, k + key.length());
    }

    /** The client's last resumable session sealed for export (see
        tls_stream::export_session): empty before one exists. Under TLS
        1.3 that is after the server's NewSessionTicket was read. Throws
        only what Botan throws (bad_alloc); the stream catches it. */
    std::vector<std::byte> export_session() const {
        if (!client_sessions_)
            return {};
        return client_sessions_->export_last(session_export_key(*ctx_));
    }

    /** Most ciphertext one call into Botan's channel gets. */
    static constexpr std::size_t feed_chunk = 4096;

private:
    /** A client's session store: the context's, with one imported session
        in front (offered once to the server it was made with, name and
        port), and the last session stored remembered for export. The
        sealed export carries the session handle (a TLS 1.2 session ID or
        ticket, a TLS 1.3 ticket) in front of the sealed session. */
    class client_sessions final : public Botan::TLS::Session_Manager {
    public:
        explicit client_sessions(std::shared_ptr<Botan::TLS::Session_Manager> shared)
            : Botan::TLS::Session_Manager(shared_rng()), shared_(std::move(shared)) {}

        /** Opens `sealed`; a session that does not open (damaged, or from
            another configuration) is dropped: a full handshake follows. */
        void import(std::span<const std::byte> sealed, const Botan::SymmetricKey& key) {
            try {
                const auto* p = reinterpret_cast<const std::uint8_t*>(sealed.data());
                if (sealed.size() < 3)
                    return;
                const unsigned kind = p[0];
                const std::size_t n = std::size_t(p[1]) << 8 | p[2];
                if (kind > 2 || sealed.size() < 3 + n)
                    return;
                std::vector<std::uint8_t> handle(p + 3, p + 3 + n);
                auto session = Botan::TLS::Session::decrypt(std::span(p + 3 + n, sealed.size() - 3 - n), key);
                imported_.emplace(Botan::TLS::Session_with_Handle{std::move(session), make_handle(kind, std::move(handle))});
            } catch (const std::exception&) {
                imported_.reset();
            }
        }
        const Botan::TLS::Session* imported() const noexcept { return imported_ ? &imported_->session : nullptr; }
        void drop_imported() noexcept { imported_.reset(); }

        std::vector<std::byte> export_last(const Botan::SymmetricKey& key) const {
            if (!last_)
                return {};
            const auto& h = last_->handle;
            std::vector<std::uint8_t> handle;
            unsigned kind = 0;
            if (h.is_id()) {
                handle = h.id()->get();
            } else if (h.is_ticket()) {
                kind = 1;
                handle = h.ticket()->get();
            } else {
                kind = 2;
                handle = h.opaque_handle().get();
            }
            const auto sealed = last_->session.encrypt(key, rng());
            std::vector<std::byte> out;
            out.reserve(3 + handle.size() + sealed.size());
            out.push_back(std::byte(kind));
            out.push_back(std::byte(handle.size() >> 8));
            out.push_back(std::byte(handle.size() & 0xFF));
            for (auto b : handle)
                out.push_back(std::byte(b));
            for (auto b : sealed)
                out.push_back(std::byte(b));
            return out;
        }

        std::optional<Botan::TLS::Session_Handle> establish(const Botan::TLS::Session& session,
                                                            const std::optional<Botan::TLS::Session_ID>& id,
                                                            bool tls12_no_ticket) override {
            if (!storable_session(0, session.peer_certs()))
                return std::nullopt;
            auto handle = shared_->establish(session, id, tls12_no_ticket);
            if (handle)
                last_.emplace(Botan::TLS::Session_with_Handle{session, *handle});
            return handle;
        }
        void store(const Botan::TLS::Session& session, const Botan::TLS::Session_Handle& handle) override {
            // A hostile server's outsized ticket or chain is not kept.
            if (!storable_session(handle_size(handle), session.peer_certs()))
                return;
            last_.emplace(Botan::TLS::Session_with_Handle{session, handle});
            shared_->store(session, handle);
        }
        std::optional<Botan::TLS::Session> retrieve(const Botan::TLS::Session_Handle& handle,
                                                    Botan::TLS::Callbacks& callbacks,
                                                    const Botan::TLS::Policy& policy) override {
            return shared_->retrieve(handle, callbacks, policy);
        }
        std::vector<Botan::TLS::Session_with_Handle> find(const Botan::TLS::Server_Information& info,
                                                          Botan::TLS::Callbacks& callbacks,
                                                          const Botan::TLS::Policy& policy) override {
            if (imported_ && imported_->session.server_info() == info)
                return {*std::exchange(imported_, std::nullopt)};
            return shared_->find(info, callbacks, policy);
        }
        std::size_t remove(const Botan::TLS::Session_Handle& handle) override { return shared_->remove(handle); }
        std::size_t remove_all() override { return shared_->remove_all(); }

    protected:
        // Only reached through the base class's find() and retrieve(),
        // which this class replaces.
        std::optional<Botan::TLS::Session> retrieve_one(const Botan::TLS::Session_Handle&) override { return std::nullopt; }
        std::vector<Botan::TLS::Session_with_Handle> find_some(const Botan::TLS::Server_Information&,
                                                               std::size_t) override {
            return {};
        }

    private:
        static std::size_t handle_size(const Botan::TLS::Session_Handle& h) {
            if (h.is_id())
                return h.id()->get().size();
            if (h.is_ticket())
                return h.ticket()->get().size();
            return h.opaque_handle().get().size();
        }

        static Botan::TLS::Session_Handle make_handle(unsigned kind, std::vector<std::uint8_t> bytes) {
            if (kind == 0)
                return Botan::TLS::Session_Handle(Botan::TLS::Session_ID(std::move(bytes)));
            if (kind == 1)
                return Botan::TLS::Session_Handle(Botan::TLS::Session_Ticket(std::move(bytes)));
            return Botan::TLS::Session_Handle(Botan::TLS::Opaque_Session_Handle(std::move(bytes)));
        }

        std::shared_ptr<Botan::TLS::Session_Manager> shared_;
        std::optional<Botan::TLS::Session_with_Handle> imported_;
        std::optional<Botan::TLS::Session_with_Handle> last_;
    };

    // ---- Botan callbacks ------------------------------------------------------

    void tls_emit_data(std::span<const std::uint8_t> data) override { emit(std::as_bytes(data)); }

    void tls_record_received(std::uint64_t, std::span<const std::uint8_t> data) override { deliver(std::as_bytes(data)); }

    void tls_alert(Botan::TLS::Alert a) override { alert_received(static_cast<alert>(a.type()), a.is_fatal()); }

    void tls_session_established(const Botan::TLS::Session_Summary& session) override {
        tls13_ = session.version().is_tls_13_or_later();
        // TLS 1.3 names its group in the summary (Botan's name, e.g.
        // "x25519/ML-KEM-768"); TLS 1.2 in the ServerKeyExchange.
        std::uint16_t group = kex_group_;
        if (tls13_) {
            const auto param = session.kex_parameters();
            const auto parsed = param ? Botan::TLS::Group_Params::from_string(*param) : std::nullopt;
            group = parsed ? static_cast<std::uint16_t>(parsed->code()) : 0;
        }
        record_negotiated(session.version().to_string(), tls13_, session.ciphersuite().to_string(), group);
        if (!tls13_)
            commit_tls12_secrets(std::exchange(next_secret_, {}), session.prf_algo());
        resumed_ = session.was_resumption();
        // A server learns the client's SNI name here.
        if (ctx_->side == role::server)
            info_.server_name = session.server_info().hostname();
        record_peer(session.peer_certs());
    }

    void tls_session_activated() override {
        established_ = true;
        in_flight_ = false;
        hello_request_outstanding_ = false;
        // Botan 3 reports resumption itself, for TLS 1.2 and 1.3 alike.
        info_.resumed = resumed_;
        info_.alpn = channel_ ? channel_->application_protocol() : std::string();
        ++info_.handshakes;
    }

    /** The NSS key-log lines Botan 3 hands out (CLIENT_RANDOM under TLS
        1.2; the handshake and traffic secrets under TLS 1.3), to the
        context's key log. A sink that throws is ignored: a debugging aid
        must not end the connection. */
    void tls_ssl_key_log_data(std::string_view label, std::span<const std::uint8_t> client_random,
                              std::span<const std::uint8_t> secret) const override {
        // TLS 1.2's master secret, for export_keying_material (the
        // default policy lets Botan hand it out).
        if (label == "CLIENT_RANDOM")
            next_secret_.assign(secret.begin(), secret.end());
        if (!ctx_->key_log || !*ctx_->key_log)
            return;
        try {
            std::string line = std::string(label) + " " + Botan::hex_encode(client_random.data(), client_random.size(), false) +
                               " " + Botan::hex_encode(secret.data(), secret.size(), false);
            (*ctx_->key_log)(line);
            Botan::secure_scrub_memory(line.data(), line.size());
        } catch (...) {
        }
    }

    void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& message) override {
        const auto type = message.type();
        if (type == Botan::TLS::Handshake_Type::ClientHello) {
            kex_group_ = 0;
            info_.ocsp = {};  // a resumption staples nothing
            next_client_random_ = static_cast<const Botan::TLS::Client_Hello&>(message).random();
            // A client sends ClientHello only when it starts a handshake.
            if (ctx_->side == role::client)
                in_flight_ = true;
            else  // before Botan asks creds_ for a chain
                select_credentials(static_cast<const Botan::TLS::Client_Hello&>(message), creds_.lookup());
        } else if (type == Botan::TLS::Handshake_Type::ServerHello) {
            if (const auto* hello = dynamic_cast<const Botan::TLS::Server_Hello_12*>(&message))
                next_server_random_ = hello->random();
            // A server answers a ClientHello with ServerHello only when it
            // accepts the (re)negotiation; a refusal is a warning alert.
            in_flight_ = true;
        } else if (type == Botan::TLS::Handshake_Type::Certificate) {
            // Sent and received messages both pass here; the client's
            // Certificate comes after the server's, so this ends up true
            // exactly when the client answered a request with none.
            if (const auto* c12 = dynamic_cast<const Botan::TLS::Certificate_12*>(&message))
                client_sent_no_certificate_ = c12->empty();
            else if (const auto* c13 = dynamic_cast<const Botan::TLS::Certificate_13*>(&message))
                client_sent_no_certificate_ = c13->empty();
        } else if (type == Botan::TLS::Handshake_Type::ServerKeyExchange) {
            note_server_key_exchange(static_cast<const Botan::TLS::Server_Key_Exchange&>(message).params());
        }
        // Post-handshake messages (NewSessionTicket, KeyUpdate) start no
        // handshake; Botan 3.7 does not report all of them here anyway.
    }

    void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                               const std::vector<std::optional<Botan::OCSP::Response>>& ocsp,
                               const std::vector<Botan::Certificate_Store*>& roots, Botan::Usage_Type usage,
                               std::string_view hostname, const Botan::TLS::Policy& policy) override {
        verify_chain(chain, usage, std::string(hostname), [&](const std::string& name) {
            const Botan::Path_Validation_Restrictions restrictions(false, policy.minimum_signature_strength());
            // The stapled response is checked by check_stapled_ocsp, alike
            // on both engines.
            return Botan::x509_path_validate(chain, restrictions, roots, name, usage, std::chrono::system_clock::now(),
                                             std::chrono::milliseconds(0), {});
        });
        check_stapled_ocsp(chain, ocsp.empty() || !ocsp.front() ? nullptr : &ocsp.front()->raw_bits());
    }

    /** Botan 3 drops a stapled response it cannot parse (as if none had
        come): a client that checks staples fails the handshake instead, as
        on Botan 2, and refuses one over max_ocsp_response_bytes unread. */
    std::optional<Botan::OCSP::Response> tls_parse_ocsp_response(const std::vector<std::uint8_t>& raw) override {
        const bool checks = ctx_->side == role::client && ctx_->verify && !ctx_->hook_replaces_checks;
        if (raw.size() > max_ocsp_response_bytes) {
            if (!checks)
                return std::nullopt;
            cert_reason_ = certificate_reason::bad_status_response;
            failure_detail_ = "the stapled OCSP response is larger than " + std::to_string(max_ocsp_response_bytes) + " bytes";
            throw_alert(alert::bad_certificate_status_response, failure_detail_);
        }
        try {
            return Botan::OCSP::Response(raw);
        } catch (const std::exception& e) {
            if (!checks)
                return std::nullopt;
            cert_reason_ = certificate_reason::bad_status_response;
            failure_detail_ = std::string("the stapled OCSP response is unusable: ") + e.what();
            throw_alert(alert::bad_certificate_status_response, failure_detail_);
        }
    }

    std::vector<std::uint8_t> tls_provide_cert_status(const std::vector<Botan::X509_Certificate>& chain,
                                                      const Botan::TLS::Certificate_Status_Request&) override {
        return chain.empty() ? std::vector<std::uint8_t>() : staple_for(ctx_->ocsp_responses, chain.front());
    }

    void tls_modify_extensions(Botan::TLS::Extensions& extensions, Botan::TLS::Connection_Side side,
                               Botan::TLS::Handshake_Type) override {
        // RFC 6066 section 3: literal IPv4 and IPv6 addresses are not
        // permitted in a server_name.
        if (side == Botan::TLS::Connection_Side::Client && !server_ip_.empty())
            extensions.remove_extension(Botan::TLS::Extension_Code::ServerNameIndication);
    }

    std::string tls_server_choose_app_protocol(const std::vector<std::string>& offered) override {
        // The server's order of preference decides, among what the client offered.
        for (const auto& mine : ctx_->alpn)
            if (std::find(offered.begin(), offered.end(), mine) != offered.end())
                return mine;
        return {};
    }

    credentials_provider creds_;
    bool resumed_ = false;
    std::shared_ptr<client_sessions> client_sessions_;  // a client's session store

    std::unique_ptr<Botan::TLS::Channel> channel_;  // last: it refers to everything above
};

}  // namespace tlsw::detail

#endif
