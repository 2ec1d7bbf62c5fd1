#ifndef TLSW_SESSION_INFO_HPP
#define TLSW_SESSION_INFO_HPP

#include <tlsw/peer_certificate.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tlsw {

/** What the last completed handshake of a stream negotiated.

    Empty strings and zero counts until the first handshake completes; each
    renegotiation updates it.
*/
struct session_info {
    std::string version;           ///< e.g. "TLS v1.2"
    std::string cipher_suite;      ///< e.g. "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    std::string alpn;              ///< the application protocol both sides agreed on, or empty
    std::string server_name;       ///< the SNI name the client sent, or empty
    bool resumed = false;          ///< the last handshake resumed a cached session (ID or ticket)
    std::uint32_t handshakes = 0;  ///< completed handshakes: 1 + accepted renegotiations
    std::uint32_t renegotiations_refused = 0;  ///< renegotiations refused by either side
    /** The peer presented a certificate chain that this side verified: a
        server's client authenticated itself. On a resumed session, the
        chain verified when the session was first made (sessions resume
        only under the configuration that verified them). With
        context::danger_verify_hook, the hook alone verified it. False when
        verification is off or the peer sent no certificate. */
    bool peer_verified = false;
    /** The common name of the peer's leaf certificate, or empty. */
    std::string peer_common_name;
    /** The certificate chain the peer presented, its leaf first; on a
        resumed session, the chain of the session resumed. Empty when the
        peer sent none: a server tells an anonymous client (empty, and
        peer_verified false) from an authenticated one (peer_verified). A
        client's peer_chain.front() is the server certificate it verified. */
    std::vector<peer_certificate> peer_chain;
};

}  // namespace tlsw

#endif
