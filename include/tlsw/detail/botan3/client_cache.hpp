#ifndef TLSW_DETAIL_BOTAN3_CLIENT_CACHE_HPP
#define TLSW_DETAIL_BOTAN3_CLIENT_CACHE_HPP

// A Botan 3 client's session cache, bounded in bytes as well as entries
// (included by detail/context_state.hpp on Botan 3). Under TLS 1.3 a server
// may send any number of tickets, each up to 64 KiB and carrying its chain:
// Botan's in-memory cache counts entries only, so one hostile server could
// fill it with megabytes.

#include <botan/tls_session_manager.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace tlsw::detail {

/** The most bytes a client context's session cache holds (sessions, their
    tickets and peer chains, estimated), whatever its entry count. */
inline constexpr std::size_t max_client_cache_bytes = 4 * 1024 * 1024;

/** A client's sessions, oldest first: at most `max_entries` and
    max_client_cache_bytes; a new session evicts the oldest. Thread-safe
    (the base class's mutex), shared by the streams of a configuration. */
class client_session_cache final : public Botan::TLS::Session_Manager {
public:
    client_session_cache(std::shared_ptr<Botan::RandomNumberGenerator> rng, std::size_t max_entries)
        : Botan::TLS::Session_Manager(rng), max_entries_(max_entries) {}

    void store(const Botan::TLS::Session& session, const Botan::TLS::Session_Handle& handle) override {
        const std::size_t size = estimate(session, handle);
        if (size > max_client_cache_bytes || max_entries_ == 0)
            return;
        const std::lock_guard lock(mutex());
        entries_.push_back({Botan::TLS::Session_with_Handle{session, handle}, size});
        bytes_ += size;
        while (entries_.size() > max_entries_ || bytes_ > max_client_cache_bytes) {
            bytes_ -= entries_.front().size;
            entries_.pop_front();
        }
    }

    std::size_t remove(const Botan::TLS::Session_Handle& handle) override {
        const std::lock_guard lock(mutex());
        std::size_t removed = 0;
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (same(it->session.handle, handle)) {
                bytes_ -= it->size;
                it = entries_.erase(it);
                ++removed;
            } else {
                ++it;
            }
        }
        return removed;
    }

    std::size_t remove_all() override {
        const std::lock_guard lock(mutex());
        const std::size_t n = entries_.size();
        entries_.clear();
        bytes_ = 0;
        return n;
    }

    /** The estimated bytes held now, for tests. */
    std::size_t bytes() {
        const std::lock_guard lock(mutex());
        return bytes_;
    }

protected:
    std::optional<Botan::TLS::Session> retrieve_one(const Botan::TLS::Session_Handle& handle) override {
        const std::lock_guard lock(mutex());
        for (const auto& e : entries_)
            if (same(e.session.handle, handle))
                return e.session.session;
        return std::nullopt;
    }

    /** The newest sessions for `info` first. */
    std::vector<Botan::TLS::Session_with_Handle> find_some(const Botan::TLS::Server_Information& info,
                                                           std::size_t max_sessions_hint) override {
        const std::lock_guard lock(mutex());
        std::vector<Botan::TLS::Session_with_Handle> found;
        for (auto it = entries_.rbegin(); it != entries_.rend() && found.size() < std::max<std::size_t>(1, max_sessions_hint);
             ++it)
            if (it->session.session.server_info() == info)
                found.push_back(it->session);
        return found;
    }

private:
    struct entry {
        Botan::TLS::Session_with_Handle session;
        std::size_t size;
    };

    static bool same(const Botan::TLS::Session_Handle& a, const Botan::TLS::Session_Handle& b) {
        return a.is_id() == b.is_id() && a.is_ticket() == b.is_ticket() && a.opaque_handle().get() == b.opaque_handle().get();
    }

    /** The handle, the peer's chain (DER) and a fixed allowance for the
        rest (secrets, names, Botan's own bookkeeping). */
    static std::size_t estimate(const Botan::TLS::Session& session, const Botan::TLS::Session_Handle& handle) {
        std::size_t n = 512 + handle.opaque_handle().get().size();
        for (const auto& cert : session.peer_certs())
            n += cert.BER_encode().size();
        return n;
    }

    std::size_t max_entries_;
    std::deque<entry> entries_;
    std::size_t bytes_ = 0;
};

}  // namespace tlsw::detail

#endif
