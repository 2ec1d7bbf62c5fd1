#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_PEER_CERTIFICATE_HPP
#define TLSW_PEER_CERTIFICATE_HPP

/** @file
    tlsw::peer_certificate, and what a verification hook is given
    (tlsw::verify_context) and answers (tlsw::verify_result). */

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw {

/** One certificate the peer presented: its DER encoding and the fields an
    application checks, parsed once when the handshake completes. A plain
    value: copying it copies the bytes; it names no TLS backend type. */
struct peer_certificate {
    std::vector<std::byte> der;          ///< the certificate as sent (DER)
    std::string subject;                 ///< the subject DN as text, e.g. `CN="localhost",O="..."`
    std::string issuer;                  ///< the issuer DN as text, same form
    std::string common_name;             ///< the subject's first common name, or empty
    std::vector<std::string> dns_names;  ///< subject alternative names of type DNS
    /** Subject alternative names of type IP, as text: dotted IPv4
        ("127.0.0.1") or eight colon-separated hex groups for IPv6
        ("0:0:0:0:0:0:0:1"). */
    std::vector<std::string> ip_addresses;
    std::chrono::system_clock::time_point not_before;  ///< start of validity
    std::chrono::system_clock::time_point not_after;   ///< end of validity
    /** SHA-256 of the DER SubjectPublicKeyInfo: what a key pin compares
        (the value `openssl x509 -pubkey | openssl pkey -pubin -outform der
        | sha256sum` prints). */
    std::array<std::byte, 32> spki_sha256{};
};

/** What a verification hook sees (context::verify_hook). */
struct verify_request {
    /** The chain as the peer sent it, its leaf first. */
    std::span<const peer_certificate> chain;
    /** The name a client checks the server against (its server_name), or
        empty on a server checking a client. */
    std::string_view expected_name;
    /** True when the peer is a server (this side is a client). */
    bool peer_is_server = true;
};

/** A verification hook's answer: accept, or reject with a reason that the
    failed stream's last_error_detail() reports. */
struct verify_result {
    bool accepted = true;  ///< Whether the hook accepts the peer.
    std::string reason;    ///< Why not, in a few words (empty when accepted).

    /** The peer is accepted. */
    static verify_result accept() { return {}; }
    /** The peer is rejected: the handshake fails, its detail says why. */
    static verify_result reject(std::string why) { return {false, std::move(why)}; }
};

}  // namespace tlsw

#endif
