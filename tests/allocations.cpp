// Test that header file is self-contained.
#include <tlsw/tls_stream.hpp>

// Heap allocations per record in the steady state (issue 11, item 4): tlsw's
// own code must make none; Botan's own are reported beside them.
//
// How allocations are told apart: this executable replaces the global
// operator new and is linked with -rdynamic (meson: export_dynamic), so
// dladdr names its functions. While a test counts, each allocation takes a
// backtrace and is attributed to the innermost frame that decides it:
// - a frame in libbotan: Botan's allocation (Botan's code asked for it,
//   even through std:: code that runs from this executable's copy);
// - a function of namespace tlsw (the stream, the engine and the callbacks
//   Botan calls into, memory_pair): tlsw's own.
// Everything else decides nothing and the walk goes on outwards: libstdc++,
// libc, the unwinder, std:: template code, operator new and the counter
// itself, the test's loop. An allocation no frame decides counts as tlsw's,
// so that doubt fails the test rather than hiding an allocation.
//
// Botan's secure_vector memory (its locked pool or calloc) does not go
// through operator new and is not seen here; tlsw's code uses no
// secure_vector on the data path.

#include "support/harness.hpp"

#include <tlsw/memory_pair.hpp>

#include <botan/version.h>

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <vector>

namespace {

struct allocation_counts {
    std::size_t own = 0;    ///< made by tlsw's (this executable's) code
    std::size_t botan = 0;  ///< made by Botan's code
};

constexpr int max_frames = 48;
constexpr std::size_t max_recorded = 8;

// Written only while one thread counts (the test's own); no locks needed.
bool counting = false;
thread_local bool inside = false;  // a backtrace or dladdr in progress
allocation_counts counts;
// The backtraces of the first tlsw-own allocations, to say where they are.
void* recorded[max_recorded][max_frames];
int recorded_depth[max_recorded];
std::size_t recorded_count = 0;

enum class origin { undecided, own, botan };

const char* object_of(const void* address) {
    Dl_info info{};
    if (dladdr(address, &info) == 0 || info.dli_fname == nullptr)
        return nullptr;
    return info.dli_fname;
}

/** The path of libbotan and of this executable, as dladdr reports them. */
struct objects {
    std::string botan;
    std::string self;
};

const objects& known_objects() {
    static const objects o = [] {
        objects r;
        // A function defined in libbotan, and one defined here.
        if (const char* f = object_of(reinterpret_cast<const void*>(&Botan::version_string)))
            r.botan = f;
        if (const char* f = object_of(reinterpret_cast<const void*>(&known_objects)))
            r.self = f;
        return r;
    }();
    return o;
}

/** A mangled name in namespace tlsw: a function, a member, or a lambda
    inside one (Itanium ABI: _ZN4tlsw..., _ZNK4tlsw..., _ZZN4tlsw...). */
bool in_namespace_tlsw(const char* name) {
    for (const char* prefix : {"_ZN4tlsw", "_ZNK4tlsw", "_ZZN4tlsw", "_ZZNK4tlsw"})
        if (std::strncmp(name, prefix, std::strlen(prefix)) == 0)
            return true;
    return false;
}

/** What one return address says about who allocated. */
origin classify(void* pc) {
    // A return address points after the call; step back into it.
    const void* address = static_cast<const char*>(pc) - 1;
    Dl_info info{};
    void* extra = nullptr;
    if (dladdr1(address, &info, &extra, RTLD_DL_SYMENT) == 0 || !info.dli_fname)
        return origin::undecided;
    const auto& known = known_objects();
    if (known.botan == info.dli_fname)
        return origin::botan;
    if (known.self != info.dli_fname || !info.dli_sname || !info.dli_saddr || !extra)
        return origin::undecided;
    // dladdr names the nearest exported symbol below the address; it is
    // this function only if the address lies inside it (static functions
    // and anonymous namespaces are not exported: the test's own code).
    const auto* symbol = static_cast<const ElfW(Sym)*>(extra);
    const auto start = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
    const auto at = reinterpret_cast<std::uintptr_t>(address);
    if (at < start || at >= start + symbol->st_size)
        return origin::undecided;
    return in_namespace_tlsw(info.dli_sname) ? origin::own : origin::undecided;
}

void note_allocation() {
    if (!counting || inside)
        return;
    inside = true;
    void* frames[max_frames];
    const int depth = backtrace(frames, max_frames);
    origin who = origin::undecided;
    for (int i = 1; i < depth && who == origin::undecided; ++i)
        who = classify(frames[i]);
    if (who == origin::botan) {
        ++counts.botan;
    } else {
        ++counts.own;
        if (recorded_count < max_recorded) {
            std::memcpy(recorded[recorded_count], frames, sizeof frames);
            recorded_depth[recorded_count] = depth;
            ++recorded_count;
        }
    }
    inside = false;
}

/** Counts the allocations `f` makes. */
template <class F>
allocation_counts count_allocations(F&& f) {
    known_objects();
    {
        // The first backtrace loads the unwinder: not during a count.
        void* frames[4];
        backtrace(frames, 4);
    }
    counts = {};
    recorded_count = 0;
    counting = true;
    f();
    counting = false;
    return counts;
}

/** Where the recorded tlsw-own allocations come from, for the failure message. */
void print_recorded() {
    for (std::size_t i = 0; i < recorded_count; ++i) {
        const char line[] = "--- a tlsw-own allocation, innermost frame first:\n";
        (void)!::write(STDERR_FILENO, line, sizeof line - 1);
        backtrace_symbols_fd(recorded[i], recorded_depth[i], STDERR_FILENO);
    }
}

void* allocate(std::size_t n) {
    note_allocation();
    if (void* p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}

void* allocate(std::size_t n, std::align_val_t al) {
    note_allocation();
    const auto align = static_cast<std::size_t>(al);
    if (void* p = std::aligned_alloc(align, n == 0 ? align : (n + align - 1) / align * align))
        return p;
    throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void* operator new(std::size_t n, std::align_val_t al) { return allocate(n, al); }
void* operator new[](std::size_t n, std::align_val_t al) { return allocate(n, al); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    note_allocation();
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    note_allocation();
    return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace tlsw_test;

TEMPLATE_LIST_TEST_CASE("records in the steady state allocate nothing in tlsw's own code",
                        "[allocations][performance]", all_policies) {
    using stream = typename TestType::template stream<tlsw::memory_pair::end>;
    const bool client_writes = GENERATE(true, false);
    // One small record, one full record, and a write of several records.
    const std::size_t size = GENERATE(std::size_t{100}, std::size_t{16384}, std::size_t{40000});
    const std::size_t records_per_write = (size + stream::max_record - 1) / stream::max_record;
    INFO((client_writes ? "client" : "server") << " writes " << size << " bytes per write");

    auto [a, b] = tlsw::memory_pair::make(256 * 1024);
    stream client(client_context(), std::move(a), localhost());
    stream server(server_context(), std::move(b));
    handshake_both(client, server);
    stream& writer = client_writes ? client : server;
    stream& reader = client_writes ? server : client;

    const auto data = pattern(size);
    std::vector<std::byte> buffer(64 * 1024);
    bool ok = true;
    auto one_write = [&] {
        auto n = write_all(writer, data, [] {});
        ok = ok && n && *n == size;
        for (std::size_t got = 0; ok && got < size;) {
            auto m = reader.read(buffer);
            ok = m.has_value();
            got += m ? *m : 0;
        }
    };
    for (int i = 0; i < 16; ++i)  // warm-up: buffers reach their steady size
        one_write();
    REQUIRE(ok);

    constexpr std::size_t writes = 64;
    const auto counted = count_allocations([&] {
        for (std::size_t i = 0; i < writes; ++i)
            one_write();
    });
    REQUIRE(ok);
    const std::size_t records = writes * records_per_write;
    if (counted.own > 0)
        print_recorded();
    INFO("tlsw's own: " << counted.own << " allocations in " << records << " records (backtraces on stderr)");
    CHECK(counted.own == 0);
    // Botan's own, for the record: the AEAD nonce and associated data it
    // builds for each record it seals and opens.
    WARN("Botan's own allocations: " << static_cast<double>(counted.botan) / static_cast<double>(records)
                                     << " per record (both sides)");
}

TEST_CASE("the allocation count gives each allocation to the code that asked for it", "[allocations]") {
    // The counter itself must not be blind: an allocation made by this
    // executable's code is tlsw's own, one made inside libbotan is Botan's.
    const auto own = count_allocations([] {
        auto* p = new int(1);
        delete p;
        std::vector<std::byte> v(100);
        (void)v;
    });
    CHECK(own.own == 2);
    CHECK(own.botan == 0);
    const auto botan = count_allocations([] { (void)Botan::version_string(); });
    if (botan.own > 0)
        print_recorded();
    CHECK(botan.own == 0);
    CHECK(botan.botan >= 1);
}

namespace {

/** A memory_pair end that declares it blocks: a read finds the peer's
    message already there (one thread plays both sides), but the stream
    treats it as a blocking transport. */
class declared_blocking {
public:
    [[maybe_unused]] static constexpr bool can_block = true;
    [[maybe_unused]] static constexpr bool can_would_block = false;
    explicit declared_blocking(tlsw::memory_pair::end next) : next_(std::move(next)) {}
    tlsw::io_result read_some(std::span<std::byte> in) { return next_.read_some(in); }
    tlsw::io_result write_some(std::span<const std::byte> out) { return next_.write_some(out); }

private:
    tlsw::memory_pair::end next_;
};

}  // namespace

TEMPLATE_LIST_TEST_CASE("a request/response loop of 100-byte messages allocates nothing per round trip over blocking "
                        "and nonblocking transports, and the idle streams hold no buffer",
                        "[allocations][performance][idle]", all_policies) {
    // Each side goes idle between messages: a blocking read() that empties
    // the receive buffer, a nonblocking reader that drains until want_read.
    const bool blocking = GENERATE(true, false);
    INFO((blocking ? "blocking" : "nonblocking") << " transport");
    auto run = [&]<class end>() {
        using stream = typename TestType::template stream<end>;
        auto [a, b] = tlsw::memory_pair::make(256 * 1024);
        stream client(client_context(), end(std::move(a)), localhost());
        stream server(server_context(), end(std::move(b)));
        handshake_both(client, server);
        const auto request = pattern(100, 1), response = pattern(100, 2);
        std::vector<std::byte> buffer(1000);
        bool ok = true;
        auto receive = [&](stream& s) {
            auto m = s.read(buffer);
            ok = ok && m && *m == 100;
            if constexpr (!tlsw::transport_traits<end>::can_block) {
                auto idle = s.read(buffer);  // drains: the stream goes idle
                ok = ok && !idle && idle.error() == tlsw::errc::want_read;
            }
        };
        auto round_trip = [&] {
            ok = ok && client.write(request).value_or(0) == 100;
            receive(server);
            ok = ok && server.write(response).value_or(0) == 100;
            receive(client);
        };
        for (int i = 0; i < 8; ++i)
            round_trip();
        REQUIRE(ok);
        constexpr std::size_t trips = 64;
        const auto counted = count_allocations([&] {
            for (std::size_t i = 0; i < trips; ++i)
                round_trip();
        });
        REQUIRE(ok);
        if (counted.own > 0)
            print_recorded();
        INFO("tlsw's own: " << counted.own << " allocations in " << trips << " round trips");
        CHECK(counted.own == 0);
        CHECK(client.buffer_capacity() == 0);
        CHECK(server.buffer_capacity() == 0);
    };
    if (blocking)
        run.template operator()<declared_blocking>();
    else
        run.template operator()<tlsw::memory_pair::end>();
}
