#ifndef TLSW_TESTS_SUPPORT_BOTAN_PEER_HPP
#define TLSW_TESTS_SUPPORT_BOTAN_PEER_HPP

// Two doubles for the write-contract and renegotiation tests (issue 5):
//
// - recording_transport wraps a transport and logs the TLS records written
//   through it, from their 5-byte headers (the content type and length stay
//   in clear text in TLS 1.2 even after ChangeCipherSpec). A test checks the
//   wire with it: which records went out, in which order, how many bytes.
//
// - botan_peer is a Botan TLS::Client or TLS::Server driven by hand over a
//   memory_pair end: a real peer that is not tlsw. It is also a strict
//   judge: Botan 2 ends a connection that sends it application data while
//   it has a handshake pending ("Can't interleave application and handshake
//   data"), which is exactly what a stream must never do during a
//   renegotiation.
//
// Both speak TLS 1.2 on Botan 2 and on Botan 3, so the tests that count
// records and renegotiate test TLS 1.2 on both engines; tests/tls13.cpp
// checks the write contract under TLS 1.3. Where Botan 3's constructors and
// callbacks differ, BOTAN_VERSION_MAJOR picks the spelling (a few lines
// each; the peer's logic is the same).

#include "harness.hpp"

#include <tlsw/error.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/transport.hpp>

#include <botan/certstor.h>
#include <botan/credentials_manager.h>
#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/tls_client.h>
#include <botan/aead.h>
#include <botan/build.h>
#include <botan/kdf.h>
#include <botan/tls_messages.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#if BOTAN_VERSION_MAJOR >= 3
#include <botan/tls_session_manager_memory.h>
#endif
#include <botan/x509cert.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw_test {

/** TLS record content types (RFC 5246 section 6.2.1). */
namespace record_type {
inline constexpr std::uint8_t change_cipher_spec = 20;
inline constexpr std::uint8_t alert = 21;
inline constexpr std::uint8_t handshake = 22;
inline constexpr std::uint8_t application_data = 23;
}  // namespace record_type

/** One record seen on the wire: its content type and its body length. */
struct wire_record {
    std::uint8_t type = 0;
    std::size_t length = 0;  ///< the body, without the 5-byte header
};

/** The records of one direction of a TLS stream, parsed from its bytes as
    they are written, however the writes split them. */
class record_log {
public:
    void feed(std::span<const std::byte> bytes) {
        bytes_ += bytes.size();
        while (!bytes.empty()) {
            if (body_left_ > 0) {
                const std::size_t n = std::min(body_left_, bytes.size());
                body_left_ -= n;
                bytes = bytes.subspan(n);
                continue;
            }
            header_[header_used_++] = std::to_integer<std::uint8_t>(bytes.front());
            bytes = bytes.subspan(1);
            if (header_used_ == header_.size()) {
                header_used_ = 0;
                body_left_ = std::size_t{header_[3]} << 8 | header_[4];
                records_.push_back({header_[0], body_left_});
            }
        }
    }

    /** Every record whose header went out, in order. */
    const std::vector<wire_record>& records() const noexcept { return records_; }
    /** Where the next record will be logged: a mark for the queries below. */
    std::size_t mark() const noexcept { return records_.size(); }
    /** Every byte written. */
    std::size_t bytes() const noexcept { return bytes_; }
    /** True when the last record went out whole. */
    bool at_boundary() const noexcept { return header_used_ == 0 && body_left_ == 0; }

    /** How many records of `type` went out from `from` on. */
    std::size_t count(std::uint8_t type, std::size_t from = 0) const {
        std::size_t n = 0;
        for (std::size_t i = from; i < records_.size(); ++i)
            n += records_[i].type == type;
        return n;
    }
    /** Bytes on the wire, headers included, of the records of `type` from `from` on. */
    std::size_t wire_bytes(std::uint8_t type, std::size_t from = 0) const {
        std::size_t n = 0;
        for (std::size_t i = from; i < records_.size(); ++i)
            if (records_[i].type == type)
                n += 5 + records_[i].length;
        return n;
    }
    /** The index of the first record of `type` at or after `from`, or npos. */
    std::size_t find(std::uint8_t type, std::size_t from = 0) const {
        for (std::size_t i = from; i < records_.size(); ++i)
            if (records_[i].type == type)
                return i;
        return npos;
    }
    /** The content types from `from` on, e.g. "22 22 20 22 23", for INFO(). */
    std::string describe(std::size_t from = 0) const {
        std::string text;
        for (std::size_t i = from; i < records_.size(); ++i)
            text += (text.empty() ? "" : " ") + std::to_string(records_[i].type);
        return text;
    }

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

private:
    std::vector<wire_record> records_;
    std::array<std::uint8_t, 5> header_{};
    std::size_t header_used_ = 0;
    std::size_t body_left_ = 0;
    std::size_t bytes_ = 0;
};

/** A transport that forwards to `Next` and logs the records written
    through it: the bytes the wrapped transport took, nothing else. */
template <tlsw::transport Next>
class recording_transport {
public:
    static constexpr bool can_block = tlsw::transport_traits<Next>::can_block;
    static constexpr bool can_would_block = tlsw::transport_traits<Next>::can_would_block;

    explicit recording_transport(Next next) : next_(std::move(next)) {}

    tlsw::io_result read_some(std::span<std::byte> in) { return next_.read_some(in); }

    tlsw::io_result write_some(std::span<const std::byte> out) {
        auto n = next_.write_some(out);
        if (n && *n <= out.size())
            log_.feed(out.first(*n));
        return n;
    }

    bool wait(tlsw::readiness r, std::chrono::milliseconds timeout)
        requires tlsw::waitable_transport<Next>
    {
        return next_.wait(r, timeout);
    }

    const record_log& log() const noexcept { return log_; }
    Next& next() noexcept { return next_; }

private:
    Next next_;
    record_log log_;
};

using recorded_end = recording_transport<tlsw::memory_pair::end>;

/** Checks that the records from `mark` on hold a complete renegotiation
    flight of ours with no application data inside it: the first record is
    a handshake record, a ChangeCipherSpec follows, the record after it is
    a handshake record (Finished), and no type-23 record lies between the
    first handshake record and that Finished. Returns the index after the
    Finished. */
inline std::size_t check_no_application_data_inside_handshake(const record_log& log, std::size_t mark) {
    INFO("records written from the mark on: " << log.describe(mark));
    const std::size_t first = log.find(record_type::handshake, mark);
    REQUIRE(first != record_log::npos);
    const std::size_t ccs = log.find(record_type::change_cipher_spec, first);
    REQUIRE(ccs != record_log::npos);
    REQUIRE(ccs + 1 < log.records().size());
    CHECK(log.records()[ccs + 1].type == record_type::handshake);
    for (std::size_t i = first; i <= ccs + 1; ++i) {
        INFO("record " << i);
        CHECK(log.records()[i].type != record_type::application_data);
    }
    CHECK(log.count(record_type::change_cipher_spec, mark) == 1);
    return ccs + 2;
}

/** What a Botan peer presents and trusts: the test PKI of harness.hpp. */
class peer_credentials final : public Botan::Credentials_Manager {
public:
    peer_credentials() {
        Botan::DataSource_Memory chain(env().pki.chain_pem);
        while (!chain.end_of_data()) {
            try {
                chain_.emplace_back(chain);
            } catch (const Botan::Exception&) {
                break;
            }
        }
        Botan::DataSource_Memory key(env().pki.leaf_key_pem);
        key_ = Botan::PKCS8::load_key(key);
        // Botan never validates a self-signed leaf: trust the CA that issued it.
        Botan::DataSource_Memory ca(env().pki.ca_cert_pem);
        trust_.add_certificate(Botan::X509_Certificate(ca));
    }

    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                           const std::string&) override {
        if (type == "tls-client")
            return {&trust_};
        return {};  // a server that trusts nobody asks for no client certificate
    }

    std::vector<Botan::X509_Certificate> find_cert_chain(const std::vector<std::string>& key_types,
#if BOTAN_VERSION_MAJOR >= 3
                                                         const std::vector<Botan::AlgorithmIdentifier>&,
#endif
                                                         const std::vector<Botan::X509_DN>&, const std::string& type,
                                                         const std::string&) override {
        if (type != "tls-server")
            return {};
        for (const auto& k : key_types)
            if (k == key_->algo_name())
                return chain_;
        return {};
    }

#if BOTAN_VERSION_MAJOR >= 3
    std::shared_ptr<Botan::Private_Key> private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                                        const std::string&) override {
        return !chain_.empty() && cert == chain_.front() ? key_ : nullptr;
    }
#else
    Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                        const std::string&) override {
        return !chain_.empty() && cert == chain_.front() ? key_.get() : nullptr;
    }
#endif

private:
    std::vector<Botan::X509_Certificate> chain_;
    std::shared_ptr<Botan::Private_Key> key_;
    Botan::Certificate_Store_In_Memory trust_;
};

/** A TLS 1.2 policy for the peer: the suites tlsw offers, and
    renegotiation in both directions allowed or refused. */
class peer_policy final : public Botan::TLS::Policy {
public:
    explicit peer_policy(bool allow_renegotiation) : allow_(allow_renegotiation) {}

    std::vector<std::string> allowed_ciphers() const override {
        return {"AES-128/GCM", "AES-256/GCM", "ChaCha20Poly1305"};
    }
    std::vector<std::string> allowed_macs() const override { return {"AEAD"}; }
    std::vector<std::string> allowed_key_exchange_methods() const override { return {"ECDH"}; }
#if BOTAN_VERSION_MAJOR >= 3
    bool allow_tls13() const override { return false; }
    bool allow_ssl_key_log_file() const override { return true; }  // forge_application_data needs the master secret
#else
    bool allow_tls10() const override { return false; }
    bool allow_tls11() const override { return false; }
#endif
    bool allow_client_initiated_renegotiation() const override { return allow_; }
    bool allow_server_initiated_renegotiation() const override { return allow_; }
    bool allow_insecure_renegotiation() const override { return false; }
    // The test CA publishes no CRL or OCSP.
    bool require_cert_revocation_info() const override { return false; }

private:
    bool allow_;
};

/** A Botan TLS 1.2 endpoint driven by hand over one end of a memory_pair:
    the other side of a tlsw stream in tests that must not trust tlsw on
    both sides. pump() moves bytes; send(), renegotiate() and close() act.
    A Botan exception (the peer failing) is caught and kept in failure(). */
class botan_peer final : private Botan::TLS::Callbacks {
public:
    enum class side : unsigned char { client, server };

    botan_peer(side role, tlsw::memory_pair::end end, bool allow_renegotiation = true)
        : end_(std::move(end)), policy_(allow_renegotiation) {
        out_.reserve(1 << 16);
        guard([&] {
#if BOTAN_VERSION_MAJOR >= 3
            // Non-owning: these are members (or the process-wide generator)
            // that outlive channel_, the last member.
            const std::shared_ptr<Botan::TLS::Callbacks> callbacks(std::shared_ptr<void>(),
                                                                   static_cast<Botan::TLS::Callbacks*>(this));
            const std::shared_ptr<Botan::Credentials_Manager> credentials(std::shared_ptr<void>(), &credentials_);
            const std::shared_ptr<const Botan::TLS::Policy> policy(std::shared_ptr<void>(), &policy_);
            const std::shared_ptr<Botan::RandomNumberGenerator> rng(std::shared_ptr<void>(), &Botan::system_rng());
            sessions_ = std::make_shared<Botan::TLS::Session_Manager_In_Memory>(rng);
            auto& sessions = sessions_;
#else
            Botan::TLS::Callbacks& callbacks = *this;
            auto& credentials = credentials_;
            auto& policy = policy_;
            auto& rng = Botan::system_rng();
            auto& sessions = *(sessions_ = std::make_unique<Botan::TLS::Session_Manager_In_Memory>(rng));
#endif
            if (role == side::client)
                channel_ = std::make_unique<Botan::TLS::Client>(callbacks, sessions, credentials, policy, rng,
                                                                Botan::TLS::Server_Information("localhost", 443),
                                                                Botan::TLS::Protocol_Version::TLS_V12);
            else
                channel_ = std::make_unique<Botan::TLS::Server>(callbacks, sessions, credentials, policy, rng);
        });
    }

    botan_peer(const botan_peer&) = delete;
    botan_peer& operator=(const botan_peer&) = delete;

    /** One round: flushes what the peer has to send, feeds it everything
        that arrived, flushes again. Returns true when a byte moved. */
    bool pump() {
        bool moved = flush();
        std::vector<std::byte> in(1 << 15);
        for (;;) {
            auto n = end_.read_some(in);
            if (!n || *n == 0)
                break;
            moved = true;
            guard([&] {
                channel_->received_data(reinterpret_cast<const std::uint8_t*>(in.data()), *n);
            });
        }
        return flush() || moved;
    }

    /** Sends application data (Botan's send(): one record per 16 KiB). */
    void send(std::span<const std::byte> data) {
        guard([&] { channel_->send(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()); });
        flush();
    }
    /** Starts a renegotiation: HelloRequest from a server, ClientHello from a client. */
    void renegotiate(bool force_full = true) {
        guard([&] { channel_->renegotiate(force_full); });
        flush();
    }
    void close() {
        guard([&] { channel_->close(); });
        flush();
    }
    /** Sends an alert, warning or fatal, as a misbehaving peer might. */
    void alert(tlsw::alert type, bool fatal) {
        guard([&] { channel_->send_alert(Botan::TLS::Alert(static_cast<Botan::TLS::Alert::Type>(type), fatal)); });
        flush();
    }

    /** Application-data records encrypted by hand under the peer's current
        write keys (AES-GCM or ChaCha20-Poly1305, TLS 1.2), with sequence
        numbers from `first_sequence` on, for records Botan will not make:
        empty ones, for instance. Right after a handshake the peer finished
        its Finished was sequence 0, so its next record is 1; the peer's own
        send() does not know about these records, so use one or the other. */
    std::vector<std::byte> forge_application_data(std::initializer_list<std::span<const std::byte>> records,
                                                  std::uint64_t first_sequence) const {
        const bool from_server = dynamic_cast<const Botan::TLS::Server*>(channel_.get()) != nullptr;
        const std::string cipher = suite_->cipher_algo();
        const bool chacha = cipher == "ChaCha20Poly1305";
        const std::size_t key_len = suite_->cipher_keylen();
        const std::size_t iv_len = chacha ? 12 : 4;
        // RFC 5246 6.3: client key, server key, client IV, server IV (AEAD
        // suites have no MAC keys).
        std::vector<std::uint8_t> seed(server_random_);
        seed.insert(seed.end(), client_random_.begin(), client_random_.end());
        auto prf = Botan::KDF::create_or_throw("TLS-12-PRF(" + suite_->prf_algo() + ")");
        const std::string label = "key expansion";
        const auto block = prf->derive_key(2 * key_len + 2 * iv_len, master_secret_, seed, std::vector<std::uint8_t>(label.begin(), label.end()));
        const std::uint8_t* key = block.data() + (from_server ? key_len : 0);
        const std::uint8_t* iv = block.data() + 2 * key_len + (from_server ? iv_len : 0);

        std::vector<std::byte> wire;
        std::uint64_t sequence = first_sequence;
        for (auto plaintext : records) {
            auto aead = Botan::AEAD_Mode::create_or_throw(cipher, encryption);
            aead->set_key(key, key_len);
            std::array<std::uint8_t, 13> ad{};
            store_be64(sequence, ad.data());
            ad[8] = record_type::application_data;
            ad[9] = 3;
            ad[10] = 3;
            ad[11] = static_cast<std::uint8_t>(plaintext.size() >> 8);
            ad[12] = static_cast<std::uint8_t>(plaintext.size());
            aead->set_associated_data(ad.data(), ad.size());
            std::array<std::uint8_t, 12> nonce{};
            std::array<std::uint8_t, 8> explicit_nonce{};
            store_be64(sequence, explicit_nonce.data());
            if (chacha) {
                std::copy(iv, iv + 12, nonce.begin());
                for (std::size_t i = 0; i < 8; ++i)
                    nonce[4 + i] ^= explicit_nonce[i];  // RFC 7905: the IV XOR the sequence number
            } else {
                std::copy(iv, iv + 4, nonce.begin());
                std::copy(explicit_nonce.begin(), explicit_nonce.end(), nonce.begin() + 4);
            }
            aead->start(nonce.data(), nonce.size());
            Botan::secure_vector<std::uint8_t> body(reinterpret_cast<const std::uint8_t*>(plaintext.data()),
                                                    reinterpret_cast<const std::uint8_t*>(plaintext.data()) + plaintext.size());
            aead->finish(body);
            const std::size_t length = body.size() + (chacha ? 0 : 8);
            for (std::uint8_t b : {record_type::application_data, std::uint8_t{3}, std::uint8_t{3},
                                   static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)})
                wire.push_back(std::byte{b});
            if (!chacha)
                for (auto b : explicit_nonce)
                    wire.push_back(std::byte{b});
            for (auto b : body)
                wire.push_back(std::byte{b});
            ++sequence;
        }
        return wire;
    }

    bool active() const { return channel_ && channel_->is_active(); }
    bool closed() const { return !channel_ || channel_->is_closed(); }
    /** Completed handshakes: 1 + renegotiations. */
    unsigned activations() const noexcept { return activations_; }
    /** Everything the peer decrypted, in order. */
    const std::vector<std::byte>& received() const noexcept { return received_; }
    /** Alerts the peer received, in order. */
    const std::vector<tlsw::alert>& alerts() const noexcept { return alerts_; }
    /** Why the peer failed (a Botan exception's what()), or empty. */
    const std::string& failure() const noexcept { return failure_; }
    const std::string& cipher_suite() const noexcept { return cipher_suite_; }
    /** The last session's master secret and the last ClientHello's random,
        as the peer saw them: what a key log must name. */
    const Botan::secure_vector<std::uint8_t>& master_secret() const noexcept { return master_secret_; }
    const std::vector<std::uint8_t>& client_random() const noexcept { return client_random_; }
    /** Ciphertext the pair has not taken yet. */
    std::size_t unsent() const noexcept { return out_.size() - out_pos_; }
    tlsw::memory_pair::end& end() noexcept { return end_; }

private:
    static void store_be64(std::uint64_t v, std::uint8_t* out) noexcept {
        for (int i = 7; i >= 0; --i, v >>= 8)
            out[i] = static_cast<std::uint8_t>(v);
    }

    template <class F>
    void guard(F&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            if (failure_.empty())
                failure_ = e.what();
        }
    }

    bool flush() {
        bool moved = false;
        while (out_pos_ < out_.size()) {
            auto n = end_.write_some(std::span(out_).subspan(out_pos_));
            if (!n || *n == 0)
                break;
            out_pos_ += *n;
            moved = true;
        }
        if (out_pos_ == out_.size()) {
            out_.clear();
            out_pos_ = 0;
        }
        return moved;
    }

    void emitted(std::span<const std::uint8_t> data) {
        auto bytes = std::as_bytes(data);
        out_.insert(out_.end(), bytes.begin(), bytes.end());
    }
    void received(std::span<const std::uint8_t> data) {
        auto bytes = std::as_bytes(data);
        received_.insert(received_.end(), bytes.begin(), bytes.end());
    }
#if BOTAN_VERSION_MAJOR >= 3
    static constexpr auto encryption = Botan::Cipher_Dir::Encryption;
    using server_hello = Botan::TLS::Server_Hello_12;
    void tls_emit_data(std::span<const std::uint8_t> data) override { emitted(data); }
    void tls_record_received(std::uint64_t, std::span<const std::uint8_t> data) override { received(data); }
    void tls_session_established(const Botan::TLS::Session_Summary& session) override {
        cipher_suite_ = session.ciphersuite().to_string();
        suite_ = session.ciphersuite();
    }
    // Botan 3's summary has no master secret: the key log hands it over
    // (TLS 1.2: CLIENT_RANDOM; the policy allows the key log).
    void tls_ssl_key_log_data(std::string_view label, std::span<const std::uint8_t>,
                              std::span<const std::uint8_t> secret) const override {
        if (label == "CLIENT_RANDOM")
            master_secret_.assign(secret.begin(), secret.end());
    }
#else
    static constexpr auto encryption = Botan::ENCRYPTION;
    using server_hello = Botan::TLS::Server_Hello;
    void tls_emit_data(const std::uint8_t data[], std::size_t size) override { emitted(std::span(data, size)); }
    void tls_record_received(std::uint64_t, const std::uint8_t data[], std::size_t size) override {
        received(std::span(data, size));
    }
    bool tls_session_established(const Botan::TLS::Session& session) override {
        cipher_suite_ = session.ciphersuite().to_string();
        suite_ = session.ciphersuite();
        master_secret_ = session.master_secret();
        return true;
    }
#endif
    void tls_alert(Botan::TLS::Alert alert) override { alerts_.push_back(static_cast<tlsw::alert>(alert.type())); }
    void tls_session_activated() override { ++activations_; }
    void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& message) override {
        if (const auto* hello = dynamic_cast<const Botan::TLS::Client_Hello*>(&message))
            client_random_ = hello->random();
        else if (const auto* hello = dynamic_cast<const server_hello*>(&message))
            server_random_ = hello->random();
    }

    tlsw::memory_pair::end end_;
    peer_credentials credentials_;
    peer_policy policy_;
    std::shared_ptr<Botan::TLS::Session_Manager> sessions_;  // shared: Botan 3's constructors want that
    std::vector<std::byte> out_;
    std::size_t out_pos_ = 0;
    std::vector<std::byte> received_;
    std::vector<tlsw::alert> alerts_;
    std::string failure_;
    std::string cipher_suite_;
    std::optional<Botan::TLS::Ciphersuite> suite_;  // no default constructor in Botan 3
    mutable Botan::secure_vector<std::uint8_t> master_secret_;  // set by a const callback on Botan 3
    std::vector<std::uint8_t> client_random_, server_random_;
    unsigned activations_ = 0;
    std::unique_ptr<Botan::TLS::Channel> channel_;  // last: it refers to everything above
};

/** Record overhead of the negotiated suite in TLS 1.2: 29 bytes for
    AES-GCM (header, explicit nonce, tag), 21 for ChaCha20-Poly1305. */
inline std::size_t record_overhead(const std::string& cipher_suite) {
    return cipher_suite.find("_GCM_") != std::string::npos ? 29 : 21;
}

/** A server context that accepts a client's renegotiation. */
inline tlsw::context renegotiating_server_context() {
    auto ctx = server_context();
    ctx.allow_client_renegotiation(true);
    return ctx;
}

/** A tlsw client and server over a nonblocking pair, each writing through
    a recording_transport: `P` is a policy combination from all_policies.
    The client offers TLS 1.2 only: the tests that read its record log
    check TLS 1.2's wire (record types, HelloRequest, renegotiation). */
template <class P>
struct wired {
    using stream = typename P::template stream<recorded_end>;

    explicit wired(std::size_t capacity = 64 * 1024, tlsw::context server_ctx = server_context())
        : wired(tlsw::memory_pair::make(capacity), std::move(server_ctx)) {}

    stream client;
    stream server;

    stream& side(bool client_side) noexcept { return client_side ? client : server; }
    stream& other(bool client_side) noexcept { return client_side ? server : client; }

private:
    wired(std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends, tlsw::context server_ctx)
        : client(tls12(client_context()), recorded_end(std::move(ends.first)), localhost()),
          server(server_ctx, recorded_end(std::move(ends.second))) {}
};

/** Reads on `s` until `out` holds `size` bytes, running `other` after
    every want_read / want_write. Returns the first final error, if any. */
template <class S, class Other>
tlsw::result<void> read_until(S& s, std::vector<std::byte>& out, std::size_t size, Other&& other,
                              int limit = 100000) {
    std::vector<std::byte> buffer(20000);
    while (out.size() < size && --limit > 0) {
        auto r = s.read(buffer);
        if (r) {
            out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*r));
        } else if (r.error().retryable()) {
            other();
        } else {
            return tlsw::unexpected(r.error());
        }
    }
    if (out.size() < size)
        return tlsw::unexpected(tlsw::tls_error(tlsw::errc::want_read));
    return {};
}

/** The concatenation of byte sequences. */
inline std::vector<std::byte> concat(std::initializer_list<std::span<const std::byte>> parts) {
    std::vector<std::byte> all;
    for (auto p : parts)
        all.insert(all.end(), p.begin(), p.end());
    return all;
}

}  // namespace tlsw_test

#endif
