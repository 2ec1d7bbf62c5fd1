#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_SESSION_INFO_HPP
#define TLSW_SESSION_INFO_HPP

/** @file
    What a handshake negotiated (tlsw::session_info: version, cipher suite,
    group, ALPN, the peer's chain and whether it was verified, resumption,
    OCSP) and the peer's certificate chain (tlsw::certificate_chain). */

#include <tlsw/ocsp.hpp>
#include <tlsw/peer_certificate.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tlsw {

/** A TLS protocol version, for context::versions() and session_info. */
enum class tls_version : std::uint8_t { tls12 = 2, tls13 = 3 };

namespace detail {
/** Where a certificate_chain gets its certificates from when first read
    (the engine's: the TLS backend's own certificate objects). */
struct chain_source {
    virtual ~chain_source() = default;
    virtual std::vector<peer_certificate> convert() const = 0;
};
}  // namespace detail

/** The peer's certificate chain, its leaf first: a read-only sequence of
    peer_certificate, converted from the TLS backend's certificates when it
    is first read, not when the handshake completes (DER, names and the key
    pin cost about as much as the rest of a resumed handshake's own work,
    and most connections never look). A plain value otherwise: copies made
    before the first read share the pending conversion and each converts
    once.

    Reading never throws: should the conversion run out of memory, the
    chain reads as empty for that call and is converted again by the next
    one. Reading converts (a const call that stores the result), so one
    thread at a time may read one object, as with the stream it came from. */
class certificate_chain {
public:
    using value_type = peer_certificate;  ///< As a container of certificates.
    using const_iterator = std::vector<peer_certificate>::const_iterator;  ///< Leaf first.

    certificate_chain() = default;
    /** A chain holding these certificates, leaf first. */
    certificate_chain(std::vector<peer_certificate> chain) noexcept : chain_(std::move(chain)) {}
    /** A chain converted from `source` on first read. */
    explicit certificate_chain(std::shared_ptr<const detail::chain_source> source) noexcept
        : source_(std::move(source)) {}

    /** The certificates, converted now if they were not yet. */
    const std::vector<peer_certificate>& certificates() const noexcept {
        if (source_) [[unlikely]]
            settle();
        return chain_;
    }
    operator const std::vector<peer_certificate>&() const noexcept { return certificates(); }
    operator std::span<const peer_certificate>() const noexcept { return certificates(); }

    /** @{ As std::vector's, over certificates(): leaf first. */
    const_iterator begin() const noexcept { return certificates().begin(); }
    const_iterator end() const noexcept { return certificates().end(); }
    std::size_t size() const noexcept { return certificates().size(); }
    bool empty() const noexcept { return certificates().empty(); }
    /** @} */
    /** The leaf. As std::vector's: the chain must not be empty. */
    const peer_certificate& front() const noexcept { return certificates().front(); }
    /** The last certificate the peer sent (nearest its root). As
        std::vector's: the chain must not be empty. */
    const peer_certificate& back() const noexcept { return certificates().back(); }
    /** As std::vector's: `i` must be below size(). */
    const peer_certificate& operator[](std::size_t i) const noexcept { return certificates()[i]; }

private:
    void settle() const noexcept {
        try {
            chain_ = source_->convert();
            source_.reset();
        } catch (...) {
            chain_.clear();  // empty for now; the next read tries again
        }
    }

    mutable std::vector<peer_certificate> chain_;
    mutable std::shared_ptr<const detail::chain_source> source_;  // set until converted
};

/** What the last completed handshake of a stream negotiated.

    Empty strings and zero counts until the first handshake completes; each
    renegotiation updates it.
*/
struct session_info {
    std::string version;           ///< e.g. "TLS v1.2"
    std::optional<tls_version> protocol_version;  ///< the version as a value to compare
    std::string cipher_suite;      ///< Botan's name, e.g. "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    /** The suite's IANA (RFC) name, as OpenSSL's SSL_CIPHER_standard_name
        gives it: "TLS_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256". */
    std::string standard_cipher_suite;
    /** The key-exchange group by its IANA name ("X25519MLKEM768",
        "x25519", "secp256r1", "ffdhe2048", ...; "0x" and four hex digits
        for one without a name). Empty when the handshake exchanged no key:
        a TLS 1.2 resumption (the keys of the resumed session), or a TLS
        1.3 resumption without (EC)DHE. */
    std::string group;
    /** The group has a post-quantum (ML-KEM) part: X25519MLKEM768 and the
        like. Only ever true under TLS 1.3 on Botan 3. */
    bool post_quantum = false;
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
        client's peer_chain.front() is the server certificate it verified.
        After a failed verification (this side rejected the chain), the
        chain rejected, with peer_verified false, so that a tool can show
        or fingerprint it. Converted when first read (certificate_chain). */
    certificate_chain peer_chain;
    /** A client's view of the OCSP response the server stapled in the
        last full handshake (see ocsp_staple_info): stapled, verified, the
        status and its times. After a handshake that failed over it, the
        response that failed. */
    ocsp_staple_info ocsp;
};

}  // namespace tlsw

#endif
