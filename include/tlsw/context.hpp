#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_CONTEXT_HPP
#define TLSW_CONTEXT_HPP

/** @file
    tlsw::context: what the streams of one side share (role, credentials,
    trust, TLS policy, sessions, hooks), as immutable snapshots that a
    change replaces while streams run. */

#include <tlsw/client_hello.hpp>
#include <tlsw/config_error.hpp>
#include <tlsw/credentials.hpp>
#include <tlsw/detail/crl.hpp>
#include <tlsw/detail/engine.hpp>
#include <tlsw/error.hpp>
#include <tlsw/peer_certificate.hpp>

#include <botan/hex.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tlsw {

/** Named sets of key-exchange groups, for context::key_exchange_groups(). */
enum class group_set : std::uint8_t {
    standard,      ///< the engine's default list
    classical,     ///< the default list without post-quantum groups
    post_quantum,  ///< hybrid ML-KEM groups only (Botan 3; TLS 1.3 only)
};

/** What the streams of one side share: role, credentials, trust, TLS
    policy, session cache.

    Snapshots (the rule for changes): a stream keeps the configuration its
    context had when the stream was made, for its whole life. Every setter
    publishes a new configuration for streams made after it returns; no
    stream made before sees the change, and nothing a stream uses is ever
    freed under it.

    Copies are independent: a copy starts with the original's configuration,
    and a setter called on one never changes the other (disabling
    verification on a copy leaves the original verifying).

    Threads: every member, setters included, may be called from any number
    of threads at once on one context object; a stream made concurrently
    with a setter gets the configuration from before or after that setter,
    never a mix. Streams made from one context may run in different threads
    at once.

    Sessions resume only under the configuration that made them. Each
    configuration has an identity (OpenSSL's session-id context): a hash
    over role, verification on or off, the system-trust switch, the trust
    anchors, the credentials, the server's ALPN list and every setting of
    the TLS policy, including the client-certificate requirement (but not
    its order of preference, which depends on the CPU for the default), and
    the verification hook (see verify_hook(): a random value per hook set,
    or the stable name given with it). Nothing in it is a counter or an
    address, which would repeat across processes. The session
    cache is shared by the configurations of a context and its copies that
    have the same identity and cache settings, and by nothing else; session
    tickets are sealed with a key derived from session_ticket_key() and the
    identity, so a server with another configuration but the same ticket
    key cannot open them; exported sessions (tls_stream::export_session)
    likewise under session_export_key(), a secret random per context unless
    set. A session from another configuration makes a full handshake, never
    an error.

    Renegotiation is bounded per connection: a server accepts at most 3
    client renegotiations a minute (allow_client_renegotiation()) and ends
    a connection after 8 refused ones; a server whose HelloRequest the
    client talks past (4 records that are not its answer) fails with a
    handshake_failure instead of holding its writes back forever.
*/
class context {
public:
    /** A client context. It verifies the server's chain and host name
        against the system trust store (/etc/ssl/certs) and whatever
        trust() adds. */
    static context client() {
        auto state = detail::make_context_state(detail::role::client);
        state->use_system_trust = true;
        state->configured_export_key = Botan::SymmetricKey(detail::rng(), 32);
        state->publish(nullptr);
        return context(std::move(state));
    }

    /** A server context presenting `creds`. It issues session tickets
        under a random key made here, caches session IDs, and refuses a
        client's renegotiation unless allow_client_renegotiation(true). */
    static context server(credentials creds) {
        auto state = detail::make_context_state(detail::role::server);
        state->creds = creds.data();
        state->configured_ticket_key = Botan::SymmetricKey(detail::rng(), 32);
        state->configured_export_key = Botan::SymmetricKey(detail::rng(), 32);
        state->publish(nullptr);
        return context(std::move(state));
    }

    /** A context with the configuration `other` has now; later changes to
        either do not reach the other. */
    context(const context& other) : state_(other.state()) {}
    /** Takes the configuration `other` has now; streams made before keep
        the one they started with. */
    context& operator=(const context& other) {
        if (this != &other) {
            auto next = other.state();
            const std::lock_guard lock(mutex_);
            state_ = std::move(next);
        }
        return *this;
    }
    /** Moving copies: the source stays a valid context. */
    context(context&& other) : context(static_cast<const context&>(other)) {}
    /** Moving copies, as the move constructor. */
    context& operator=(context&& other) { return *this = static_cast<const context&>(other); }
    ~context() = default;

    /** Adds the certificates of a PEM text as trust anchors, all or none:
        a damaged block anywhere (bad base64 or DER, a missing END line)
        is errc::invalid_argument naming the block's number and line, and
        nothing is added. Text between blocks and blocks of other kinds
        (comments, CRLs) are skipped; a text without any certificate is an
        error. On a server, trust anchors make it ask clients for a
        certificate. */
    [[nodiscard]] config_result<void> trust(std::string_view ca_pem) {
        auto certs = detail::parse_certificates(ca_pem, "trust PEM");
        if (!certs)
            return unexpected(certs.error());
        add_trust(*certs);
        return {};
    }

    /** Reads a PEM file of trust anchors, as trust(); messages name the
        file. A file that cannot be read is errc::transport carrying the
        OS error. */
    [[nodiscard]] config_result<void> trust_file(const std::filesystem::path& ca_file) {
        auto text = detail::load_file(ca_file);
        if (!text)
            return unexpected(text.error());
        auto certs = detail::parse_certificates(*text, ca_file.string());
        if (!certs)
            return unexpected(certs.error());
        add_trust(*certs);
        return {};
    }

    /** Adds certificate revocation lists (RFC 5280) to this context's
        trust, all or none: `crl` is PEM ("X509 CRL" blocks; other blocks
        are skipped) or one DER CRL. From then on every full handshake, on
        either role (a client verifying its server, a server its clients),
        fails a peer chain a CRL lists: the stream's call returns
        errc::certificate with certificate_reason::revoked, and the peer
        gets a certificate_revoked alert. A CRL replaces an older one
        (by thisUpdate) of the same issuer.

        Each CRL must be issued and signed by a trust anchor this context
        has now (trust(), or the system store while it counts), whose key
        usage allows signing CRLs, and be valid now; else the result is a
        config_error (invalid_argument) naming the CRL and why, and nothing
        is added. CRLs of intermediate CAs are refused (no anchor signs
        them). A CRL that passes its nextUpdate later makes every chain of
        that CA fail (certificate_reason::other: "CRL has expired"), as
        with OpenSSL's CRL checks: add fresh ones in time. CRLs are part of
        the configuration identity, so sessions made before do not resume
        afterwards: a revoked peer cannot resume its way past the check. */
    [[nodiscard]] config_result<void> add_crl(std::string_view crl) { return add_crls(crl, "CRL"); }

    /** Reads a CRL file (PEM or DER) and adds it as add_crl() does;
        messages name the file. A file that cannot be read is
        errc::transport carrying the OS error. */
    [[nodiscard]] config_result<void> add_crl_file(const std::filesystem::path& file) {
        auto text = detail::load_file(file);
        if (!text)
            return unexpected(text.error());
        return add_crls(*text, file.string());
    }

    /** Whether the system trust store counts (on by default for clients). */
    context& use_system_trust(bool on) {
        modify([&](detail::context_state& s) { s.use_system_trust = on; });
        return *this;
    }

    /** Sets the lowest and highest TLS version this context's streams
        negotiate; they take the highest both peers allow. By default TLS
        1.2 to the highest the engine speaks: TLS 1.3 on Botan 3 (1.2 when
        the peer has no 1.3), TLS 1.2 on Botan 2, where a maximum of 1.3
        means 1.2. Returns invalid_argument when `min` is above `max`, or
        when the engine speaks no version in the range (a minimum of 1.3 on
        Botan 2), and the context keeps its versions. A text policy
        (policy()) replaces this setting by its allow_tls12 / allow_tls13. */
    [[nodiscard]] result<void> versions(tls_version min, tls_version max) {
        const auto lo = static_cast<unsigned>(min);
        const auto hi = std::min(static_cast<unsigned>(max), detail::highest_tls_version);
        if (lo > static_cast<unsigned>(max) || lo > hi)
            return unexpected(tls_error(errc::invalid_argument));
        modify([&](detail::context_state& s) {
            s.settings.min_version = lo;
            s.settings.max_version = hi;
        });
        return {};
    }

    /** Sets the key-exchange groups, most preferred first. The default
        (group_set::standard) on Botan 3 is X25519MLKEM768 (hybrid
        post-quantum), x25519, secp256r1, secp384r1, secp521r1, x448,
        ffdhe2048, ffdhe3072: a TLS 1.3 client sends key shares for
        X25519MLKEM768 and x25519, and a server takes a post-quantum group
        whenever the client supports one (asking for its share with a
        HelloRetryRequest if need be), else a group the client sent a share
        for. TLS 1.2 uses only the elliptic curves of the list (tlsw's TLS
        1.2 suites are ECDHE), so it is never post-quantum. Botan 2 has no
        ML-KEM: its default is x25519, secp256r1, secp384r1, secp521r1.
        group_set::post_quantum (X25519MLKEM768, SecP256r1MLKEM768)
        completes TLS 1.3 handshakes only. Returns invalid_argument, and
        the context keeps its groups, for a set the engine has no group of
        (post_quantum on Botan 2). A text policy (policy()) replaces this
        setting by its key_exchange_groups. */
    [[nodiscard]] config_result<void> key_exchange_groups(group_set set) {
        std::vector<std::uint16_t> codes;
        for (const auto code : set == group_set::post_quantum ? std::vector<std::uint16_t>{0x11EC, 0x11EB}
                                                               : detail::default_groups())
            if (detail::engine_has_group(code) && (set == group_set::post_quantum) == detail::group_is_post_quantum(code))
                codes.push_back(code);
        if (codes.empty())
            return unexpected(config_error(tls_error(errc::invalid_argument), "key exchange: the engine has no such group"));
        return set_groups(set == group_set::standard ? std::vector<std::uint16_t>() : std::move(codes));
    }

    /** Sets the key-exchange groups by IANA name (X25519MLKEM768,
        SecP256r1MLKEM768, x25519, x448, secp256r1, secp384r1, secp521r1,
        brainpoolP256r1, ffdhe2048 ... ffdhe8192; case ignored; P-256,
        P-384, P-521 too), most preferred first, as key_exchange_groups(
        group_set) describes. A TLS 1.3 client sends key shares for the
        first post-quantum and the first classical group listed. Returns
        invalid_argument naming the group for an unknown name, one the
        engine lacks, or a repeated one, and for an empty list; the context
        then keeps its groups. */
    [[nodiscard]] config_result<void> key_exchange_groups(const std::vector<std::string>& names) {
        std::vector<std::uint16_t> codes;
        for (const auto& name : names) {
            const auto code = detail::group_code(name);
            const char* problem = !code                                  ? "unknown"
                                  : !detail::engine_has_group(*code)     ? "not available on this engine"
                                  : std::count(codes.begin(), codes.end(), *code) ? "repeated"
                                                                         : nullptr;
            if (problem)
                return unexpected(config_error(tls_error(errc::invalid_argument),
                                               "key exchange group '" + name + "': " + problem));
            codes.push_back(*code);
        }
        if (codes.empty())
            return unexpected(config_error(tls_error(errc::invalid_argument), "key exchange groups: none given"));
        return set_groups(std::move(codes));
    }

    /** Accepts any peer certificate, for any name. Anyone on the path can
        then read and change the traffic: for tests and diagnostics only. */
    context& danger_disable_verification() {
        modify([](detail::context_state& s) { s.verify = false; });
        return *this;
    }

    /** Writes the secrets of every session this context's streams
        establish (full handshakes, resumptions and renegotiations, either
        role) to `sink`, one NSS key-log line at a time, without a newline,
        in the SSLKEYLOGFILE format Wireshark and curl read: under TLS 1.2
        one line per session, "CLIENT_RANDOM <64 hex digits> <96 hex
        digits>" (client random, master secret); under TLS 1.3 (Botan 3)
        the traffic secrets, one line each: CLIENT_HANDSHAKE_TRAFFIC_SECRET,
        SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0,
        SERVER_TRAFFIC_SECRET_0 (and EXPORTER_SECRET). On Botan 3 a text
        policy (policy()) must say allow_ssl_key_log_file = true for it.

        DANGER: anyone who sees these lines can decrypt the recorded
        traffic of those sessions, past and future (resumptions reuse the
        master secret). For debugging only; off by default; an empty
        function turns it off. The sink runs inside the stream call that
        completes the handshake, in that stream's thread (streams in
        several threads call it at once: it must be thread-safe); what it
        throws is ignored. Not part of the configuration identity. */
    context& danger_key_log(std::function<void(std::string_view line)> sink) {
        modify([&](detail::context_state& s) {
            s.key_log = sink ? std::make_shared<const std::function<void(std::string_view)>>(std::move(sink)) : nullptr;
        });
        return *this;
    }

    /** danger_key_log() appending each line and a newline to `file`, as
        SSLKEYLOGFILE does; the same warnings. A missing file is created
        readable and writable by its owner only (mode 0600).
        The file itself is never followed as a symbolic link (O_NOFOLLOW;
        directories on its path are), and an existing file must be a
        regular file owned by this process's effective user that its group
        and others can neither read nor write: otherwise the key log stays
        as it was and the result is errc::invalid_argument saying why. A
        file that cannot be opened is errc::transport carrying the OS
        error. Lines are written whole, under a lock, and flushed at once. */
    [[nodiscard]] config_result<void> danger_key_log_file(const std::filesystem::path& file) {
        struct log_file {
            std::mutex mutex;
            std::FILE* out = nullptr;
            ~log_file() {
                if (out)
                    std::fclose(out);
            }
        };
        const auto refuse = [&](int fd, std::string why) {
            ::close(fd);
            return unexpected(config_error(tls_error(errc::invalid_argument),
                                           file.string() + ": refusing it as the key log: " + std::move(why)));
        };
        // O_NONBLOCK: a FIFO without a reader fails here instead of blocking
        // (and is refused below); it means nothing for a regular file.
        const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
                              0600);
        if (fd < 0) {
            const int error = errno;
            if (error == ELOOP)
                return unexpected(config_error(tls_error(errc::invalid_argument),
                                               file.string() + ": refusing it as the key log: it is a symbolic link"));
            return unexpected(config_error(tls_error::from_transport(std::error_code(error, std::generic_category())),
                                           file.string() + ": cannot open the key log"));
        }
        // The checks look at the file opened, not at a name that another
        // process could point elsewhere in between.
        struct ::stat st {};
        if (::fstat(fd, &st) != 0)
            return refuse(fd, "cannot read its owner and mode");
        if (!S_ISREG(st.st_mode))
            return refuse(fd, "it is not a regular file");
        if (st.st_uid != ::geteuid())
            return refuse(fd, "it is owned by another user (uid " + std::to_string(st.st_uid) + ")");
        if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
            return refuse(fd, std::string("its group or others may read or write it (mode ") + mode +
                                  "): make it 0600 or remove it");
        }
        std::FILE* out = ::fdopen(fd, "a");
        if (!out) {
            const int error = errno;
            ::close(fd);
            return unexpected(config_error(tls_error::from_transport(std::error_code(error, std::generic_category())),
                                           file.string() + ": cannot open the key log"));
        }
        auto shared = std::make_shared<log_file>();
        shared->out = out;
        danger_key_log([shared](std::string_view line) {
            const std::lock_guard lock(shared->mutex);
            std::fwrite(line.data(), 1, line.size(), shared->out);
            std::fputc('\n', shared->out);
            std::fflush(shared->out);
        });
        return {};
    }

    /** The signature of a verification hook: it sees the peer's chain and
        the name expected, and returns verify_result::accept() or
        verify_result::reject(reason). */
    using verify_hook_type = std::function<verify_result(const verify_request&)>;

    /** Adds a check of the peer's chain that runs after tlsw's own (a path
        to a trusted CA, the host name, the dates) on every full handshake,
        on either role: a server's hook sees its clients' chains, when they
        send one. Returning verify_result::reject(reason) fails the
        handshake: the stream's call returns errc::certificate with
        certificate_reason::rejected (the peer gets a bad_certificate
        alert) and the stream's last_error_detail() holds the reason. A
        hook that throws rejects the same way, with the exception's text;
        nothing it throws leaves a stream call. The hook is called from
        whichever thread drives a stream; streams in several threads may
        call it at once. An empty function removes the hook. After
        danger_disable_verification() nothing is checked: this hook
        neither.

        Resumption: the hook does not run on a resumed session, which was
        checked by the full handshake that made it; instead the hook is
        part of the configuration identity, so a session resumes only
        under a hook that counts as the same. Without a `name`, each call
        makes the hook a random identity of its own: no session (ticket,
        cached or exported) made before this call, under another hook, or
        in another process resumes under it, and the hook runs on the full
        handshake that follows. Servers that share a ticket key (a fleet,
        a restarted server) and a client that shares exported sessions
        resume under a hook only when it carries the same `name` in each:
        a stable name and version of what the hook decides, which must
        change whenever the hook gets stricter. A client also runs the
        hook on an exported session it imports (stream_options), and
        makes a full handshake when the hook rejects it. */
    context& verify_hook(verify_hook_type hook, std::string_view name = {}) {
        set_hook(std::move(hook), name, false);
        return *this;
    }

    /** Like verify_hook(), but the hook replaces tlsw's own checks
        entirely: it alone decides whether a chain from anyone, for any
        name, with any dates, is accepted, and a client needs no
        server_name. A hook that accepts too much lets anyone on the path
        read and change the traffic. An empty function removes it and
        brings the built-in checks back. Resumption and `name` as for
        verify_hook(). */
    context& danger_verify_hook(verify_hook_type hook, std::string_view name = {}) {
        set_hook(std::move(hook), name, true);
        return *this;
    }

    /** Lets a server accept a client's secure renegotiation (refused with a
        warning no_renegotiation by default, as OpenSSL 3 does), at most 3
        within any minute on one connection: more are refused with a
        warning no_renegotiation, and a client that sends more than 8 that
        are refused loses the connection (fatal no_renegotiation). These
        limits hold for the default policy; a text policy decides alone. */
    context& allow_client_renegotiation(bool allow) {
        modify([&](detail::context_state& s) { s.settings.allow_client_renegotiation = allow; });
        return *this;
    }

    /** Makes a server fail the handshake of a client that sends no
        certificate. A server asks for one whenever trust() gave it CAs;
        without this, a client may decline. */
    context& require_client_certificate(bool require) {
        modify([&](detail::context_state& s) { s.settings.require_client_certificate = require; });
        return *this;
    }

    /** Turns session tickets (RFC 5077) on or off: a server issues them, a
        client offers to take them. On by default; resumption by session ID
        works either way. This switch alone: the ticket key stays as it
        was (off and on again, a server seals under the key it had, a
        shared one included). */
    context& session_tickets(bool on) {
        modify([&](detail::context_state& s) { s.settings.session_tickets = on; });
        return *this;
    }

    /** Sets a server's ticket encryption key (at least 32 bytes), so that
        several servers, or a restarted one, accept each other's tickets
        when they are configured alike (see the class comment). The key
        alone: it does not turn tickets on after session_tickets(false).
        Returns invalid_argument for a shorter key. */
    [[nodiscard]] result<void> session_ticket_key(std::span<const std::byte> key) {
        return set_secret(key, &detail::context_state::configured_ticket_key);
    }

    /** Rotates a server's ticket key: tickets issued from now on are
        sealed under a new random key (session_ticket_key() sets a chosen
        one, with the same effect). Botan 2 gives a server one ticket key
        (Credentials_Manager::psk), so the previous key is NOT accepted
        afterwards: a client offering an older ticket makes a full
        handshake and gets a ticket under the new key, never an error.
        Resumption by session ID does not use the key. Streams made before keep
        the key they had. Returns invalid_state on a client context or a
        server with session_tickets(false). */
    [[nodiscard]] result<void> rotate_session_ticket_key() {
        if (!is_server() || !state()->settings.session_tickets)
            return unexpected(tls_error(errc::invalid_state));
        modify([](detail::context_state& s) { s.configured_ticket_key = Botan::SymmetricKey(detail::rng(), 32); });
        return {};
    }

    /** Sets the secret that a client's exported sessions
        (tls_stream::export_session) are sealed with, at least 32 bytes.
        Each context starts with a random one of its own (its copies share
        it), so by default a session exported by one context resumes only
        in streams of that context and its copies. Processes that share
        stored sessions (a restarted client, a fleet reading one store)
        give each context the same key, read from a file only they can
        read, as for session_ticket_key(); the sessions then also need the
        same configuration identity. Whoever holds the key can make
        sessions this context resumes and open the ones it exports: keep it
        as secret as a private key. Returns invalid_argument for a shorter
        key. Not part of the configuration identity; servers export no
        sessions, and ignore it. */
    [[nodiscard]] result<void> session_export_key(std::span<const std::byte> key) {
        return set_secret(key, &detail::context_state::configured_export_key);
    }

    /** Turns the session cache on or off and sets how many sessions it
        holds: a client caches the sessions it may resume, keyed by server
        name and port; a server caches session IDs. On, with 1000 sessions,
        by default; max_sessions 0 turns it off. When full, a new session
        replaces the oldest, to the second (Botan orders them by session
        ID, which starts with a timestamp); each lives at most 2 hours.
        Changing either starts an empty cache for streams made from then
        on. Tickets are separate: session_tickets().

        What a server controls is bounded: a client keeps no session whose
        ticket is over 8 KiB or whose server chain is over 32 KiB of DER
        (the next connection makes a full handshake), and on Botan 3,
        where a TLS 1.3 server may send any number of tickets, a client's
        cache also holds at most 4 MiB (estimated: tickets, chains and 512
        bytes each), dropping its oldest sessions first. */
    context& session_cache(bool on, std::size_t max_sessions = 1000) {
        modify([&](detail::context_state& s) {
            s.session_cache = on && max_sessions > 0;
            s.session_cache_size = max_sessions;
        });
        return *this;
    }

    /** Sets the DER OCSP response (RFC 6960) a server staples for the
        certificate chain of `creds` (credentials given to server() or
        add_credentials(), found by their leaf) when a client asks with
        status_request, under TLS 1.2 (CertificateStatus) and TLS 1.3 (in
        the leaf's CertificateEntry); each chain has one, and setting it
        again replaces it, at any time: streams made from then on staple
        the new one (a stream keeps the one it started with, for its
        renegotiations too). An empty `der` removes it. Returns
        invalid_argument, and the context keeps what it had, for a response
        that is not a successful basic OCSP response, is larger than
        max_ocsp_response_bytes, or has no single response for the leaf
        (its serial, its issuer's name, and its issuer's key when the
        chain carries the issuer); invalid_state on a client context. Its
        signature and dates are the clients' to check: fetch a new one
        before its nextUpdate, since clients refuse it once it expired. */
    [[nodiscard]] config_result<void> staple_ocsp_response(const credentials& creds, std::span<const std::byte> der) {
        if (!is_server())
            return unexpected(config_error(tls_error(errc::invalid_state), "OCSP response: a client context staples none"));
        if (!creds.data() || creds.data()->chain.empty())
            return unexpected(config_error(tls_error(errc::invalid_argument), "OCSP response: the credentials hold nothing"));
        const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(der.data()), der.size());
        if (!der.empty())
            if (auto problem = detail::ocsp_response_problem(bytes, creds.data()->chain); !problem.empty())
                return unexpected(config_error(tls_error(errc::invalid_argument), "OCSP response: " + problem));
        const auto& leaf = creds.data()->chain.front();
        modify([&](detail::context_state& s) {
            s.ocsp_responses = detail::with_staple(s.ocsp_responses, leaf, {bytes.begin(), bytes.end()});
        });
        return {};
    }

    /** Reads a DER OCSP response from `file` (as `openssl ocsp -respout`
        writes it) and staples it as staple_ocsp_response() does; the
        error names the file. A file that cannot be read is errc::transport
        carrying the OS error; an empty file removes the response. */
    [[nodiscard]] config_result<void> staple_ocsp_response_file(const credentials& creds,
                                                                const std::filesystem::path& file) {
        auto der = detail::load_file(file);
        if (!der)
            return unexpected(der.error());
        auto r = staple_ocsp_response(creds, std::as_bytes(std::span(der->data(), der->size())));
        if (!r)
            return unexpected(config_error(r.error().error(), file.string() + ": " + r.error().detail()));
        return {};
    }

    /** Whether a client asks servers to staple an OCSP response for their
        certificate (status_request); on by default. A stapled response is
        checked whenever one comes (see session_info::ocsp): a handshake
        fails when it says revoked (certificate_reason::revoked) or is
        invalid: not signed by the certificate's issuer or a responder the
        issuer authorised, not about the server's certificate, expired or
        not yet valid (ocsp_clock_skew), larger than
        max_ocsp_response_bytes (certificate_reason::bad_status_response;
        on Botan 2, which parses the response before tlsw sees it, one its
        parser refuses ends the handshake as a decode_error). Off, the client asks for none and so gets none; it also turns
        require_ocsp_staple() off. On a server, off means it staples
        nothing. A text policy (policy()) replaces this switch by its
        support_cert_status_message. */
    context& request_ocsp_staple(bool on) {
        modify([&](detail::context_state& s) {
            s.settings.request_ocsp = on;
            s.ocsp_required = s.ocsp_required && on;
        });
        return *this;
    }

    /** Makes a client fail every full handshake in which the server does
        not staple a verified OCSP response saying "good" for its
        certificate (must-staple): errc::certificate with
        certificate_reason::bad_status_response (the server gets a
        bad_certificate_status_response alert), or revoked. Turns
        request_ocsp_staple() on. A resumed session was checked when it
        was made: the requirement is part of the configuration identity.
        Nothing is checked without verification or under
        danger_verify_hook(). Off by default. */
    context& require_ocsp_staple(bool require) {
        modify([&](detail::context_state& s) {
            s.ocsp_required = require;
            s.settings.request_ocsp = s.settings.request_ocsp || require;
        });
        return *this;
    }

    /** Replaces the default TLS policy by one in Botan's text format (the
        `key = value` lines of `botan tls_server --policy`); the file then
        also governs renegotiation and client certificates. Lines end in LF
        or CRLF; "#" starts a comment. Every value is checked and read now,
        and nothing throws: an unknown key, a key without a value, a value
        of the wrong kind, an unknown algorithm name, a value Botan refuses
        (for example a record_size_limit above 16 bits) or a policy that
        leaves no TLS version or cipher suite is a config_error
        (invalid_argument) naming the line and key, or the policy as a
        whole, and the context keeps its previous policy. */
    [[nodiscard]] config_result<void> policy(std::string_view text) {
        auto checked = detail::check_policy_text(text);
        if (!checked)
            return unexpected(config_error(tls_error(errc::invalid_argument), std::move(checked.error())));
        auto parsed = detail::parse_policy_text(*checked);
        if (!parsed)
            return unexpected(config_error(tls_error(errc::invalid_argument), std::move(parsed.error())));
        modify([&](detail::context_state& s) { s.text_policy = std::move(*parsed); });
        return {};
    }

    /** Reads a policy file, as policy(); the error names the file. A file
        that cannot be read is errc::transport carrying the OS error. */
    [[nodiscard]] config_result<void> policy_file(const std::filesystem::path& file) {
        auto text = detail::load_file(file);
        if (!text)
            return unexpected(text.error());
        auto r = policy(*text);
        if (!r)
            return unexpected(config_error(r.error().error(), file.string() + ": " + r.error().detail()));
        return {};
    }

    /** A server's supported ALPN protocols, most preferred first. */
    context& alpn(std::vector<std::string> protocols) {
        modify([&](detail::context_state& s) { s.alpn = std::move(protocols); });
        return *this;
    }

    /** Adds credentials a server presents to clients whose SNI its leaf
        names (a DNS SAN, or the CN without DNS SANs, equal ignoring case,
        or a wildcard "*.example.com" standing for one leftmost label). The
        server's credentials from server() stay the default: presented
        without SNI or when no credentials name it. Among several that
        name it (or whose key suits the client), the earliest wins:
        server()'s, then these in the order added. Every certificate added
        is part of the configuration identity (see the class comment).
        Returns invalid_state on a client context, which presents
        client_certificate() alone, and invalid_argument for credentials
        that hold nothing. */
    [[nodiscard]] result<void> add_credentials(credentials creds) {
        if (!is_server())
            return unexpected(tls_error(errc::invalid_state));
        if (!creds.data())
            return unexpected(tls_error(errc::invalid_argument));
        modify([&](detail::context_state& s) { s.more_creds.push_back(creds.data()); });
        return {};
    }

    /** Replaces credentials a server presents: `current` is server()'s or
        ones add_credentials() added (or a copy of either: copies are the
        same credentials), and `replacement` takes their place in the order
        of preference. Streams made before keep presenting `current` for
        their whole life, renegotiations included; streams made after
        present `replacement`. Sessions made before do not resume
        afterwards (the certificates are part of the configuration
        identity): clients make a full handshake and see the new
        certificate. Returns invalid_state on a client context, and
        invalid_argument, changing nothing, when `replacement` holds
        nothing or `current` is not among this context's credentials. */
    [[nodiscard]] result<void> replace_credentials(const credentials& current, credentials replacement) {
        if (!replacement.data())
            return unexpected(tls_error(is_server() ? errc::invalid_argument : errc::invalid_state));
        return change_credentials(current, replacement.data());
    }

    /** Removes credentials a server presents (`current` as for
        replace_credentials()); streams made before keep them, as above.
        Removing the last leaves the server with none: the handshakes of
        streams made after fail at the client's hello, the server sending
        handshake_failure (its stream call returns errc::protocol with
        that alert, and last_error_detail() says that the server has no
        credentials) until add_credentials() adds some. A credentials
        callback (choose_credentials()) decides alone and is not affected.
        Returns invalid_state on a client context, and invalid_argument,
        changing nothing, when `current` is not among its credentials. */
    [[nodiscard]] result<void> remove_credentials(const credentials& current) {
        return change_credentials(current, nullptr);
    }

    /** Lets `chooser` pick the credentials a server presents, per
        handshake, from what the client's ClientHello says (client_hello:
        SNI, ALPN offers, signature schemes, groups, versions), like
        OpenSSL's servername callback or rustls' ResolvesServerCert. It
        replaces the SNI match over server()'s and add_credentials()'
        credentials, which it does not see; its credentials need not be
        added anywhere.

        - It runs after the ClientHello is parsed and before any
          certificate is chosen: once per handshake (the first, each TLS
          1.2 renegotiation, and resumptions too: it may refuse those;
          not again for the second ClientHello after a HelloRetryRequest).
        - It runs in the thread that drives the server stream through its
          handshake (inside its handshake(), read() or write()); streams
          in several threads call it at once, so it must be thread-safe.
          The handshake waits for it: keep it quick.
        - Returning credentials presents them. Their key must suit the
          client's signature schemes (client_hello::accepts()), else the
          handshake fails with handshake_failure.
        - Returning std::nullopt fails the handshake: the server sends
          unrecognized_name when the client sent a server name,
          handshake_failure when it sent none. The server's stream call
          returns errc::protocol with that alert (alert_from_peer()
          false) and last_error_detail() names the server name; the
          client gets the alert as a protocol error from its peer.
        - An exception it throws fails the handshake with internal_error,
          its text in last_error_detail(); nothing it throws leaves a
          stream call.

        An empty function removes it. Streams keep the callback they were
        made with. Like verify_hook(), the callback is part of the
        configuration identity: without a `name` each call makes a random
        identity (no session from before, or from another process, resumes
        under it); servers sharing a ticket key give it the same stable
        `name`, changed whenever what it presents changes. Returns
        invalid_state on a client context. */
    [[nodiscard]] result<void> choose_credentials(credentials_chooser chooser, std::string_view name = {}) {
        if (!is_server())
            return unexpected(tls_error(errc::invalid_state));
        const std::string identity =
            name.empty() ? "random " + Botan::hex_encode(detail::rng().random_vec(32)) : "named " + std::string(name);
        auto shared = chooser ? std::make_shared<const credentials_chooser>(std::move(chooser)) : nullptr;
        modify([&](detail::context_state& s) {
            s.choose_credentials = shared;
            s.choose_credentials_identity = shared ? identity : std::string();
        });
        return {};
    }

    /** Credentials a client presents when the server asks for a certificate. */
    context& client_certificate(credentials creds) {
        modify([&](detail::context_state& s) { s.creds = creds.data(); });
        return *this;
    }

    /** Whether this is a server's context (made by server()). */
    bool is_server() const { return state()->side == detail::role::server; }

    /** The current configuration snapshot, for tls_stream: immutable, kept
        alive by whoever holds it. */
    std::shared_ptr<const detail::context_state> state() const {
        const std::lock_guard lock(mutex_);
        return state_;
    }

private:
    explicit context(std::shared_ptr<const detail::context_state> state) : state_(std::move(state)) {}

    void set_hook(verify_hook_type hook, std::string_view name, bool replaces) {
        // Random, not a counter: the first hook of every process would get
        // the same number, and a restarted server with a stricter hook
        // would resume the tickets its predecessor issued.
        const std::string identity =
            name.empty() ? "random " + Botan::hex_encode(detail::rng().random_vec(32)) : "named " + std::string(name);
        modify([&](detail::context_state& s) {
            s.verify_hook = hook ? std::make_shared<const verify_hook_type>(std::move(hook)) : nullptr;
            s.hook_replaces_checks = s.verify_hook && replaces;
            s.verify_hook_identity = identity;
            // The danger variant is how the checks run from now on; a plain
            // hook adds to checks that danger_disable_verification() may
            // have turned off, and then runs neither.
            if (s.hook_replaces_checks)
                s.verify = true;
        });
    }

    /** Sets a secret key of at least 32 bytes (ticket or export key). */
    [[nodiscard]] result<void> set_secret(std::span<const std::byte> key, Botan::SymmetricKey detail::context_state::*member) {
        if (key.size() < 32)
            return unexpected(tls_error(errc::invalid_argument));
        modify([&](detail::context_state& s) {
            s.*member = Botan::SymmetricKey(reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
        });
        return {};
    }

    /** Puts `next` (null: nothing) where `current`'s credentials are;
        invalid_argument, publishing nothing, when the context does not
        hold them. */
    [[nodiscard]] result<void> change_credentials(const credentials& current,
                                                  std::shared_ptr<const detail::credential_data> next) {
        if (!is_server())
            return unexpected(tls_error(errc::invalid_state));
        return modify_checked<result<void>>([&](detail::context_state& s) -> result<void> {
            const auto& old = current.data();
            if (!old || (s.creds != old && std::find(s.more_creds.begin(), s.more_creds.end(), old) == s.more_creds.end()))
                return unexpected(tls_error(errc::invalid_argument));
            if (s.creds == old)
                s.creds = next;
            for (auto& more : s.more_creds)
                if (more == old)
                    more = next;
            std::erase(s.more_creds, nullptr);
            return {};
        });
    }

    /** Parses the CRLs of `text` and adds them to a new snapshot's trust
        store, all or none, each checked against the trust the context has
        (detail::crl_refusal). */
    [[nodiscard]] config_result<void> add_crls(std::string_view text, std::string_view source) {
        auto crls = detail::parse_crls(text, source);
        if (!crls)
            return unexpected(crls.error());
        return modify_checked<config_result<void>>([&](detail::context_state& s) -> config_result<void> {
            for (std::size_t i = 0; i < crls->size(); ++i)
                if (auto why = detail::crl_refusal((*crls)[i], s))
                    return unexpected(detail::config_invalid(
                        source, (crls->size() > 1 ? "CRL " + std::to_string(i + 1) + " " : std::string("the CRL ")) + *why));
            auto store = std::make_shared<Botan::Certificate_Store_In_Memory>(*s.trust);
            for (const auto& crl : *crls) {
                store->add_crl(crl);
                s.crl_fingerprints.push_back(detail::crl_fingerprint(crl));
            }
            s.trust = std::move(store);
            return {};
        });
    }

    /** Publishes a group list (empty: the engine's default). */
    [[nodiscard]] config_result<void> set_groups(std::vector<std::uint16_t> codes) {
        auto shared = codes.empty() ? nullptr : std::make_shared<const std::vector<std::uint16_t>>(std::move(codes));
        modify([&](detail::context_state& s) { s.settings.groups = shared; });
        return {};
    }

    /** Adds trust anchors to a new snapshot's store (the old one may be in use). */
    void add_trust(const std::vector<Botan::X509_Certificate>& certs) {
        modify([&](detail::context_state& s) {
            auto store = std::make_shared<Botan::Certificate_Store_In_Memory>(*s.trust);
            for (const auto& cert : certs)
                store->add_certificate(cert);
            s.trust = std::move(store);
        });
    }

    /** Copy-on-write: changes a copy of the current snapshot, derives its
        identity, ticket key and cache, and publishes it. Streams hold the
        old snapshot for as long as they live. */
    template <class Change>
    void modify(Change&& change) {
        const std::lock_guard lock(mutex_);
        auto next = std::make_shared<detail::context_state>(*state_);
        change(*next);
        next->publish(state_.get());
        state_ = std::move(next);
    }

    /** modify() for a change that may be refused: `change` returns an
        empty Result to publish, or the error, and then nothing is. */
    template <class Result, class Change>
    Result modify_checked(Change&& change) {
        const std::lock_guard lock(mutex_);
        auto next = std::make_shared<detail::context_state>(*state_);
        if (auto refused = change(*next); !refused)
            return refused;
        next->publish(state_.get());
        state_ = std::move(next);
        return {};
    }

    mutable std::mutex mutex_;
    std::shared_ptr<const detail::context_state> state_;
};

}  // namespace tlsw

#endif
