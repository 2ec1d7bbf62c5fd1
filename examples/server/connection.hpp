// One client connection of the example server: a nonblocking tls_stream
// and the state machine that serves it, one bounded turn at a time.

#ifndef TLSW_EXAMPLES_SERVER_CONNECTION_HPP
#define TLSW_EXAMPLES_SERVER_CONNECTION_HPP

#include <tlsw/tlsw.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace example {

using clock_type = std::chrono::steady_clock;

/** What connections need from the command line. */
struct settings {
    std::chrono::milliseconds handshake_timeout{5'000};
    std::chrono::milliseconds request_timeout{10'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::chrono::milliseconds linger_timeout{2'000};
    std::optional<std::uint64_t> renegotiate_after;  ///< server-initiated, after N echoed bytes
    bool quiet = false;
};

/** What the server counts, for --stats. */
struct counters {
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;  ///< over --max-connections: accepted and closed at once
    std::uint64_t handshakes = 0;
    std::uint64_t handshake_failures = 0;
    std::uint64_t resumed = 0;
    std::uint64_t renegotiations = 0;
    std::uint64_t renegotiations_refused = 0;
    std::uint64_t requests = 0;
    std::uint64_t bad_requests = 0;
    std::uint64_t echoed_bytes = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t closed = 0;
};

/** One diagnostic line on stderr, written with one call so that lines
    never interleave; nothing with `quiet`. */
[[gnu::format(printf, 2, 3)]] void log_line(bool quiet, const char* format, ...);

/** A client connection. The server's loop polls fd() for events(), calls
    turn() when it is ready or has_work(), and expire() once deadline()
    has passed; either returning false means the connection is over and
    can be destroyed (which closes the socket).

    A turn does a bounded amount of work: at most one record read, one
    request answered and one response written. A client that sends faster
    than it reads therefore slows down only itself: while its response
    waits for room in the socket, the server reads nothing more from it.
*/
class connection {
public:
    using stream = tlsw::tls_stream<tlsw::nonblocking_socket>;

    /** `scratch` is the server's read buffer (at least one record),
        shared by every connection: a connection keeps only the bytes it
        has not answered yet. */
    connection(unsigned id, const tlsw::context& ctx, tlsw::nonblocking_socket socket, const settings& config,
               counters& stats, std::span<std::byte> scratch);

    int fd() const noexcept { return tls_.transport().native_handle(); }
    /** POLLIN or POLLOUT: what the last call that could not finish waits for. */
    short events() const noexcept;
    /** True when turn() can progress without the socket becoming ready
        (buffered requests or plaintext): the loop must not wait in poll(). */
    bool has_work() const noexcept;
    /** When expire() must be called if nothing happens before. */
    clock_type::time_point deadline() const noexcept;

    /** One bounded step; false when the connection is over. */
    bool turn();
    /** The deadline passed; false when the connection is over. A request
        that timed out gets 408 and a close_notify first. */
    bool expire();
    /** The server is stopping: finish the response being written, then
        send close_notify. A connection still handshaking ends now. */
    bool stop();

    /** Established, nothing buffered, nothing to write: for --stats. */
    bool idle() const noexcept;

private:
    enum class phase : unsigned char { handshake, open, closing, lingering };
    enum class mode : unsigned char { undecided, http, echo };

    [[gnu::format(printf, 2, 3)]] void log(const char* format, ...) const;
    bool end(const char* reason);
    bool end_with_error(const tlsw::tls_error& e, const char* what);
    bool wait_for(const tlsw::tls_error& e);
    void note_handshakes();
    void progress() noexcept { last_progress_ = clock_type::now(); }

    bool open_turn();
    void echo(std::string_view data);
    /** Answers one complete request from the buffered input; false when
        the input holds none yet. */
    bool answer_one();
    void respond(std::string response, bool keep_alive);
    void start_close(std::string reason);
    void release_buffers();

    unsigned id_;
    const settings& config_;
    counters& stats_;
    std::span<std::byte> scratch_;
    stream tls_;

    std::string in_;   // plaintext received and not answered yet
    std::string out_;  // the response being written: one write, one record
    std::string line_; // echo: the start of the current line, to see "quit"
    std::string close_reason_ = "done";  // why we sent close_notify, for the last log line

    clock_type::time_point accepted_;
    clock_type::time_point last_progress_;
    std::optional<clock_type::time_point> request_started_;  // first byte of the request being received
    clock_type::time_point linger_until_{};

    std::uint64_t echoed_ = 0;
    std::uint32_t handshakes_seen_ = 0;
    std::uint32_t refusals_seen_ = 0;
    phase phase_ = phase::handshake;
    mode mode_ = mode::undecided;
    bool wants_write_ = false;
    bool more_ = false;         // the last turn stopped at its budget, not at want_*
    bool close_after_ = false;  // close once out_ is written
    bool stopping_ = false;
    bool renegotiated_ = false;
};

}  // namespace example

#endif
