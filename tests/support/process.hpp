#ifndef TLSW_TESTS_SUPPORT_PROCESS_HPP
#define TLSW_TESTS_SUPPORT_PROCESS_HPP

// A child process with pipes on its stdin, stdout and stderr, for the tests
// that run real peers (openssl, gnutls-cli, curl) and the example programs.
//
// Every wait is bounded, and the destructor kills (SIGKILL) and reaps a
// child that is still running: a test that fails half-way still stops
// every process it started. The parent's pipe ends are nonblocking and
// close-on-exec, so one child never inherits another's pipes; one thread
// pumps them all (stdin from a queue, stdout and stderr into strings) with
// poll(), optionally together with the test's own descriptors.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tlsw_test {

/** True when `program` names an executable file, directly or in PATH. */
inline bool program_exists(std::string_view program) {
    if (program.find('/') != std::string_view::npos)
        return ::access(std::string(program).c_str(), X_OK) == 0;
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/usr/bin:/bin";
    while (!dirs.empty()) {
        const auto colon = dirs.find(':');
        const std::string dir(dirs.substr(0, colon));
        if (!dir.empty() && ::access((dir + "/" + std::string(program)).c_str(), X_OK) == 0)
            return true;
        dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    }
    return false;
}

/** A running program and the parent's ends of its three pipes. */
class child_process {
public:
    using clock = std::chrono::steady_clock;

    /** Starts argv[0] (searched in PATH unless it holds a '/') with the
        given arguments and default signal dispositions. It stays in the
        test's process group, so that whatever stops the test (a meson
        timeout, Ctrl-C) stops it too. Throws std::runtime_error when it
        cannot start. */
    explicit child_process(std::vector<std::string> argv) : argv_(std::move(argv)) {
        if (argv_.empty())
            throw std::invalid_argument("child_process: empty argv");
        ignore_sigpipe();
        int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
            const int e = errno;
            for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
                if (fd >= 0)
                    ::close(fd);
            throw std::runtime_error(std::string("child_process: pipe2: ") + std::strerror(e));
        }
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        // dup2 clears close-on-exec on the target; the originals close at exec.
        ::posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        ::posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
        posix_spawnattr_t attr;
        ::posix_spawnattr_init(&attr);
        sigset_t defaults, empty;
        ::sigemptyset(&empty);
        ::sigemptyset(&defaults);
        ::sigaddset(&defaults, SIGPIPE);  // the parent ignores it; the child should not inherit that
        ::posix_spawnattr_setsigdefault(&attr, &defaults);
        ::posix_spawnattr_setsigmask(&attr, &empty);
        ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

        std::vector<char*> args;
        for (auto& a : argv_)
            args.push_back(a.data());
        args.push_back(nullptr);
        const int r = ::posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::posix_spawnattr_destroy(&attr);
        ::close(in[0]);
        ::close(out[1]);
        ::close(err[1]);
        in_ = in[1];
        out_fd_ = out[0];
        err_fd_ = err[0];
        if (r != 0) {
            pid_ = -1;
            close_fds();
            throw std::runtime_error("child_process: cannot start " + argv_[0] + ": " + std::strerror(r));
        }
        for (int fd : {in_, out_fd_, err_fd_})
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    /** Kills the child if it still runs, reaps it, closes the pipes. */
    ~child_process() {
        kill(SIGKILL);
        if (pid_ > 0 && !status_) {
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
        }
        close_fds();
    }

    pid_t pid() const noexcept { return pid_; }
    const std::string& command() const noexcept { return argv_[0]; }

    /** What the child wrote to stdout / stderr so far. */
    const std::string& out() const noexcept { return out_; }
    const std::string& err() const noexcept { return err_; }
    /** Forgets the stdout collected so far (a long transfer checks it piece by piece). */
    void clear_out() { out_.clear(); }

    /** Writes bytes to the child's stdin as far as the pipe takes them now,
        and queues the rest for pump(). */
    void write(std::string_view bytes) {
        stdin_queue_.append(bytes);
        flush_stdin();
    }
    /** Closes stdin once the queued bytes are written. */
    void close_stdin() { close_stdin_ = true; flush_stdin(); }
    /** Bytes queued for stdin and not yet taken by the pipe. */
    std::size_t stdin_pending() const noexcept { return stdin_queue_.size() - stdin_pos_; }

    /** Moves bytes between the pipes and the buffers, waiting at most
        `timeout` for one of them, or one of `extra` (the caller's own
        descriptors, whose revents it sets), to become ready. Returns false
        when the time passed with nothing ready. */
    bool pump(std::chrono::milliseconds timeout, std::span<pollfd> extra = {}) {
        child_process* self = this;
        return pump_all(std::span(&self, 1), timeout, extra);
    }

    /** pump() for several children at once: one poll() over all their pipes. */
    static bool pump_all(std::span<child_process* const> children, std::chrono::milliseconds timeout,
                         std::span<pollfd> extra = {}) {
        std::vector<pollfd> fds(extra.begin(), extra.end());
        for (child_process* c : children) {
            c->flush_stdin();
            fds.push_back({c->out_fd_, POLLIN, 0});
            fds.push_back({c->err_fd_, POLLIN, 0});
            fds.push_back({c->stdin_pending() > 0 ? c->in_ : -1, POLLOUT, 0});
        }
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(timeout.count(), 0)));
        if (n < 0 && errno != EINTR)
            throw std::runtime_error(std::string("child_process: poll: ") + std::strerror(errno));
        for (std::size_t i = 0; i < extra.size(); ++i)
            extra[i].revents = n > 0 ? fds[i].revents : 0;
        if (n <= 0)
            return false;
        std::size_t at = extra.size();
        for (child_process* c : children) {
            if (fds[at].revents)
                drain(c->out_fd_, c->out_);
            if (fds[at + 1].revents)
                drain(c->err_fd_, c->err_);
            c->flush_stdin();
            at += 3;
        }
        return true;
    }

    /** Pumps until pred() holds or `timeout` passes; returns pred(). */
    template <class Pred>
    bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
        child_process* self = this;
        return wait_until_all(std::span(&self, 1), pred, timeout);
    }

    /** wait_until() pumping several children: the one a test waits on
        need not be the only one making progress. */
    template <class Pred>
    static bool wait_until_all(std::span<child_process* const> children, Pred pred,
                               std::chrono::milliseconds timeout) {
        const auto deadline = clock::now() + timeout;
        while (!pred()) {
            const auto now = clock::now();
            if (now >= deadline)
                return false;
            pump_all(children,
                     std::min(std::chrono::ceil<std::chrono::milliseconds>(deadline - now), std::chrono::milliseconds(50)));
            for (child_process* c : children)
                c->reap();
        }
        return true;
    }

    /** Waits until stdout (or stderr) contains `text`; false after `timeout`. */
    bool wait_for_out(std::string_view text, std::chrono::milliseconds timeout) {
        return wait_until([&] { return out_.find(text) != std::string::npos; }, timeout);
    }
    bool wait_for_err(std::string_view text, std::chrono::milliseconds timeout) {
        return wait_until([&] { return err_.find(text) != std::string::npos; }, timeout);
    }

    /** Pumps until the child has exited, at most `timeout`. Returns its
        exit status, or 128 + the signal that ended it; nullopt when it is
        still running. The output it left in the pipes is collected. */
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        wait_until([&] { return status_.has_value(); }, timeout);
        if (status_) {
            // Collect what it wrote before it exited (a grandchild may keep
            // the pipe open, so do not wait for EOF).
            drain(out_fd_, out_);
            drain(err_fd_, err_);
        }
        return status_;
    }

    /** True until the child has exited (checked without waiting). */
    bool running() {
        reap();
        return !status_;
    }

    /** Sends `sig` to the child while it runs. */
    void kill(int sig) {
        if (pid_ > 0 && running())
            ::kill(pid_, sig);
    }

    /** The collected output, for a failure message. */
    std::string transcript() const {
        return argv_[0] + " stdout (" + std::to_string(out_.size()) + " bytes): " + tail(out_) + "\n" + argv_[0] +
               " stderr: " + tail(err_);
    }

private:
    static std::string tail(const std::string& s) { return s.size() <= 3000 ? s : "..." + s.substr(s.size() - 3000); }

    static void ignore_sigpipe() {
        // A write to the stdin of a child that exited must fail with EPIPE,
        // not kill the test process.
        static const bool once = [] {
            std::signal(SIGPIPE, SIG_IGN);
            return true;
        }();
        (void)once;
    }

    void reap() {
        if (pid_ <= 0 || status_)
            return;
        int status = 0;
        pid_t r;
        while ((r = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {}
        if (r == pid_)
            status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    static void drain(int& fd, std::string& into) {
        if (fd < 0)
            return;
        char buffer[65536];
        for (;;) {
            const ::ssize_t n = ::read(fd, buffer, sizeof buffer);
            if (n > 0) {
                into.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                ::close(fd);  // EOF or a broken pipe: poll() would report it forever
                fd = -1;
            }
            return;
        }
    }

    void flush_stdin() {
        while (in_ >= 0 && stdin_pending() > 0) {
            const ::ssize_t n = ::write(in_, stdin_queue_.data() + stdin_pos_, stdin_pending());
            if (n > 0) {
                stdin_pos_ += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            // EPIPE: the child closed its stdin or exited; drop the rest.
            stdin_pos_ = stdin_queue_.size();
        }
        if (stdin_pos_ == stdin_queue_.size()) {
            stdin_queue_.clear();
            stdin_pos_ = 0;
            if (close_stdin_ && in_ >= 0) {
                ::close(in_);
                in_ = -1;
            }
        } else if (stdin_pos_ > (1u << 20)) {
            stdin_queue_.erase(0, stdin_pos_);
            stdin_pos_ = 0;
        }
    }

    void close_fds() {
        for (int* fd : {&in_, &out_fd_, &err_fd_}) {
            if (*fd >= 0)
                ::close(*fd);
            *fd = -1;
        }
    }

    std::vector<std::string> argv_;
    pid_t pid_ = -1;
    int in_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::string out_;
    std::string err_;
    std::string stdin_queue_;
    std::size_t stdin_pos_ = 0;
    bool close_stdin_ = false;
    std::optional<int> status_;
};

}  // namespace tlsw_test

#endif
