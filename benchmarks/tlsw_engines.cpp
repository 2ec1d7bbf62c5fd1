// tlsw_engines: tlsw alone, over tlsw::memory_pair in one thread, on the
// engine it is built against: TLS 1.2 on Botan 2; TLS 1.2 and TLS 1.3 on
// Botan 3 (context::versions() pins each). benchmarks/engines.sh builds it
// against both and prints the two engines side by side (issue 12, item 4).
//
//   tlsw_engines time [--runs N] [--quick] [--only messages|burst|bulk]
//   tlsw_engines count messages|burst|bulk tls12|tls13|tls13_chacha N
//
// Workloads, client to server:
// - messages: one 64-byte write, then the server reads it; repeated;
// - burst:    64 writes of 64 bytes, then the server reads all 64 (the
//             records wait in the transport together, so the reader gets
//             many records from one transport read);
// - bulk:     one 16 KiB write (one full record), then the server reads it.
//
// `time` prints one "key value" line per figure (engines.sh reads them):
// the engine (Botan's version, the compiler), per TLS version what was
// negotiated, then messages and burst in messages per second and bulk in
// MiB/s, each the median of N runs (default 5; each run measures every
// workload and version once, in turn, so a change of load hits all alike).
// `--only` measures one workload (engines.sh runs the engines in turn per
// workload, so that the two figures it divides are measured close in time).
// Time is the thread's CPU time, as in tlsw_compare. A version the engine
// does not speak prints "VERSION.available 0" and nothing else.
//
// `count` runs a warm-up, then N operations (messages, bursts of 64
// messages, or 16 KiB records) with callgrind collecting only those (a
// client request toggles collection): run it under
// `valgrind --tool=callgrind --collect-atstart=no` for instruction counts,
// which do not depend on the machine's load.
//
// tls13_chacha is TLS 1.3 with ChaCha20-Poly1305 by a text policy (the
// default policy prefers AES-128-GCM where the CPU has AES instructions),
// for reference only (see chacha_policy).
//
// Like for like with tlsw_compare: the P-256 leaf of tlsw::testing's PKI
// with its CA, the client verifying chain and name, tickets off, tlsw's
// default policy otherwise (so each version gets the suite that policy
// prefers; the output names it).

#include "common.hpp"

#include <botan/version.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using bench::check;
using bench::die;

constexpr std::size_t message_size = 64;
constexpr std::size_t burst = 64;
constexpr std::size_t bulk_size = bench::max_record;

enum class workload { messages, burst, bulk };

struct version_case {
    const char* name;  ///< as the output names it
    tlsw::tls_version version;
    /** A text policy (context::policy) replacing tlsw's default one, or null. */
    const char* policy = nullptr;
};

/** TLS 1.3 with ChaCha20-Poly1305 instead of the default AES-128-GCM, for
    reference: Botan 3.7's TLS 1.3 record layer sets the AEAD key again for
    every record, which costs AES-GCM a key schedule each time and ChaCha20
    next to nothing. */
constexpr const char* chacha_policy = R"(allow_tls12 = false
allow_tls13 = true
ciphers = ChaCha20Poly1305
macs = AEAD
key_exchange_methods = ECDH
signature_methods = ECDSA RSA
key_exchange_groups = x25519 secp256r1
)";

constexpr std::array<version_case, 3> versions{{{"tls12", tlsw::tls_version::tls12},
                                                {"tls13", tlsw::tls_version::tls13},
                                                {"tls13_chacha", tlsw::tls_version::tls13, chacha_policy}}};

/** Contexts that negotiate `v` only, or nothing when the engine lacks it. */
std::optional<bench::tlsw_contexts> contexts_for(const version_case& v) {
    auto ctx = bench::make_tlsw_contexts(false);
    if (!ctx.client.versions(v.version, v.version) || !ctx.server.versions(v.version, v.version))
        return std::nullopt;
    if (v.policy && (!ctx.client.policy(v.policy) || !ctx.server.policy(v.policy)))
        die(std::string(v.name) + ": the text policy does not load");
    return ctx;
}

/** One connection for `w`, its handshake done and checked to be `v`. */
class connection {
public:
    connection(const bench::tlsw_contexts& ctx, const version_case& v, workload w)
        : pair_(ctx, w == workload::bulk ? bench::wire_size(bulk_size) + 64 * 1024 : 64 * 1024),
          data_(bench::payload(w == workload::bulk ? bulk_size : burst * message_size)), buffer_(bench::read_buffer_size),
          workload_(w) {
        pair_.handshake();
        const auto& version = pair_.client.info().version;
        const bool tls13 = version.find("1.3") != std::string::npos;
        check(tls13 == (v.version == tlsw::tls_version::tls13), "the negotiated version is not the one asked for");
    }

    /** One operation: a message, a burst of 64 messages, or a 16 KiB record. */
    void step() {
        switch (workload_) {
        case workload::messages:
            pair_.send(std::span(data_).first(message_size));
            pair_.receive(message_size, buffer_);
            break;
        case workload::burst:
            for (std::size_t i = 0; i < burst; ++i)
                pair_.send(std::span(data_).subspan(i * message_size, message_size));
            pair_.receive(burst * message_size, buffer_);
            break;
        case workload::bulk:
            pair_.send(data_);
            pair_.receive(bulk_size, buffer_);
            break;
        }
    }

    const tlsw::session_info& info() const { return pair_.client.info(); }

private:
    bench::tlsw_pair pair_;
    std::vector<std::byte> data_;
    std::vector<std::byte> buffer_;
    workload workload_;
};

constexpr std::size_t warm_up = 16;

/** Operations per timed sample: about a tenth of a second each on this
    kind of machine. */
std::size_t timed_ops(workload w, bool quick) {
    const std::size_t n = w == workload::messages ? 100000 : w == workload::burst ? 1500 : 4096;
    return quick ? n / 5 : n;
}

/** Operations per sample, per second, in the unit printed: messages for
    messages and burst, MiB for bulk. */
double rate(workload w, std::size_t ops, double seconds) {
    const double units = w == workload::messages ? static_cast<double>(ops)
                         : w == workload::burst  ? static_cast<double>(ops * burst)
                                                 : static_cast<double>(ops * bulk_size) / 1048576.0;
    return units / seconds;
}

const char* key_of(workload w) {
    return w == workload::messages ? "messages.msg_s" : w == workload::burst ? "burst.msg_s" : "bulk.mib_s";
}

void put(const std::string& key, const std::string& value) {
    std::printf("%s %s\n", key.c_str(), value.c_str());
    std::fflush(stdout);
}

void put(const std::string& key, double value) {
    std::printf("%s %.6g\n", key.c_str(), value);
    std::fflush(stdout);
}

int usage() {
    std::fprintf(stderr,
                 "usage: tlsw_engines time [--runs N] [--quick] [--only messages|burst|bulk]\n"
                 "       tlsw_engines count messages|burst|bulk tls12|tls13|tls13_chacha N\n");
    return 2;
}

std::optional<workload> parse_workload(std::string_view what) {
    if (what == "messages")
        return workload::messages;
    if (what == "burst")
        return workload::burst;
    if (what == "bulk")
        return workload::bulk;
    return std::nullopt;
}

/** Measures every workload, or only `only`. */
int time_all(int runs, bool quick, std::optional<workload> only) {
    put("engine.botan", Botan::short_version_string());
    put("engine.compiler", __VERSION__);
    std::map<std::string, bench::tlsw_contexts> ctxs;
    for (const auto& v : versions) {
        auto ctx = contexts_for(v);
        put(std::string(v.name) + ".available", ctx ? 1 : 0);
        if (!ctx)
            continue;
        const connection c(*ctx, v, workload::messages);
        put(std::string(v.name) + ".version", c.info().version);
        put(std::string(v.name) + ".suite", c.info().cipher_suite);
        ctxs.emplace(v.name, std::move(*ctx));
    }
    std::map<std::string, std::vector<double>> samples;
    constexpr std::array<workload, 3> workloads{workload::messages, workload::burst, workload::bulk};
    for (int r = 0; r < runs; ++r) {
        for (workload w : workloads) {
            if (only && w != *only)
                continue;
            for (const auto& v : versions) {
                const auto it = ctxs.find(v.name);
                if (it == ctxs.end())
                    continue;
                connection c(it->second, v, w);
                for (std::size_t i = 0; i < warm_up; ++i)
                    c.step();
                const std::size_t n = timed_ops(w, quick);
                const double start = bench::thread_seconds();
                for (std::size_t i = 0; i < n; ++i)
                    c.step();
                samples[std::string(v.name) + "." + key_of(w)].push_back(rate(w, n, bench::thread_seconds() - start));
            }
        }
    }
    for (const auto& [key, values] : samples)
        put(key, bench::median(values));
    return 0;
}

int count(workload w, std::string_view version, std::size_t n) {
    const version_case* v = nullptr;
    for (const auto& c : versions)
        if (version == c.name)
            v = &c;
    if (!v || n == 0)
        return usage();
    auto ctx = contexts_for(*v);
    if (!ctx)
        die(std::string(v->name) + ": this engine does not speak it");
    connection c(*ctx, *v, w);
    for (std::size_t i = 0; i < warm_up; ++i)
        c.step();
    TLSW_BENCH_TOGGLE_COLLECT();
    for (std::size_t i = 0; i < n; ++i)
        c.step();
    TLSW_BENCH_TOGGLE_COLLECT();
    std::printf("count %s %s: %zu operations (%s), Botan %s, %s, %s\n",
                w == workload::messages ? "messages" : w == workload::burst ? "burst" : "bulk", v->name, n,
                w == workload::messages ? "64-byte messages"
                : w == workload::burst  ? "bursts of 64 messages of 64 bytes"
                                        : "16 KiB records",
                Botan::short_version_string().c_str(), c.info().version.c_str(), c.info().cipher_suite.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2)
        return usage();
    const std::string_view mode = argv[1];
    if (mode == "time") {
        int runs = 5;
        bool quick = false;
        std::optional<workload> only;
        for (int i = 2; i < argc; ++i) {
            const std::string_view a = argv[i];
            if (a == "--quick")
                quick = true;
            else if (a == "--runs" && i + 1 < argc)
                runs = std::atoi(argv[++i]);
            else if (a == "--only" && i + 1 < argc && parse_workload(argv[i + 1]))
                only = parse_workload(argv[++i]);
            else
                return usage();
        }
        if (runs < 1)
            return usage();
        return time_all(runs, quick, only);
    }
    if (mode == "count" && argc == 5) {
        const auto w = parse_workload(argv[2]);
        if (!w)
            return usage();
        return count(*w, argv[3], std::strtoull(argv[4], nullptr, 10));
    }
    return usage();
}
