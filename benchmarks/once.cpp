// A fixed amount of work per run, for instruction counting with callgrind,
// which does not depend on the machine's load the way timings do:
//
//   valgrind --tool=callgrind --collect-atstart=no build/bench/benchmarks/tlsw_once bulk tlsw 64 16384
//   valgrind --tool=callgrind --collect-atstart=no build/bench/benchmarks/tlsw_once handshake botan 50
//
// `bulk IMPL MiB WRITE_SIZE` sets up a connection exactly as tlsw_bench
// does, runs the handshake and some warm-up writes, then makes MiB /
// WRITE_SIZE writes of WRITE_SIZE bytes client to server (rounded down).
// `handshake IMPL N` runs a few warm-up handshakes, then N full handshakes
// on new connections; `resumed IMPL N` N handshakes that resume one
// session. IMPL is tlsw, botan (raw Botan over a memory_pair, as tlsw),
// botan-direct (raw Botan handing its output vector over, no transport) or
// openssl. Handshakes are like
// for like: tickets off; a resumed handshake reuses the first's session
// (tlsw and raw Botan keep a session cache on each side, OpenSSL on the
// server with the client offering the saved session). Full handshakes run
// with every cache off where tlsw has context::session_cache; before it had,
// with the caches on both sides and a new cache key (port) per connection. Callgrind collects only during the
// measured part (a client request toggles it), so the totals of two runs
// compare directly. Outside valgrind it just runs and prints the time.

#include "alloc_count.hpp"
#include "peers.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct outcome {
    double seconds = 0;
    bench::alloc_totals allocs;
};

/** Runs `warm_up` untimed then `n` measured calls of `step`, callgrind
    collecting only during the measured ones. */
template <class Step>
outcome run(std::size_t warm_up, std::size_t n, Step&& step) {
    for (std::size_t i = 0; i < warm_up; ++i)
        step();
    const auto before = bench::allocations();
    const auto start = std::chrono::steady_clock::now();
    TLSW_BENCH_TOGGLE_COLLECT();
    for (std::size_t i = 0; i < n; ++i)
        step();
    TLSW_BENCH_TOGGLE_COLLECT();
    outcome o;
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto after = bench::allocations();
    o.allocs = {after.count - before.count, after.bytes - before.bytes};
    return o;
}

int usage() {
    std::fprintf(stderr,
                 "usage: tlsw_once bulk tlsw|botan|botan-direct|openssl [MiB=64] [write_size=16384]\n"
                 "       tlsw_once handshake|resumed tlsw|botan|botan-direct|openssl [count=50]\n");
    return 2;
}

std::size_t arg(int argc, char** argv, int i, std::size_t fallback) {
    return argc > i ? std::strtoull(argv[i], nullptr, 10) : fallback;
}

int bulk(std::string_view impl, std::size_t mib, std::size_t write_size) {
    if (write_size == 0 || (mib << 20) < write_size)
        return usage();
    constexpr std::size_t warm_up = 16;
    const std::size_t writes = (mib << 20) / write_size;
    const auto data = bench::payload(write_size);
    std::vector<std::byte> buffer(bench::read_buffer_size);
    const std::size_t capacity = bench::wire_size(write_size) + 64 * 1024;

    outcome o;
    if (impl == "tlsw") {
        const auto ctx = bench::make_tlsw_contexts();
        bench::tlsw_pair pair(ctx, capacity);
        pair.handshake();
        bench::check(pair.client.info().cipher_suite == bench::botan_suite, "tlsw: unexpected suite");
        o = run(warm_up, writes, [&] {
            pair.send(data);
            pair.receive(write_size, buffer);
        });
    } else if (impl == "botan" || impl == "botan-direct") {
        // botan: over a memory_pair like tlsw's; botan-direct: the emitted
        // vector handed over whole, one ciphertext copy fewer than any transport.
        bench::botan_shared shared;
        bench::botan_pair pair(shared, buffer, true, 443, impl == "botan" ? capacity : 0);
        pair.handshake();
        bench::check(pair.client_side().suite == bench::botan_suite, "raw Botan: unexpected suite");
        o = run(warm_up, writes, [&] {
            pair.send(data);
            pair.receive();
        });
        bench::check(pair.server_side().received == (writes + warm_up) * write_size, "raw Botan: bytes lost");
    } else if (impl == "openssl") {
        bench::openssl_contexts ctx;
        bench::openssl_pair pair(ctx, capacity);
        pair.handshake();
        o = run(warm_up, writes, [&] {
            pair.send(data);
            pair.receive(write_size, buffer);
        });
    } else {
        return usage();
    }

    const std::size_t records = writes * ((write_size + bench::max_record - 1) / bench::max_record);
    std::printf("bulk %s: %zu B in %zu writes of %zu B (%zu records): %.3f s, %.1f MiB/s; "
                "heap allocations (operator new + OpenSSL): %zu, %.3f per record, %zu B\n",
                std::string(impl).c_str(), writes * write_size, writes, write_size, records, o.seconds,
                static_cast<double>(writes * write_size) / 1048576.0 / o.seconds, o.allocs.count,
                static_cast<double>(o.allocs.count) / static_cast<double>(records), o.allocs.bytes);
    return 0;
}

int handshakes(std::string_view impl, std::size_t n, bool resume) {
    if (n == 0)
        return usage();
    constexpr std::size_t warm_up = 3;
    constexpr std::size_t capacity = 16 * 1024;
    constexpr std::uint16_t resumed_port = 1;
    std::uint16_t port = 2;
    auto next_port = [&] { return resume ? resumed_port : port++; };
    const char* wrong = resume ? "a handshake did not resume" : "a full handshake resumed";
    // Full handshakes: with no session cache anywhere where tlsw can turn
    // its own off; otherwise caches on both sides and a new key each time.
    const bool cache = resume || !bench::tlsw_cache_switchable();
    outcome o;
    if (impl == "tlsw") {
        const auto ctx = bench::make_tlsw_contexts(false, cache);
        bool first = true;  // the first warm-up handshake is a full one
        o = run(warm_up, n, [&] {
            bench::tlsw_pair pair(ctx, capacity, next_port());
            pair.handshake();
            bench::check(pair.client.info().resumed == (resume && !first), wrong);
            first = false;
        });
    } else if (impl == "botan" || impl == "botan-direct") {
        bench::botan_shared shared(false, cache);
        std::vector<std::byte> buffer(1024);
        bool first = true;
        o = run(warm_up, n, [&] {
            bench::botan_pair pair(shared, buffer, false, next_port(), impl == "botan" ? capacity : 0);
            pair.handshake();
            bench::check(pair.resumed() == (resume && !first), wrong);
            first = false;
        });
    } else if (impl == "openssl") {
        bench::openssl_contexts ctx(cache);
        ctx.sigalgs("ECDSA+SHA384");  // what Botan's server picks; tlsw_bench checks it
        SSL_SESSION* saved = nullptr;
        o = run(warm_up, n, [&] {
            bench::openssl_pair pair(ctx, capacity, resume ? saved : nullptr);
            pair.handshake();
            bench::check((SSL_session_reused(pair.client()) == 1) == (resume && saved), wrong);
            if (resume && !saved)
                saved = SSL_get1_session(pair.client());
        });
        SSL_SESSION_free(saved);
    } else {
        return usage();
    }
    std::printf("%s %s: %zu %s handshakes: %.3f s, %.1f per second; heap allocations: %.1f per handshake\n",
                resume ? "resumed" : "handshake", std::string(impl).c_str(), n, resume ? "resumed" : "full",
                o.seconds, static_cast<double>(n) / o.seconds,
                static_cast<double>(o.allocs.count) / static_cast<double>(n));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bench::count_openssl_allocations();
    if (argc < 3)
        return usage();
    const std::string_view mode = argv[1];
    const std::string_view impl = argv[2];
    if (mode == "bulk")
        return bulk(impl, arg(argc, argv, 3, 64), arg(argc, argv, 4, bench::max_record));
    if (mode == "handshake" || mode == "resumed")
        return handshakes(impl, arg(argc, argv, 3, 50), mode == "resumed");
    return usage();
}
