// Writes the seed corpus of every fuzz target: make_seeds DIR fills
// DIR/server, DIR/client, DIR/record, DIR/api and DIR/policy.
//
// The seeds are recorded, not committed: real tlsw peers talk to the
// stream each target fuzzes, set up exactly as the target sets it up
// (fuzz_common.hpp), and what that stream read is saved behind a header.
// Because a fuzzing build's randomness restarts from one seed per input,
// the fuzzed stream later draws the same random bytes as when it was
// recorded, so the recorded Finished messages and records still verify
// and the fuzzer starts past the handshake.
// - server, client: the stream under test runs in this process and its
//   peer in a forked child (each process has its own generator, so the
//   peer's draws do not shift the stream's), over a socketpair.
// - record: the in-process handshake of fuzz_record, then the peer's
//   records after it.
// - api: a few operation sequences (handshakes, writes, retries, reads,
//   renegotiation, shutdown) in fuzz_api's encoding.
// - policy: policy texts, Botan's own policies printed and a few by hand.
// Recording takes about a second; a seed whose peer fails is still
// written (it holds what was exchanged), and the exit status is 0 unless
// files cannot be written.

#include "fuzz_common.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tlsw_fuzz::config;

/** Forwards to a nonblocking socket and keeps every byte read. */
class recorder {
public:
    [[maybe_unused]] static constexpr bool can_block = false;
    static constexpr bool can_would_block = true;

    recorder(tlsw::nonblocking_socket next, std::vector<std::byte>& log) : next_(std::move(next)), log_(&log) {}

    tlsw::io_result read_some(std::span<std::byte> in) {
        auto n = next_.read_some(in);
        if (n)
            log_->insert(log_->end(), in.begin(), in.begin() + std::ptrdiff_t(*n));
        return n;
    }
    tlsw::io_result write_some(std::span<const std::byte> out) { return next_.write_some(out); }
    bool wait(tlsw::readiness r, std::chrono::milliseconds timeout) { return next_.wait(r, timeout); }

private:
    tlsw::nonblocking_socket next_;
    std::vector<std::byte>* log_;
};

tlsw::readiness readiness_for(tlsw::errc code) {
    return code == tlsw::errc::want_write ? tlsw::readiness::writable : tlsw::readiness::readable;
}

/** Repeats f after want_* (waiting on the socket) until done; false on failure. */
template <class Stream, class F>
bool must(Stream& s, F&& f) {
    for (int i = 0; i < 10000; ++i) {
        auto r = f();
        if (r)
            return true;
        if (!r.error().retryable() || !s.transport().wait(readiness_for(r.error().code()), 3000ms))
            return false;
    }
    return false;
}

template <class Stream>
bool write_all(Stream& s, std::size_t n, std::uint32_t seed) {
    const auto data = tlsw_test::pattern(n, seed);
    for (std::size_t done = 0; done < n;) {
        std::size_t wrote = 0;
        if (!must(s, [&] {
                auto r = s.write(std::span(data).subspan(done));
                if (r)
                    wrote = *r;
                return r;
            }))
            return false;
        done += wrote;
    }
    return true;
}

template <class Stream>
bool read_n(Stream& s, std::size_t n) {
    std::vector<std::byte> buf(20000);
    for (std::size_t got = 0; got < n;) {
        std::size_t read = 0;
        if (!must(s, [&] {
                auto r = s.read(buf);
                if (r)
                    read = *r;
                return r;
            }))
            return false;
        got += read;
    }
    return true;
}

/** Reads until the peer's close_notify or EOF. */
template <class Stream>
void read_to_end(Stream& s) {
    std::vector<std::byte> buf(20000);
    must(s, [&] { return s.read(buf); });
    while (must(s, [&] { return s.read(buf); })) {
    }
}

using peer_stream = tlsw::tls_stream<tlsw::nonblocking_socket>;
using peer_script = std::function<void(peer_stream&)>;

/** Records what the stream under test (server or client, set up as
    fuzz_server / fuzz_client set it up) reads from a peer that runs
    `script` in a child process. */
std::vector<std::byte> record_role(bool victim_client, const config& cfg, const peer_script& script) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        throw std::runtime_error("socketpair failed");
    const pid_t child = ::fork();
    if (child < 0)
        throw std::runtime_error("fork failed");
    if (child == 0) {
        ::close(fds[0]);
        ::alarm(20);  // a stuck conversation ends the child, not the build
        tlsw::detail::reseed_fuzzing_rng(tlsw_fuzz::rng_seed + 1000);
        auto sock = tlsw::nonblocking_socket::from_fd(fds[1]);
        if (sock) {
            if (victim_client) {
                auto ctx = tlsw_fuzz::server_context(cfg);
                peer_stream s(ctx, std::move(*sock));
                script(s);
            } else {
                auto ctx = tlsw_fuzz::client_context();
                peer_stream s(ctx, std::move(*sock), tlsw_fuzz::localhost());
                script(s);
            }
        }
        std::fflush(nullptr);
        ::_exit(0);
    }
    ::close(fds[1]);
    std::vector<std::byte> log;
    {
        // Exactly the calls of fuzz_server.cpp / fuzz_client.cpp, in order.
        tlsw::detail::reseed_fuzzing_rng(tlsw_fuzz::rng_seed);
        auto ctx = victim_client ? tlsw_fuzz::client_context() : tlsw_fuzz::server_context(cfg);
        auto sock = tlsw::nonblocking_socket::from_fd(fds[0]);
        if (!sock)
            throw std::runtime_error("from_fd failed");
        tlsw::tls_stream<recorder> s(ctx, recorder(std::move(*sock), log),
                                     victim_client ? tlsw_fuzz::localhost() : tlsw::stream_options{});
        tlsw_fuzz::play_side(s, victim_client,
                             [&](tlsw::errc code) { return s.transport().wait(readiness_for(code), 3000ms); });
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return log;
}

void write_file(const fs::path& path, const std::vector<std::uint8_t>& header, std::span<const std::byte> body) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(header.data()), std::streamsize(header.size()));
    out.write(reinterpret_cast<const char*>(body.data()), std::streamsize(body.size()));
    if (!out)
        throw std::runtime_error("cannot write " + path.string());
}

/** The configurations each recording is saved under: every policy
    combination without faults, and two with short reads and writes and
    would_block. */
std::vector<config> variants(config base) {
    std::vector<config> out;
    for (unsigned p = 0; p < 4; ++p) {
        base.policy = p;
        out.push_back(base);
    }
    base.policy = 0;
    base.faults.would_block_percent = 20;
    base.faults.max_read = 64;
    base.faults.max_write = 16;
    out.push_back(base);
    base.policy = 3;
    base.faults.seed = 9;
    base.faults.max_read = 1;
    base.faults.max_write = 512;
    out.push_back(base);
    return out;
}

int seeds_written = 0;

void save(const fs::path& dir, const std::string& name, const config& base, std::span<const std::byte> body) {
    int i = 0;
    for (const config& c : variants(base)) {
        write_file(dir / (name + "-" + std::to_string(i++)), c.encode(), body);
        ++seeds_written;
    }
}

// ---- server and client ---------------------------------------------------

void make_role_seeds(const fs::path& out) {
    fs::create_directories(out / "server");
    fs::create_directories(out / "client");
    config plain;
    // Without tickets a renegotiation resumes by session ID with no
    // NewSessionTicket (whose content holds the time) before the client's
    // Finished, so the recorded Finished verifies when replayed.
    config renegotiating;
    renegotiating.allow_client_renegotiation = true;
    renegotiating.no_tickets = true;

    // Clients talking to the fuzzed server, which echoes.
    const peer_script echo_twice = [](peer_stream& c) {
        if (!must(c, [&] { return c.handshake(); }) || !write_all(c, 100, 1) || !read_n(c, 100))
            return;
        const auto data = tlsw_test::pattern(222, 2);
        const std::span<const std::byte> whole(data);
        const std::span<const std::byte> parts[] = {whole.first(5), whole.subspan(5, 200), whole.subspan(205)};
        if (!must(c, [&] { return c.write(parts); }) || !read_n(c, data.size()))
            return;
        must(c, [&] { return c.shutdown(); });
        read_to_end(c);
    };
    const peer_script renegotiate = [](peer_stream& c) {
        if (!must(c, [&] { return c.handshake(); }) || !write_all(c, 100, 3) || !read_n(c, 100))
            return;
        if (!must(c, [&] { return c.renegotiate(); }) || !write_all(c, 50, 4) || !read_n(c, 50))
            return;
        must(c, [&] { return c.shutdown(); });
        read_to_end(c);
    };
    const peer_script hello_only = [](peer_stream& c) { must(c, [&] { return c.handshake(); }); };
    save(out / "server", "echo", plain, record_role(false, plain, echo_twice));
    save(out / "server", "renegotiation-refused", plain, record_role(false, plain, renegotiate));
    save(out / "server", "renegotiation", renegotiating, record_role(false, renegotiating, renegotiate));
    save(out / "server", "handshake", plain, record_role(false, plain, hello_only));

    // Servers answering the fuzzed client, which sends 64 bytes and reads.
    const peer_script respond = [](peer_stream& s) {
        if (!must(s, [&] { return s.handshake(); }) || !read_n(s, 64) || !write_all(s, 20000, 5) ||
            !write_all(s, 100, 6))
            return;
        must(s, [&] { return s.shutdown(); });
        read_to_end(s);
    };
    const peer_script hello_request = [](peer_stream& s) {
        if (!must(s, [&] { return s.handshake(); }) || !read_n(s, 64) || !write_all(s, 100, 7))
            return;
        if (!must(s, [&] { return s.renegotiate(); }) || !write_all(s, 300, 8))
            return;
        must(s, [&] { return s.shutdown(); });
        read_to_end(s);
    };
    save(out / "client", "response", plain, record_role(true, plain, respond));
    save(out / "client", "hello-request", plain, record_role(true, plain, hello_request));
    save(out / "client", "handshake", plain, record_role(true, plain, hello_only));
}

// ---- record ----------------------------------------------------------------

/** What the peer sends after fuzz_record's handshake, for each scenario. */
template <class Peer>
void peer_scenario(int which, Peer& peer) {
    auto write = [&](std::size_t n, std::uint32_t seed) {
        const auto data = tlsw_test::pattern(n, seed);
        for (std::size_t done = 0; done < n;) {
            auto r = peer.write(std::span(data).subspan(done));
            if (!r)
                return;
            done += *r;
        }
    };
    switch (which) {
    case 0: {
        write(100, 1);
        const auto data = tlsw_test::pattern(322, 2);
        const std::span<const std::byte> whole(data);
        const std::span<const std::byte> parts[] = {whole.first(5), whole.subspan(5, 300), whole.subspan(305)};
        (void)peer.write(parts);
        write(20000, 3);
        (void)peer.shutdown();
        return;
    }
    case 1:
        for (int i = 0; i < 8; ++i)
            write(1, 10 + i);
        (void)peer.renegotiate();
        return;
    case 2: (void)peer.shutdown(); return;
    default: write(5000, 4); return;
    }
}

void make_record_seeds(const fs::path& out) {
    fs::create_directories(out / "record");
    for (int client = 0; client < 2; ++client) {
        for (int scenario = 0; scenario < 4; ++scenario) {
            config base;
            base.victim_is_client = client == 1;
            int i = 0;
            for (const config& c : variants(base)) {
                std::vector<std::byte> log;
                tlsw_fuzz::with_policies(c, [&]<class P>() {
                    tlsw_fuzz::with_established_pair<P>(
                        c, [&](auto& victim, auto& peer, tlsw::memory_pair::end&) {
                            peer_scenario(scenario, peer);
                            // What the peer wrote waits in the victim's end.
                            std::vector<std::byte> buf(64 * 1024);
                            while (auto n = victim.transport().next().read_some(buf)) {
                                if (*n == 0)
                                    break;
                                log.insert(log.end(), buf.begin(), buf.begin() + std::ptrdiff_t(*n));
                            }
                        });
                });
                write_file(out / "record" /
                               ((client ? "client-" : "server-") + std::to_string(scenario) + "-" + std::to_string(i++)),
                           c.encode(), log);
                ++seeds_written;
            }
        }
    }
}

// ---- api -------------------------------------------------------------------

/** fuzz_api's operations, in its encoding: (code << 1) | side. */
enum api_op : std::uint8_t {
    write_new, gather_new, retry_same, retry_moved, retry_shorter, retry_longer, read_op,
    handshake, renegotiate, shutdown_send, shutdown_wait, empty_write, heal,
};
constexpr std::uint8_t client = 0, server = 1;

struct ops {
    std::vector<std::byte> bytes;
    ops& add(std::uint8_t side, api_op o) {
        bytes.push_back(std::byte((o << 1) | side));
        return *this;
    }
    ops& arg8(std::uint8_t v) {
        bytes.push_back(std::byte(v));
        return *this;
    }
    ops& arg16(unsigned v) {
        bytes.push_back(std::byte(v & 0xff));
        bytes.push_back(std::byte(v >> 8));
        return *this;
    }
    ops& write(std::uint8_t side, unsigned n) { return add(side, write_new).arg16(n); }
    ops& gather(std::uint8_t side, std::uint8_t pieces, unsigned n) { return add(side, gather_new).arg8(pieces).arg16(n); }
    ops& read(std::uint8_t side, unsigned n = 20000) { return add(side, read_op).arg16(n); }
    ops& both_handshake(int rounds = 6) {
        for (int i = 0; i < rounds; ++i)
            add(client, handshake).add(server, handshake);
        return *this;
    }
};

void make_api_seeds(const fs::path& out) {
    fs::create_directories(out / "api");
    std::vector<std::pair<std::string, ops>> seqs;
    {
        ops o;
        o.both_handshake().write(client, 100).read(server).write(server, 30000);
        for (int i = 0; i < 4; ++i)
            o.read(client).add(server, retry_same);
        o.gather(client, 4, 500).read(server).add(client, shutdown_send).read(server).add(server, shutdown_send).read(client);
        seqs.emplace_back("exchange", o);
    }
    {
        // A write before the handshake: want_read, then repeats while the server answers.
        ops o;
        o.write(client, 1000);
        for (int i = 0; i < 6; ++i)
            o.read(server).add(client, retry_same);
        o.read(server).read(server);
        seqs.emplace_back("write-first", o);
    }
    {
        // A full pair: want_write, then repeats moved, shorter, longer.
        ops o;
        o.both_handshake().write(client, 40000).add(client, retry_moved).read(server, 300).add(client, retry_shorter).arg8(10);
        o.add(client, retry_longer).arg8(5).read(server).add(client, retry_same).read(server).read(server);
        seqs.emplace_back("retries", o);
    }
    {
        ops o;
        o.both_handshake().write(server, 50).read(client).add(server, renegotiate);
        for (int i = 0; i < 5; ++i)
            o.read(client).add(server, handshake);
        o.write(server, 70).read(client).add(client, renegotiate).read(server).write(client, 10).read(server);
        o.read(server).add(client, retry_same).read(server);
        seqs.emplace_back("renegotiation", o);
    }
    {
        ops o;
        o.both_handshake().add(client, empty_write).add(server, empty_write).write(client, 20).add(server, shutdown_wait);
        o.read(client).add(client, shutdown_wait).add(server, shutdown_wait).read(server, 0).add(client, heal);
        seqs.emplace_back("shutdown", o);
    }
    for (const auto& [name, o] : seqs) {
        config base;
        int i = 0;
        for (const config& c : variants(base)) {
            // Capacity 64 KiB for the plain variants, 2 KiB and 256 B for the faulty ones.
            const unsigned capacity = i < 4 ? 3 : (i == 4 ? 1 : 0);
            write_file(out / "api" / (name + "-" + std::to_string(i++)), c.encode(capacity), o.bytes);
            ++seeds_written;
        }
    }
}

// ---- policy ----------------------------------------------------------------

void make_policy_seeds(const fs::path& out) {
    fs::create_directories(out / "policy");
    std::vector<std::string> texts = {
        Botan::TLS::Policy().to_string(),
        Botan::TLS::Strict_Policy().to_string(),
        Botan::TLS::BSI_TR_02102_2().to_string(),
        Botan::TLS::NSA_Suite_B_128().to_string(),
        tlsw::context::client().state()->tls_policy().to_string(),
        "# comments, blank lines and spaces\n\n  allow_tls12 = true   # trailing\n\tciphers = AES-256/GCM AES-128/GCM\n",
        "allow_tls12 = true\r\nciphers = ChaCha20Poly1305 AES-128/GCM\r\nmacs = AEAD\r\n"
        "key_exchange_methods = ECDH\r\nsignature_methods = ECDSA RSA\r\n",
        "signature_hashes = SHA-256 SHA-384\nkey_exchange_groups = x25519 secp256r1\nminimum_rsa_bits = 2048\n"
        "session_ticket_lifetime = 3600\nsrtp_profiles = 1 2\nrequire_client_certificate_authentication = false\n",
    };
    int i = 0;
    for (const auto& text : texts) {
        const std::vector<std::byte> body(reinterpret_cast<const std::byte*>(text.data()),
                                          reinterpret_cast<const std::byte*>(text.data() + text.size()));
        write_file(out / "policy" / ("policy-" + std::to_string(i++)), {}, body);
        ++seeds_written;
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_seeds DIR\n";
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    try {
        const fs::path out = argv[1];
        make_role_seeds(out);
        make_record_seeds(out);
        make_api_seeds(out);
        make_policy_seeds(out);
        std::cout << "make_seeds: " << seeds_written << " seeds in " << out.string() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "make_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
