#ifndef TLSW_TESTS_SUPPORT_HARNESS_HPP
#define TLSW_TESTS_SUPPORT_HARNESS_HPP

// What the stream tests share: one test PKI per process, contexts made from
// it, the policy combinations, and loops that drive two streams in one
// thread over a nonblocking pair.

#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tlsw.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace tlsw_test {

struct pki_env {
    tlsw::testing::test_pki pki;
    tlsw::credentials server_credentials;
};

/** The process's test PKI: a CA and a leaf for "localhost", made once. */
inline const pki_env& env() {
    static const pki_env instance = [] {
        auto pki = tlsw::testing::make_test_pki("localhost");
        auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
        if (!creds)
            throw std::runtime_error("test PKI credentials do not load: " + creds.error().message());
        return pki_env{std::move(pki), *creds};
    }();
    return instance;
}

/** A server context presenting the test leaf. */
inline tlsw::context server_context() { return tlsw::context::server(env().server_credentials); }

/** A client context trusting only the test CA. */
inline tlsw::context client_context() {
    auto ctx = tlsw::context::client();
    ctx.use_system_trust(false);
    if (!ctx.trust(env().pki.ca_cert_pem))
        throw std::runtime_error("test CA does not load");
    return ctx;
}

/** Credentials the test CA issued to a client: "client.test", 127.0.0.1
    and ::1 (the peer-identity tests read the IP names), made once. */
inline const tlsw::credentials& client_credentials() {
    static const tlsw::credentials creds = [] {
        tlsw::testing::pki_options options;
        options.hosts = {"client.test", "127.0.0.1", "::1"};
        auto leaf = tlsw::testing::issue_leaf(env().pki, options);
        return *tlsw::credentials::from_pem(leaf.chain_pem, leaf.leaf_key_pem);
    }();
    return creds;
}

/** `ctx` limited to TLS 1.2, for tests of TLS 1.2's wire or semantics
    (renegotiation, session IDs, record types) on an engine that prefers
    TLS 1.3; on Botan 2 it changes nothing. */
inline tlsw::context tls12(tlsw::context ctx) {
    if (!ctx.versions(tlsw::tls_version::tls12, tlsw::tls_version::tls12))
        throw std::runtime_error("TLS 1.2 refused");
    return ctx;
}

/** The version string a default client and server negotiate: the highest
    the engine speaks. */
inline std::string default_version() {
    auto probe = tlsw::context::client();
    return probe.versions(tlsw::tls_version::tls13, tlsw::tls_version::tls13) ? "TLS v1.3" : "TLS v1.2";
}

inline tlsw::stream_options localhost() { return {.server_name = "localhost"}; }

/** A policy combination, as a type the template test cases iterate over. */
template <class... Policies>
struct policies {
    template <class Transport>
    using stream = tlsw::tls_stream<Transport, Policies...>;
};

using all_policies = std::tuple<policies<>,  // full_write, fixed_buffer
                                policies<tlsw::partial_write>,
                                policies<tlsw::moving_buffer, tlsw::full_write>,
                                policies<tlsw::partial_write, tlsw::moving_buffer>>;

/** A small seeded generator: the same sequence everywhere. */
struct seeded {
    std::uint64_t state;
    std::uint64_t next() noexcept {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    /** A number in [lo, hi]. */
    std::size_t between(std::size_t lo, std::size_t hi) noexcept { return lo + next() % (hi - lo + 1); }
};

/** Deterministic bytes: the content check catches reordering and duplication. */
inline std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed = 7) {
    std::vector<std::byte> bytes(n);
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& b : bytes) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::byte>(x);
    }
    return bytes;
}

/** Where two byte sequences first differ: their common length when one is
    a prefix of the other, and npos when they are equal. Compare with this
    rather than ==, whose failure message would print megabytes. */
inline std::size_t first_difference(std::span<const std::byte> a, std::span<const std::byte> b) {
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia == a.end() && ib == b.end())
        return std::string::npos;
    return static_cast<std::size_t>(ia - a.begin());
}

/** Checks that `got` is `want`, byte for byte. */
#define CHECK_SAME_BYTES(got, want)                                                        \
    do {                                                                                   \
        CHECK((got).size() == (want).size());                                              \
        CHECK(::tlsw_test::first_difference((got), (want)) == std::string::npos);          \
    } while (false)

/** Writes all of `data` with as many calls as the write mode needs,
    running `other` after every want_read / want_write. */
template <class W, class Other>
tlsw::result<std::size_t> write_all(W& writer, std::span<const std::byte> data, Other&& other) {
    std::size_t offset = 0;
    do {
        auto n = retry([&] { return writer.write(data.subspan(offset)); }, other);
        if (!n)
            return n;
        offset += *n;
    } while (offset < data.size());
    return offset;
}

/** Repeats `call` until it succeeds or fails for good, running `other`
    (the peer's progress) after every want_read / want_write. */
template <class Call, class Other>
auto retry(Call&& call, Other&& other, int limit = 100000) {
    auto r = call();
    while (!r && r.error().retryable() && --limit > 0) {
        other();
        r = call();
    }
    return r;
}

/** Reads on a stream whose handshake is done while its peer's is not: the
    peer's post-handshake messages (TLS 1.3 session tickets) may be larger
    than a small pair holds, and only a read takes them. No application
    data may arrive here. */
template <class S>
void take_post_handshake(S& s) {
    std::byte none[1];
    auto r = s.read(none);
    REQUIRE_FALSE(r);
    INFO(r.error().message());
    REQUIRE(r.error().retryable());
}

/** Runs both handshakes to completion over a nonblocking pair in one
    thread; a side that is done reads what its peer sends after the
    handshake (TLS 1.3 tickets), as a client must to resume. */
template <class A, class B>
void handshake_both(A& a, B& b) {
    bool a_done = false, b_done = false;
    for (int i = 0; i < 1000 && !(a_done && b_done); ++i) {
        if (!a_done) {
            auto r = a.handshake();
            if (!r)
                REQUIRE(r.error().retryable());
            a_done = r.has_value();
        } else {
            take_post_handshake(a);
        }
        if (!b_done) {
            auto r = b.handshake();
            if (!r)
                REQUIRE(r.error().retryable());
            b_done = r.has_value();
        } else {
            take_post_handshake(b);
        }
    }
    REQUIRE(a_done);
    REQUIRE(b_done);
    take_post_handshake(a);
    take_post_handshake(b);
}

/** Writes `data` from `writer` in calls of at most `chunk` bytes (repeating
    each call with the same arguments after want_*), reads on `reader` until
    everything arrived, in one thread. Returns what the reader received. */
template <class W, class R>
std::vector<std::byte> transfer(W& writer, R& reader, std::span<const std::byte> data, std::size_t chunk) {
    std::vector<std::byte> received;
    std::vector<std::byte> buffer(20000);
    std::size_t offset = 0;
    bool wrote_empty = data.empty();
    for (int rounds = 0; rounds < 1000000 && (offset < data.size() || received.size() < data.size() || !wrote_empty);
         ++rounds) {
        if (offset < data.size() || !wrote_empty) {
            auto piece = data.subspan(offset, std::min(chunk, data.size() - offset));
            auto n = writer.write(piece);
            if (n) {
                REQUIRE(*n <= piece.size());
                if (!W::partial_write)
                    REQUIRE(*n == piece.size());
                offset += *n;
                wrote_empty = true;
            } else {
                INFO(n.error().message());
                REQUIRE(n.error().retryable());
            }
        }
        auto m = reader.read(buffer);
        if (m) {
            REQUIRE(*m > 0);
            received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*m));
        } else {
            INFO(m.error().message());
            REQUIRE(m.error().retryable());
        }
    }
    return received;
}

/** Reads on `s` until it returns an error, appending what arrives to
    `out`; returns that error (want_read when the stream is simply idle). */
template <class S>
tlsw::tls_error drain(S& s, std::vector<std::byte>& out) {
    std::vector<std::byte> buffer(20000);
    for (;;) {
        auto r = s.read(buffer);
        if (!r)
            return r.error();
        out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*r));
    }
}

/** Whether a stream type returns from write with part of its data taken. */
template <class S>
constexpr bool is_partial = S::partial_write;

inline std::size_t lines_in(std::string_view text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace tlsw_test

#endif
