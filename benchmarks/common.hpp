#ifndef TLSW_BENCHMARKS_COMMON_HPP
#define TLSW_BENCHMARKS_COMMON_HPP

// What the benchmarks share that needs tlsw alone (no raw Botan API, no
// OpenSSL), so that it builds on either engine, Botan 2 or Botan 3:
// failure checks, payloads, the test PKI, tlsw contexts and tlsw_pair (two
// tlsw::tls_stream over a tlsw::memory_pair in one thread), and the timing
// helpers. A failure is a bug in the benchmark, not a result: it aborts
// with a message.

#include <tlsw/testing/test_pki.hpp>
#include <tlsw/tlsw.hpp>

#include <time.h>

// Switches callgrind's collection on or off (run with
// --collect-atstart=no), so that only a measured loop is counted. Without
// valgrind's header it does nothing and the counts include the setup.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define TLSW_BENCH_TOGGLE_COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define TLSW_BENCH_TOGGLE_COLLECT() ((void)0)
#endif

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace bench {

[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "tlsw benchmark: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

/** Takes a C string: a std::string parameter would allocate on every call,
    and these checks run inside the measured loops. */
inline void check(bool ok, const char* what) {
    if (!ok)
        die(what);
}

inline constexpr std::size_t max_record = 16384;
/** The server's read buffer in every benchmark. */
inline constexpr std::size_t read_buffer_size = 64 * 1024;

/** Bytes on the wire for one write of `n` bytes: 29 per AES-GCM record
    (5-byte header, 8-byte explicit nonce, 16-byte tag). */
constexpr std::size_t wire_size(std::size_t n) { return n + (n + max_record - 1) / max_record * 29; }

/** Deterministic payload bytes. */
inline std::vector<std::byte> payload(std::size_t n) {
    std::vector<std::byte> bytes(n);
    std::uint32_t x = 2463534242u;
    for (auto& b : bytes) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::byte>(x);
    }
    return bytes;
}

/** `Count` messages of `Size` bytes, as separate buffers (for gather writes). */
template <std::size_t Size, std::size_t Count>
struct message_batch {
    std::vector<std::byte> bytes = payload(Size * Count);
    std::array<std::span<const std::byte>, Count> spans{};
    message_batch() {
        for (std::size_t i = 0; i < Count; ++i)
            spans[i] = std::span<const std::byte>(bytes).subspan(i * Size, Size);
    }
};

/** What a gather write does by hand where there is none (raw Botan,
    OpenSSL): copies `buffers` one after another into `staging`, which must
    be large enough, and returns the part used. */
inline std::span<const std::byte> coalesce(std::span<const std::span<const std::byte>> buffers,
                                           std::span<std::byte> staging) {
    std::size_t at = 0;
    for (auto b : buffers) {
        if (!b.empty())
            std::memcpy(staging.data() + at, b.data(), b.size());
        at += b.size();
    }
    return staging.first(at);
}

// ---- the test PKI ------------------------------------------------------------

struct pki_data {
    tlsw::testing::test_pki pem;  ///< CA and P-256 leaf for "localhost"
    tlsw::credentials creds;      ///< the leaf's chain and key, for tlsw
};

/** One CA and leaf per process, shared by all three implementations. */
inline const pki_data& pki() {
    static const pki_data instance = [] {
        auto pem = tlsw::testing::make_test_pki("localhost");
        auto creds = tlsw::credentials::from_pem(pem.chain_pem, pem.leaf_key_pem);
        check(creds.has_value(), "test PKI credentials do not load");
        return pki_data{std::move(pem), *creds};
    }();
    return instance;
}

// ---- tlsw ------------------------------------------------------------------------

struct tlsw_contexts {
    tlsw::context client;
    tlsw::context server;
};

/** Turns a context's session cache off, where tlsw offers the switch
    (context::session_cache); returns false where it does not. */
template <class Context>
bool switch_session_cache_off(Context& ctx) {
    if constexpr (requires { ctx.session_cache(false); }) {
        ctx.session_cache(false);
        return true;
    } else {
        return false;
    }
}

/** True when tlsw's session cache can be turned off per context. */
inline bool tlsw_cache_switchable() {
    static const bool switchable = [] {
        auto ctx = tlsw::context::client();
        return switch_session_cache_off(ctx);
    }();
    return switchable;
}

/** A server presenting the test leaf, a client trusting only the test CA.
    `session_tickets` false turns tickets off on both sides. `session_cache`
    false turns the session cache off on both where tlsw can; where it
    cannot, a handshake benchmark avoids resumption by giving each
    connection its own cache key (the port). */
inline tlsw_contexts make_tlsw_contexts(bool session_tickets = true, bool session_cache = true) {
    tlsw_contexts ctx{tlsw::context::client(), tlsw::context::server(pki().creds)};
    ctx.client.use_system_trust(false);
    check(ctx.client.trust(pki().pem.ca_cert_pem).has_value(), "tlsw: the test CA does not load");
    if (!session_tickets) {
        ctx.client.session_tickets(false);
        ctx.server.session_tickets(false);
    }
    if (!session_cache) {
        switch_session_cache_off(ctx.client);
        switch_session_cache_off(ctx.server);
    }
    return ctx;
}

class tlsw_pair {
public:
    using stream = tlsw::tls_stream<tlsw::memory_pair::end>;  // full_write, fixed_buffer

    tlsw_pair(const tlsw_contexts& ctx, std::size_t capacity, std::uint16_t port = 443)
        : tlsw_pair(ctx, tlsw::memory_pair::make(capacity), port) {}

    void handshake() {
        bool client_done = false;
        bool server_done = false;
        for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
            if (!client_done)
                client_done = step(client.handshake());
            if (!server_done)
                server_done = step(server.handshake());
        }
        check(client_done && server_done, "tlsw: the handshake did not complete");
    }

    void send(std::span<const std::byte> data) {
        auto n = client.write(data);
        if (!n)
            die("tlsw: write failed: " + n.error().message());
        check(*n == data.size(), "tlsw: short write");
    }

    /** A gather write: `buffers` must be a contiguous range of spans. */
    template <class Buffers>
    void send_gather(const Buffers& buffers, std::size_t total) {
        auto n = client.write(buffers);
        if (!n)
            die("tlsw: gather write failed: " + n.error().message());
        check(*n == total, "tlsw: short gather write");
    }

    void receive(std::size_t n, std::span<std::byte> buffer) {
        while (n > 0) {
            auto r = server.read(buffer);
            if (!r)
                die("tlsw: read failed: " + r.error().message());
            check(*r <= n, "tlsw: read more than was sent");
            n -= *r;
        }
    }

    /** The server's direction: it writes, the client reads. */
    void send_back(std::span<const std::byte> data) {
        auto n = server.write(data);
        if (!n)
            die("tlsw: server write failed: " + n.error().message());
        check(*n == data.size(), "tlsw: short server write");
    }
    void receive_back(std::size_t n, std::span<std::byte> buffer) {
        while (n > 0) {
            auto r = client.read(buffer);
            if (!r)
                die("tlsw: client read failed: " + r.error().message());
            check(*r <= n, "tlsw: client read more than was sent");
            n -= *r;
        }
    }

    /** Ciphertext the client wrote that the server has not read yet. */
    std::size_t in_flight() const { return server.transport().available(); }

    stream client;
    stream server;

private:
    tlsw_pair(const tlsw_contexts& ctx, std::pair<tlsw::memory_pair::end, tlsw::memory_pair::end> ends,
              std::uint16_t port)
        : client(ctx.client, std::move(ends.first), {.server_name = "localhost", .port = port}),
          server(ctx.server, std::move(ends.second)) {}

    static bool step(const tlsw::result<void>& r) {
        if (r)
            return true;
        if (!r.error().retryable())
            die("tlsw: handshake failed: " + r.error().message());
        return false;
    }
};

// ---- timing ------------------------------------------------------------------------

/** CPU time of this thread: the in-memory runs use one thread and never
    wait, so this is their wall time on an idle machine, and it does not
    grow when other processes take the cores. */
inline double thread_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace bench

#endif
