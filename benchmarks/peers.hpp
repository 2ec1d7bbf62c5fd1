#ifndef TLSW_BENCHMARKS_PEERS_HPP
#define TLSW_BENCHMARKS_PEERS_HPP

// The three ways the benchmarks move TLS 1.2 traffic between a client and
// a server in one thread, in memory, with one cipher suite
// (ECDHE-ECDSA with AES-128-GCM, the P-256 leaf of tlsw::testing's PKI):
//
// - tlsw_pair:    two tlsw::tls_stream over a tlsw::memory_pair
//                 (common.hpp, which needs no Botan 2 API);
// - botan_pair:   Botan's TLS::Client / TLS::Server driven by hand, the
//                 least code that works: emitted bytes appended to a
//                 std::vector, handed whole to the peer's received_data;
// - openssl_pair: two SSL objects over a BIO pair.
//
// Each offers handshake(), send() (the client writes) and receive() (the
// server reads into a caller's buffer until a byte count arrived). A
// failure is a bug in the benchmark, not a result: it aborts with a message.

#include "common.hpp"

#include <botan/certstor.h>
#include <botan/credentials_manager.h>
#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/tls_client.h>
#include <botan/tls_policy.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#include <botan/x509cert.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

/** The suite every benchmark runs, as Botan and as OpenSSL name it. */
inline constexpr std::string_view botan_suite = "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
inline constexpr const char* openssl_suite = "ECDHE-ECDSA-AES128-GCM-SHA256";

// ---- raw Botan -------------------------------------------------------------------

/** The server's chain and key, the client's trust: the same test PKI. */
class botan_credentials final : public Botan::Credentials_Manager {
public:
    botan_credentials() {
        chain_ = tlsw::detail::parse_certificates(pki().pem.chain_pem, "chain PEM").value();
        Botan::DataSource_Memory key(pki().pem.leaf_key_pem);
        key_ = Botan::PKCS8::load_key(key);
        Botan::DataSource_Memory ca(pki().pem.ca_cert_pem);
        trust_.add_certificate(Botan::X509_Certificate(ca));
    }

    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                           const std::string&) override {
        if (type == "tls-client")
            return {&trust_};
        return {};  // the server asks for no client certificate
    }

    std::vector<Botan::X509_Certificate> find_cert_chain(const std::vector<std::string>& key_types,
                                                         const std::vector<Botan::X509_DN>&, const std::string& type,
                                                         const std::string&) override {
        if (type == "tls-server" && std::find(key_types.begin(), key_types.end(), key_->algo_name()) != key_types.end())
            return chain_;
        return {};
    }

    Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                        const std::string&) override {
        return !chain_.empty() && cert == chain_.front() ? key_.get() : nullptr;
    }

private:
    std::vector<Botan::X509_Certificate> chain_;
    std::unique_ptr<Botan::Private_Key> key_;
    Botan::Certificate_Store_In_Memory trust_;
};

/** What raw-Botan connections share, as a tlsw context would. With
    `cache`, the client and the server each keep a
    Session_Manager_In_Memory, as tlsw's client and server contexts do
    (sessions resume by session ID); without it nothing is cached. */
struct botan_shared {
    explicit botan_shared(bool session_tickets = false, bool cache = false)
        : policy(settings(session_tickets)),
          client_sessions(make_sessions(cache)), server_sessions(make_sessions(cache)) {}

    static tlsw::detail::policy_settings settings(bool session_tickets) {
        tlsw::detail::policy_settings s;  // tlsw's defaults: no client renegotiation, no client certificate
        s.session_tickets = session_tickets;
        return s;
    }

    botan_credentials creds;
    // tlsw's own default policy, so that both sides negotiate alike.
    tlsw::detail::default_policy policy;
    std::unique_ptr<Botan::TLS::Session_Manager> client_sessions;
    std::unique_ptr<Botan::TLS::Session_Manager> server_sessions;

private:
    static std::unique_ptr<Botan::TLS::Session_Manager> make_sessions(bool cache) {
        if (cache)
            return std::make_unique<Botan::TLS::Session_Manager_In_Memory>(Botan::system_rng());
        return std::make_unique<Botan::TLS::Session_Manager_Noop>();
    }
};

/** One side's callbacks: ciphertext out into a vector; plaintext records
    copied into a reader's buffer, as a real reader would. */
class botan_endpoint final : public Botan::TLS::Callbacks {
public:
    std::vector<std::uint8_t> out;   ///< ciphertext for the peer
    tlsw::memory_pair::end* transport = nullptr;  ///< when set, ciphertext goes here instead of `out`
    std::span<std::byte> sink;       ///< where received plaintext goes
    std::size_t sink_pos = 0;
    std::size_t received = 0;        ///< plaintext bytes received in all
    bool activated = false;
    bool probe = false;              ///< record what was negotiated (setup only)
    unsigned certificates = 0;       ///< Certificate messages seen: none in a resumed handshake
    std::string suite, version, signature, group;

    void tls_emit_data(const std::uint8_t data[], std::size_t size) override {
        if (!transport) {
            out.insert(out.end(), data, data + size);
            return;
        }
        auto bytes = std::as_bytes(std::span(data, size));
        while (!bytes.empty()) {
            auto n = transport->write_some(bytes);
            check(n.has_value() && *n > 0, "raw Botan: the memory pair is full");
            bytes = bytes.subspan(*n);
        }
    }

    void tls_record_received(std::uint64_t, const std::uint8_t data[], std::size_t size) override {
        // The reader consumes its buffer from the start again when the
        // record does not fit behind what it holds.
        if (sink_pos + size > sink.size())
            sink_pos = 0;
        check(size <= sink.size(), "raw Botan: record larger than the read buffer");
        std::memcpy(sink.data() + sink_pos, data, size);
        sink_pos += size;
        received += size;
    }

    void tls_alert(Botan::TLS::Alert alert) override {
        if (alert.is_fatal())
            die("raw Botan: fatal alert " + alert.type_string());
    }

    bool tls_session_established(const Botan::TLS::Session& session) override {
        if (probe) {
            suite = session.ciphersuite().to_string();
            version = session.version().to_string();
        }
        return true;  // cached when the manager caches (botan_shared's `cache`)
    }

    void tls_session_activated() override { activated = true; }

    void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& message) override {
        if (message.type() == Botan::TLS::CERTIFICATE)
            ++certificates;
    }

    std::vector<std::uint8_t> tls_sign_message(const Botan::Private_Key& key, Botan::RandomNumberGenerator& rng,
                                               const std::string& emsa, Botan::Signature_Format format,
                                               const std::vector<std::uint8_t>& msg) override {
        if (probe)
            signature = key.algo_name() + " " + emsa;
        return Botan::TLS::Callbacks::tls_sign_message(key, rng, emsa, format, msg);
    }

    std::pair<Botan::secure_vector<std::uint8_t>, std::vector<std::uint8_t>> tls_ecdh_agree(
        const std::string& curve_name, const std::vector<std::uint8_t>& peer_public_value,
        const Botan::TLS::Policy& policy, Botan::RandomNumberGenerator& rng, bool compressed) override {
        if (probe)
            group = curve_name;
        return Botan::TLS::Callbacks::tls_ecdh_agree(curve_name, peer_public_value, policy, rng, compressed);
    }
};

class botan_pair {
public:
    /** Received plaintext goes to `server_sink` (the reader's buffer). The
        client caches its session under ("localhost", `port`).

        With `pair_capacity` 0 the ciphertext one side emits is appended to
        a vector and handed whole to the other's received_data: the least
        work Botan allows. Otherwise it travels over a tlsw::memory_pair of
        that capacity, as tlsw_pair's does: written into the pair, read out
        of it into a 64 KiB buffer, then fed to Botan. That is the like for
        like comparison with tlsw, whose transport costs are the same.

        Both channels reserve no I/O buffers up front, as tlsw's engine
        does (Botan's default reserves 10 KiB for reading and 10 for writing). */
    botan_pair(botan_shared& shared, std::span<std::byte> server_sink, bool probe = false, std::uint16_t port = 443,
               std::size_t pair_capacity = 0) {
        if (pair_capacity > 0) {
            auto [a, b] = tlsw::memory_pair::make(pair_capacity);
            client_end_ = std::make_unique<tlsw::memory_pair::end>(std::move(a));
            server_end_ = std::make_unique<tlsw::memory_pair::end>(std::move(b));
            client_cb_.transport = client_end_.get();
            server_cb_.transport = server_end_.get();
        }
        client_cb_.probe = probe;
        server_cb_.probe = probe;
        server_cb_.sink = server_sink;
        client_cb_.out.reserve(4096);
        server_cb_.out.reserve(4096);
        client_ = std::make_unique<Botan::TLS::Client>(client_cb_, *shared.client_sessions, shared.creds,
                                                       shared.policy, Botan::system_rng(),
                                                       Botan::TLS::Server_Information("localhost", port),
                                                       Botan::TLS::Protocol_Version::TLS_V12,
                                                       std::vector<std::string>(), 0);
        server_ = std::make_unique<Botan::TLS::Server>(server_cb_, *shared.server_sessions, shared.creds,
                                                       shared.policy, Botan::system_rng(), false, 0);
    }

    void handshake() {
        for (int round = 0; round < 100 && !(client_cb_.activated && server_cb_.activated); ++round) {
            pump(client_cb_, *server_, server_end_.get());
            pump(server_cb_, *client_, client_end_.get());
        }
        check(client_cb_.activated && server_cb_.activated, "raw Botan: the handshake did not complete");
    }

    void send(std::span<const std::byte> data) {
        client_->send(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    }

    /** Hands everything the client emitted to the server. */
    void receive() { pump(client_cb_, *server_, server_end_.get()); }

    /** The server's direction: it sends, the client receives. */
    void send_back(std::span<const std::byte> data) {
        server_->send(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    }
    void receive_back() { pump(server_cb_, *client_, client_end_.get()); }
    /** Where plaintext the client receives goes (receive_back). */
    void client_sink(std::span<std::byte> sink) { client_cb_.sink = sink; }

    bool resumed() const noexcept { return client_cb_.certificates == 0; }
    std::size_t in_flight() const { return server_end_ ? server_end_->available() : client_cb_.out.size(); }
    const botan_endpoint& client_side() const noexcept { return client_cb_; }
    const botan_endpoint& server_side() const noexcept { return server_cb_; }

private:
    /** Hands `to` what `from` emitted: from the vector, or read out of
        `to`'s end of the memory pair. */
    static void pump(botan_endpoint& from, Botan::TLS::Channel& to, tlsw::memory_pair::end* to_end) {
        if (to_end) {
            static std::vector<std::uint8_t> in(read_buffer_size);
            for (;;) {
                auto n = to_end->read_some(std::as_writable_bytes(std::span(in)));
                if (!n || *n == 0)
                    return;  // would block: all taken
                to.received_data(in.data(), *n);
            }
        }
        if (from.out.empty())
            return;
        // Safe to pass from.out: `to` emits into its own endpoint, never into this vector.
        to.received_data(from.out.data(), from.out.size());
        from.out.clear();
    }

    // The transport, when there is one: before the callbacks that write to it.
    std::unique_ptr<tlsw::memory_pair::end> client_end_;
    std::unique_ptr<tlsw::memory_pair::end> server_end_;
    botan_endpoint client_cb_;
    botan_endpoint server_cb_;
    std::unique_ptr<Botan::TLS::Client> client_;
    std::unique_ptr<Botan::TLS::Server> server_;
};

// ---- OpenSSL ---------------------------------------------------------------------

inline std::string openssl_errors() {
    std::string text;
    while (unsigned long e = ERR_get_error()) {
        char line[256];
        ERR_error_string_n(e, line, sizeof line);
        text += text.empty() ? "" : "; ";
        text += line;
    }
    return text.empty() ? "no OpenSSL error queued" : text;
}

inline void ossl_check(bool ok, const char* what) {
    if (!ok)
        die(std::string("OpenSSL: ") + what + ": " + openssl_errors());
}

/** SSL_CTXs for both sides: TLS 1.2 only, the one suite, X25519 then P-256
    (tlsw's order), no tickets; the client verifies the chain and the host
    name against the test CA. With `cache` the server keeps a session cache
    (OpenSSL's default) and a client resumes the session it is handed;
    without it nothing is cached. */
class openssl_contexts {
public:
    explicit openssl_contexts(bool cache = false)
        : client_(SSL_CTX_new(TLS_client_method())), server_(SSL_CTX_new(TLS_server_method())) {
        ossl_check(client_ && server_, "SSL_CTX_new");
        for (SSL_CTX* ctx : {client_, server_}) {
            ossl_check(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, "min version");
            ossl_check(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) == 1, "max version");
            ossl_check(SSL_CTX_set_cipher_list(ctx, openssl_suite) == 1, "cipher list");
            ossl_check(SSL_CTX_set1_groups_list(ctx, "X25519:P-256") == 1, "groups");
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        }
        if (cache) {
            SSL_CTX_set_session_cache_mode(server_, SSL_SESS_CACHE_SERVER);
            static const unsigned char id[] = "tlsw-bench";
            ossl_check(SSL_CTX_set_session_id_context(server_, id, sizeof id - 1) == 1, "session id context");
        }
        const auto& pem = pki().pem;
        X509* leaf = read_cert(pem.leaf_cert_pem);
        X509* ca = read_cert(pem.ca_cert_pem);
        ossl_check(SSL_CTX_use_certificate(server_, leaf) == 1, "use_certificate");
        ossl_check(SSL_CTX_add1_chain_cert(server_, ca) == 1, "add1_chain_cert");  // send leaf + CA, as tlsw does
        BIO* key_bio = BIO_new_mem_buf(pem.leaf_key_pem.data(), static_cast<int>(pem.leaf_key_pem.size()));
        EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
        BIO_free(key_bio);
        ossl_check(key != nullptr, "read key");
        ossl_check(SSL_CTX_use_PrivateKey(server_, key) == 1, "use_PrivateKey");
        ossl_check(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_), ca) == 1, "trust CA");
        SSL_CTX_set_verify(client_, SSL_VERIFY_PEER, nullptr);
        EVP_PKEY_free(key);
        X509_free(ca);
        X509_free(leaf);
    }
    ~openssl_contexts() {
        SSL_CTX_free(client_);
        SSL_CTX_free(server_);
    }
    openssl_contexts(const openssl_contexts&) = delete;
    openssl_contexts& operator=(const openssl_contexts&) = delete;

    /** Restricts the signature algorithms both sides offer (e.g. "ECDSA+SHA256"). */
    void sigalgs(const char* list) {
        for (SSL_CTX* ctx : {client_, server_})
            ossl_check(SSL_CTX_set1_sigalgs_list(ctx, list) == 1, "sigalgs");
    }

    SSL_CTX* client() const noexcept { return client_; }
    SSL_CTX* server() const noexcept { return server_; }

private:
    static X509* read_cert(const std::string& pem) {
        BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
        X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
        BIO_free(bio);
        ossl_check(cert != nullptr, "read certificate");
        return cert;
    }

    SSL_CTX* client_;
    SSL_CTX* server_;
};

class openssl_pair {
public:
    /** Over a BIO pair buffering `capacity` bytes each way; the client
        offers `resume` when given. */
    openssl_pair(const openssl_contexts& ctx, std::size_t capacity, SSL_SESSION* resume = nullptr)
        : client_(SSL_new(ctx.client())), server_(SSL_new(ctx.server())) {
        ossl_check(client_ && server_, "SSL_new");
        BIO* a = nullptr;
        BIO* b = nullptr;
        ossl_check(BIO_new_bio_pair(&a, capacity, &b, capacity) == 1, "BIO_new_bio_pair");
        SSL_set_bio(client_, a, a);  // each SSL owns its end
        SSL_set_bio(server_, b, b);
        server_bio_ = b;
        SSL_set_connect_state(client_);
        SSL_set_accept_state(server_);
        ossl_check(SSL_set_tlsext_host_name(client_, "localhost") == 1, "SNI");
        ossl_check(SSL_set1_host(client_, "localhost") == 1, "set1_host");
        if (resume)
            ossl_check(SSL_set_session(client_, resume) == 1, "set_session");
    }
    ~openssl_pair() {
        // OpenSSL drops from its cache the session of a connection freed
        // without shutdown: end as cleanly as the other implementations.
        SSL_set_shutdown(client_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_set_shutdown(server_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(client_);
        SSL_free(server_);
    }
    openssl_pair(const openssl_pair&) = delete;
    openssl_pair& operator=(const openssl_pair&) = delete;

    void handshake() {
        bool client_done = false;
        bool server_done = false;
        for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
            if (!client_done)
                client_done = step(client_, SSL_do_handshake(client_));
            if (!server_done)
                server_done = step(server_, SSL_do_handshake(server_));
        }
        check(client_done && server_done, "OpenSSL: the handshake did not complete");
    }

    void send(std::span<const std::byte> data) {
        const int n = SSL_write(client_, data.data(), static_cast<int>(data.size()));
        ossl_check(n == static_cast<int>(data.size()), "SSL_write");
    }

    void receive(std::size_t n, std::span<std::byte> buffer) {
        while (n > 0) {
            const int r = SSL_read(server_, buffer.data(), static_cast<int>(buffer.size()));
            ossl_check(r > 0 && static_cast<std::size_t>(r) <= n, "SSL_read");
            n -= static_cast<std::size_t>(r);
        }
    }

    /** The server's direction: it sends, the client receives. */
    void send_back(std::span<const std::byte> data) {
        const int n = SSL_write(server_, data.data(), static_cast<int>(data.size()));
        ossl_check(n == static_cast<int>(data.size()), "SSL_write (server)");
    }
    void receive_back(std::size_t n, std::span<std::byte> buffer) {
        while (n > 0) {
            const int r = SSL_read(client_, buffer.data(), static_cast<int>(buffer.size()));
            ossl_check(r > 0 && static_cast<std::size_t>(r) <= n, "SSL_read (client)");
            n -= static_cast<std::size_t>(r);
        }
    }

    std::size_t in_flight() const { return BIO_ctrl_pending(server_bio_); }

    SSL* client() const noexcept { return client_; }
    SSL* server() const noexcept { return server_; }

private:
    static bool step(SSL* ssl, int rc) {
        if (rc == 1)
            return true;
        const int e = SSL_get_error(ssl, rc);
        ossl_check(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE, "handshake");
        return false;
    }

    SSL* client_;
    SSL* server_;
    BIO* server_bio_ = nullptr;
};

/** What an OpenSSL client negotiated, for the setup report. */
inline std::string openssl_negotiated(SSL* client) {
    std::string text = std::string(SSL_get_version(client)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(client));
    EVP_PKEY* tmp = nullptr;
    if (SSL_get_peer_tmp_key(client, &tmp) == 1 && tmp) {
        text += std::string(", group ") + OBJ_nid2sn(EVP_PKEY_get_id(tmp));
        if (EVP_PKEY_get_id(tmp) == EVP_PKEY_EC) {
            char name[64] = {};
            std::size_t len = 0;
            if (EVP_PKEY_get_group_name(tmp, name, sizeof name, &len) == 1)
                text += std::string(" ") + name;
        }
        EVP_PKEY_free(tmp);
    }
    int hash = NID_undef;
    if (SSL_get_peer_signature_nid(client, &hash) == 1)
        text += std::string(", server signs with ") + OBJ_nid2sn(hash);
    text += SSL_get_verify_result(client) == X509_V_OK ? ", chain verified" : ", chain NOT verified";
    return text;
}

}  // namespace bench

#endif
