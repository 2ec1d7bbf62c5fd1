#ifndef TLSW_TESTS_FUZZ_FUZZ_COMMON_HPP
#define TLSW_TESTS_FUZZ_FUZZ_COMMON_HPP

// What the fuzz targets and their seed generator (make_seeds.cpp) share:
// the input header, a fixed PKI, contexts and streams made the same way
// in every process, the contract checks, and the loop that plays one side
// of a conversation (fuzz_server.cpp, fuzz_client.cpp).
//
// Replay rests on three things, all set up here:
// - TLSW_FUZZING (set by tests/fuzz/meson.build): tlsw's randomness is a
//   seeded generator, reseeded with `rng_seed` at the start of every input,
//   and hello randoms carry no clock;
// - the PKI is fixed (fixed_pki below), so the Certificate message, which a
//   Finished message covers, is the same in every process;
// - each process makes its contexts and streams in the same order, so the
//   stream under test draws the same random bytes as it did when the seed
//   corpus was recorded. A recorded client Finished then verifies in the
//   fuzzed server (and a recorded server Finished in the fuzzed client),
//   and the fuzzer starts from the far side of the handshake.

#ifndef TLSW_FUZZING
#error "the fuzz targets need TLSW_FUZZING (deterministic randomness): build them with -Dfuzzing=true"
#endif

#include <tlsw/detail/rng.hpp>
#include <tlsw/testing/fault_transport.hpp>
#include <tlsw/tlsw.hpp>

#include "support/harness.hpp"  // all_policies, pattern

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <set>
#include <string>
#include <span>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

namespace tlsw_fuzz {

/** The seed every input restarts tlsw's generator from. */
inline constexpr std::uint64_t rng_seed = 1;

/** Bytes every input starts with; the rest is the target's own format. */
inline constexpr std::size_t header_size = 4;

/** A CA and a leaf for "localhost" (ECDSA P-256), made once with
    tlsw::testing::make_test_pki with a validity of 100 years (to 2126).
    Fixed rather than made per process: the server's Certificate message
    is part of what a recorded Finished message covers. Test keys only. */
namespace fixed_pki {
inline constexpr const char* ca_pem = R"(-----BEGIN CERTIFICATE-----
MIIBrjCCAVWgAwIBAgIRAPH6kPAPiv1XCFzFNa09NggwCgYIKoZIzj0EAwIwIDEe
MBwGA1UEAxMVdGxzdyB0ZXN0IENBIDZDOUY5REQyMCAXDTI2MTEzMDE1MDgyMVoY
DzIxMjYxMTA3MTUwODIxWjAgMR4wHAYDVQQDExV0bHN3IHRlc3QgQ0EgNkM5RjlE
RDIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASxsefok3+5XjK0EepYnG4mzkY/
KL4W/12ppGL0fdf4BzHJwA5L+Za/lC5+WBoRYCP+Xi5XApX9nHVN8tDH0Ypqo24w
bDAhBgNVHQ4EGgQYGmDZmvHuINTEeXbAYWLWFx/3TkP38yU2MA4GA1UdDwEB/wQE
AwIBBjASBgNVHRMBAf8ECDAGAQH/AgEAMCMGA1UdIwQcMBqAGBpg2Zrx7iDUxHl2
wGFi1hcf905D9/MlNjAKBggqhkjOPQQDAgNHADBEAiBni+EqdFLDqTDyXFjV7fe0
ZlmGEmuDwjuoAV0Pb9CqCgIgQQjv3nBYWxVDTx0IkuhjycSXfSuLAlNhCGMaFk8B
UzE=
-----END CERTIFICATE-----
)";
inline constexpr const char* chain_pem = R"(-----BEGIN CERTIFICATE-----
MIIBzzCCAXagAwIBAgIRAMGSDg712MVT6I1EPVyN7IUwCgYIKoZIzj0EAwIwIDEe
MBwGA1UEAxMVdGxzdyB0ZXN0IENBIDZDOUY5REQyMCAXDTI2MTEzMDE1MDgyMVoY
DzIxMjYxMTA3MTUwODIxWjAUMRIwEAYDVQQDEwlsb2NhbGhvc3QwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAATybDbtY+oUJML/zzXcgijkZiCsfWO7lOgsgs/4bHpc
hnqFOK68uufFabxBCpXzOPymy8LmY8+sbDHvdWmvf+sPo4GaMIGXMB0GA1UdDgQW
BBSQdy8s/u7z5wkqk+fbWA0kBclsDjAOBgNVHQ8BAf8EBAMCB4AwFAYDVR0RBA0w
C4IJbG9jYWxob3N0MAwGA1UdEwEB/wQCMAAwIwYDVR0jBBwwGoAYGmDZmvHuINTE
eXbAYWLWFx/3TkP38yU2MB0GA1UdJQQWMBQGCCsGAQUFBwMBBggrBgEFBQcDAjAK
BggqhkjOPQQDAgNHADBEAiA0hsdxHAciivStlEbdF8NaJlc74PNEBofPIc9fMP8/
FgIgNpBe+cyIr4g6NMQwdmwrVM5PWLzhBSCQ34ra4oWG+6Y=
-----END CERTIFICATE-----
-----BEGIN CERTIFICATE-----
MIIBrjCCAVWgAwIBAgIRAPH6kPAPiv1XCFzFNa09NggwCgYIKoZIzj0EAwIwIDEe
MBwGA1UEAxMVdGxzdyB0ZXN0IENBIDZDOUY5REQyMCAXDTI2MTEzMDE1MDgyMVoY
DzIxMjYxMTA3MTUwODIxWjAgMR4wHAYDVQQDExV0bHN3IHRlc3QgQ0EgNkM5RjlE
RDIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASxsefok3+5XjK0EepYnG4mzkY/
KL4W/12ppGL0fdf4BzHJwA5L+Za/lC5+WBoRYCP+Xi5XApX9nHVN8tDH0Ypqo24w
bDAhBgNVHQ4EGgQYGmDZmvHuINTEeXbAYWLWFx/3TkP38yU2MA4GA1UdDwEB/wQE
AwIBBjASBgNVHRMBAf8ECDAGAQH/AgEAMCMGA1UdIwQcMBqAGBpg2Zrx7iDUxHl2
wGFi1hcf905D9/MlNjAKBggqhkjOPQQDAgNHADBEAiBni+EqdFLDqTDyXFjV7fe0
ZlmGEmuDwjuoAV0Pb9CqCgIgQQjv3nBYWxVDTx0IkuhjycSXfSuLAlNhCGMaFk8B
UzE=
-----END CERTIFICATE-----
)";
inline constexpr const char* key_pem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJLAjcYYiWWvYjv3V
Es13y8qXWS2XUei35YrA0mCZ3nehRANCAATybDbtY+oUJML/zzXcgijkZiCsfWO7
lOgsgs/4bHpchnqFOK68uufFabxBCpXzOPymy8LmY8+sbDHvdWmvf+sP
-----END PRIVATE KEY-----
)";
}  // namespace fixed_pki

/** With TLSW_FUZZ_TRACE set in the environment, the targets say what
    each input did (for checking seeds and reading a crash). */
template <class... Args>
void trace(const char* format, Args... args) {
    static const bool on = std::getenv("TLSW_FUZZ_TRACE") != nullptr;
    if (!on)
        return;
    if constexpr (sizeof...(Args) == 0)
        std::fputs(format, stderr);
    else
        std::fprintf(stderr, format, args...);
}

/** Stops the process with a message that names the broken rule: libFuzzer
    reports the abort as a crash and saves the input.

    TLSW_FUZZ_TOLERATE, a comma-separated list of message fragments, turns
    the matching violations into a line on stderr (the first time each
    occurs), so that a long run gets past a known, not yet fixed bug and
    looks for others. CI never sets it. */
inline void violation(const char* what, const char* file, int line) {
    static const std::string tolerated = [] {
        const char* env = std::getenv("TLSW_FUZZ_TOLERATE");
        return env ? "," + std::string(env) + "," : std::string();
    }();
    static std::set<std::string> seen;
    if (!tolerated.empty()) {
        for (std::size_t at = 1, comma; (comma = tolerated.find(',', at)) != std::string::npos; at = comma + 1) {
            const std::string fragment = tolerated.substr(at, comma - at);
            if (!fragment.empty() && std::strstr(what, fragment.c_str())) {
                if (seen.insert(what).second)
                    std::fprintf(stderr, "tlsw fuzz: tolerated contract violation: %s (%s:%d)\n", what, file, line);
                return;
            }
        }
    }
    std::fprintf(stderr, "tlsw fuzz: contract violation: %s (%s:%d)\n", what, file, line);
    std::fflush(stderr);
    std::abort();
}
#define FUZZ_CHECK(cond, what)                                      \
    do {                                                            \
        if (!(cond))                                                \
            ::tlsw_fuzz::violation((what), __FILE__, __LINE__);     \
    } while (false)

/** Runs one input; an exception escaping tlsw is a violation of its
    "nothing throws" contract, reported with its message. */
template <class F>
int guarded(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tlsw fuzz: exception escaped: %s\n", e.what());
        std::fflush(stderr);
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "tlsw fuzz: exception escaped (not a std::exception)\n");
        std::fflush(stderr);
        std::abort();
    }
    return 0;
}

/** The input header, decoded.
      byte 0: bits 0-1 the policy combination (harness.hpp all_policies),
              bit 2 the server allows client renegotiation,
              bit 6 the server issues no session tickets,
              bit 3 the stream under test is the client (fuzz_record),
              bits 4-5 the memory_pair capacity (fuzz_api: 256 B, 2 KiB,
              17 KiB, 64 KiB; 64 KiB elsewhere);
      byte 1: percent (0-31) of transport calls that return would_block;
      byte 2: low / high nibble: read / write cap, 0 = none, k = 2^(k-1) bytes;
      byte 3: the fault transport's seed. */
struct config {
    unsigned policy = 0;
    bool allow_client_renegotiation = false;
    bool no_tickets = false;
    bool victim_is_client = false;
    std::size_t capacity = 64 * 1024;
    tlsw::testing::fault_plan faults{};

    static config decode(std::span<const std::uint8_t>& in) {
        std::uint8_t h[header_size] = {};
        for (std::size_t i = 0; i < header_size && i < in.size(); ++i)
            h[i] = in[i];
        in = in.subspan(std::min(in.size(), header_size));
        config c;
        c.policy = h[0] & 3u;
        c.allow_client_renegotiation = (h[0] & 4u) != 0;
        c.no_tickets = (h[0] & 64u) != 0;
        c.victim_is_client = (h[0] & 8u) != 0;
        static constexpr std::size_t capacities[] = {256, 2048, 17 * 1024, 64 * 1024};
        c.capacity = capacities[(h[0] >> 4) & 3u];
        c.faults.seed = h[3] + 1u;
        c.faults.would_block_percent = h[1] & 31u;
        const auto cap = [](unsigned k) { return k == 0 ? std::size_t(0) : std::size_t(1) << (k - 1); };
        c.faults.max_read = cap(h[2] & 15u);
        c.faults.max_write = cap(h[2] >> 4);
        return c;
    }

    /** The header that decodes to this configuration (for make_seeds). */
    std::vector<std::uint8_t> encode(unsigned capacity_index = 3) const {
        const auto log = [](std::size_t v) {
            unsigned k = 0;
            while (v > 0 && k < 15) {
                ++k;
                v >>= 1;
            }
            return k;
        };
        return {static_cast<std::uint8_t>(policy | (allow_client_renegotiation ? 4u : 0u) |
                                          (victim_is_client ? 8u : 0u) | (capacity_index << 4) |
                                          (no_tickets ? 64u : 0u)),
                static_cast<std::uint8_t>(faults.would_block_percent),
                static_cast<std::uint8_t>(log(faults.max_read) | (log(faults.max_write) << 4)),
                static_cast<std::uint8_t>(faults.seed - 1)};
    }
};

/** The server's credentials, parsed once per process. */
inline const tlsw::credentials& server_credentials() {
    static const tlsw::credentials creds = [] {
        auto c = tlsw::credentials::from_pem(fixed_pki::chain_pem, fixed_pki::key_pem);
        if (!c)
            throw std::runtime_error("fixed PKI does not load: " + c.error().message());
        return *c;
    }();
    return creds;
}

/** A server context presenting the fixed leaf. Made per input: its
    session cache must not carry one input's sessions into the next. */
inline tlsw::context server_context(const config& c) {
    auto ctx = tlsw::context::server(server_credentials());
    if (c.allow_client_renegotiation)
        ctx.allow_client_renegotiation(true);
    if (c.no_tickets)
        ctx.session_tickets(false);
    return ctx;
}

/** The client configuration, made once per process before main(), so
    before any input reseeds the generator: parsing the CA and deriving
    three configurations per input was a sixth of fuzz_client's time. */
inline const tlsw::context client_prototype = [] {
    auto ctx = tlsw::context::client();
    ctx.use_system_trust(false);
    if (!ctx.trust(fixed_pki::ca_pem))
        throw std::runtime_error("fixed CA does not load");
    return ctx;
}();

/** A client context trusting only the fixed CA, with an empty session
    cache of its own (per input, as above): turning the cache off and on
    again starts a new one (context::session_cache). */
inline tlsw::context client_context() {
    auto ctx = client_prototype;
    ctx.session_cache(false);
    ctx.session_cache(true);
    return ctx;
}

inline tlsw::stream_options localhost() { return {.server_name = "localhost"}; }

/** Calls f.template operator()<Policies>() for the combination c.policy names. */
template <class F>
void with_policies(const config& c, F&& f) {
    using all = tlsw_test::all_policies;
    switch (c.policy) {
    case 0: f.template operator()<std::tuple_element_t<0, all>>(); break;
    case 1: f.template operator()<std::tuple_element_t<1, all>>(); break;
    case 2: f.template operator()<std::tuple_element_t<2, all>>(); break;
    default: f.template operator()<std::tuple_element_t<3, all>>(); break;
    }
}

using faulty_end = tlsw::testing::fault_transport<tlsw::memory_pair::end>;

inline bool is_fatal(const tlsw::tls_error& e) {
    switch (e.code()) {
    case tlsw::errc::truncated:
    case tlsw::errc::transport:
    case tlsw::errc::protocol:
    case tlsw::errc::certificate: return true;
    default: return false;
    }
}

/** A session is established: what a successful handshake() or write() promises. */
template <class Stream>
bool established(const Stream& s) {
    return s.info().handshakes >= 1 && !s.info().cipher_suite.empty();
}

/** After a fatal error, every call fails, and no plaintext comes out. */
template <class Stream>
void check_failure_is_final(Stream& s) {
    std::byte buf[64];
    FUZZ_CHECK(!s.read(buf), "read() returned data after a fatal error");
    const std::byte one[1] = {std::byte{1}};
    FUZZ_CHECK(!s.write(std::span<const std::byte>(one)), "write() succeeded after a fatal error");
    FUZZ_CHECK(!s.handshake(), "handshake() succeeded after a fatal error");
    FUZZ_CHECK(!s.renegotiate(), "renegotiate() succeeded after a fatal error");
    FUZZ_CHECK(!s.shutdown(), "shutdown() succeeded after a fatal error");
    FUZZ_CHECK(!s.read(buf), "read() returned data after a fatal error (second read)");
}

/** Checks one read() result against the contract; returns the count read. */
template <class Stream>
std::size_t check_read(Stream& s, const tlsw::result<std::size_t>& r, std::size_t asked) {
    if (r) {
        FUZZ_CHECK(*r <= asked, "read() returned more than the buffer holds");
        FUZZ_CHECK(asked == 0 || *r > 0, "read() returned 0 for a non-empty buffer");
        FUZZ_CHECK(*r <= Stream::max_record, "read() returned more than one record");
        return *r;
    }
    if (r.error().retryable() && asked > 0)
        FUZZ_CHECK(s.pending() == 0, "read() returned want_* while plaintext was buffered");
    return 0;
}

/** One side of a conversation, played by the stream under test against
    bytes from elsewhere (the fuzzer, or a real peer when make_seeds
    records). `wait(code)` is called on want_read / want_write and returns
    false when nothing more will come. The server echoes what it reads;
    the client sends one request and then reads. Both check every result
    against the contract. */
template <class Stream, class Wait>
void play_side(Stream& s, bool client, Wait&& wait) {
    int budget = 20000;  // transport waits per input: bounds a stream that never progresses
    auto call = [&](auto&& f) {
        for (;;) {
            auto r = f();
            if (r || !r.error().retryable() || --budget <= 0 || !wait(r.error().code()))
                return r;
        }
    };
    std::size_t total_read = 0;
    auto stop = [&](const tlsw::tls_error& e) {
        trace("%s: stopped after %zu bytes read, %u handshake(s): %s\n", client ? "client" : "server", total_read,
              s.info().handshakes, e.message().c_str());
        if (is_fatal(e))
            check_failure_is_final(s);
    };

    auto hs = call([&] { return s.handshake(); });
    if (!hs)
        return stop(hs.error());
    FUZZ_CHECK(established(s), "handshake() succeeded before a session was established");

    if (client) {
        const auto request = tlsw_test::pattern(64, 11);
        std::size_t sent = 0;
        while (sent < request.size()) {
            auto n = call([&] { return s.write(std::span(request).subspan(sent)); });
            if (!n && n.error() == tlsw::errc::closed)
                break;  // the peer's close_notify already came in: read what preceded it
            if (!n)
                return stop(n.error());
            FUZZ_CHECK(*n > 0 && *n <= request.size() - sent, "write() returned a count outside the data");
            sent += *n;
        }
    }

    std::vector<std::byte> buf(client ? 20000 : 4096);
    bool echo_closed = false;
    for (;;) {
        auto n = call([&] { return s.read(buf); });
        check_read(s, n, buf.size());
        if (n)
            total_read += *n;
        if (!n) {
            if (n.error() == tlsw::errc::closed) {
                trace("%s: closed after %zu bytes read, %u handshake(s)\n", client ? "client" : "server", total_read,
                      s.info().handshakes);
                FUZZ_CHECK(!s.read(buf), "read() returned data after closed");
                break;
            }
            return stop(n.error());
        }
        if (client || echo_closed)
            continue;
        std::size_t echoed = 0;
        while (echoed < *n) {
            auto w = call([&] { return s.write(std::span<const std::byte>(buf).subspan(echoed, *n - echoed)); });
            if (!w && w.error() == tlsw::errc::closed) {
                echo_closed = true;  // the peer's close_notify came in: read on, write no more
                break;
            }
            if (!w)
                return stop(w.error());
            FUZZ_CHECK(*w > 0 && *w <= *n - echoed, "write() returned a count outside the data");
            echoed += *w;
        }
    }
    auto sd = call([&] { return s.shutdown(); });
    if (!sd)
        stop(sd.error());
}

/** Bytes the fuzzer plays as the peer, pushed into the peer's end of a
    memory_pair as room allows; what the stream under test writes is
    drained and dropped. Once the input is used up and read, the peer's
    end closes: the stream sees EOF. */
struct input_peer {
    tlsw::memory_pair::end& peer;
    std::span<const std::uint8_t> rest;
    std::vector<std::byte> drain_buf = std::vector<std::byte>(64 * 1024);

    void drain() {
        while (auto n = peer.read_some(drain_buf))
            if (*n == 0)
                break;
    }

    void push() {
        while (!rest.empty()) {
            auto n = peer.write_some(std::as_bytes(rest));
            if (!n || *n == 0)
                break;
            rest = rest.subspan(*n);
        }
    }

    /** For play_side: true while the stream can still make progress. */
    bool wait(const tlsw::memory_pair::end& stream_end) {
        drain();
        push();
        if (rest.empty() && stream_end.available() == 0)
            peer.close();  // EOF: the next read ends the stream's side
        return true;
    }
};

/** Makes a client and a server stream over one memory_pair, in the same
    order every time (the client first), runs their handshake in-process,
    and calls body(victim, peer, peer_end): `victim` is the stream under
    test over a fault_transport (config byte 0 bit 3 picks its role),
    `peer` the other stream, over a reference to `peer_end`, which the
    caller may write to and read from directly. */
template <class P, class Body>
void with_established_pair(const config& c, Body&& body) {
    tlsw::detail::reseed_fuzzing_rng(rng_seed);
    auto sctx = server_context(c);
    auto cctx = client_context();
    auto ends = tlsw::memory_pair::make(64 * 1024);
    auto run = [&](auto& client, auto& server, auto& victim, auto& peer, tlsw::memory_pair::end& peer_end) {
        bool client_done = false, server_done = false;
        for (int i = 0; i < 100000 && !(client_done && server_done); ++i) {
            if (!client_done) {
                auto r = client.handshake();
                FUZZ_CHECK(r || r.error().retryable(), "the in-process handshake failed (client)");
                client_done = r.has_value();
            }
            if (!server_done) {
                auto r = server.handshake();
                FUZZ_CHECK(r || r.error().retryable(), "the in-process handshake failed (server)");
                server_done = r.has_value();
            }
        }
        FUZZ_CHECK(client_done && server_done, "the in-process handshake did not finish");
        body(victim, peer, peer_end);
    };
    using victim_type = typename P::template stream<faulty_end>;
    using peer_type = typename P::template stream<tlsw::memory_pair::end&>;
    if (c.victim_is_client) {
        auto& peer_end = ends.second;
        victim_type client(cctx, faulty_end(std::move(ends.first), c.faults), localhost());
        peer_type server(sctx, peer_end);
        run(client, server, client, server, peer_end);
    } else {
        auto& peer_end = ends.first;
        peer_type client(cctx, peer_end, localhost());
        victim_type server(sctx, faulty_end(std::move(ends.second), c.faults));
        run(client, server, server, client, peer_end);
    }
}

}  // namespace tlsw_fuzz

#endif
