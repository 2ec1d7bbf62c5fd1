#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_ERROR_HPP
#define TLSW_ERROR_HPP

/** @file
    Errors as values: tlsw::tls_error (a code, and the alert, its sender and
    the certificate reason where there are any), tlsw::errc, tlsw::alert,
    tlsw::certificate_reason, tlsw::result, and tlsw's std::error_category. */

#include <tlsw/expected.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

namespace tlsw {

/** Why a call on a tls_stream did not succeed.

    The categories mirror OpenSSL's SSL_get_error(). Values start at 1 and
    are never renumbered; new codes may be added in later versions, so a
    switch over errc needs a default. Ask retryable() instead of listing
    codes.
*/
enum class errc : std::uint8_t {
    want_read = 1,      ///< the transport has no bytes yet; call again when it is readable
    want_write,         ///< the transport takes no bytes now; call again when it is writable
    closed,             ///< the peer sent close_notify, or we shut the stream down
    truncated,          ///< the transport ended without close_notify
    transport,          ///< the transport failed; transport_error() says how
    protocol,           ///< a TLS protocol failure; alert() names the alert
    certificate,        ///< the peer's certificate was not accepted; certificate() says why
    bad_write_retry,    ///< a write retry did not pass the same buffer the contract requires
    invalid_argument,   ///< an argument the call cannot accept
    invalid_state,      ///< the call is not allowed in the stream's current state
    missing_server_name, ///< a verifying client was given no server name to check the certificate against
    wrong_tls_version,  ///< the call does not exist in the negotiated TLS version (renegotiate() under 1.3, update_keys() under 1.2)
};

/** Why a peer certificate was rejected. */
enum class certificate_reason : std::uint8_t {
    none = 0,
    expired,
    not_yet_valid,
    unknown_issuer,     ///< no path to a trusted root
    name_mismatch,      ///< valid, but not for the host name we connected to
    revoked,
    bad_signature,
    weak_signature,     ///< signed with a hash or key the policy refuses
    invalid_usage,      ///< key usage or extended key usage forbids TLS
    no_certificate,     ///< the peer sent none where one was required
    other,
    rejected,           ///< a verification hook (context::verify_hook) rejected it or threw
    /** The certificate's stapled OCSP response is invalid (signature,
        responder, not for this certificate, expired), or missing or not
        "good" where context::require_ocsp_staple asks for one. A response
        saying revoked is `revoked`. */
    bad_status_response,
};

/** TLS alert descriptions (RFC 5246 section 7.2, RFC 7301) that tls_error can carry. */
enum class alert : std::uint8_t {
    close_notify = 0,
    unexpected_message = 10,
    bad_record_mac = 20,
    record_overflow = 22,
    handshake_failure = 40,
    bad_certificate = 42,
    unsupported_certificate = 43,
    certificate_revoked = 44,
    certificate_expired = 45,
    certificate_unknown = 46,
    illegal_parameter = 47,
    unknown_ca = 48,
    access_denied = 49,
    decode_error = 50,
    decrypt_error = 51,
    protocol_version = 70,
    insufficient_security = 71,
    internal_error = 80,
    inappropriate_fallback = 86,
    user_canceled = 90,
    no_renegotiation = 100,
    missing_extension = 109,     ///< TLS 1.3: a required extension is absent
    unsupported_extension = 110,
    unrecognized_name = 112,
    no_application_protocol = 120,
    certificate_required = 116,  ///< TLS 1.3: the server requires a client certificate and got none
    bad_certificate_status_response = 113,  ///< the stapled OCSP response is missing or invalid (RFC 6066)
};

/** The name of an alert as RFC 5246 spells it, or "unknown alert". */
constexpr const char* alert_name(alert a) noexcept {
    switch (a) {
    case alert::close_notify: return "close_notify";
    case alert::unexpected_message: return "unexpected_message";
    case alert::bad_record_mac: return "bad_record_mac";
    case alert::record_overflow: return "record_overflow";
    case alert::handshake_failure: return "handshake_failure";
    case alert::bad_certificate: return "bad_certificate";
    case alert::unsupported_certificate: return "unsupported_certificate";
    case alert::certificate_revoked: return "certificate_revoked";
    case alert::certificate_expired: return "certificate_expired";
    case alert::certificate_unknown: return "certificate_unknown";
    case alert::illegal_parameter: return "illegal_parameter";
    case alert::unknown_ca: return "unknown_ca";
    case alert::access_denied: return "access_denied";
    case alert::decode_error: return "decode_error";
    case alert::decrypt_error: return "decrypt_error";
    case alert::protocol_version: return "protocol_version";
    case alert::insufficient_security: return "insufficient_security";
    case alert::internal_error: return "internal_error";
    case alert::inappropriate_fallback: return "inappropriate_fallback";
    case alert::user_canceled: return "user_canceled";
    case alert::no_renegotiation: return "no_renegotiation";
    case alert::missing_extension: return "missing_extension";
    case alert::unsupported_extension: return "unsupported_extension";
    case alert::unrecognized_name: return "unrecognized_name";
    case alert::no_application_protocol: return "no_application_protocol";
    case alert::certificate_required: return "certificate_required";
    case alert::bad_certificate_status_response: return "bad_certificate_status_response";
    }
    return "unknown alert";
}

/** A short English description of a certificate rejection reason. */
constexpr const char* certificate_reason_name(certificate_reason r) noexcept {
    switch (r) {
    case certificate_reason::none: return "no reason";
    case certificate_reason::expired: return "certificate has expired";
    case certificate_reason::not_yet_valid: return "certificate is not yet valid";
    case certificate_reason::unknown_issuer: return "certificate issuer is unknown or untrusted";
    case certificate_reason::name_mismatch: return "certificate does not match the host name";
    case certificate_reason::revoked: return "certificate is revoked";
    case certificate_reason::bad_signature: return "certificate signature is invalid";
    case certificate_reason::weak_signature: return "certificate signature is too weak";
    case certificate_reason::invalid_usage: return "certificate is not valid for TLS";
    case certificate_reason::no_certificate: return "peer sent no certificate";
    case certificate_reason::other: return "certificate verification failed";
    case certificate_reason::rejected: return "certificate rejected by the verification hook";
    case certificate_reason::bad_status_response: return "certificate status (stapled OCSP response) missing or invalid";
    }
    return "certificate verification failed";
}

namespace detail {

// tls_error::detailed_error_code() packs a protocol or certificate failure
// whole into the value of a code of tlsw's category (values of one byte
// are the plain errc):
//   bits 0-7 errc, 8-15 alert, 16-23 certificate_reason,
//   bit 24 an alert is present, bit 25 the peer sent it.
inline constexpr unsigned code_mask = 0xffu;
inline constexpr unsigned alert_shift = 8;
inline constexpr unsigned reason_shift = 16;
inline constexpr unsigned has_alert_bit = 1u << 24;
inline constexpr unsigned remote_bit = 1u << 25;

class error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "tlsw"; }

    // A packed value's text is its tls_error's message() (below tls_error).
    std::string message(int value) const override;

    std::string plain_message(int value) const {
        switch (static_cast<errc>(value)) {
        case errc::want_read: return "operation needs to read from the transport";
        case errc::want_write: return "operation needs to write to the transport";
        case errc::closed: return "TLS connection closed";
        case errc::truncated: return "TLS stream truncated: transport ended without close_notify";
        case errc::transport: return "transport error";
        case errc::protocol: return "TLS protocol error";
        case errc::certificate: return "certificate verification failed";
        case errc::bad_write_retry: return "write retried with a different buffer";
        case errc::invalid_argument: return "invalid argument";
        case errc::invalid_state: return "operation not allowed in the stream's state";
        case errc::missing_server_name:
            return "a client that verifies the server needs stream_options::server_name to check its "
                   "certificate against (only danger_disable_verification() connects without one)";
        case errc::wrong_tls_version:
            return "the negotiated TLS version has no such operation (TLS 1.3 has no renegotiation: use "
                   "update_keys(); TLS 1.2 has no KeyUpdate)";
        }
        return "unknown tlsw error";
    }

    std::error_condition default_error_condition(int value) const noexcept override {
        // Lets portable code compare against std::errc where the meanings
        // agree; a packed value is equivalent to its plain errc.
        const int code = static_cast<int>(static_cast<unsigned>(value) & code_mask);
        switch (static_cast<errc>(code)) {
        case errc::want_read:
        case errc::want_write: return std::errc::operation_would_block;
        case errc::invalid_argument: return std::errc::invalid_argument;
        default: return {code, *this};
        }
    }
};

}  // namespace detail

/** The category of tlsw's error codes; its name() is "tlsw". */
inline const std::error_category& error_category() noexcept {
    static const detail::error_category instance;
    return instance;
}

/** Makes std::error_code{errc} work through argument-dependent lookup. */
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/** The error every tlsw operation returns instead of throwing.

    It is trivially copyable and never allocates: a nonblocking loop gets
    one on every want_read. Besides the code it keeps what the caller
    needs to act on a failure: the transport's std::error_code, the TLS
    alert and who sent it, the certificate rejection reason.
*/
class tls_error {
public:
    tls_error() noexcept = default;
    /** An error of this code, without details; implicit, so that
        `return unexpected(errc::closed)` reads as it means. */
    tls_error(errc code) noexcept : code_(code) {}  // NOLINT: implicit on purpose

    /** A transport failure carrying the transport's own error code. */
    static tls_error from_transport(std::error_code ec) noexcept {
        tls_error e(errc::transport);
        e.transport_ = ec;
        return e;
    }
    /** A protocol failure with the alert sent (remote = false) or received (remote = true). */
    static tls_error from_alert(alert a, bool remote) noexcept {
        tls_error e(errc::protocol);
        e.alert_ = a;
        e.has_alert_ = true;
        e.remote_ = remote;
        return e;
    }
    /** A certificate rejection, with the alert that told the peer. */
    static tls_error from_certificate(certificate_reason r, alert a, bool remote = false) noexcept {
        tls_error e(errc::certificate);
        e.reason_ = r;
        e.alert_ = a;
        e.has_alert_ = true;
        e.remote_ = remote;
        return e;
    }

    /** What failed, in one code; compare with `==`. */
    errc code() const noexcept { return code_; }

    /** True exactly for want_read and want_write: repeat the same call later. */
    bool retryable() const noexcept {
        return code_ == errc::want_read || code_ == errc::want_write;
    }

    /** The alert sent or received, for protocol and certificate errors. */
    bool has_alert() const noexcept { return has_alert_; }
    /** That alert; meaningful when has_alert(). */
    tlsw::alert alert() const noexcept { return alert_; }
    /** True when the peer sent the alert; false when we sent it. */
    bool alert_from_peer() const noexcept { return remote_; }

    /** Why a certificate was rejected, for errc::certificate; else none. */
    certificate_reason certificate() const noexcept { return reason_; }

    /** The transport's error for errc::transport, else an empty error_code. */
    std::error_code transport_error() const noexcept { return transport_; }

    /** This error as a std::error_code: the transport's own code for
        transport errors, else make_error_code(code()) (so that
        `e.error_code() == tlsw::errc::closed` holds). */
    std::error_code error_code() const noexcept {
        return code_ == errc::transport && transport_ ? transport_ : make_error_code(code_);
    }

    /** This error as one std::error_code that keeps all of it, for
        interfaces that carry only an error_code (Asio's completions): a
        protocol failure with an alert and a certificate failure are a code
        of error_category() whose message() is this message() (the reason,
        the alert and who sent it) and whose value packs them; every other
        error is error_code(). Compare a packed code by its condition
        (`ec == std::error_condition(int(errc::certificate),
        error_category())` holds) or through from_error_code(). */
    std::error_code detailed_error_code() const noexcept {
        if (code_ != errc::certificate && !(code_ == errc::protocol && has_alert_))
            return error_code();
        unsigned v = static_cast<unsigned>(code_);
        v |= static_cast<unsigned>(alert_) << detail::alert_shift;
        v |= static_cast<unsigned>(reason_) << detail::reason_shift;
        if (has_alert_)
            v |= detail::has_alert_bit;
        if (remote_)
            v |= detail::remote_bit;
        return {static_cast<int>(v), error_category()};
    }

    /** The tls_error that error_code() or detailed_error_code() gave `ec`
        for; a code of another category (or an empty one) is a transport
        failure carrying it. */
    static tls_error from_error_code(std::error_code ec) noexcept {
        if (ec.category() != error_category())
            return from_transport(ec);
        const auto v = static_cast<unsigned>(ec.value());
        const auto code = static_cast<errc>(v & detail::code_mask);
        const auto a = static_cast<tlsw::alert>((v >> detail::alert_shift) & 0xffu);
        const auto reason = static_cast<certificate_reason>((v >> detail::reason_shift) & 0xffu);
        const bool remote = (v & detail::remote_bit) != 0;
        if (code == errc::certificate && (v & detail::has_alert_bit) != 0)
            return from_certificate(reason, a, remote);
        if (code == errc::protocol && (v & detail::has_alert_bit) != 0)
            return from_alert(a, remote);
        return tls_error(code);
    }

    /** A one-line description naming the alert, the certificate reason or the transport error. */
    std::string message() const {
        std::string text = make_error_code(code_).message();
        if (code_ == errc::transport && transport_)
            text += ": " + transport_.message();
        // The peer's alert about our certificate: the peer failed us, and
        // the text must not read as if we had rejected the peer.
        if (code_ == errc::certificate && remote_)
            text = reason_ == certificate_reason::no_certificate
                       ? "the peer requires a certificate and none was sent"
                       : "the peer rejected our certificate";
        // certificate_reason::other says no more than the code's own text:
        // "certificate verification failed" once, not twice.
        else if (code_ == errc::certificate && reason_ != certificate_reason::other)
            text += std::string(": ") + certificate_reason_name(reason_);
        if (has_alert_)
            text += std::string(remote_ ? " (alert from peer: " : " (alert sent: ") + alert_name(alert_) + ")";
        return text;
    }

    /** Compares the code: `if (r.error() == tlsw::errc::want_read)`. */
    friend bool operator==(const tls_error& e, errc c) noexcept { return e.code_ == c; }

private:
    std::error_code transport_{};
    errc code_ = errc::invalid_state;
    tlsw::alert alert_ = alert::close_notify;
    certificate_reason reason_ = certificate_reason::none;
    bool has_alert_ = false;
    bool remote_ = false;
};

static_assert(std::is_trivially_copyable_v<tls_error>);

inline std::string detail::error_category::message(int value) const {
    if ((static_cast<unsigned>(value) & ~code_mask) == 0)
        return plain_message(value);
    return tls_error::from_error_code({value, *this}).message();
}

/** What every tls_stream operation returns. */
template <class T>
using result = expected<T, tls_error>;

}  // namespace tlsw

/// @cond
// errc converts to std::error_code (through make_error_code above).
template <>
struct std::is_error_code_enum<tlsw::errc> : std::true_type {};
/// @endcond

#endif
