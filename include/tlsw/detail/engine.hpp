// The engine is chosen by Botan's own version macro, so a consumer needs no
// flag. Botan 3 gets an engine of its own (detail/botan3/); until it lands,
// a Botan 3 build stops here with a clear message.
#include <botan/build.h>
#if BOTAN_VERSION_MAJOR >= 3
#error "tlsw: the Botan 3 engine is not finished yet; build against Botan 2.19 or later 2.x (libbotan-2-dev)"
#endif
#ifndef TLSW_DETAIL_ENGINE_HPP
#define TLSW_DETAIL_ENGINE_HPP

// With detail/context_state.hpp (its configuration side), the only code that
// names Botan::TLS: moving to another TLS backend (Botan 3 and TLS 1.3)
// touches these files alone.

#include <tlsw/credentials.hpp>
#include <tlsw/error.hpp>
#include <tlsw/session_info.hpp>

#include <tlsw/detail/certificate.hpp>
#include <tlsw/detail/context_state.hpp>
#include <tlsw/detail/rng.hpp>

#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_extensions.h>
#include <botan/hex.h>
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
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tlsw::detail {

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
           std::vector<std::string> alpn, std::span<const std::byte> resume_from = {})
        : ctx_(std::move(ctx)), creds_(*ctx_), sessions_(*ctx_->sessions) {
        if (ctx_->side == role::client && !resume_from.empty())
            sessions_.import(resume_from, session_export_key(*ctx_));
        info_.server_name = server_name;
        guard([&] {
            Botan::TLS::Callbacks& callbacks = *this;  // a private base: convert here, not in make_unique
            if (ctx_->side == role::client) {
                // Verifying a server means checking its name: without one any
                // certificate from a trusted CA would pass.
                if (ctx_->verify && !ctx_->hook_replaces_checks && server_name.empty()) {
                    fail(tls_error(errc::missing_server_name));
                    return;
                }
                // An address is checked against the certificate's IP SANs
                // and never sent as SNI (RFC 6066 section 3); the cache key
                // drops the brackets so "[::1]" and "::1" share sessions.
                if (auto ip = ip_address(server_name)) {
                    server_ip_ = std::move(*ip);
                    info_.server_name.clear();  // no SNI is sent
                    if (server_name.front() == '[')
                        server_name = server_name.substr(1, server_name.size() - 2);
                }
                channel_ = std::make_unique<Botan::TLS::Client>(
                    callbacks, sessions_, creds_, ctx_->tls_policy(), rng(),
                    Botan::TLS::Server_Information(server_name, port), Botan::TLS::Protocol_Version::TLS_V12,
                    alpn, 0);
            } else {
                const Botan::TLS::Policy* policy = &ctx_->tls_policy();
                if (!ctx_->text_policy) {
                    own_policy_ = std::make_unique<default_policy>(ctx_->settings, &hello_request_outstanding_,
                                                                   &renegotiations_);
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
    /** Why the last failure happened, in words, where more is known than
        error() says (a verification hook's reason), or empty. */
    const std::string& failure_detail() const noexcept { return failure_detail_; }

    // ---- ciphertext out -----------------------------------------------------

    std::span<const std::byte> output() const noexcept {
        return std::span<const std::byte>(out_).subspan(out_pos_);
    }
    bool output_empty() const noexcept { return out_pos_ == out_.size(); }
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
            awaiting_ =
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

    /** Bytes Botan still needs to complete a record it holds the start of
        (what received_data() returned), or 0 when the input fed so far
        ended on a record boundary. */
    std::size_t awaiting() const noexcept { return awaiting_; }

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
            records_ignoring_request_ = 0;
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
            if (cert_reason_ != certificate_reason::none) {
                fail(tls_error::from_certificate(cert_reason_, a));
            } else if (a == alert::handshake_failure && ctx_->side == role::server && client_sent_no_certificate_ &&
                       ctx_->tls_policy().require_client_certificate_authentication()) {
                // Botan refuses a client without a certificate with a bare
                // handshake_failure.
                failure_detail_ = "the client sent no certificate; this server requires one";
                fail(tls_error::from_certificate(certificate_reason::no_certificate, a));
            } else
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
        if (out_pos_ == out_.size() && sink_.write) [[likely]] {
            const std::size_t taken = sink_.write(sink_.self, bytes);
            if (taken >= size) [[likely]]
                return;
            bytes = bytes.subspan(taken);
        }
        queue_output(bytes);
    }

    // Off the hot path (and its register saves): what the sink left.
    [[gnu::noinline]] void queue_output(std::span<const std::byte> bytes) {
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
        // The steady state: the stream feeds one record at a time, and it
        // fits the caller's buffer.
        if (size <= direct_.size() && size > 0 && direct_used_ == 0 && inbox_.empty()) [[likely]] {
            std::memcpy(direct_.data(), data, size);
            direct_used_ = size;
            direct_ = {};
            return;
        }
        record_slow(data, size);
    }

    // Off the hot path (and its register saves).
    [[gnu::noinline]] void record_slow(const std::uint8_t data[], std::size_t size) {
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
        } else if (a.is_fatal() && type == alert::handshake_failure && ctx_->side == role::client &&
                   client_sent_no_certificate_ && !established_) {
            // The server asked for a certificate, we had none to send, and
            // it ended the handshake: Botan servers (and OpenSSL's) say
            // handshake_failure when they require one.
            failure_detail_ = "the server asked for a client certificate and none was configured";
            fail(tls_error::from_certificate(certificate_reason::no_certificate, type, true));
        } else if (a.is_fatal()) {
            fail(remote_error(type));
        } else if (hello_request_outstanding_ && ++records_ignoring_request_ > hello_request_patience) {
            // The client talks past our HelloRequest: writes held back for
            // it would wait forever (RFC 5246 7.4.1.1 lets us end it).
            throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::HANDSHAKE_FAILURE, "client ignores the HelloRequest");
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
        log_keys(session);
        if (ctx_->side == role::client)
            session_ = std::make_unique<Botan::TLS::Session>(session);
        // A resumed session carries the chain verified when it was made,
        // under the same configuration (its identity): still verified.
        const auto& certs = session.peer_certs();
        info_.peer_verified = ctx_->verify && !certs.empty();
        info_.peer_common_name.clear();
        if (!certs.empty()) {
            const auto cn = certs.front().subject_info("X520.CommonName");
            if (!cn.empty())
                info_.peer_common_name = cn.front();
        }
        info_.peer_chain = lazy_peer_chain(certs);  // converted when first read
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
    /** The key exported sessions are sealed with: derived from the
        configuration identity, so that a session opens only under the
        configuration that made it (another one makes a full handshake). */
    static Botan::SymmetricKey session_export_key(const context_state& ctx) {
        auto mac = Botan::MessageAuthenticationCode::create_or_throw("HMAC(SHA-256)");
        mac->set_key(ctx.identity);
        static constexpr std::string_view label = "tlsw exported session";
        mac->update(reinterpret_cast<const std::uint8_t*>(label.data()), label.size());
        return Botan::SymmetricKey(mac->final());
    }

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
        void save(const Botan::TLS::Session& session) override { shared_.save(session); }
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
        if (ctx_->key_log)
            if (const auto* hello = dynamic_cast<const Botan::TLS::Client_Hello*>(&message))
                client_random_ = hello->random();
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
            // Sent and received messages both pass here; the client's
            // Certificate comes after the server's, so this ends up true
            // exactly when the client answered a request with none.
            client_sent_no_certificate_ = static_cast<const Botan::TLS::Certificate&>(message).empty();
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
        // A Botan server passes its own SNI name along with a client's
        // chain; a client certificate names a client, not that host. An
        // address is matched below, against IP SANs only.
        const bool server_auth = usage != Botan::Usage_Type::TLS_CLIENT_AUTH;
        if (!ctx_->hook_replaces_checks)
            builtin_checks(chain, ocsp, roots, usage, hostname, policy, server_auth);
        if (ctx_->verify_hook)
            run_verify_hook(chain, server_auth ? hostname : std::string(), server_auth);
    }

    void builtin_checks(const std::vector<Botan::X509_Certificate>& chain,
                        const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                        const std::vector<Botan::Certificate_Store*>& roots, Botan::Usage_Type usage,
                        const std::string& hostname, const Botan::TLS::Policy& policy, bool server_auth) {
        const Botan::Path_Validation_Restrictions restrictions(false, policy.minimum_signature_strength());
        const std::string& name = server_auth && server_ip_.empty() ? hostname : std::string();
        const auto result = Botan::x509_path_validate(chain, restrictions, roots, name, usage,
                                                      std::chrono::system_clock::now(), std::chrono::milliseconds(0),
                                                      ocsp);
        if (result.successful_validation()) {
            if (!server_auth || server_ip_.empty() || has_ip_san(chain.front(), server_ip_))
                return;
            cert_reason_ = certificate_reason::name_mismatch;
            failure_detail_ = describe_failure(chain, 0, "no IP address SAN matches", hostname);
            throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE, failure_detail_);
        }
        const auto [reason, alert_type] = classify(result.result());
        cert_reason_ = reason;
        // Which certificate failed: the first of the built path with an
        // error status; without a path (no issuer found), the top of what
        // the peer sent.
        std::size_t position = chain.size() - 1;
        const auto& statuses = result.all_statuses();
        for (std::size_t i = 0; i < statuses.size() && i < chain.size(); ++i)
            if (std::any_of(statuses[i].begin(), statuses[i].end(), [](Botan::Certificate_Status_Code c) {
                    return c >= Botan::Certificate_Status_Code::FIRST_ERROR_STATUS;
                })) {
                position = i;
                break;
            }
        if (result.result() == Botan::Certificate_Status_Code::CERT_NAME_NOMATCH)
            position = 0;
        failure_detail_ = describe_failure(chain, position, result.result_string(), server_auth ? hostname : "");
        throw Botan::TLS::TLS_Exception(alert_type, failure_detail_);
    }

    /** One line on a rejected chain: Botan's status, the failing
        certificate (position, subject, dates), the name expected and the
        names the leaf presents. */
    static std::string describe_failure(const std::vector<Botan::X509_Certificate>& chain, std::size_t position,
                                        const std::string& status, const std::string& expected) {
        const auto& cert = chain.at(std::min(position, chain.size() - 1));
        std::string text = status + "; certificate " + std::to_string(position) + " of " +
                           std::to_string(chain.size()) + " (0 is the leaf): subject " +
                           cert.subject_dn().to_string() + ", issuer " + cert.issuer_dn().to_string() +
                           ", valid " + cert.not_before().readable_string() + " to " +
                           cert.not_after().readable_string();
        if (!expected.empty())
            text += "; expected name \"" + expected + "\"";
        std::string names;
        for (const auto& dns : chain.front().subject_alt_name().get_attribute("DNS"))
            names += (names.empty() ? "DNS:" : ", DNS:") + dns;
        for (const auto& ip : ip_sans(chain.front()))
            names += (names.empty() ? "IP:" : ", IP:") + ip;
        text += "; names presented: " + (names.empty() ? std::string("none") : names);
        return text;
    }

    /** Runs the context's hook; a rejection or an exception from it fails
        the handshake as a certificate error carrying the reason. */
    void run_verify_hook(const std::vector<Botan::X509_Certificate>& chain, const std::string& name, bool server_auth) {
        verify_result verdict;
        try {
            const auto peer = to_peer_chain(chain);
            verdict = (*ctx_->verify_hook)(verify_request{peer, name, server_auth});
        } catch (const std::exception& e) {
            verdict = verify_result::reject(std::string("the verification hook threw: ") + e.what());
        } catch (...) {
            verdict = verify_result::reject("the verification hook threw");
        }
        if (verdict.accepted)
            return;
        cert_reason_ = certificate_reason::rejected;
        failure_detail_ = verdict.reason.empty() ? std::string("rejected by the verification hook") : verdict.reason;
        throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE, failure_detail_);
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
    std::size_t awaiting_ = 0;  // what the last received_data() returned

    session_info info_;
    tls_error error_;
    certificate_reason cert_reason_ = certificate_reason::none;
    std::string failure_detail_;
    unsigned certificates_seen_ = 0;
    bool client_sent_no_certificate_ = false;  // the last Certificate message of the handshake was empty
    bool failed_ = false;
    bool established_ = false;
    bool in_flight_ = true;  // the first handshake
    bool hello_request_outstanding_ = false;
    unsigned alerts_emitted_ = 0;
    static constexpr std::uint8_t record_type_alert = 21;
    std::unique_ptr<default_policy> own_policy_;  // a server's, when the context uses the default policy
    default_policy::connection_state renegotiations_;  // a server's count of the client's renegotiations
    std::vector<std::uint8_t> server_ip_;  // a client's server name, when it is an IP address
    std::vector<std::uint8_t> client_random_;  // of the last ClientHello, kept only for the key log
    std::unique_ptr<Botan::TLS::Session> session_;  // a client's last session, for export_session(); a pointer: servers hold none
    importing_sessions sessions_;                 // the context's cache, after an imported session
    unsigned records_ignoring_request_ = 0;  // warning alerts received while our HelloRequest is outstanding
    bool peer_closed_ = false;
    bool local_closed_ = false;

    std::unique_ptr<Botan::TLS::Channel> channel_;  // last: it refers to everything above
};

}  // namespace tlsw::detail

#endif
