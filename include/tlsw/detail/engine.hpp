#ifndef TLSW_DETAIL_ENGINE_HPP
#define TLSW_DETAIL_ENGINE_HPP

// The only file that names Botan::TLS: moving to another TLS backend (Botan 3
// and TLS 1.3) touches this file alone.

#include <tlsw/credentials.hpp>
#include <tlsw/error.hpp>
#include <tlsw/session_info.hpp>

#include <botan/certstor.h>
#include <botan/certstor_system.h>
#include <botan/credentials_manager.h>
#include <tlsw/detail/rng.hpp>
#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_handshake_msg.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#include <botan/x509path.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace tlsw::detail {

enum class role : unsigned char { client, server };

/** tlsw's default TLS 1.2 policy: forward-secret AEAD suites only, secure
    renegotiation only, AES-GCM first where the CPU accelerates it. */
class default_policy final : public Botan::TLS::Policy {
public:
    struct settings {
        bool allow_client_renegotiation = false;
        bool require_client_certificate = false;
        bool session_tickets = true;
    };

    /** `requested`, when given, is true while this server's own HelloRequest
        is outstanding: Botan 2 checks allow_client_initiated_renegotiation()
        on the ClientHello that answers it too, and would refuse the
        renegotiation it asked for. */
    explicit default_policy(settings s, const bool* requested = nullptr)
        : settings_(s), requested_(requested), ciphers_(preferred_ciphers()) {}

    std::vector<std::string> allowed_ciphers() const override { return ciphers_; }
    std::vector<std::string> allowed_macs() const override { return {"AEAD"}; }
    // ECDHE only: no static RSA (no forward secrecy), no experimental CECPQ1.
    std::vector<std::string> allowed_key_exchange_methods() const override { return {"ECDH"}; }
    std::vector<std::string> allowed_signature_methods() const override { return {"ECDSA", "RSA"}; }
    std::vector<Botan::TLS::Group_Params> key_exchange_groups() const override {
        return {Botan::TLS::Group_Params::X25519, Botan::TLS::Group_Params::SECP256R1};
    }
    bool allow_tls10() const override { return false; }
    bool allow_tls11() const override { return false; }
    bool allow_insecure_renegotiation() const override { return false; }
    // OpenSSL 3's defaults: a client follows a server's HelloRequest; a
    // server refuses a client's renegotiation unless told otherwise.
    bool allow_server_initiated_renegotiation() const override { return true; }
    bool allow_client_initiated_renegotiation() const override {
        return settings_.allow_client_renegotiation || (requested_ && *requested_);
    }
    bool require_client_certificate_authentication() const override { return settings_.require_client_certificate; }
    // A zero lifetime makes a Botan client stop offering the ticket extension.
    std::uint32_t session_ticket_lifetime() const override { return settings_.session_tickets ? 86400 : 0; }
    // Verification is ours (engine::tls_verify_cert_chain); real chains
    // rarely come with CRL or OCSP data for every intermediate.
    bool require_cert_revocation_info() const override { return false; }

private:
    static std::vector<std::string> preferred_ciphers() {
        // Botan's own order puts ChaCha20 first, about 3x slower than
        // AES-GCM on CPUs with AES and carry-less multiply instructions.
        if (has_aes_instructions())
            return {"AES-128/GCM", "AES-256/GCM", "ChaCha20Poly1305"};
        return {"ChaCha20Poly1305", "AES-128/GCM", "AES-256/GCM"};
    }

    static bool has_aes_instructions() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
        // Botan's own CPUID header is slated to become internal.
        return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRYPTO)
        return true;
#else
        return false;
#endif
    }

    settings settings_;
    const bool* requested_;
    std::vector<std::string> ciphers_;
};

/** What streams made from one context share. Immutable once a stream uses
    it, except the session manager, which locks itself. */
struct context_state {
    role side = role::client;
    bool verify = true;
    bool use_system_trust = false;
    default_policy::settings settings;
    bool text_policy = false;  // a policy file replaced the default policy and its settings
    std::shared_ptr<const credential_data> creds;
    Botan::Certificate_Store_In_Memory trust;
    std::vector<std::string> alpn;  // a server's supported protocols, most preferred first
    std::shared_ptr<const Botan::TLS::Policy> policy;
    std::unique_ptr<Botan::TLS::Session_Manager> sessions;
    Botan::SymmetricKey ticket_key;  // empty: no session tickets

    mutable std::once_flag system_trust_once;
    mutable std::unique_ptr<Botan::Certificate_Store> system_trust;

    const Botan::TLS::Policy& tls_policy() const { return *policy; }

    /** Rebuilds the default policy after a setting changed; a text policy stays as loaded. */
    void settings_changed() {
        if (!text_policy)
            policy = std::make_shared<default_policy>(settings);
    }

    /** Replaces the policy by Botan's text format ("key = value" lines, as
        in `botan tls_server --policy`); false when it does not parse. */
    bool load_text_policy(const std::string& text) {
        try {
            policy = std::make_shared<Botan::TLS::Text_Policy>(text);
            text_policy = true;
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }

    std::vector<Botan::Certificate_Store*> trust_stores() const {
        std::vector<Botan::Certificate_Store*> stores{const_cast<Botan::Certificate_Store_In_Memory*>(&trust)};
        if (use_system_trust) {
            std::call_once(system_trust_once, [this] {
                try {
                    system_trust = std::make_unique<Botan::System_Certificate_Store>();
                } catch (const std::exception&) {
                    // No system bundle: only the context's own trust applies.
                }
            });
            if (system_trust)
                stores.push_back(system_trust.get());
        }
        return stores;
    }
};

inline std::shared_ptr<context_state> make_context_state(role side) {
    auto state = std::make_shared<context_state>();
    state->side = side;
    state->policy = std::make_shared<default_policy>(state->settings);
    state->sessions = std::make_unique<Botan::TLS::Session_Manager_In_Memory>(rng());
    return state;
}

/** Hands Botan the context's certificates, trust and ticket key. Read-only,
    so one instance serves every stream of a context. */
class credentials_provider final : public Botan::Credentials_Manager {
public:
    explicit credentials_provider(const context_state& ctx) : ctx_(ctx) {}

    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                           const std::string&) override {
        // A server asks for client certificates only when it trusts someone
        // (Botan sends a CertificateRequest naming these CAs).
        if (type == "tls-server" && ctx_.trust.all_subjects().empty())
            return {};
        return ctx_.trust_stores();
    }

    std::vector<Botan::X509_Certificate> find_cert_chain(const std::vector<std::string>& key_types,
                                                         const std::vector<Botan::X509_DN>&, const std::string&,
                                                         const std::string&) override {
        if (!ctx_.creds)
            return {};
        const auto algo = ctx_.creds->key->algo_name();
        if (std::find(key_types.begin(), key_types.end(), algo) == key_types.end())
            return {};
        return ctx_.creds->chain;
    }

    Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                        const std::string&) override {
        if (ctx_.creds && !ctx_.creds->chain.empty() && cert == ctx_.creds->chain.front())
            return ctx_.creds->key.get();
        return nullptr;
    }

    Botan::SymmetricKey psk(const std::string& type, const std::string& context, const std::string& identity) override {
        if (type == "tls-server" && context == "session-ticket" && ctx_.ticket_key.length() > 0)
            return ctx_.ticket_key;
        // The base class throws, which Botan reads as "no tickets".
        return Botan::Credentials_Manager::psk(type, context, identity);
    }

private:
    const context_state& ctx_;
};

/** Where the engine may hand ciphertext directly (write-through): returns
    how many bytes it took; the engine queues the rest. */
struct output_sink {
    void* self = nullptr;
    std::size_t (*write)(void* self, std::span<const std::byte> bytes) = nullptr;
};

/** The sans-IO TLS engine: owns one Botan channel and its callbacks. Bytes
    go in through feed() and send(); ciphertext for the peer collects in
    output(), plaintext from the peer in the caller's buffer or the inbox.

    Invariants:
    - Plaintext passed to send() is committed: it is in output() or already
      taken by the sink, never to be sent again.
    - A failure is sticky: after failed() turns true, error() says why and
      every later operation is refused. Plaintext authenticated before the
      failure stays in the inbox until the stream delivers or discards it.
    - A handshake is complete only when Botan activated a session: no alert
      or message before that makes handshake_in_flight() false.
    - No exception leaves this class, Botan's or a callback's, except
      std::bad_alloc from the constructor.
*/
class engine final : private Botan::TLS::Callbacks {
public:
    static constexpr std::size_t max_record = 16384;

    engine(std::shared_ptr<const context_state> ctx, std::string server_name, std::uint16_t port,
           std::vector<std::string> alpn)
        : ctx_(std::move(ctx)), creds_(*ctx_) {
        info_.server_name = server_name;
        guard([&] {
            Botan::TLS::Callbacks& callbacks = *this;  // a private base: convert here, not in make_unique
            if (ctx_->side == role::client) {
                // Verifying a server means checking its name: without one any
                // certificate from a trusted CA would pass.
                if (ctx_->verify && server_name.empty()) {
                    fail(tls_error(errc::invalid_argument));
                    return;
                }
                channel_ = std::make_unique<Botan::TLS::Client>(
                    callbacks, *ctx_->sessions, creds_, ctx_->tls_policy(), rng(),
                    Botan::TLS::Server_Information(server_name, port), Botan::TLS::Protocol_Version::TLS_V12,
                    alpn, 0);
            } else {
                const Botan::TLS::Policy* policy = &ctx_->tls_policy();
                if (!ctx_->text_policy) {
                    own_policy_ = std::make_unique<default_policy>(ctx_->settings, &hello_request_outstanding_);
                    policy = own_policy_.get();
                }
                channel_ = std::make_unique<Botan::TLS::Server>(callbacks, *ctx_->sessions, creds_, *policy,
                                                                rng(), false, 0);
            }
        });
    }

    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // ---- state ------------------------------------------------------------

    bool failed() const noexcept { return failed_; }
    const tls_error& error() const noexcept { return error_; }
    /** A session is active and no handshake is in flight: application data may be sent. */
    bool ready() const noexcept { return !failed_ && !handshake_in_flight() && !local_closed_ && !peer_closed_; }
    /** True until Botan activated the first session (its keys are in use and
        the peer was verified), and while a renegotiation is in flight. */
    bool handshake_in_flight() const noexcept { return in_flight_ || !established_; }
    bool peer_closed() const noexcept { return peer_closed_; }
    bool local_closed() const noexcept { return local_closed_; }
    const session_info& info() const noexcept { return info_; }

    // ---- ciphertext out -----------------------------------------------------

    std::span<const std::byte> output() const noexcept {
        return std::span<const std::byte>(out_).subspan(out_pos_);
    }
    void consume_output(std::size_t n) noexcept {
        out_pos_ += n;
        if (out_pos_ == out_.size()) {
            out_.clear();
            out_pos_ = 0;
        }
    }
    /** Frees the ciphertext queue and the plaintext inbox when they are
        empty: an idle stream holds neither (they grow again on demand). */
    void release_buffers() noexcept {
        if (output().empty()) {
            std::vector<std::byte>().swap(out_);
            out_pos_ = 0;
        }
        if (plaintext_available() == 0) {
            discard_plaintext();
            std::vector<std::byte>().swap(inbox_);
            std::vector<std::size_t>().swap(record_ends_);
        }
    }
    /** Heap bytes the queue and the inbox hold (their capacity). */
    std::size_t buffer_capacity() const noexcept {
        return out_.capacity() + inbox_.capacity() + record_ends_.capacity() * sizeof(std::size_t);
    }
    /** Lets emitted ciphertext go straight to the transport while nothing is queued. */
    void set_sink(output_sink sink) noexcept { sink_ = sink; }

    // ---- ciphertext in, plaintext out ---------------------------------------

    /** Processes all of `ciphertext`. Plaintext goes to `direct` as far as it
        fits, the rest to the inbox; returns the count stored in `direct`. */
    std::size_t feed(std::span<const std::byte> ciphertext, std::span<std::byte> direct) {
        if (failed_ || !channel_)
            return 0;
        direct_ = direct;
        direct_used_ = 0;
        alerts_emitted_ = 0;
        guard([&] {
            channel_->received_data(reinterpret_cast<const std::uint8_t*>(ciphertext.data()), ciphertext.size());
        });
        direct_ = {};
        // Botan refuses a renegotiation with a warning alert and no callback.
        // Any other alert it sends here is fatal or a close_notify reply.
        if (alerts_emitted_ > 0 && !failed_ && !peer_closed_ && !local_closed_)
            info_.renegotiations_refused += alerts_emitted_;
        return direct_used_;
    }

    std::size_t plaintext_available() const noexcept { return inbox_.size() - inbox_pos_; }

    /** Drops buffered plaintext: once a failure is reported, nothing that
        arrived before it may surface after it. */
    void discard_plaintext() noexcept {
        inbox_.clear();
        inbox_pos_ = 0;
        record_ends_.clear();
        record_head_ = 0;
    }

    /** Moves buffered plaintext into `out`, at most the rest of one record
        (SSL_read_ex's rule: a read never spans records); returns the count. */
    std::size_t read_plaintext(std::span<std::byte> out) noexcept {
        if (record_ends_.empty())
            return 0;
        const std::size_t n = std::min(out.size(), record_ends_[record_head_] - inbox_pos_);
        if (n > 0)
            std::memcpy(out.data(), inbox_.data() + inbox_pos_, n);
        inbox_pos_ += n;
        if (inbox_pos_ == record_ends_[record_head_])
            ++record_head_;
        if (inbox_pos_ == inbox_.size()) {
            inbox_.clear();
            inbox_pos_ = 0;
            record_ends_.clear();
            record_head_ = 0;
        }
        return n;
    }

    // ---- operations ---------------------------------------------------------

    /** Encrypts `plaintext` (at most max_record bytes: one record). Requires ready(). */
    bool send(std::span<const std::byte> plaintext) {
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

    /** Starts a renegotiation from our side (ClientHello, or HelloRequest
        from a server). Requires an established session and none in flight. */
    bool renegotiate() {
        if (!ready())
            return false;
        if (ctx_->side == role::server) {
            // A text policy decides alone; one that refuses client
            // renegotiation would refuse the answer to our HelloRequest.
            if (!own_policy_ && !ctx_->tls_policy().allow_client_initiated_renegotiation())
                return false;
            hello_request_outstanding_ = true;
        }
        guard([&] {
            channel_->renegotiate(false);
            in_flight_ = true;
        });
        return !failed_;
    }

private:
    template <class F>
    void guard(F&& f) {
        try {
            f();
        } catch (const Botan::TLS::TLS_Exception& e) {
            const auto a = static_cast<alert>(e.type());
            if (local_closed_ && a == alert::unexpected_message) {
                // After our close_notify Botan refuses the peer's remaining
                // application data and cannot read its close_notify any
                // more: the connection is over, as shutdown asked.
                peer_closed_ = true;
                return;
            }
            if (cert_reason_ != certificate_reason::none)
                fail(tls_error::from_certificate(cert_reason_, a));
            else
                fail(tls_error::from_alert(a, false));
        } catch (const Botan::Invalid_Authentication_Tag&) {
            fail(tls_error::from_alert(alert::bad_record_mac, false));
        } catch (const Botan::Decoding_Error&) {
            fail(tls_error::from_alert(alert::decode_error, false));
        } catch (const Botan::Invalid_State&) {
            fail(tls_error(local_closed_ || peer_closed_ ? errc::closed : errc::invalid_state));
        } catch (...) {
            // Allocation failure, a throwing callback, anything else: the
            // channel cannot be trusted past it (Botan has sent internal_error).
            fail(tls_error::from_alert(alert::internal_error, false));
        }
    }

    void fail(tls_error e) noexcept {
        if (!failed_) {
            failed_ = true;
            error_ = e;
        }
    }

    // ---- Botan callbacks ------------------------------------------------------

    void tls_emit_data(const std::uint8_t data[], std::size_t size) override {
        // Each call is one record; its type byte is in the clear.
        if (size > 0 && data[0] == record_type_alert)
            ++alerts_emitted_;
        auto bytes = std::as_bytes(std::span(data, size));
        if (out_pos_ == out_.size() && sink_.write) {
            const std::size_t taken = sink_.write(sink_.self, bytes);
            bytes = bytes.subspan(std::min(taken, bytes.size()));
        }
        if (bytes.empty())
            return;
        // Keep the queue from creeping: reclaim consumed space before growing.
        if (out_pos_ > 0 && out_.size() + bytes.size() > out_.capacity()) {
            out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_pos_));
            out_pos_ = 0;
        }
        out_.insert(out_.end(), bytes.begin(), bytes.end());
    }

    void tls_record_received(std::uint64_t, const std::uint8_t data[], std::size_t size) override {
        // An empty record (legal in TLS 1.2; Botan 2.19 passes it on with
        // size 0) carries nothing and must not use up the caller's buffer,
        // or the data behind it would wait in the inbox while read() goes
        // back to the transport.
        if (size == 0)
            return;
        auto bytes = std::as_bytes(std::span(data, size));
        // Only the first record of a feed may go to the caller directly:
        // one read returns at most one record.
        if (direct_used_ == 0 && !direct_.empty() && inbox_.empty()) {
            const std::size_t n = std::min(bytes.size(), direct_.size());
            std::memcpy(direct_.data(), bytes.data(), n);
            direct_used_ = n;
            direct_ = {};
            bytes = bytes.subspan(n);
        }
        direct_ = {};
        if (!bytes.empty()) {
            inbox_.insert(inbox_.end(), bytes.begin(), bytes.end());
            record_ends_.push_back(inbox_.size());
        }
    }

    void tls_alert(Botan::TLS::Alert a) override {
        const auto type = static_cast<alert>(a.type());
        if (type == alert::close_notify) {
            peer_closed_ = true;
        } else if (type == alert::no_renegotiation && established_) {
            // The peer refused our renegotiation; Botan drops the pending
            // handshake and the old keys stay in use. Before the first
            // session there is nothing to renegotiate: the alert ends no
            // handshake (Botan drops its state, so none will complete).
            in_flight_ = false;
            hello_request_outstanding_ = false;
            ++info_.renegotiations_refused;
        } else if (a.is_fatal()) {
            fail(remote_error(type));
        }
    }

    static tls_error remote_error(alert type) noexcept {
        switch (type) {
        case alert::bad_certificate:
        case alert::unsupported_certificate:
        case alert::certificate_unknown: return tls_error::from_certificate(certificate_reason::other, type, true);
        case alert::certificate_revoked: return tls_error::from_certificate(certificate_reason::revoked, type, true);
        case alert::certificate_expired: return tls_error::from_certificate(certificate_reason::expired, type, true);
        case alert::unknown_ca: return tls_error::from_certificate(certificate_reason::unknown_issuer, type, true);
        default: return tls_error::from_alert(type, true);
        }
    }

    bool tls_session_established(const Botan::TLS::Session& session) override {
        info_.version = session.version().to_string();
        info_.cipher_suite = session.ciphersuite().to_string();
        // A server learns the client's SNI name here.
        if (ctx_->side == role::server)
            info_.server_name = session.server_info().hostname();
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

    void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& message) override {
        const auto type = message.type();
        if (type == Botan::TLS::CLIENT_HELLO) {
            certificates_seen_ = 0;
            // A client sends ClientHello only when it starts a handshake.
            if (ctx_->side == role::client)
                in_flight_ = true;
        } else if (type == Botan::TLS::SERVER_HELLO) {
            // A server answers a ClientHello with ServerHello only when it
            // accepts the (re)negotiation; a refusal is a warning alert.
            in_flight_ = true;
        } else if (type == Botan::TLS::CERTIFICATE) {
            ++certificates_seen_;
        }
    }

    void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                               const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                               const std::vector<Botan::Certificate_Store*>& roots, Botan::Usage_Type usage,
                               const std::string& hostname, const Botan::TLS::Policy& policy) override {
        if (!ctx_->verify)
            return;
        if (chain.empty()) {
            cert_reason_ = certificate_reason::no_certificate;
            throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE, "no certificate");
        }
        const Botan::Path_Validation_Restrictions restrictions(false, policy.minimum_signature_strength());
        // A Botan server passes its own SNI name along with a client's
        // chain; a client certificate names a client, not that host.
        const std::string& name = usage == Botan::Usage_Type::TLS_CLIENT_AUTH ? std::string() : hostname;
        const auto result = Botan::x509_path_validate(chain, restrictions, roots, name, usage,
                                                      std::chrono::system_clock::now(), std::chrono::milliseconds(0),
                                                      ocsp);
        if (result.successful_validation())
            return;
        const auto [reason, alert_type] = classify(result.result());
        cert_reason_ = reason;
        throw Botan::TLS::TLS_Exception(alert_type, "certificate verification failed: " + result.result_string());
    }

    std::string tls_server_choose_app_protocol(const std::vector<std::string>& offered) override {
        // The server's order of preference decides, among what the client offered.
        for (const auto& mine : ctx_->alpn)
            if (std::find(offered.begin(), offered.end(), mine) != offered.end())
                return mine;
        return {};
    }

    static std::pair<certificate_reason, Botan::TLS::Alert::Type> classify(Botan::Certificate_Status_Code code) {
        using S = Botan::Certificate_Status_Code;
        using A = Botan::TLS::Alert;
        switch (code) {
        case S::CERT_HAS_EXPIRED: return {certificate_reason::expired, A::CERTIFICATE_EXPIRED};
        case S::CERT_NOT_YET_VALID: return {certificate_reason::not_yet_valid, A::BAD_CERTIFICATE};
        case S::CERT_ISSUER_NOT_FOUND:
        case S::CANNOT_ESTABLISH_TRUST:
        case S::CHAIN_LACKS_TRUST_ROOT: return {certificate_reason::unknown_issuer, A::UNKNOWN_CA};
        case S::CERT_NAME_NOMATCH: return {certificate_reason::name_mismatch, A::BAD_CERTIFICATE};
        case S::CERT_IS_REVOKED: return {certificate_reason::revoked, A::CERTIFICATE_REVOKED};
        case S::SIGNATURE_ERROR: return {certificate_reason::bad_signature, A::BAD_CERTIFICATE};
        case S::SIGNATURE_METHOD_TOO_WEAK:
        case S::UNTRUSTED_HASH: return {certificate_reason::weak_signature, A::BAD_CERTIFICATE};
        case S::INVALID_USAGE: return {certificate_reason::invalid_usage, A::UNSUPPORTED_CERTIFICATE};
        default: return {certificate_reason::other, A::BAD_CERTIFICATE};
        }
    }

    std::shared_ptr<const context_state> ctx_;
    credentials_provider creds_;

    std::vector<std::byte> out_;
    std::size_t out_pos_ = 0;
    output_sink sink_;

    std::vector<std::byte> inbox_;
    std::size_t inbox_pos_ = 0;
    std::vector<std::size_t> record_ends_;  // where each buffered record ends in inbox_
    std::size_t record_head_ = 0;
    std::span<std::byte> direct_;
    std::size_t direct_used_ = 0;

    session_info info_;
    tls_error error_;
    certificate_reason cert_reason_ = certificate_reason::none;
    unsigned certificates_seen_ = 0;
    bool failed_ = false;
    bool established_ = false;
    bool in_flight_ = true;  // the first handshake
    bool hello_request_outstanding_ = false;
    unsigned alerts_emitted_ = 0;
    static constexpr std::uint8_t record_type_alert = 21;
    std::unique_ptr<default_policy> own_policy_;  // a server's, when the context uses the default policy
    bool peer_closed_ = false;
    bool local_closed_ = false;

    std::unique_ptr<Botan::TLS::Channel> channel_;  // last: it refers to everything above
};

}  // namespace tlsw::detail

#endif
