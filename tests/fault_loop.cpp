// Fault injection: tls_streams over transports that read and write short,
// return would_block at random points, and fail or end at a chosen
// operation. Every run either ends with the injected fault, or delivers
// every byte once and in order.

#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>
#include <tlsw/testing/fault_transport.hpp>
#include <tlsw/tls_stream.hpp>

#include <catch2/catch.hpp>

#include <optional>

#ifndef TLSW_FAIL_LOOP_SEEDS
#define TLSW_FAIL_LOOP_SEEDS 1000
#endif

using namespace tlsw_test;
using tlsw::errc;
using tlsw::testing::fault_kind;
using tlsw::testing::fault_plan;
using faulty = tlsw::testing::fault_transport<tlsw::memory_pair::end>;

namespace {

struct run_outcome {
    std::optional<tlsw::tls_error> error;  // the first non-retryable error either side saw
    bool error_on_faulty_side = false;     // it came from the stream whose transport was faulted
    bool fault_hit = false;
    std::size_t written = 0;
    std::vector<std::byte> data;
    std::vector<std::byte> received;
};

/** Random caps and would_blocks for one side, from `rng`. */
fault_plan random_plan(seeded& rng) {
    fault_plan plan;
    plan.seed = rng.next();
    plan.would_block_percent = static_cast<unsigned>(rng.between(0, 40));
    const auto cap = [&]() -> std::size_t {
        switch (rng.between(0, 3)) {
        case 0: return 0;
        case 1: return rng.between(1, 16);
        case 2: return rng.between(17, 2000);
        default: return rng.between(2001, 20000);
        }
    };
    plan.max_read = cap();
    plan.max_write = cap();
    return plan;
}

/** One transfer of `size` bytes from writer to reader over faulty transports.
    `moving` retries pass an equal copy of the bytes at another address. */
template <class P>
run_outcome run(std::uint64_t seed, bool client_writes, fault_plan client_plan, fault_plan server_plan,
                std::size_t size) {
    using stream = typename P::template stream<faulty>;
    seeded rng{seed};
    auto [a, b] = tlsw::memory_pair::make(rng.between(64, 70000));
    stream client(client_context(), faulty(std::move(a), client_plan), localhost());
    stream server(server_context(), faulty(std::move(b), server_plan));
    stream& writer = client_writes ? client : server;
    stream& reader = client_writes ? server : client;
    const bool writer_faulty = (client_writes ? client_plan : server_plan).fail_at.has_value();

    run_outcome out;
    out.data = pattern(size, static_cast<std::uint32_t>(seed));
    const std::vector<std::byte> copy = out.data;  // same bytes, another address
    std::vector<std::byte> buffer(20000);
    std::size_t chunk = 0;
    bool retrying = false;
    bool wrote_empty = size > 0;  // a transfer of 0 bytes is one write of 0 bytes
    unsigned attempt = 0;

    for (int round = 0; round < 2000000; ++round) {
        const bool writing = out.written < size || !wrote_empty;
        if (!writing && out.received.size() == size)
            break;
        if (writing) {
            if (!retrying)
                chunk = size == 0 ? 0 : rng.between(1, std::min<std::size_t>(size - out.written, 40000));
            const bool use_copy = stream::moving_buffer && retrying && (++attempt % 2 == 1);
            const auto& source = use_copy ? copy : out.data;
            auto n = writer.write(std::span(source).subspan(out.written, chunk));
            if (n) {
                REQUIRE(*n <= chunk);
                if (!stream::partial_write)
                    REQUIRE(*n == chunk);
                out.written += *n;
                retrying = false;
                wrote_empty = true;
            } else if (n.error().retryable()) {
                retrying = true;
            } else {
                out.error = n.error();
                out.error_on_faulty_side = writer_faulty;
                break;
            }
        }
        if (out.received.size() < size || (writing && !retrying)) {
            auto m = reader.read(std::span(buffer).first(rng.between(1, buffer.size())));
            if (m) {
                REQUIRE(*m > 0);
                out.received.insert(out.received.end(), buffer.begin(),
                                    buffer.begin() + static_cast<std::ptrdiff_t>(*m));
            } else if (!m.error().retryable()) {
                out.error = m.error();
                out.error_on_faulty_side = !writer_faulty;
                break;
            }
        }
    }
    out.fault_hit = client.transport().counters().fault_hit || server.transport().counters().fault_hit;
    return out;
}

/** The checks every run must pass, faulted or not. */
void check(const run_outcome& out, const fault_plan& faulted) {
    // Whatever arrived is the start of what was sent: nothing lost, doubled or reordered.
    REQUIRE(out.received.size() <= out.data.size());
    CHECK(first_difference(out.received, std::span(out.data).first(out.received.size())) == std::string::npos);
    if (!out.error) {
        CHECK_SAME_BYTES(out.received, out.data);
        CHECK(out.written == out.data.size());
        return;
    }
    INFO("error: " << out.error->message());
    REQUIRE(out.fault_hit);
    CHECK(out.error_on_faulty_side);
    if (faulted.fail_kind == fault_kind::eof) {
        // EOF on a read is truncation; on a write it is a broken pipe.
        CHECK((*out.error == errc::truncated ||
               (*out.error == errc::transport && out.error->transport_error() == std::errc::broken_pipe)));
    } else {
        CHECK(*out.error == errc::transport);
        CHECK(out.error->transport_error() == faulted.fail_error);
    }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("over short reads, short writes and random would_block every byte arrives once and in order",
                        "[fault][tls_stream]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    const auto seed = static_cast<std::uint64_t>(GENERATE(range(1, TLSW_FAIL_LOOP_SEEDS + 1)));
    CAPTURE(seed, client_writes);

    seeded rng{seed * 7919};
    fault_plan client_plan = random_plan(rng);
    fault_plan server_plan = random_plan(rng);
    // Tiny caps make every record take thousands of operations; keep those runs short.
    const bool tiny = std::min({client_plan.max_read, client_plan.max_write, server_plan.max_read,
                                server_plan.max_write}) > 0 &&
                      std::min({client_plan.max_read, client_plan.max_write, server_plan.max_read,
                                server_plan.max_write}) <= 16;
    const std::size_t size = rng.between(0, tiny ? 3000 : 70000);

    // Half the seeds also fail or end one side's transport at a random operation.
    fault_plan* faulted = nullptr;
    if (rng.between(0, 1) == 1) {
        faulted = rng.between(0, 1) ? &client_plan : &server_plan;
        faulted->fail_at = rng.between(0, 60);
        faulted->fail_kind = rng.between(0, 1) ? fault_kind::error : fault_kind::eof;
    }
    const auto out = run<TestType>(seed, client_writes, client_plan, server_plan, size);
    check(out, faulted ? *faulted : fault_plan{});
}

TEMPLATE_LIST_TEST_CASE("a fault at operation n, for every n, ends the run with that fault or not at all",
                        "[fault][tls_stream][fail_loop]", all_policies) {
    const bool client_writes = GENERATE(true, false);
    const bool fault_client = GENERATE(true, false);
    const auto kind = GENERATE(fault_kind::error, fault_kind::eof);
    CAPTURE(client_writes, fault_client, kind);

    std::uint64_t n = 0;
    for (;; ++n) {
        CAPTURE(n);
        seeded rng{n + 1};
        fault_plan client_plan = random_plan(rng);
        fault_plan server_plan = random_plan(rng);
        client_plan.max_read = client_plan.max_write = server_plan.max_read = server_plan.max_write = 700;
        fault_plan& faulted = fault_client ? client_plan : server_plan;
        faulted.fail_at = n;
        faulted.fail_kind = kind;
        const auto out = run<TestType>(n + 1, client_writes, client_plan, server_plan, 20000);
        check(out, faulted);
        if (!out.fault_hit)
            break;  // the run outlasted every operation a fault could hit
        REQUIRE(n < 5000);
    }
    CHECK(n > 10);
}
