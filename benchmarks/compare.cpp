// tlsw_compare: the measurements behind benchmarks/run.sh's table, for
// tlsw, raw Botan and OpenSSL side by side in one run.
//
//   tlsw_compare [--quick]
//
// Prints one "key value" line per figure (run.sh and table.py read them):
//
// - heap per idle server stream, and in all, for 1000 established streams
//   (TCP loopback; the clients live in a forked process, so the server
//   process's heap holds the server side alone);
// - heap per client+server pair after 1 MiB each way in 16 KiB writes
//   (TCP; each side measured in its own process, then added);
// - bulk transfer over TCP and in memory: MiB/s per write size, and over
//   TCP the receives (transport reads: one recv(2) each) per MiB received;
// - 64-byte messages over TCP and in memory, one write each or gathered;
// - full and resumed handshakes over TCP and in memory;
// - heap allocations per 16 KiB record in the steady state, in memory.
//
// Timings over TCP are wall time (two threads, one per side); in memory
// they are the thread's CPU time, which other load on the machine does not
// inflate. Five runs, each measuring the three implementations in turn;
// the median is printed.
//
// Heap is glibc's mallinfo2(): bytes in use in the main arena plus mmapped
// blocks, measured in the thread that made the objects. Set
// BOTAN_MLOCK_POOL_SIZE=0 (main() does) so that Botan's secure_vector
// memory is on the heap too rather than hidden in its locked pool.
//
// Like for like: TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256 with X25519, the
// same certificate chain; tickets off everywhere; every server keeps a
// session-ID cache and every client caches its sessions, except in full
// handshakes where tlsw can turn its cache off (context::session_cache):
// there no one caches. Where it cannot, full handshakes use a new cache key
// per connection and resumed ones reuse one. TCP_NODELAY on every socket; blocking sockets;
// the reader's buffer is 64 KiB. Raw Botan reads the socket with recv(2)
// into a 64 KiB buffer shared by the thread's connections; OpenSSL uses its
// socket BIO with default settings (no read-ahead; a reference run turns
// read-ahead on).

#include "alloc_count.hpp"
#include "peers.hpp"

#include <tlsw/tcp_listener.hpp>

#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using bench::check;
using bench::die;
using bench::median;
using bench::thread_seconds;

bool quick = false;
/** Raw Botan's reserved I/O buffers: 0 as tlsw's engine passes, unless a
    measurement asks for Botan's default (Channel::IO_BUF_DEFAULT_SIZE). */
std::size_t botan_io_reserve = 0;
/** OpenSSL's read-ahead (off by default): read as much as its buffer holds. */
bool openssl_read_ahead = false;

void put(const std::string& key, double value) {
    std::printf("%s %.6g\n", key.c_str(), value);
    std::fflush(stdout);
}

std::size_t heap_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/** Timed samples by key; the runs interleave the implementations, so
    that a change of load on the machine hits all three alike. */
std::map<std::string, std::vector<double>> samples;

void sample(const std::string& key, double value) { samples[key].push_back(value); }

/** A fresh session-cache key for each full handshake (a client caches by server and port). */
std::uint16_t next_key() {
    static std::uint16_t key = 1000;
    return key++;
}

// ---- what each implementation shares between connections ----------------------

struct envs {
    /** `cache` false: no session cache anywhere (tlsw's only where it can
        turn it off: bench::tlsw_cache_switchable()). */
    explicit envs(bool cache = true)
        : tlsw(bench::make_tlsw_contexts(false, cache)), botan(false, cache), openssl(cache) {
        openssl.sigalgs("ECDSA+SHA384");  // what Botan's server signs with (tlsw_bench checks it)
    }
    ~envs() {
        for (auto& [key, session] : openssl_sessions)
            SSL_SESSION_free(session);
    }
    envs(const envs&) = delete;
    envs& operator=(const envs&) = delete;

    bench::tlsw_contexts tlsw;
    bench::botan_shared botan;
    bench::openssl_contexts openssl;
    std::map<std::uint16_t, SSL_SESSION*> openssl_sessions;  // the client's cache, by key
};

/** The reader's buffer: one per thread, shared by its connections. */
std::span<std::byte> read_buffer() {
    thread_local std::array<std::byte, bench::read_buffer_size> buffer;
    return buffer;
}

// ---- TCP endpoints: one side of one connection, over a blocking socket -------------

/** A blocking socket that counts its reads: one recv(2) each. */
class counting_socket {
public:
    // Read by tlsw::transport_traits (clang does not see that use).
    [[maybe_unused]] static constexpr bool can_block = true;
    [[maybe_unused]] static constexpr bool can_would_block = false;

    explicit counting_socket(tlsw::blocking_socket s) : socket_(std::move(s)) {}
    tlsw::io_result read_some(std::span<std::byte> in) {
        ++reads;
        return socket_.read_some(in);
    }
    tlsw::io_result write_some(std::span<const std::byte> out) { return socket_.write_some(out); }
    int fd() const noexcept { return socket_.native_handle(); }

    std::size_t reads = 0;

private:
    tlsw::blocking_socket socket_;
};

/** Waits until the peer closes (its handshake is over): recv(2) returning 0. */
void wait_for_close(int fd) {
    std::array<char, 256> sink{};
    for (;;) {
        const ssize_t n = ::recv(fd, sink.data(), sink.size(), 0);
        if (n <= 0)
            return;
    }
}

class tcp_tlsw {
public:
    static constexpr const char* name = "tlsw";

    tcp_tlsw(envs& env, tlsw::blocking_socket s, bool client, std::uint16_t key)
        : stream_(client ? env.tlsw.client : env.tlsw.server, counting_socket(std::move(s)),
                  client ? tlsw::stream_options{.server_name = "localhost", .port = key} : tlsw::stream_options{}) {}

    void handshake() {
        if (auto r = stream_.handshake(); !r)
            die("tlsw: handshake: " + r.error().message());
    }
    bool resumed() const { return stream_.info().resumed; }
    void write(std::span<const std::byte> data) {
        auto n = stream_.write(data);
        if (!n)
            die("tlsw: write: " + n.error().message());
    }
    void write_gather(std::span<const std::span<const std::byte>> buffers) {
        auto n = stream_.write(buffers);
        if (!n)
            die("tlsw: gather write: " + n.error().message());
    }
    void receive(std::size_t n) {
        while (n > 0) {
            auto r = stream_.read(read_buffer());
            if (!r)
                die("tlsw: read: " + r.error().message());
            n -= *r;
        }
    }
    std::size_t& receives() { return stream_.transport().reads; }
    void wait_close() { wait_for_close(stream_.transport().fd()); }

private:
    tlsw::tls_stream<counting_socket> stream_;
};

/** Raw Botan's callbacks over a socket: emitted records go out with send(2). */
class tcp_botan_callbacks final : public Botan::TLS::Callbacks {
public:
    int fd = -1;
    std::size_t received = 0;
    bool activated = false;
    unsigned certificates = 0;

    void tls_emit_data(const std::uint8_t data[], std::size_t size) override {
        while (size > 0) {
            const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                die(std::string("raw Botan: send: ") + std::strerror(errno));
            data += n;
            size -= static_cast<std::size_t>(n);
        }
    }
    void tls_record_received(std::uint64_t, const std::uint8_t data[], std::size_t size) override {
        // Copied once into the reader's buffer, as tlsw and SSL_read do.
        std::memcpy(read_buffer().data(), data, std::min(size, read_buffer().size()));
        received += size;
    }
    void tls_alert(Botan::TLS::Alert alert) override {
        if (alert.is_fatal())
            die("raw Botan: fatal alert " + alert.type_string());
    }
    bool tls_session_established(const Botan::TLS::Session&) override { return true; }
    void tls_session_activated() override { activated = true; }
    void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& message) override {
        if (message.type() == Botan::TLS::CERTIFICATE)
            ++certificates;
    }
};

class tcp_botan {
public:
    static constexpr const char* name = "botan";

    tcp_botan(envs& env, tlsw::blocking_socket s, bool client, std::uint16_t key) : fd_(s.release()) {
        cb_.fd = fd_;
        auto& shared = env.botan;
        if (client)
            channel_ = std::make_unique<Botan::TLS::Client>(cb_, *shared.client_sessions, shared.creds, shared.policy,
                                                            Botan::system_rng(),
                                                            Botan::TLS::Server_Information("localhost", key),
                                                            Botan::TLS::Protocol_Version::TLS_V12,
                                                            std::vector<std::string>(), botan_io_reserve);
        else
            channel_ = std::make_unique<Botan::TLS::Server>(cb_, *shared.server_sessions, shared.creds, shared.policy,
                                                            Botan::system_rng(), false, botan_io_reserve);
    }
    ~tcp_botan() {
        channel_.reset();
        ::close(fd_);
    }
    tcp_botan(const tcp_botan&) = delete;
    tcp_botan& operator=(const tcp_botan&) = delete;

    void handshake() {
        while (!cb_.activated)
            pump();
    }
    bool resumed() const { return cb_.certificates == 0; }
    void write(std::span<const std::byte> data) {
        channel_->send(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    }
    /** What a gather write does by hand: copy into one buffer, then one send(). */
    void write_gather(std::span<const std::span<const std::byte>> buffers) { write(bench::coalesce(buffers, staging_)); }
    void receive(std::size_t n) {
        const std::size_t goal = cb_.received + n;
        while (cb_.received < goal)
            pump();
    }
    std::size_t& receives() { return receives_; }
    void wait_close() { wait_for_close(fd_); }

private:
    void pump() {
        thread_local std::array<std::uint8_t, bench::read_buffer_size> in;
        ssize_t n;
        do {
            n = ::recv(fd_, in.data(), in.size(), 0);
        } while (n < 0 && errno == EINTR);
        ++receives_;
        if (n <= 0)
            die("raw Botan: recv: connection ended");
        channel_->received_data(in.data(), static_cast<std::size_t>(n));
    }

    int fd_;
    tcp_botan_callbacks cb_;
    std::unique_ptr<Botan::TLS::Channel> channel_;
    std::size_t receives_ = 0;
    static inline std::array<std::byte, bench::max_record> staging_{};
};

long count_reads(BIO* bio, int oper, const char*, std::size_t, int, long, int ret, std::size_t*) {
    if (oper == BIO_CB_READ)
        ++*reinterpret_cast<std::size_t*>(BIO_get_callback_arg(bio));
    return ret;
}

class tcp_openssl {
public:
    static constexpr const char* name = "openssl";

    tcp_openssl(envs& env, tlsw::blocking_socket s, bool client, std::uint16_t key)
        : env_(env), fd_(s.release()), key_(key), client_(client),
          ssl_(SSL_new(client ? env.openssl.client() : env.openssl.server())) {
        bench::ossl_check(ssl_ && SSL_set_fd(ssl_, fd_) == 1, "SSL_new / SSL_set_fd");
        if (openssl_read_ahead)
            SSL_set_read_ahead(ssl_, 1);
        BIO* rbio = SSL_get_rbio(ssl_);
        BIO_set_callback_arg(rbio, reinterpret_cast<char*>(&receives_));
        BIO_set_callback_ex(rbio, count_reads);
        if (client) {
            bench::ossl_check(SSL_set_tlsext_host_name(ssl_, "localhost") == 1, "SNI");
            bench::ossl_check(SSL_set1_host(ssl_, "localhost") == 1, "set1_host");
            if (auto it = env.openssl_sessions.find(key); it != env.openssl_sessions.end())
                bench::ossl_check(SSL_set_session(ssl_, it->second) == 1, "set_session");
        }
    }
    ~tcp_openssl() {
        // Closed as cleanly as tlsw's and Botan's streams are: OpenSSL drops
        // from its cache the session of a connection freed without shutdown.
        SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(ssl_);
        ::close(fd_);
    }
    tcp_openssl(const tcp_openssl&) = delete;
    tcp_openssl& operator=(const tcp_openssl&) = delete;

    void handshake() {
        bench::ossl_check((client_ ? SSL_connect(ssl_) : SSL_accept(ssl_)) == 1, "handshake");
        if (client_ && !env_.openssl_sessions.contains(key_))
            env_.openssl_sessions[key_] = SSL_get1_session(ssl_);
    }
    bool resumed() const { return SSL_session_reused(ssl_) == 1; }
    void write(std::span<const std::byte> data) {
        bench::ossl_check(SSL_write(ssl_, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size()),
                          "SSL_write");
    }
    /** OpenSSL has no gather write: copy into one buffer, then one SSL_write. */
    void write_gather(std::span<const std::span<const std::byte>> buffers) { write(bench::coalesce(buffers, staging_)); }
    void receive(std::size_t n) {
        while (n > 0) {
            const int r = SSL_read(ssl_, read_buffer().data(), static_cast<int>(read_buffer().size()));
            bench::ossl_check(r > 0, "SSL_read");
            n -= static_cast<std::size_t>(r);
        }
    }
    std::size_t& receives() { return receives_; }
    void wait_close() { wait_for_close(fd_); }

private:
    envs& env_;
    int fd_;
    std::uint16_t key_;
    bool client_;
    SSL* ssl_;
    std::size_t receives_ = 0;
    static inline std::array<std::byte, bench::max_record> staging_{};
};

tlsw::tcp_listener listen_loopback() {
    auto l = tlsw::tcp_listener::listen("127.0.0.1", 0);
    if (!l)
        die("listen: " + l.error().message());
    return std::move(*l);
}

tlsw::blocking_socket accept_one(tlsw::tcp_listener& listener) {
    auto s = listener.accept();
    if (!s)
        die("accept: " + s.error().message());
    (void)s->set_nodelay(true);
    return std::move(*s);
}

tlsw::blocking_socket connect_to(std::uint16_t port) {
    auto s = tlsw::blocking_socket::connect("127.0.0.1", port);
    if (!s)
        die("connect: " + s.error().message());
    (void)s->set_nodelay(true);
    return std::move(*s);
}

// ---- over TCP, client and server in two threads -------------------------------------

/** Runs `server(endpoint)` on a thread and `client(endpoint)` here, over
    one connection; returns the client's time after both handshakes. */
template <class E, class Server, class Client>
double tcp_connection(envs& env, Server&& server, Client&& client) {
    auto listener = listen_loopback();
    std::thread t([&] {
        E ep(env, accept_one(listener), false, 0);
        ep.handshake();
        server(ep);
    });
    double s = 0;
    {
        E ep(env, connect_to(listener.port()), true, next_key());
        ep.handshake();
        const auto start = clock_type::now();
        client(ep);
        s = seconds_since(start);
    }  // closed here: the server waits for that
    t.join();
    return s;
}

/** Client to server in writes of `write_size`, the server answering one
    byte at the end. Returns MiB/s; `receives` gets the server's reads. */
template <class E>
double tcp_bulk_once(envs& env, std::size_t write_size, std::size_t total, std::size_t& receives) {
    const auto data = bench::payload(write_size);
    const std::size_t writes = total / write_size;
    const std::byte one[1] = {std::byte{1}};
    const double s = tcp_connection<E>(
        env,
        [&](E& ep) {
            ep.receives() = 0;
            ep.receive(writes * write_size);
            receives = ep.receives();
            ep.write(one);
            ep.wait_close();
        },
        [&](E& ep) {
            for (std::size_t i = 0; i < writes; ++i)
                ep.write(data);
            ep.receive(1);
        });
    return static_cast<double>(writes * write_size) / 1048576.0 / s;
}

std::size_t bulk_total(std::size_t write_size) {
    const std::size_t mib = write_size < 1024 ? 4 : write_size < 16384 ? 16 : 64;
    return (quick ? std::max<std::size_t>(1, mib / 4) : mib) << 20;
}

template <class E>
void tcp_bulk(envs& env, std::span<const std::size_t> sizes, const char* name = E::name) {
    for (std::size_t size : sizes) {
        std::size_t receives = 0;
        const std::size_t total = bulk_total(size);
        const std::string key = std::string("tcp.bulk.") + name + "." + std::to_string(size);
        sample(key + ".mib_s", tcp_bulk_once<E>(env, size, total, receives));
        sample(key + ".recv_per_mib",
               static_cast<double>(receives) / (static_cast<double>(total / size * size) / 1048576.0));
    }
}

constexpr std::size_t message_size = 64;
constexpr std::size_t batch = 64;

using messages = bench::message_batch<message_size, batch>;

/** Batches of 64 messages of 64 bytes, one write each or one gather write;
    returns messages per second. */
template <class E>
void tcp_messages(envs& env) {
    const messages msgs;
    const std::size_t batches = quick ? 250 : 1000;
    for (bool gather : {false, true}) {
        {
            const std::byte one[1] = {std::byte{1}};
            const double s = tcp_connection<E>(
                env,
                [&](E& ep) {
                    ep.receive(batches * batch * message_size);
                    ep.write(one);
                    ep.wait_close();
                },
                [&](E& ep) {
                    for (std::size_t b = 0; b < batches; ++b) {
                        if (gather)
                            ep.write_gather(msgs.spans);
                        else
                            for (auto m : msgs.spans)
                                ep.write(m);
                    }
                    ep.receive(1);
                });
            sample(std::string("tcp.msgs.") + E::name + (gather ? ".gather" : ".single") + ".msg_s",
                   static_cast<double>(batches * batch) / s);
        }
    }
}

/** n connections, each one handshake: full (a new cache key each) or
    resumed (one key, its session cached by a first connection). */
template <class E>
double tcp_handshakes_once(envs& env, std::size_t n, bool resume) {
    auto listener = listen_loopback();
    const std::uint16_t key = next_key();
    const std::size_t total = n + (resume ? 1 : 0);
    std::thread t([&] {
        for (std::size_t i = 0; i < total; ++i) {
            E ep(env, accept_one(listener), false, 0);
            ep.handshake();
            ep.wait_close();
        }
    });
    auto one = [&] {
        E ep(env, connect_to(listener.port()), true, resume ? key : next_key());
        ep.handshake();
        return ep.resumed();
    };
    if (resume)
        one();  // the session to resume
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < n; ++i)
        check(one() == resume, resume ? "a handshake did not resume" : "a full handshake resumed");
    const double s = seconds_since(start);
    t.join();
    return static_cast<double>(n) / s;
}

/** Full handshakes use `full` (no session caches where tlsw can turn its
    own off), resumed ones `cached`. */
template <class E>
void tcp_handshakes(envs& cached, envs& full) {
    for (bool resume : {false, true})
        sample(std::string("tcp.handshake.") + E::name + (resume ? ".resumed" : ".full") + ".per_s",
               tcp_handshakes_once<E>(resume ? cached : full, quick ? 20 : resume ? 200 : 100, resume));
}

// ---- heap, with each side in its own process ------------------------------------------

struct pipe_pair {
    int fds[2] = {-1, -1};
    pipe_pair() { check(::pipe(fds) == 0, "pipe"); }
    ~pipe_pair() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    void send(std::size_t v) const { check(::write(fds[1], &v, sizeof v) == sizeof v, "pipe write"); }
    std::size_t receive() const {
        std::size_t v = 0;
        check(::read(fds[0], &v, sizeof v) == sizeof v, "pipe read");
        return v;
    }
};

/** Forks: the child runs `client(port)`, which returns a number for the
    parent, then waits for the parent's go to exit; the parent runs
    `server(listener)` and gets the child's number back. */
template <class Server, class Client>
std::pair<std::size_t, std::size_t> forked(Server&& server, Client&& client) {
    auto listener = listen_loopback();
    pipe_pair to_parent, to_child;
    std::fflush(stdout);
    const pid_t pid = ::fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        const std::size_t v = client(listener.port());
        to_parent.send(v);
        (void)to_child.receive();
        std::_Exit(0);
    }
    const std::size_t mine = server(listener, to_parent);
    to_child.send(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client process failed");
    return {mine, 0};
}

/** 1000 (or n) established, idle server streams: heap in the server process. */
template <class E>
void heap_idle(std::size_t n, const char* name = E::name) {
    envs env;
    std::size_t per_stream_total = 0;
    forked(
        [&](tlsw::tcp_listener& listener, const pipe_pair& from_child) {
            std::vector<std::unique_ptr<E>> streams;
            streams.reserve(n);
            const std::size_t before = heap_in_use();
            for (std::size_t i = 0; i < n; ++i) {
                streams.push_back(std::make_unique<E>(env, accept_one(listener), false, 0));
                streams.back()->handshake();
            }
            (void)from_child.receive();  // every client is established too
            per_stream_total = heap_in_use() - before;
            return std::size_t{0};
        },
        [&](std::uint16_t port) {
            std::vector<std::unique_ptr<E>> streams;
            streams.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                streams.push_back(std::make_unique<E>(env, connect_to(port), true, next_key()));
                streams.back()->handshake();
            }
            return std::size_t{0};
        });
    const std::string key = std::string("heap.idle.") + name;
    put(key + ".streams", static_cast<double>(n));
    put(key + ".total_bytes", static_cast<double>(per_stream_total));
    put(key + ".bytes_per_stream", static_cast<double>(per_stream_total) / static_cast<double>(n));
}

/** One client+server pair after 1 MiB each way in 16 KiB writes: the sum
    of both processes' heap growth since before the stream was made. */
template <class E>
void heap_pair() {
    envs env;
    const auto data = bench::payload(bench::max_record);
    constexpr std::size_t rounds = (1u << 20) / bench::max_record;
    std::size_t server_bytes = 0;
    std::size_t client_bytes = 0;
    auto [mine, unused] = forked(
        [&](tlsw::tcp_listener& listener, const pipe_pair& from_child) {
            auto socket = accept_one(listener);
            const std::size_t before = heap_in_use();
            auto ep = std::make_unique<E>(env, std::move(socket), false, 0);
            ep->handshake();
            for (std::size_t i = 0; i < rounds; ++i) {
                ep->receive(data.size());
                ep->write(data);
            }
            server_bytes = heap_in_use() - before;
            client_bytes = from_child.receive();
            return server_bytes;
        },
        [&](std::uint16_t port) {
            auto socket = connect_to(port);
            const std::size_t before = heap_in_use();
            auto ep = std::make_unique<E>(env, std::move(socket), true, next_key());
            ep->handshake();
            for (std::size_t i = 0; i < rounds; ++i) {
                ep->write(data);
                ep->receive(data.size());
            }
            return heap_in_use() - before;
        });
    (void)mine;
    (void)unused;
    const std::string key = std::string("heap.pair.") + E::name;
    put(key + ".server_bytes", static_cast<double>(server_bytes));
    put(key + ".client_bytes", static_cast<double>(client_bytes));
    put(key + ".bytes", static_cast<double>(server_bytes + client_bytes));
}

// ---- in memory, one thread (peers.hpp) ------------------------------------------------

/** Adapts the three in-memory pairs of peers.hpp to one shape. */
struct mem_tlsw {
    static constexpr const char* name = "tlsw";
    bench::tlsw_pair pair;
    mem_tlsw(envs& e, std::size_t capacity, std::uint16_t key) : pair(e.tlsw, capacity, key) {}
    void handshake() { pair.handshake(); }
    bool resumed() const { return pair.client.info().resumed; }
    void send(std::span<const std::byte> d) { pair.send(d); }
    void send_gather(std::span<const std::span<const std::byte>> b, std::size_t total) { pair.send_gather(b, total); }
    void receive(std::size_t n) { pair.receive(n, read_buffer()); }
};

struct mem_botan {
    static constexpr const char* name = "botan";
    bench::botan_pair pair;
    std::array<std::byte, bench::max_record> staging{};
    mem_botan(envs& e, std::size_t capacity, std::uint16_t key)
        : pair(e.botan, read_buffer(), false, key, capacity) {}  // over a memory_pair, as tlsw
    void handshake() { pair.handshake(); }
    bool resumed() const { return pair.resumed(); }
    void send(std::span<const std::byte> d) { pair.send(d); }
    void send_gather(std::span<const std::span<const std::byte>> b, std::size_t) {
        pair.send(bench::coalesce(b, staging));
    }
    void receive(std::size_t) { pair.receive(); }
};

struct mem_openssl {
    static constexpr const char* name = "openssl";
    envs& env;
    std::uint16_t key;
    bench::openssl_pair pair;
    std::array<std::byte, bench::max_record> staging{};
    mem_openssl(envs& e, std::size_t capacity, std::uint16_t k)
        : env(e), key(k), pair(e.openssl, capacity, find(e, k)) {}
    static SSL_SESSION* find(envs& e, std::uint16_t k) {
        auto it = e.openssl_sessions.find(k);
        return it == e.openssl_sessions.end() ? nullptr : it->second;
    }
    void handshake() {
        pair.handshake();
        if (!env.openssl_sessions.contains(key))
            env.openssl_sessions[key] = SSL_get1_session(pair.client());
    }
    bool resumed() const { return SSL_session_reused(pair.client()) == 1; }
    void send(std::span<const std::byte> d) { pair.send(d); }
    void send_gather(std::span<const std::span<const std::byte>> b, std::size_t) {
        pair.send(bench::coalesce(b, staging));
    }
    void receive(std::size_t n) { pair.receive(n, read_buffer()); }
};

template <class M>
void mem_bulk(envs& env, std::span<const std::size_t> sizes) {
    for (std::size_t size : sizes) {
        const auto data = bench::payload(size);
        {
            M m(env, bench::wire_size(size) + 64 * 1024, next_key());
            m.handshake();
            const std::size_t writes = bulk_total(size) / size;
            const double start = thread_seconds();
            for (std::size_t i = 0; i < writes; ++i) {
                m.send(data);
                m.receive(size);
            }
            sample(std::string("mem.bulk.") + M::name + "." + std::to_string(size) + ".mib_s",
                   static_cast<double>(writes * size) / 1048576.0 / (thread_seconds() - start));
        }
    }
}

template <class M>
void mem_messages(envs& env) {
    const messages msgs;
    const std::size_t batches = quick ? 250 : 2000;
    for (bool gather : {false, true}) {
        {
            M m(env, 64 * 1024, next_key());
            m.handshake();
            const double start = thread_seconds();
            for (std::size_t b = 0; b < batches; ++b) {
                if (gather) {
                    m.send_gather(msgs.spans, batch * message_size);
                } else {
                    for (auto s : msgs.spans)
                        m.send(s);
                }
                m.receive(batch * message_size);
            }
            sample(std::string("mem.msgs.") + M::name + (gather ? ".gather" : ".single") + ".msg_s",
                   static_cast<double>(batches * batch) / (thread_seconds() - start));
        }
    }
}

template <class M>
void mem_handshakes(envs& cached, envs& full) {
    for (bool resume : {false, true}) {
        envs& env = resume ? cached : full;
        const std::uint16_t key = next_key();
        if (resume) {
            M first(env, 16 * 1024, key);
            first.handshake();
        }
        const std::size_t n = quick ? 20 : resume ? 200 : 100;
        {
            const double start = thread_seconds();
            for (std::size_t i = 0; i < n; ++i) {
                M m(env, 16 * 1024, resume ? key : next_key());
                m.handshake();
                check(m.resumed() == resume, resume ? "a handshake did not resume" : "a full handshake resumed");
            }
            sample(std::string("mem.handshake.") + M::name + (resume ? ".resumed" : ".full") + ".per_s",
                   static_cast<double>(n) / (thread_seconds() - start));
        }
    }
}

/** Heap allocations per 16 KiB record in the steady state, client to
    server, in memory (operator new, and OpenSSL's own malloc). */
template <class M>
void mem_allocs(envs& env) {
    const auto data = bench::payload(bench::max_record);
    M m(env, bench::wire_size(bench::max_record) + 64 * 1024, next_key());
    m.handshake();
    for (int i = 0; i < 64; ++i) {
        m.send(data);
        m.receive(data.size());
    }
    constexpr std::size_t records = 1024;
    const auto before = bench::allocations();
    for (std::size_t i = 0; i < records; ++i) {
        m.send(data);
        m.receive(data.size());
    }
    const auto after = bench::allocations();
    put(std::string("mem.allocs.") + M::name + ".per_record",
        static_cast<double>(after.count - before.count) / static_cast<double>(records));
}

template <class M>
void warm_up(envs& env) {
    M m(env, 64 * 1024, next_key());
    m.handshake();
    const auto data = bench::payload(1000);
    m.send(data);
    m.receive(data.size());
}

void raise_file_limit() {
    struct rlimit r {};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &r);
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Before Botan's first secure allocation: no locked pool, so that its
    // secure_vector memory shows in mallinfo2() like everything else.
    ::setenv("BOTAN_MLOCK_POOL_SIZE", "0", 1);
    bench::count_openssl_allocations();
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--quick") {
            quick = true;
        } else {
            std::fprintf(stderr, "usage: tlsw_compare [--quick]\n");
            return 2;
        }
    }
    raise_file_limit();
    const std::size_t idle_streams = quick ? 200 : 1000;
    const int runs = quick ? 1 : 5;
    const std::array<std::size_t, 6> chart_sizes{64, 256, 1024, 4096, 16384, 65536};
    const std::array<std::size_t, 3> mem_sizes{64, 1024, 16384};

    {
        envs env;
        warm_up<mem_tlsw>(env);
        warm_up<mem_botan>(env);
        warm_up<mem_openssl>(env);
    }

    // Heap first, in a process that has made few threads yet.
    heap_idle<tcp_tlsw>(idle_streams);
    heap_idle<tcp_botan>(idle_streams);
    heap_idle<tcp_openssl>(idle_streams);
    botan_io_reserve = Botan::TLS::Channel::IO_BUF_DEFAULT_SIZE;
    heap_idle<tcp_botan>(idle_streams, "botan_default_buffers");
    botan_io_reserve = 0;
    heap_pair<tcp_tlsw>();
    heap_pair<tcp_botan>();
    heap_pair<tcp_openssl>();

    {
        envs env;
        mem_allocs<mem_tlsw>(env);
        mem_allocs<mem_botan>(env);
        mem_allocs<mem_openssl>(env);
    }
    // Timings: each run measures every implementation once, in turn.
    envs env;
    envs full_env(!bench::tlsw_cache_switchable());
    put("config.full_handshakes_without_cache", bench::tlsw_cache_switchable() ? 1 : 0);
    for (int r = 0; r < runs; ++r) {
        tcp_bulk<tcp_tlsw>(env, chart_sizes);
        tcp_bulk<tcp_botan>(env, chart_sizes);
        tcp_bulk<tcp_openssl>(env, chart_sizes);
        openssl_read_ahead = true;
        tcp_bulk<tcp_openssl>(env, mem_sizes, "openssl_read_ahead");
        openssl_read_ahead = false;
        tcp_messages<tcp_tlsw>(env);
        tcp_messages<tcp_botan>(env);
        tcp_messages<tcp_openssl>(env);
        tcp_handshakes<tcp_tlsw>(env, full_env);
        tcp_handshakes<tcp_botan>(env, full_env);
        tcp_handshakes<tcp_openssl>(env, full_env);
        mem_bulk<mem_tlsw>(env, mem_sizes);
        mem_bulk<mem_botan>(env, mem_sizes);
        mem_bulk<mem_openssl>(env, mem_sizes);
        mem_messages<mem_tlsw>(env);
        mem_messages<mem_botan>(env);
        mem_messages<mem_openssl>(env);
        mem_handshakes<mem_tlsw>(env, full_env);
        mem_handshakes<mem_botan>(env, full_env);
        mem_handshakes<mem_openssl>(env, full_env);
    }
    for (const auto& [key, values] : samples)
        put(key, median(values));
    return 0;
}
