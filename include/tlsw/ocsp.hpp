#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_OCSP_HPP
#define TLSW_OCSP_HPP

/** @file
    OCSP stapling (RFC 6066 section 8, RFC 8446 section 4.4.2.1): what a
    client learns from the OCSP response a server staples, and the bounds of
    its checks. The calls that set a server's response and a client's
    request and requirement are context's (staple_ocsp_response,
    request_ocsp_staple, require_ocsp_staple). */

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tlsw {

/** What an OCSP response says about a certificate (RFC 6960 CertStatus). */
enum class ocsp_cert_status : std::uint8_t {
    good,
    revoked,
    unknown,  ///< the responder does not know the certificate
};

/** The largest OCSP response a server context takes and a client accepts
    stapled, in DER bytes (a response with a delegated responder's
    certificate is a few KiB). A client fails a handshake whose staple is
    larger. */
inline constexpr std::size_t max_ocsp_response_bytes = 16 * 1024;

/** How far the clocks of the client and the OCSP responder may differ: a
    response counts from thisUpdate minus this until nextUpdate plus this. */
inline constexpr std::chrono::seconds ocsp_clock_skew{300};

/** How long a response without nextUpdate counts after its thisUpdate (RFC
    6960 lets a responder leave it out; such a response is not stale at
    once, but not fresh forever either). */
inline constexpr std::chrono::hours ocsp_max_age_without_next_update{24 * 7};

/** The stapled OCSP response of a client's last full handshake, in
    session_info::ocsp. Empty (stapled false) on a server, on a resumed
    session (checked when it was made, under the same configuration) and
    when the server stapled nothing. */
struct ocsp_staple_info {
    /** The server stapled a response for its certificate. */
    bool stapled = false;
    /** The response passed every check: it is a successful basic response
        for the server's certificate, signed by the certificate's issuer or
        a responder the issuer authorised (id-kp-OCSPSigning), and fresh
        (thisUpdate to nextUpdate, give or take ocsp_clock_skew). Says
        nothing about `status`: a verified response may say revoked. */
    bool verified = false;
    /** What the response says about the server's certificate; meaningful
        when `verified`. */
    ocsp_cert_status status = ocsp_cert_status::unknown;
    /** Why `verified` is false, in words; empty when it is true. */
    std::string problem;
    std::optional<std::chrono::system_clock::time_point> produced_at;  ///< when the responder signed it
    std::optional<std::chrono::system_clock::time_point> this_update;  ///< the status is known to be correct then
    std::optional<std::chrono::system_clock::time_point> next_update;  ///< newer status is available then (optional in RFC 6960)
    std::optional<std::chrono::system_clock::time_point> revocation_time;  ///< when `status` is revoked
};

}  // namespace tlsw

#endif
