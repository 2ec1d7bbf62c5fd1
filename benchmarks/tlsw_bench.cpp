// tlsw against raw Botan and OpenSSL, in one run: bulk transfer, full
// handshakes, small messages and steady-state heap allocations. Everything
// runs in one thread over in-memory transports with one cipher suite
// (ECDHE-ECDSA with AES-128-GCM, TLS 1.2). See README.md for how to run it
// and how to read the results.

#include "alloc_count.hpp"
#include "peers.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace {

using benchmark::Counter;
using benchmark::State;

// ---- what the benchmarks share -----------------------------------------------

const bench::tlsw_contexts& tlsw_ctx() {
    static const auto ctx = bench::make_tlsw_contexts();
    return ctx;
}

bench::botan_shared& botan_ctx() {
    static bench::botan_shared shared;
    return shared;
}

bench::openssl_contexts& openssl_ctx() {
    static bench::openssl_contexts ctx;
    return ctx;
}

/** A ring big enough that one write never stalls on the transport. */
std::size_t pair_capacity(std::size_t write_size) { return bench::wire_size(write_size) + 64 * 1024; }

std::size_t records_in(std::size_t write_size) { return (write_size + bench::max_record - 1) / bench::max_record; }

constexpr int warm_up_writes = 8;

/** Sets the byte rate and the heap allocations per record of a bulk run. */
void finish_bulk(State& state, std::size_t write_size, bench::alloc_totals before) {
    const auto after = bench::allocations();
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetBytesProcessed(iterations * static_cast<std::int64_t>(write_size));
    const double records = static_cast<double>(iterations) * static_cast<double>(records_in(write_size));
    state.counters["allocs/record"] = records > 0 ? static_cast<double>(after.count - before.count) / records : 0;
}

// ---- 1. bulk transfer, client to server ------------------------------------------

void bulk_tlsw(State& state, std::size_t write_size) {
    bench::tlsw_pair pair(tlsw_ctx(), pair_capacity(write_size));
    pair.handshake();
    const auto data = bench::payload(write_size);
    std::vector<std::byte> buffer(bench::read_buffer_size);
    for (int i = 0; i < warm_up_writes; ++i) {
        pair.send(data);
        pair.receive(write_size, buffer);
    }
    const auto before = bench::allocations();
    for (auto _ : state) {
        pair.send(data);
        pair.receive(write_size, buffer);
    }
    finish_bulk(state, write_size, before);
}

void bulk_botan(State& state, std::size_t write_size) {
    std::vector<std::byte> buffer(bench::read_buffer_size);
    bench::botan_pair pair(botan_ctx(), buffer);
    pair.handshake();
    const auto data = bench::payload(write_size);
    for (int i = 0; i < warm_up_writes; ++i) {
        pair.send(data);
        pair.receive();
    }
    const auto before = bench::allocations();
    for (auto _ : state) {
        pair.send(data);
        pair.receive();
    }
    finish_bulk(state, write_size, before);
    const std::size_t writes = static_cast<std::size_t>(state.iterations()) + warm_up_writes;
    bench::check(pair.server_side().received == writes * write_size, "raw Botan: bytes lost");
}

void bulk_openssl(State& state, std::size_t write_size) {
    bench::openssl_pair pair(openssl_ctx(), pair_capacity(write_size));
    pair.handshake();
    const auto data = bench::payload(write_size);
    std::vector<std::byte> buffer(bench::read_buffer_size);
    for (int i = 0; i < warm_up_writes; ++i) {
        pair.send(data);
        pair.receive(write_size, buffer);
    }
    const auto before = bench::allocations();
    for (auto _ : state) {
        pair.send(data);
        pair.receive(write_size, buffer);
    }
    finish_bulk(state, write_size, before);
}

// ---- 2. full handshakes ------------------------------------------------------------

constexpr std::size_t handshake_capacity = 16 * 1024;

void handshake_tlsw(State& state) {
    // Tickets off on both sides. tlsw always caches session IDs, so each
    // connection gets its own cache key (the port): nothing is resumed.
    static const auto ctx = bench::make_tlsw_contexts(false);
    static std::uint16_t port = 1;
    for (auto _ : state) {
        bench::tlsw_pair pair(ctx, handshake_capacity, port++);
        pair.handshake();
        bench::check(!pair.client.info().resumed, "tlsw: a handshake resumed a session");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void handshake_botan(State& state) {
    std::vector<std::byte> buffer(1024);
    for (auto _ : state) {
        bench::botan_pair pair(botan_ctx(), buffer);
        pair.handshake();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void handshake_openssl(State& state) {
    for (auto _ : state) {
        bench::openssl_pair pair(openssl_ctx(), handshake_capacity);
        pair.handshake();
        bench::check(SSL_session_reused(pair.client()) == 0, "OpenSSL: a handshake resumed a session");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// ---- 3. small messages ---------------------------------------------------------------

constexpr std::size_t message_size = 100;
constexpr std::size_t batch = 64;

/** `batch` messages of `message_size` bytes, as separate buffers. */
using messages = bench::message_batch<message_size, batch>;

/** Rates per message, and the wire cost of one batch measured before timing. */
void finish_small(State& state, std::size_t count, std::size_t wire_bytes) {
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    const auto n = static_cast<std::int64_t>(count);
    state.SetItemsProcessed(iterations * n);
    state.SetBytesProcessed(iterations * n * static_cast<std::int64_t>(message_size));
    state.counters["wire_B/msg"] = static_cast<double>(wire_bytes) / static_cast<double>(count);
    state.counters["records/msg"] =
        static_cast<double>(wire_bytes - count * message_size) / 29.0 / static_cast<double>(count);
}

enum class small_mode { single, gather };

void small_tlsw(State& state, std::size_t count, small_mode mode) {
    bench::tlsw_pair pair(tlsw_ctx(), 64 * 1024);
    pair.handshake();
    const messages msgs;
    const std::span<const std::span<const std::byte>> spans(msgs.spans.data(), count);
    std::vector<std::byte> buffer(bench::read_buffer_size);
    auto once = [&] {
        if (mode == small_mode::gather) {
            pair.send_gather(spans, count * message_size);
        } else {
            for (auto s : spans)
                pair.send(s);
        }
    };
    once();
    const std::size_t wire = pair.in_flight();
    pair.receive(count * message_size, buffer);
    if (mode == small_mode::gather)
        bench::check(wire == bench::wire_size(count * message_size), "tlsw: a gather write took more than one record");
    for (auto _ : state) {
        once();
        pair.receive(count * message_size, buffer);
    }
    finish_small(state, count, wire);
}

void small_botan(State& state, std::size_t count, small_mode mode) {
    std::vector<std::byte> buffer(bench::read_buffer_size);
    bench::botan_pair pair(botan_ctx(), buffer);
    pair.handshake();
    const messages msgs;
    std::vector<std::byte> staging(batch * message_size);
    auto once = [&] {
        if (mode == small_mode::gather) {
            // What a gather write does by hand: copy, then one send().
            pair.send(bench::coalesce(std::span(msgs.spans).first(count), staging));
        } else {
            for (std::size_t i = 0; i < count; ++i)
                pair.send(msgs.spans[i]);
        }
    };
    once();
    const std::size_t wire = pair.in_flight();
    pair.receive();
    for (auto _ : state) {
        once();
        pair.receive();
    }
    finish_small(state, count, wire);
    const std::size_t batches = static_cast<std::size_t>(state.iterations()) + 1;
    bench::check(pair.server_side().received == batches * count * message_size, "raw Botan: bytes lost");
}

void small_openssl(State& state, std::size_t count) {
    bench::openssl_pair pair(openssl_ctx(), 64 * 1024);
    pair.handshake();
    const messages msgs;
    std::vector<std::byte> buffer(bench::read_buffer_size);
    auto once = [&] {
        for (std::size_t i = 0; i < count; ++i)
            pair.send(msgs.spans[i]);
    };
    once();
    const std::size_t wire = pair.in_flight();
    pair.receive(count * message_size, buffer);
    for (auto _ : state) {
        once();
        pair.receive(count * message_size, buffer);
    }
    finish_small(state, count, wire);
}

// ---- 4. heap allocations per 16 KiB record in the steady state -------------------

/** Counts allocations made while sending and while receiving, separately. */
struct alloc_split {
    std::size_t send = 0, receive = 0, bytes = 0;

    template <class Send, class Receive>
    void step(Send&& send_one, Receive&& receive_one) {
        const auto a = bench::allocations();
        send_one();
        const auto b = bench::allocations();
        receive_one();
        const auto c = bench::allocations();
        send += b.count - a.count;
        receive += c.count - b.count;
        bytes += c.bytes - a.bytes;
    }

    void report(State& state) const {
        state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * bench::max_record);
        state.counters["send_allocs/record"] = Counter(static_cast<double>(send), Counter::kAvgIterations);
        state.counters["recv_allocs/record"] = Counter(static_cast<double>(receive), Counter::kAvgIterations);
        state.counters["alloc_B/record"] = Counter(static_cast<double>(bytes), Counter::kAvgIterations);
    }
};

constexpr int alloc_warm_up = 64;

void alloc_tlsw(State& state) {
    bench::tlsw_pair pair(tlsw_ctx(), pair_capacity(bench::max_record));
    pair.handshake();
    const auto data = bench::payload(bench::max_record);
    std::vector<std::byte> buffer(bench::read_buffer_size);
    alloc_split split;
    auto send = [&] { pair.send(data); };
    auto receive = [&] { pair.receive(data.size(), buffer); };
    for (int i = 0; i < alloc_warm_up; ++i)
        split.step(send, receive);
    split = {};
    for (auto _ : state)
        split.step(send, receive);
    split.report(state);
}

void alloc_botan(State& state) {
    std::vector<std::byte> buffer(bench::read_buffer_size);
    bench::botan_pair pair(botan_ctx(), buffer);
    pair.handshake();
    const auto data = bench::payload(bench::max_record);
    alloc_split split;
    auto send = [&] { pair.send(data); };
    auto receive = [&] { pair.receive(); };
    for (int i = 0; i < alloc_warm_up; ++i)
        split.step(send, receive);
    split = {};
    for (auto _ : state)
        split.step(send, receive);
    split.report(state);
}

void alloc_openssl(State& state) {
    bench::openssl_pair pair(openssl_ctx(), pair_capacity(bench::max_record));
    pair.handshake();
    const auto data = bench::payload(bench::max_record);
    std::vector<std::byte> buffer(bench::read_buffer_size);
    alloc_split split;
    auto send = [&] { pair.send(data); };
    auto receive = [&] { pair.receive(data.size(), buffer); };
    for (int i = 0; i < alloc_warm_up; ++i)
        split.step(send, receive);
    split = {};
    for (auto _ : state)
        split.step(send, receive);
    split.report(state);
}

// ---- setup: what each implementation negotiates -------------------------------------

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0)
            return line.substr(line.find(':') + 2);
    return "unknown";
}

/** One handshake each; asserts the suite, aligns OpenSSL's signature
    algorithm with Botan's choice, and records all of it in the report. */
void check_setup() {
    {
        bench::tlsw_pair pair(tlsw_ctx(), 64 * 1024);
        pair.handshake();
        const auto& info = pair.client.info();
        if (info.cipher_suite != bench::botan_suite || info.version != "TLS v1.2")
            bench::die("tlsw negotiated " + info.version + " " + info.cipher_suite + ", expected TLS v1.2 " +
                       std::string(bench::botan_suite));
        benchmark::AddCustomContext("tlsw", info.version + " " + info.cipher_suite + " (default policy)");
    }
    std::string botan_hash;
    {
        std::vector<std::byte> buffer(1024);
        bench::botan_pair pair(botan_ctx(), buffer, true);
        pair.handshake();
        const auto& client = pair.client_side();
        const auto& server = pair.server_side();
        if (client.suite != bench::botan_suite)
            bench::die("raw Botan negotiated " + client.suite);
        benchmark::AddCustomContext("raw Botan", client.version + " " + client.suite + ", group " + client.group +
                                                     ", server signs with " + server.signature);
        // "EMSA1(SHA-256)" -> "SHA256"
        if (auto at = server.signature.find("SHA-"); at != std::string::npos)
            botan_hash = "SHA" + server.signature.substr(at + 4, 3);
    }
    if (!botan_hash.empty())
        openssl_ctx().sigalgs(("ECDSA+" + botan_hash).c_str());
    {
        bench::openssl_pair pair(openssl_ctx(), 64 * 1024);
        pair.handshake();
        bench::check(std::strcmp(SSL_CIPHER_get_name(SSL_get_current_cipher(pair.client())), bench::openssl_suite) == 0,
                     "OpenSSL negotiated another suite");
        bench::check(SSL_version(pair.client()) == TLS1_2_VERSION, "OpenSSL negotiated another version");
        benchmark::AddCustomContext("OpenSSL", std::string(OpenSSL_version(OPENSSL_VERSION)) + ": " +
                                                   bench::openssl_negotiated(pair.client()));
    }
    benchmark::AddCustomContext("cpu_model", cpu_model());
}

/** "prefix/impl/suffix", built by appending (GCC 12 -O3 warns, wrongly,
    about `"literal" + std::string` temporaries: -Wrestrict, bug 105329). */
std::string name(const char* prefix, const char* impl, const std::string& suffix) {
    std::string text = prefix;
    text += '/';
    text += impl;
    text += '/';
    text += suffix;
    return text;
}

void register_all() {
    const std::array<std::size_t, 4> sizes{1024, 16 * 1024, 64 * 1024, 1024 * 1024};
    for (std::size_t size : sizes) {
        const std::string arg = std::to_string(size);
        benchmark::RegisterBenchmark(name("bulk", "tlsw", arg).c_str(), [size](State& s) { bulk_tlsw(s, size); });
        benchmark::RegisterBenchmark(name("bulk", "botan", arg).c_str(), [size](State& s) { bulk_botan(s, size); });
        benchmark::RegisterBenchmark(name("bulk", "openssl", arg).c_str(),
                                     [size](State& s) { bulk_openssl(s, size); });
    }

    benchmark::RegisterBenchmark("handshake/tlsw", handshake_tlsw);
    benchmark::RegisterBenchmark("handshake/botan", handshake_botan);
    benchmark::RegisterBenchmark("handshake/openssl", handshake_openssl);

    for (std::size_t count : {std::size_t{1}, batch}) {
        std::string arg = std::to_string(count);
        arg += "x100";
        benchmark::RegisterBenchmark(name("small", "tlsw", arg).c_str(),
                                     [count](State& s) { small_tlsw(s, count, small_mode::single); });
        benchmark::RegisterBenchmark(name("small", "botan", arg).c_str(),
                                     [count](State& s) { small_botan(s, count, small_mode::single); });
        benchmark::RegisterBenchmark(name("small", "openssl", arg).c_str(),
                                     [count](State& s) { small_openssl(s, count); });
    }
    benchmark::RegisterBenchmark("small/tlsw/gather_64x100", [](State& s) { small_tlsw(s, batch, small_mode::gather); });
    benchmark::RegisterBenchmark("small/botan/coalesced_64x100",
                                 [](State& s) { small_botan(s, batch, small_mode::gather); });

    benchmark::RegisterBenchmark("alloc/tlsw/16384", alloc_tlsw);
    benchmark::RegisterBenchmark("alloc/botan/16384", alloc_botan);
    benchmark::RegisterBenchmark("alloc/openssl/16384", alloc_openssl);
}

}  // namespace

int main(int argc, char** argv) {
    // Before any OpenSSL call: OpenSSL's own mallocs count too.
    const bool counting_openssl = bench::count_openssl_allocations();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    if (!counting_openssl)
        benchmark::AddCustomContext("warning", "OpenSSL allocations are not counted");
    check_setup();
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
