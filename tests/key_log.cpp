// The key log (issue 10, item 3): context::danger_key_log writes one NSS
// key-log line per session, which must name the client random and master
// secret the peer used, so that Wireshark can decrypt a capture with it.

// Test that header file is self-contained.
#include <tlsw/context.hpp>

#include "support/botan_peer.hpp"
#include "support/connection.hpp"
#include "support/harness.hpp"

#include <tlsw/tls_stream.hpp>

#include <botan/hex.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace tlsw_test;

namespace {

/** Collects key-log lines; thread-safe as the contract asks of a sink. */
struct key_lines {
    std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
    std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();

    std::function<void(std::string_view)> sink() const {
        return [m = mutex, l = lines](std::string_view line) {
            const std::lock_guard lock(*m);
            l->emplace_back(line);
        };
    }
    std::vector<std::string> get() const {
        const std::lock_guard lock(*mutex);
        return *lines;
    }
};

bool well_formed(const std::string& line) {
    static const std::regex format("CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}");
    return std::regex_match(line, format);
}

}  // namespace

TEST_CASE("the key log names the client random and master secret the peer used, in either role",
          "[context][key_log][botan]") {
    const bool tlsw_client = GENERATE(true, false);
    CAPTURE(tlsw_client);
    key_lines log;
    auto ctx = tlsw_client ? client_context() : server_context();
    ctx.danger_key_log(log.sink());

    using stream = tlsw::tls_stream<tlsw::memory_pair::end>;
    auto [a, b] = tlsw::memory_pair::make(64 * 1024);
    stream us = tlsw_client ? stream(ctx, std::move(a), localhost()) : stream(ctx, std::move(a));
    botan_peer peer(tlsw_client ? botan_peer::side::server : botan_peer::side::client, std::move(b));
    REQUIRE(retry([&] { return us.handshake(); }, [&] { peer.pump(); }));
    peer.pump();
    REQUIRE(peer.failure() == "");
    REQUIRE(peer.active());

    const auto lines = log.get();
    REQUIRE(lines.size() == 1);
    CHECK(well_formed(lines[0]));
    const std::string want = "CLIENT_RANDOM " + Botan::hex_encode(peer.client_random(), false) + " " +
                             Botan::hex_encode(peer.master_secret().data(), peer.master_secret().size(), false);
    CHECK(lines[0] == want);
}

TEST_CASE("both ends log the same line, and a resumed session logs its new client random with the old secret",
          "[context][key_log][resumption]") {
    key_lines client_log, server_log;
    auto client_ctx = tls12(client_context());  // TLS 1.2's CLIENT_RANDOM lines (TLS 1.3: the test below)
    client_ctx.danger_key_log(client_log.sink());
    auto server_ctx = server_context();
    server_ctx.danger_key_log(server_log.sink());

    connection first(client_ctx, server_ctx);
    REQUIRE_FALSE(first.handshake());
    connection second(client_ctx, server_ctx);
    REQUIRE_FALSE(second.handshake());
    REQUIRE(second.client.info().resumed);

    const auto c = client_log.get();
    const auto s = server_log.get();
    REQUIRE(c.size() == 2);
    CHECK(c == s);
    CHECK(well_formed(c[0]));
    CHECK(well_formed(c[1]));
    CHECK(c[0].substr(0, 79) != c[1].substr(0, 79));  // another client random
    CHECK(c[0].substr(79) == c[1].substr(79));        // the same master secret
}

TEST_CASE("under TLS 1.3 both ends log the same traffic secrets, one labelled line each, for one client random",
          "[context][key_log][tls13]") {
    key_lines client_log, server_log;
    auto client_ctx = client_context();
    client_ctx.danger_key_log(client_log.sink());
    auto server_ctx = server_context();
    server_ctx.danger_key_log(server_log.sink());
    connection c(client_ctx, server_ctx);
    REQUIRE_FALSE(c.handshake());
    const auto lines = client_log.get();
    CHECK(lines == server_log.get());
    if (c.client.info().version != "TLS v1.3") {
        // Botan 2: TLS 1.2 only, one CLIENT_RANDOM line.
        REQUIRE(lines.size() == 1);
        CHECK(well_formed(lines[0]));
        return;
    }
    std::set<std::string> labels;
    std::set<std::string> randoms;
    for (const auto& line : lines) {
        const auto first = line.find(' ');
        const auto second = line.find(' ', first + 1);
        REQUIRE(second != std::string::npos);
        labels.insert(line.substr(0, first));
        randoms.insert(line.substr(first + 1, second - first - 1));
        CHECK(line.size() - second - 1 >= 64);  // a secret of 32 bytes or more, in hex
    }
    CHECK(randoms.size() == 1);
    CHECK(randoms.begin()->size() == 64);
    for (const char* want : {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                             "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"})
        CHECK(labels.count(want) == 1);
    CHECK(labels.count("CLIENT_RANDOM") == 0);
}

TEST_CASE("the key log is off by default and an empty function turns it off", "[context][key_log]") {
    key_lines log;
    auto client_ctx = client_context();
    client_ctx.danger_key_log(log.sink());
    client_ctx.danger_key_log({});
    connection c(client_ctx, server_context());
    REQUIRE_FALSE(c.handshake());
    CHECK(log.get().empty());
}

TEST_CASE("danger_key_log_file appends one line per session, readable by its owner only",
          "[context][key_log][file]") {
    const auto dir = std::filesystem::temp_directory_path() / ("tlsw-key-log-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "keys.log";
    std::filesystem::remove(path);
    {
        key_lines log;
        auto client_ctx = tls12(client_context());  // one line per session
        REQUIRE(client_ctx.danger_key_log_file(path));
        auto server_ctx = server_context();
        server_ctx.danger_key_log(log.sink());
        connection c(client_ctx, server_ctx);
        REQUIRE_FALSE(c.handshake());

        std::ifstream in(path);
        std::string line, rest;
        REQUIRE(std::getline(in, line));
        CHECK(line == log.get().at(0));
        CHECK_FALSE(std::getline(in, rest));
        const auto perms = std::filesystem::status(path).permissions();
        CHECK((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
              std::filesystem::perms::none);
    }
    auto ctx = client_context();
    auto bad = ctx.danger_key_log_file(dir / "missing" / "keys.log");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().error() == tlsw::errc::transport);
    std::filesystem::remove_all(dir);
}

// Opening the key log safely: the file holds every session's secrets, so
// danger_key_log_file never follows a symbolic link (another user could
// point it anywhere) and refuses a file someone else owns, or one its group
// or others could read or write; the key log then stays as it was.

namespace {

/** A fresh directory for one test, removed at the end. */
struct key_log_dir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("tlsw-key-log-safety-" + std::to_string(::getpid()));
    key_log_dir() {
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~key_log_dir() { std::filesystem::remove_all(path); }
};

/** Creates `file` holding "old\n" with `mode`. */
void make_key_log(const std::filesystem::path& file, std::filesystem::perms mode) {
    std::ofstream(file) << "old\n";
    std::filesystem::permissions(file, mode);
}

std::string file_text(const std::filesystem::path& file) {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/** Checks that `ctx` refuses `file` as its key log with invalid_argument
    and a message containing `why`, and keeps the key log it had. */
void check_key_log_refused(const std::filesystem::path& file, const std::string& why) {
    key_lines earlier;
    auto ctx = client_context();
    ctx.danger_key_log(earlier.sink());
    const auto sink_before = ctx.state()->key_log;
    auto r = ctx.danger_key_log_file(file);
    REQUIRE_FALSE(r);
    CHECK(r.error().error() == tlsw::errc::invalid_argument);
    CHECK_THAT(r.error().message(), Catch::Contains(file.string()) && Catch::Contains(why));
    CHECK(ctx.state()->key_log == sink_before);
}

}  // namespace

TEST_CASE("danger_key_log_file refuses a symbolic link, even to the user's own 0600 file, and creates nothing through one",
          "[context][key_log][file]") {
    key_log_dir dir;
    const auto target = dir.path / "target.log";
    make_key_log(target, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::filesystem::create_symlink(target, dir.path / "link.log");
    check_key_log_refused(dir.path / "link.log", "symbolic link");
    CHECK(file_text(target) == "old\n");

    // A dangling link: following it would create a file wherever it points.
    std::filesystem::create_symlink(dir.path / "elsewhere.log", dir.path / "dangling.log");
    check_key_log_refused(dir.path / "dangling.log", "symbolic link");
    CHECK_FALSE(std::filesystem::exists(dir.path / "elsewhere.log"));
}

TEST_CASE("danger_key_log_file refuses an existing file its group or others may read or write",
          "[context][key_log][file]") {
    using std::filesystem::perms;
    const auto mode = GENERATE(perms::owner_read | perms::owner_write | perms::group_read | perms::others_read,  // 0644
                               perms::owner_read | perms::owner_write | perms::group_read,                      // 0640
                               perms::owner_read | perms::owner_write | perms::group_write,                     // 0620
                               perms::owner_read | perms::owner_write | perms::others_write);                   // 0602
    CAPTURE(static_cast<unsigned>(mode));
    key_log_dir dir;
    const auto file = dir.path / "keys.log";
    make_key_log(file, mode);
    check_key_log_refused(file, "group or others");
    CHECK(file_text(file) == "old\n");
    CHECK(std::filesystem::status(file).permissions() == mode);  // not changed behind the user's back
}

TEST_CASE("danger_key_log_file refuses a file owned by another user, and anything but a regular file",
          "[context][key_log][file]") {
    key_log_dir dir;
    // Only root can give a file away (and open another user's file for
    // writing at all): elsewhere the open fails before any check.
    if (::geteuid() == 0) {
        const auto file = dir.path / "theirs.log";
        make_key_log(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
        check_key_log_refused(file, "owned by another user");
        CHECK(file_text(file) == "old\n");
    } else {
        WARN("not root: the file owned by another user was not checked");
    }
    // A FIFO with no reader must not block the call.
    const auto fifo = dir.path / "keys.fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto ctx = client_context();
    auto r = ctx.danger_key_log_file(fifo);
    REQUIRE_FALSE(r);
    CHECK_FALSE(ctx.state()->key_log);
}

TEST_CASE("danger_key_log_file creates a missing file 0600 (even under umask 0), and appends to the user's own 0600 file",
          "[context][key_log][file]") {
    key_log_dir dir;
    const auto file = dir.path / "keys.log";
    const ::mode_t old_umask = ::umask(0);
    auto ctx = client_context();
    auto created = ctx.danger_key_log_file(file);
    ::umask(old_umask);
    REQUIRE(created);
    CHECK(std::filesystem::status(file).permissions() ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

    const auto own = dir.path / "own.log";
    make_key_log(own, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto client_ctx = tls12(client_context());
    REQUIRE(client_ctx.danger_key_log_file(own));
    connection c(client_ctx, server_context());
    REQUIRE_FALSE(c.handshake());
    const auto text = file_text(own);
    CHECK(text.starts_with("old\nCLIENT_RANDOM "));
}
