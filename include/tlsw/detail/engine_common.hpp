#ifndef TLSW_DETAIL_ENGINE_COMMON_HPP
#define TLSW_DETAIL_ENGINE_COMMON_HPP

// What the Botan 2 and Botan 3 engines (detail/botan2/engine.hpp,
// detail/botan3/engine.hpp) share, written once: the ciphertext queue and
// its write-through sink, the plaintext inbox and its record boundaries,
// the sticky failure and how Botan's exceptions and alerts become
// tls_errors, the session_info a session's certificates fill, and the
// certificate checks around Botan's path validation. Part of the engine:
// it throws Botan::TLS::TLS_Exception inside Botan's callbacks, so that
// Botan sends the alert; the engines' guard() stops it.

#include <tlsw/credentials.hpp>
#include <tlsw/error.hpp>
#include <tlsw/session_info.hpp>

#include <tlsw/detail/certificate.hpp>
#include <tlsw/detail/context_state.hpp>
#include <tlsw/detail/credential_selection.hpp>
#include <tlsw/detail/groups.hpp>

#include <botan/exceptn.h>
#include <botan/kdf.h>
#include <botan/mac.h>
#include <botan/tls_alert.h>
#include <botan/tls_exceptn.h>
#include <botan/x509path.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
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

/** The key exported sessions are sealed with: derived from the context's
    secret export key and the configuration identity, so that a session
    opens only where both match (elsewhere a full handshake follows). */
inline const Botan::SymmetricKey& session_export_key(const context_state& ctx) noexcept { return ctx.export_key; }

/** The largest session ticket (TLS 1.2 NewSessionTicket, TLS 1.3 ticket
    identity) a client stores, and the most DER bytes of peer certificates
    a session it stores or imports may carry. A larger one is dropped: the
    next connection to that server makes a full handshake. A server
    controls both, and a client keeps up to its cache size of them. */
inline constexpr std::size_t max_ticket_bytes = 8 * 1024;
inline constexpr std::size_t max_session_chain_bytes = 32 * 1024;

/** Whether a client may keep a session with this ticket and peer chain
    (max_ticket_bytes, max_session_chain_bytes). */
inline bool storable_session(std::size_t ticket_bytes, const std::vector<Botan::X509_Certificate>& chain) {
    if (ticket_bytes > max_ticket_bytes)
        return false;
    std::size_t chain_bytes = 0;
    for (const auto& cert : chain)
        chain_bytes += cert.BER_encode().size();
    return chain_bytes <= max_session_chain_bytes;
}

/** Bounds of tls_stream::export_keying_material: a label TLS 1.3's
    HkdfLabel holds ("tls13 " and the label in 255 bytes), a context whose
    length TLS 1.2 encodes in two bytes, and what HKDF-Expand gives with
    SHA-256 (255 blocks of 32 bytes). */
inline constexpr std::size_t max_exporter_label = 249;
inline constexpr std::size_t max_exporter_context = 0xFFFF;
inline constexpr std::size_t max_exporter_length = 255 * 32;

/** The state and bookkeeping both engines share; an engine derives from
    it and from its Botan version's TLS::Callbacks, and owns the channel.

    Invariants (each engine keeps them):
    - Plaintext passed to send() is committed: it is in output() or already
      taken by the sink, never to be sent again.
    - A failure is sticky: after failed() turns true, error() says why and
      every later operation is refused. Plaintext authenticated before the
      failure stays in the inbox until the stream delivers or discards it.
    - A handshake is complete only when Botan activated a session: no alert
      or message before that makes handshake_in_flight() false.
    - No exception leaves the engine, Botan's or a callback's, except
      std::bad_alloc from the constructor.
*/
class engine_core {
public:
    static constexpr std::size_t max_record = 16384;
    /** Warning alerts a peer may send in a row, with no application data
        between them, before the next one ends the session (OpenSSL's
        bound): a stream of them would otherwise hold a blocking call. */
    static constexpr unsigned max_warning_alerts = 5;

    engine_core(const engine_core&) = delete;
    engine_core& operator=(const engine_core&) = delete;

    // ---- state ------------------------------------------------------------

    bool failed() const noexcept { return failed_; }
    const tls_error& error() const noexcept { return error_; }
    /** A session is active and no handshake is in flight: application data may be sent. */
    bool ready() const noexcept { return !failed_ && !handshake_in_flight() && !local_closed_ && !peer_closed_; }
    /** True until Botan activated the first session (its keys are in use and
        the peer was verified), and while a renegotiation is in flight. */
    bool handshake_in_flight() const noexcept { return in_flight_ || !established_; }
    bool peer_closed() const noexcept { return peer_closed_; }
    /** The established session is TLS 1.3 (only ever on Botan 3). */
    bool tls13() const noexcept { return tls13_; }
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

    // ---- plaintext in -------------------------------------------------------

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

protected:
    explicit engine_core(std::shared_ptr<const context_state> ctx) : ctx_(std::move(ctx)) {}
    ~engine_core() = default;

    /** Runs `f` (a call into Botan) and turns what it throws into the
        sticky failure, keeping the alert and the certificate reason. */
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
            } else if ((a == alert::handshake_failure || a == alert::certificate_required) &&
                       ctx_->side == role::server && client_sent_no_certificate_ &&
                       ctx_->tls_policy().require_client_certificate_authentication()) {
                // Botan refuses a client without a certificate with a bare
                // handshake_failure (TLS 1.2) or certificate_required (1.3).
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
            // A certificate failure always says more than its code.
            if (e.code() == errc::certificate && failure_detail_.empty()) {
                try {
                    failure_detail_ = e.message();
                } catch (...) {
                }
            }
        }
    }

    /** abort()'s body, alike on both engines: sends the fatal alert `a`
        to the peer and fails the session with it; `why` is the detail. */
    template <class Channel>
    void abort_channel(Channel& channel, alert a, const char* why) noexcept {
        if (failed_)
            return;
        guard([&] { channel.send_fatal_alert(static_cast<Botan::TLS::Alert::Type>(a)); });
        fail(tls_error::from_alert(a, false));
        try {
            if (failure_detail_.empty())
                failure_detail_ = why;
        } catch (...) {
        }
    }

    /** Throws the TLS_Exception that makes Botan send `a` and fail the handshake. */
    [[noreturn]] static void throw_alert(alert a, const std::string& why) {
        throw Botan::TLS::TLS_Exception(static_cast<Botan::TLS::Alert::Type>(a), why);
    }

    /** feed()'s body, alike on both engines: hands `ciphertext` to
        `channel`, at most `chunk` bytes per call. Plaintext goes to
        `direct` as far as it fits, the rest to the inbox; returns the
        count stored in `direct`. */
    template <class Channel>
    std::size_t feed_channel(Channel& channel, std::span<const std::byte> ciphertext, std::span<std::byte> direct,
                             std::size_t chunk) {
        direct_ = direct;
        direct_used_ = 0;
        alerts_emitted_ = 0;
        const auto* p = reinterpret_cast<const std::uint8_t*>(ciphertext.data());
        for (std::size_t done = 0; done < ciphertext.size() && !failed_;) {
            const std::size_t n = std::min(chunk, ciphertext.size() - done);
            guard([&] { awaiting_ = channel.received_data(p + done, n); });
            done += n;
        }
        direct_ = {};
        // Under TLS 1.2 Botan refuses a renegotiation with a warning alert
        // and no callback. Any other alert it sends here is fatal or a
        // close_notify reply.
        if (alerts_emitted_ > 0 && !failed_ && !peer_closed_ && !local_closed_)
            info_.renegotiations_refused += alerts_emitted_;
        return direct_used_;
    }

    /** renegotiate()'s body, alike on both engines: starts a TLS 1.2
        renegotiation from our side (ClientHello, or HelloRequest from a
        server). Requires an established TLS 1.2 session and none in
        flight: false under TLS 1.3, which has none. */
    template <class Channel>
    bool renegotiate_channel(Channel& channel) {
        if (!ready() || tls13_)
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
            channel.renegotiate(false);
            in_flight_ = true;
        });
        return !failed_;
    }

    /** A server's policy: the context's text policy, or a default_policy of
        this stream's own, which counts the client's renegotiations. */
    const Botan::TLS::Policy& server_policy() {
        if (ctx_->text_policy)
            return *ctx_->text_policy;
        own_policy_ = std::make_unique<default_policy>(ctx_->settings, &hello_request_outstanding_, &renegotiations_);
        return *own_policy_;
    }

    // ---- the bodies of Botan's callbacks, alike on both versions -------------

    /** tls_emit_data: to the sink while nothing is queued, else to the
        queue. Counts the alerts among the records (see feed_channel). */
    void emit(std::span<const std::byte> bytes) {
        // Under TLS 1.2 each call is one record, its type byte in the clear;
        // TLS 1.3 sends its alerts as type 23 and has no renegotiation to refuse.
        if (!bytes.empty() && bytes[0] == std::byte{record_type_alert} && !tls13_) [[unlikely]]
            ++alerts_emitted_;
        if (out_pos_ == out_.size() && sink_.write) [[likely]] {
            const std::size_t taken = sink_.write(sink_.self, bytes);
            if (taken >= bytes.size()) [[likely]]
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

    /** tls_record_received: one record's plaintext, to the caller's buffer
        or the inbox. */
    void deliver(std::span<const std::byte> bytes) {
        // The steady state: the stream feeds one record at a time, and it
        // fits the caller's buffer.
        if (bytes.size() <= direct_.size() && !bytes.empty() && direct_used_ == 0 && inbox_.empty()) [[likely]] {
            warnings_in_a_row_ = 0;
            std::memcpy(direct_.data(), bytes.data(), bytes.size());
            direct_used_ = bytes.size();
            direct_ = {};
            return;
        }
        deliver_slow(bytes);
    }

    // Off the hot path (and its register saves).
    [[gnu::noinline]] void deliver_slow(std::span<const std::byte> bytes) {
        // An empty record (legal in TLS 1.2; Botan passes it on with size
        // 0) carries nothing and must not use up the caller's buffer, or
        // the data behind it would wait in the inbox while read() goes
        // back to the transport.
        if (bytes.empty())
            return;
        warnings_in_a_row_ = 0;
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

    /** tls_alert: a received alert. */
    void alert_received(alert type, bool fatal) {
        // The refusal of a renegotiation we asked for is an answer, not noise.
        if (!fatal && type != alert::close_notify && !(type == alert::no_renegotiation && in_flight_) &&
            ++warnings_in_a_row_ > max_warning_alerts)
            throw_alert(alert::unexpected_message, "the peer sent more than " + std::to_string(max_warning_alerts) +
                                                       " warning alerts in a row");
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
        } else if (fatal && (type == alert::handshake_failure || type == alert::certificate_required) &&
                   ctx_->side == role::client && client_sent_no_certificate_ && (!established_ || tls13_)) {
            // The server asked for a certificate, we had none to send, and
            // it ended the handshake: Botan servers (and OpenSSL's) say
            // handshake_failure when they require one (TLS 1.3:
            // certificate_required, which comes after our Finished, when
            // our side of the handshake is already complete).
            failure_detail_ = "the server requires a client certificate and none is configured";
            fail(tls_error::from_certificate(certificate_reason::no_certificate, type, true));
        } else if (fatal) {
            const auto e = remote_error(type);
            if (e.code() == errc::certificate)
                failure_detail_ = std::string(ctx_->side == role::client ? "the server" : "the client") +
                                  " rejected our certificate: " + alert_name(type);
            fail(e);
        } else if (hello_request_outstanding_ && ++records_ignoring_request_ > hello_request_patience) {
            // The client talks past our HelloRequest: writes held back for
            // it would wait forever (RFC 5246 7.4.1.1 lets us end it).
            throw_alert(alert::handshake_failure, "client ignores the HelloRequest");
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
        case alert::bad_certificate_status_response:
            return tls_error::from_certificate(certificate_reason::bad_status_response, type, true);
        default: return tls_error::from_alert(type, true);
        }
    }

    /** The negotiated part of session_info: the version, the suite by
        Botan's name and by its IANA one, and the group (0: none
        exchanged). */
    void record_negotiated(std::string version, bool tls13, std::string suite, std::uint16_t group) {
        info_.version = std::move(version);
        info_.protocol_version = tls13 ? tls_version::tls13 : tls_version::tls12;
        // Botan names a suite as IANA does, without the "TLS_" prefix.
        info_.standard_cipher_suite = "TLS_" + suite;
        info_.cipher_suite = std::move(suite);
        info_.group = group ? group_name(group) : std::string();
        info_.post_quantum = group_is_post_quantum(group);
    }

    /** Notes the group of a TLS 1.2 ServerKeyExchange (sent or received),
        for record_negotiated: ECDHE parameters start with the curve type 3
        (named curve) and the group's code (RFC 8422 5.4). */
    void note_server_key_exchange(const std::vector<std::uint8_t>& params) noexcept {
        if (params.size() >= 3 && params[0] == 3)
            kex_group_ = static_cast<std::uint16_t>(params[1] << 8 | params[2]);
    }

    /** Checks the arguments of an exporter call: invalid_state unless a
        session is active and no handshake in flight, invalid_argument for
        a reserved label (RFC 5705 section 4: the labels TLS 1.2's own PRF
        uses, and RFC 7627's) or one out of bounds. */
    std::optional<tls_error> exporter_refusal(std::string_view label, std::size_t context_size,
                                              std::size_t length) const noexcept {
        if (failed_ || !established_ || in_flight_)
            return tls_error(errc::invalid_state);
        static constexpr std::string_view reserved[] = {"client finished", "server finished", "master secret",
                                                        "extended master secret", "key expansion"};
        if (std::find(std::begin(reserved), std::end(reserved), label) != std::end(reserved) ||
            label.size() > max_exporter_label || context_size > max_exporter_context || length == 0 ||
            length > max_exporter_length)
            return tls_error(errc::invalid_argument);
        return std::nullopt;
    }

    /** Makes the handshake's randoms and `secret` (empty when unknown)
        the active session's, at its establishment. */
    void commit_tls12_secrets(Botan::secure_vector<std::uint8_t> secret, std::string prf) {
        client_random_ = std::move(next_client_random_);
        server_random_ = std::move(next_server_random_);
        tls12_secret_ = std::move(secret);
        tls12_prf_ = std::move(prf);
        next_client_random_.clear();
        next_server_random_.clear();
    }

    /** TLS 1.2's exporter (RFC 5705 section 4), from what the handshake
        left in tls12_secret_ and the hello randoms: PRF(master secret,
        label, client random + server random [+ context length + context]).
        A context given, even empty, is part of the seed (Botan's own
        exporter drops an empty one). Throws what Botan throws. */
    std::vector<std::byte> tls12_export(std::string_view label, const std::optional<std::span<const std::byte>>& context,
                                        std::size_t length) const {
        const auto prf = Botan::KDF::create_or_throw("TLS-12-PRF(" + tls12_prf_ + ")");
        std::vector<std::uint8_t> seed = client_random_;
        seed.insert(seed.end(), server_random_.begin(), server_random_.end());
        if (context) {
            seed.push_back(static_cast<std::uint8_t>(context->size() >> 8));
            seed.push_back(static_cast<std::uint8_t>(context->size() & 0xFF));
            const auto* p = reinterpret_cast<const std::uint8_t*>(context->data());
            seed.insert(seed.end(), p, p + context->size());
        }
        const std::vector<std::uint8_t> label_bytes(label.begin(), label.end());
        const auto key = prf->derive_key(length, tls12_secret_, seed, label_bytes);
        const auto* k = reinterpret_cast<const std::byte*>(key.data());
        return std::vector<std::byte>(k, k + key.size());
    }

    /** The peer part of session_info from a session's certificates. A
        resumed session carries the chain verified when it was made, under
        the same configuration (its identity): still verified. */
    void record_peer(const std::vector<Botan::X509_Certificate>& certs) {
        info_.peer_verified = ctx_->verify && !certs.empty();
        info_.peer_common_name.clear();
        if (!certs.empty()) {
            const auto cn = certs.front().subject_info("X520.CommonName");
            if (!cn.empty())
                info_.peer_common_name = cn.front();
        }
        info_.peer_chain = lazy_peer_chain(certs);  // converted when first read
    }

    /** tls_verify_cert_chain: the built-in checks (through `validate`,
        which runs Botan's x509_path_validate for a host name) and the
        hook. Throws the TLS_Exception that fails the handshake. */
    template <class Validate>
    void verify_chain(const std::vector<Botan::X509_Certificate>& chain, Botan::Usage_Type usage,
                      const std::string& hostname, Validate&& validate) {
        // Kept when the checks fail: a tool can show or fingerprint the
        // chain it refused (record_peer replaces it when they pass).
        record_peer(chain);
        info_.peer_verified = false;
        if (!ctx_->verify)
            return;
        if (chain.empty()) {
            cert_reason_ = certificate_reason::no_certificate;
            failure_detail_ = ctx_->side == role::client ? "the server sent no certificate"
                                                         : "the client sent an empty certificate message";
            throw_alert(alert::bad_certificate, failure_detail_);
        }
        // A Botan server passes its own SNI name along with a client's
        // chain; a client certificate names a client, not that host. An
        // address is matched below, against IP SANs only.
        const bool server_auth = usage != Botan::Usage_Type::TLS_CLIENT_AUTH;
        if (!ctx_->hook_replaces_checks)
            builtin_checks(chain, hostname, server_auth,
                           validate(server_auth && server_ip_.empty() ? hostname : std::string()));
        if (ctx_->verify_hook)
            run_verify_hook(chain, server_auth ? hostname : std::string(), server_auth);
    }

    /** A client's check of the OCSP response the server stapled for
        `chain` (null: none), after verify_chain() passed: records it in
        info().ocsp, and fails the handshake (throws the TLS_Exception)
        for a response that says revoked (certificate_reason::revoked), an
        invalid one, and, under context::require_ocsp_staple, a missing or
        not "good" one (certificate_reason::bad_status_response). Checks
        nothing where verify_chain() does not: without verification, under
        danger_verify_hook, on a server. */
    void check_stapled_ocsp(const std::vector<Botan::X509_Certificate>& chain, const std::vector<std::uint8_t>* staple) {
        info_.ocsp = {};
        if (ctx_->side != role::client || !ctx_->verify || ctx_->hook_replaces_checks || chain.empty())
            return;
        if (staple)
            info_.ocsp = check_ocsp_staple(*staple, chain, ctx_->trust_stores(), std::chrono::system_clock::now());
        const auto& ocsp = info_.ocsp;
        if (ocsp.verified && ocsp.status == ocsp_cert_status::revoked) {
            cert_reason_ = certificate_reason::revoked;
            failure_detail_ = "the stapled OCSP response says the server's certificate was revoked at " +
                              Botan::X509_Time(ocsp.revocation_time.value_or(ocsp.this_update.value_or(
                                                   std::chrono::system_clock::time_point())))
                                  .readable_string();
            throw_alert(alert::certificate_revoked, failure_detail_);
        }
        std::string problem = ocsp.problem;
        if (problem.empty() && ctx_->ocsp_required) {
            if (!ocsp.stapled)
                problem = "the server stapled no OCSP response, and this client requires one";
            else if (ocsp.status != ocsp_cert_status::good)
                problem = "the stapled OCSP response says the server's certificate is unknown to its responder, and "
                          "this client requires a good one";
        }
        if (problem.empty())
            return;
        cert_reason_ = certificate_reason::bad_status_response;
        failure_detail_ = std::move(problem);
        throw_alert(alert::bad_certificate_status_response, failure_detail_);
    }

    /** A server's choice of credentials for the handshake that a received
        ClientHello starts (credential_selection): narrows `lookup`, or
        throws the alert that fails the handshake when there are none to
        present. */
    template <class Hello>
    void select_credentials(const Hello& hello, credential_lookup& lookup) {
        if (auto refusal = selection_.on_client_hello(*ctx_, hello, lookup)) {
            failure_detail_ = std::move(refusal->detail);
            throw_alert(refusal->type, failure_detail_);
        }
    }

    /** Whether a session a client imports (stream_options::resume_from)
        passes this context's checks now, as a full handshake's chain would:
        trust anchors, `hostname` (the name Botan gets, see
        take_server_name), dates and the verification hook. Leaves no
        trace of a rejection: the full handshake that follows decides. */
    bool imported_session_passes(const std::vector<Botan::X509_Certificate>& chain, const std::string& hostname) {
        if (!ctx_->verify)
            return true;
        bool passes = true;
        try {
            verify_chain(chain, Botan::Usage_Type::TLS_SERVER_AUTH, hostname, [&](const std::string& name) {
                const Botan::Path_Validation_Restrictions restrictions(false,
                                                                      ctx_->tls_policy().minimum_signature_strength());
                return Botan::x509_path_validate(chain, restrictions, ctx_->trust_stores(), name,
                                                 Botan::Usage_Type::TLS_SERVER_AUTH);
            });
        } catch (...) {
            passes = false;
        }
        cert_reason_ = certificate_reason::none;
        failure_detail_.clear();
        info_.peer_verified = false;
        info_.peer_common_name.clear();
        info_.peer_chain = {};
        return passes && storable_session(0, chain);
    }

    /** The server name a client was given, split: an address is kept in
        server_ip_ and sent as no SNI (RFC 6066 section 3); the cache key
        drops the brackets so "[::1]" and "::1" share sessions. A DNS name's
        trailing dot (a fully qualified "example.com.") is dropped: SNI
        carries no trailing dot (RFC 6066 section 3) and the name is
        verified, cached and reported as "example.com". Returns the name
        Botan gets. False (the stream failed) when a verifying client has
        no name. */
    bool take_server_name(std::string& server_name) {
        if (server_name.size() > 1 && server_name.back() == '.' && !ip_address(server_name))
            server_name.pop_back();
        info_.server_name = server_name;
        // Verifying a server means checking its name: without one any
        // certificate from a trusted CA would pass.
        if (ctx_->verify && !ctx_->hook_replaces_checks && server_name.empty()) {
            fail(tls_error(errc::missing_server_name));
            return false;
        }
        if (auto ip = ip_address(server_name)) {
            server_ip_ = std::move(*ip);
            info_.server_name.clear();  // no SNI is sent
            if (server_name.front() == '[')
                server_name = server_name.substr(1, server_name.size() - 2);
        }
        return true;
    }

private:
    void builtin_checks(const std::vector<Botan::X509_Certificate>& chain, const std::string& hostname,
                        bool server_auth, const Botan::Path_Validation_Result& result) {
        if (result.successful_validation()) {
            if (!server_auth || server_ip_.empty() || has_ip_san(chain.front(), server_ip_))
                return;
            cert_reason_ = certificate_reason::name_mismatch;
            failure_detail_ = describe_failure(chain, 0, "no IP address SAN matches", hostname);
            throw_alert(alert::bad_certificate, failure_detail_);
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
        throw_alert(alert_type, failure_detail_);
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
        for (const auto& dns : dns_sans(chain.front()))
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
        throw_alert(alert::bad_certificate, failure_detail_);
    }

    static std::pair<certificate_reason, alert> classify(Botan::Certificate_Status_Code code) {
        using S = Botan::Certificate_Status_Code;
        switch (code) {
        case S::CERT_HAS_EXPIRED: return {certificate_reason::expired, alert::certificate_expired};
        case S::CERT_NOT_YET_VALID: return {certificate_reason::not_yet_valid, alert::bad_certificate};
        case S::CERT_ISSUER_NOT_FOUND:
        case S::CANNOT_ESTABLISH_TRUST:
        case S::CHAIN_LACKS_TRUST_ROOT: return {certificate_reason::unknown_issuer, alert::unknown_ca};
        case S::CERT_NAME_NOMATCH: return {certificate_reason::name_mismatch, alert::bad_certificate};
        case S::CERT_IS_REVOKED: return {certificate_reason::revoked, alert::certificate_revoked};
        case S::SIGNATURE_ERROR: return {certificate_reason::bad_signature, alert::bad_certificate};
        case S::SIGNATURE_METHOD_TOO_WEAK:
        case S::UNTRUSTED_HASH: return {certificate_reason::weak_signature, alert::bad_certificate};
        case S::INVALID_USAGE: return {certificate_reason::invalid_usage, alert::unsupported_certificate};
        default: return {certificate_reason::other, alert::bad_certificate};
        }
    }

protected:
    std::shared_ptr<const context_state> ctx_;

    std::vector<std::byte> out_;
    std::size_t out_pos_ = 0;
    output_sink sink_;

    std::vector<std::byte> inbox_;
    std::size_t inbox_pos_ = 0;
    std::vector<std::size_t> record_ends_;  // where each buffered record ends in inbox_
    std::size_t record_head_ = 0;
    std::span<std::byte> direct_;  // the caller's buffer during feed()
    std::size_t direct_used_ = 0;
    std::size_t awaiting_ = 0;  // what the last received_data() returned
    unsigned alerts_emitted_ = 0;  // during one feed_channel()
    static constexpr std::uint8_t record_type_alert = 21;
    std::unique_ptr<default_policy> own_policy_;  // a server's, when the context uses the default policy
    default_policy::connection_state renegotiations_;  // a server's count of the client's renegotiations

    session_info info_;
    tls_error error_;
    certificate_reason cert_reason_ = certificate_reason::none;
    std::string failure_detail_;
    unsigned certificates_seen_ = 0;
    bool client_sent_no_certificate_ = false;  // the last Certificate message of the handshake was empty
    std::uint16_t kex_group_ = 0;  // the group of this handshake's ServerKeyExchange, 0 before one
    // For TLS 1.2's exporter: the hello randoms and the master secret of
    // the active session and its PRF hash ("SHA-256"), and those of the
    // handshake in flight (a refused renegotiation keeps the active ones).
    std::vector<std::uint8_t> client_random_;
    std::vector<std::uint8_t> server_random_;
    Botan::secure_vector<std::uint8_t> tls12_secret_;
    std::string tls12_prf_;
    std::vector<std::uint8_t> next_client_random_;
    std::vector<std::uint8_t> next_server_random_;
    mutable Botan::secure_vector<std::uint8_t> next_secret_;  // Botan 3 hands it to a const callback
    bool failed_ = false;
    bool established_ = false;
    bool in_flight_ = true;  // the first handshake
    bool hello_request_outstanding_ = false;
    unsigned records_ignoring_request_ = 0;  // warning alerts received while our HelloRequest is outstanding
    unsigned warnings_in_a_row_ = 0;  // warning alerts received since the last application data
    bool peer_closed_ = false;
    bool local_closed_ = false;
    bool tls13_ = false;
    std::vector<std::uint8_t> server_ip_;  // a client's server name, when it is an IP address
    credential_selection selection_;  // a server's, per ClientHello
};

}  // namespace tlsw::detail

#endif
