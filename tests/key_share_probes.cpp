// The group-related probes of a TLS 1.3 conformance suite, as raw
// ClientHellos fed to a default tlsw server (issue 22, item 6): an invalid
// key share (an x25519 share of zeros, a P-256 point off the curve) fails
// with illegal_parameter, supported_groups without key_share with
// missing_extension, an empty key_share list gets a HelloRetryRequest. A
// plain Botan server with Botan's default policy answers each probe in the
// same test, and tlsw must answer as it does. On Botan 2 (TLS 1.2 only)
// both answer the probes' TLS 1.3 extensions as the TLS 1.2 they do not
// know: with a TLS 1.2 ServerHello.

#include "support/botan_peer.hpp"
#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/tls_stream.hpp>

#include <botan/tls_policy.h>
#if BOTAN_VERSION_MAJOR >= 3
#include <botan/tls_session_manager_noop.h>
#include <botan/x25519.h>
#else
#include <botan/curve25519.h>
#endif

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace tlsw_test;

namespace {

constexpr std::uint16_t probe_x25519 = 0x001D;
constexpr std::uint16_t probe_secp256r1 = 0x0017;

/** A key_share entry: the group and its key_exchange bytes. */
struct probe_share {
    std::uint16_t group;
    std::vector<std::uint8_t> key;
};

/** What a probe ClientHello carries besides the fixed parts. */
struct probe_hello {
    std::vector<std::uint16_t> groups;              ///< supported_groups
    std::optional<std::vector<probe_share>> shares;  ///< key_share; nothing: no extension
};

void put16(std::vector<std::uint8_t>& out, std::size_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put_extension(std::vector<std::uint8_t>& out, std::uint16_t type, const std::vector<std::uint8_t>& body) {
    put16(out, type);
    put16(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
}

/** A ClientHello record offering TLS 1.3 and 1.2 (RFC 8446 4.1.2), with
    the usual extensions and the probe's supported_groups and key_share. */
std::vector<std::byte> probe_record(const probe_hello& probe) {
    std::vector<std::uint8_t> hello;
    put16(hello, 0x0303);                          // legacy_version
    for (int i = 0; i < 32; ++i)                   // random
        hello.push_back(static_cast<std::uint8_t>(i * 7 + 1));
    hello.push_back(32);                           // legacy_session_id (middlebox compatibility)
    for (int i = 0; i < 32; ++i)
        hello.push_back(static_cast<std::uint8_t>(0xA0 + i));
    const std::vector<std::uint16_t> suites = {0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F};
    put16(hello, suites.size() * 2);
    for (auto s : suites)
        put16(hello, s);
    hello.push_back(1);  // compression: null only
    hello.push_back(0);

    std::vector<std::uint8_t> ext;
    put_extension(ext, 43, {4, 0x03, 0x04, 0x03, 0x03});          // supported_versions: 1.3, 1.2
    put_extension(ext, 13, {0, 8, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03});  // signature_algorithms
    put_extension(ext, 0xFF01, {0});                              // renegotiation_info (TLS 1.2)
    put_extension(ext, 23, {});                                   // extended_master_secret (TLS 1.2)
    std::vector<std::uint8_t> groups;
    put16(groups, probe.groups.size() * 2);
    for (auto g : probe.groups)
        put16(groups, g);
    put_extension(ext, 10, groups);
    if (probe.shares) {
        std::vector<std::uint8_t> entries;
        for (const auto& share : *probe.shares) {
            put16(entries, share.group);
            put16(entries, share.key.size());
            entries.insert(entries.end(), share.key.begin(), share.key.end());
        }
        std::vector<std::uint8_t> body;
        put16(body, entries.size());
        body.insert(body.end(), entries.begin(), entries.end());
        put_extension(ext, 51, body);
    }
    put16(hello, ext.size());
    hello.insert(hello.end(), ext.begin(), ext.end());

    std::vector<std::uint8_t> record = {22, 0x03, 0x01};
    put16(record, hello.size() + 4);
    record.push_back(1);  // client_hello
    record.push_back(static_cast<std::uint8_t>(hello.size() >> 16));
    put16(record, hello.size() & 0xFFFF);
    record.insert(record.end(), hello.begin(), hello.end());
    const auto bytes = std::as_bytes(std::span(record));
    return {bytes.begin(), bytes.end()};
}

/** How a server answered a probe: an alert, a ServerHello, or a
    HelloRetryRequest, and for the last two the group it names. */
struct probe_answer {
    std::string kind;  ///< "alert", "server_hello", "hello_retry_request", or what else came
    int alert = -1;
    std::uint16_t group = 0;

    bool operator==(const probe_answer&) const = default;
};

std::ostream& operator<<(std::ostream& os, const probe_answer& a) {
    return os << a.kind << " alert " << a.alert << " group 0x" << std::hex << a.group << std::dec;
}

/** Reads the first record a server sent in answer to a probe. */
probe_answer parse_answer(const std::vector<std::uint8_t>& out) {
    if (out.size() < 7)
        return {"nothing"};
    if (out[0] == 21)
        return {"alert", out[6]};
    if (out[0] != 22 || out[5] != 2 || out.size() < 5 + 4 + 2 + 32 + 1)
        return {"record type " + std::to_string(out[0])};
    // RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello with this random.
    static constexpr std::uint8_t hrr_random[32] = {
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
    std::size_t p = 5 + 4 + 2;
    probe_answer a{std::equal(hrr_random, hrr_random + 32, out.begin() + static_cast<std::ptrdiff_t>(p))
                       ? "hello_retry_request"
                       : "server_hello"};
    p += 32;
    p += 1 + out[p];  // session id
    p += 2 + 1;       // cipher suite, compression
    if (p + 2 > out.size())
        return a;
    const std::size_t end = std::min(out.size(), p + 2 + (std::size_t(out[p]) << 8 | out[p + 1]));
    for (p += 2; p + 4 <= end;) {
        const unsigned type = out[p] << 8 | out[p + 1];
        const std::size_t len = std::size_t(out[p + 2]) << 8 | out[p + 3];
        if (type == 51 && len >= 2)
            a.group = static_cast<std::uint16_t>(out[p + 4] << 8 | out[p + 5]);
        p += 4 + len;
    }
    return a;
}

/** The answer of a default tlsw server to `probe`. */
probe_answer tlsw_answer(const probe_hello& probe) {
    auto [raw, end] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> server(server_context(), std::move(end));
    const auto record = probe_record(probe);
    const auto written = raw.write_some(record);
    REQUIRE(written);
    REQUIRE(*written == record.size());
    static_cast<void>(server.handshake());  // fails (an alert) or waits for the client (a hello)
    std::vector<std::uint8_t> out(1 << 16);
    const auto n = raw.read_some(std::as_writable_bytes(std::span(out)));
    out.resize(n ? *n : 0);
    return parse_answer(out);
}

/** A Botan server with Botan's default policy, fed one probe. */
class plain_botan_server final : private Botan::TLS::Callbacks {
public:
    probe_answer answer(const probe_hello& probe) {
        try {
#if BOTAN_VERSION_MAJOR >= 3
            const std::shared_ptr<Botan::TLS::Callbacks> callbacks(std::shared_ptr<void>(),
                                                                   static_cast<Botan::TLS::Callbacks*>(this));
            const std::shared_ptr<Botan::RandomNumberGenerator> rng(std::shared_ptr<void>(), &Botan::system_rng());
            Botan::TLS::Server server(callbacks, std::make_shared<Botan::TLS::Session_Manager_Noop>(),
                                      std::make_shared<peer_credentials>(), std::make_shared<Botan::TLS::Policy>(), rng);
#else
            Botan::TLS::Session_Manager_Noop sessions;
            peer_credentials credentials;
            Botan::TLS::Policy policy;
            Botan::TLS::Server server(*this, sessions, credentials, policy, Botan::system_rng());
#endif
            const auto record = probe_record(probe);
            server.received_data(reinterpret_cast<const std::uint8_t*>(record.data()), record.size());
        } catch (const std::exception&) {
            // The alert is already out.
        }
        return parse_answer(out_);
    }

private:
#if BOTAN_VERSION_MAJOR >= 3
    void tls_emit_data(std::span<const std::uint8_t> data) override { out_.insert(out_.end(), data.begin(), data.end()); }
    void tls_record_received(std::uint64_t, std::span<const std::uint8_t>) override {}
    void tls_session_established(const Botan::TLS::Session_Summary&) override {}
#else
    void tls_emit_data(const std::uint8_t data[], std::size_t size) override { out_.insert(out_.end(), data, data + size); }
    void tls_record_received(std::uint64_t, const std::uint8_t[], std::size_t) override {}
    bool tls_session_established(const Botan::TLS::Session&) override { return false; }
#endif
    void tls_alert(Botan::TLS::Alert) override {}

    std::vector<std::uint8_t> out_;
};

/** A valid x25519 public value. */
std::vector<std::uint8_t> x25519_share() {
    const Botan::X25519_PrivateKey key(Botan::system_rng());
    const auto value = key.public_value();
    return {value.begin(), value.end()};
}

bool probes_tls13() { return default_version() == "TLS v1.3"; }

}  // namespace

TEST_CASE("a default tlsw server answers the key-share probes of a TLS 1.3 conformance suite as Botan's default "
          "server does",
          "[key_exchange][tls13][probe]") {
    struct probe_case {
        const char* name;
        probe_hello hello;
        probe_answer tls13;  // RFC 8446's answer, which Botan's server gives
    };
    // An uncompressed P-256 point (x, y) = (1, 1): not on the curve.
    std::vector<std::uint8_t> off_curve(65, 0);
    off_curve[0] = 4;
    off_curve[32] = 1;
    off_curve[64] = 1;
    const auto c = GENERATE_COPY(
        // The control: the same hello with a valid share completes.
        probe_case{"valid x25519 share", {{probe_x25519}, std::vector<probe_share>{{probe_x25519, x25519_share()}}},
                   {"server_hello", -1, probe_x25519}},
        // RFC 8446 7.4.2: an all-zero X25519 shared secret aborts the handshake.
        probe_case{"x25519 share of zeros",
                   {{probe_x25519}, std::vector<probe_share>{{probe_x25519, std::vector<std::uint8_t>(32, 0)}}},
                   {"alert", 47}},
        // RFC 8446 4.2.8.2: the point must be checked to be on the curve.
        probe_case{"P-256 point off the curve",
                   {{probe_secp256r1}, std::vector<probe_share>{{probe_secp256r1, off_curve}}},
                   {"alert", 47}},
        // RFC 8446 9.2: supported_groups requires key_share.
        probe_case{"supported_groups without key_share", {{probe_x25519}, std::nullopt}, {"alert", 109}},
        // RFC 8446 4.2.8: an empty list asks the server to choose.
        probe_case{"an empty key_share list", {{probe_x25519}, std::vector<probe_share>{}},
                   {"hello_retry_request", -1, probe_x25519}},
        // RFC 8446 4.2.8.2: an X25519 share is 32 bytes.
        probe_case{"an x25519 share of 31 bytes",
                   {{probe_x25519}, std::vector<probe_share>{{probe_x25519, std::vector<std::uint8_t>(31, 9)}}},
                   {"alert", 47}},
        // RFC 8446 4.2.8: at most one share per group, each of a supported group.
        probe_case{"two shares for one group",
                   {{probe_x25519}, std::vector<probe_share>{{probe_x25519, x25519_share()}, {probe_x25519, x25519_share()}}},
                   {"alert", 47}},
        probe_case{"a share for a group not in supported_groups",
                   {{probe_secp256r1}, std::vector<probe_share>{{probe_x25519, x25519_share()}}},
                   {"alert", 47}},
        // A share for a group the server does not know (GREASE) is skipped.
        probe_case{"a share for an unknown group only",
                   {{0x0A0A, probe_x25519}, std::vector<probe_share>{{0x0A0A, {0}}}},
                   {"hello_retry_request", -1, probe_x25519}});
    CAPTURE(c.name);
    const auto botan = plain_botan_server().answer(c.hello);
    const auto ours = tlsw_answer(c.hello);
    CHECK(ours == botan);
    if (probes_tls13())
        CHECK(ours == c.tls13);
    else
        CHECK(ours.kind == "server_hello");  // TLS 1.2, which has no key_share
}
