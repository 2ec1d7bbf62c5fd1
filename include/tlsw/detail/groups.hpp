#ifndef TLSW_DETAIL_GROUPS_HPP
#define TLSW_DETAIL_GROUPS_HPP

// Key-exchange groups by their IANA names (the TLS Supported Groups
// registry, as OpenSSL prints them): what session_info reports and what
// context::key_exchange_groups() takes. Which of them an engine can use is
// its config.hpp's (engine_groups()).

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw::detail {

struct named_group {
    std::uint16_t code;
    std::string_view name;  // IANA
    bool post_quantum;      // an ML-KEM share (alone or in a hybrid)
};

/** The groups Botan knows, with their IANA code points. */
inline constexpr std::array<named_group, 19> named_groups = {{
    {0x11EC, "X25519MLKEM768", true},
    {0x11EB, "SecP256r1MLKEM768", true},
    {0x0200, "MLKEM512", true},
    {0x0201, "MLKEM768", true},
    {0x0202, "MLKEM1024", true},
    {0x001D, "x25519", false},
    {0x001E, "x448", false},
    {0x0017, "secp256r1", false},
    {0x0018, "secp384r1", false},
    {0x0019, "secp521r1", false},
    {0x001A, "brainpoolP256r1", false},
    {0x001B, "brainpoolP384r1", false},
    {0x001C, "brainpoolP512r1", false},
    {0x0100, "ffdhe2048", false},
    {0x0101, "ffdhe3072", false},
    {0x0102, "ffdhe4096", false},
    {0x0103, "ffdhe6144", false},
    {0x0104, "ffdhe8192", false},
    {0x11ED, "SecP384r1MLKEM1024", true},  // reported only: Botan 3.7 has no such group
}};

/** The IANA name of group `code`, or "0x" and its four hex digits. */
inline std::string group_name(std::uint16_t code) {
    for (const auto& g : named_groups)
        if (g.code == code)
            return std::string(g.name);
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%04x", unsigned{code});
    return hex;
}

inline bool group_known(std::uint16_t code) {
    return std::any_of(named_groups.begin(), named_groups.end(), [&](const named_group& g) { return g.code == code; });
}

inline bool group_is_post_quantum(std::uint16_t code) {
    for (const auto& g : named_groups)
        if (g.code == code)
            return g.post_quantum;
    return false;
}

/** The code of an IANA group name, ignoring ASCII case; OpenSSL's aliases
    P-256, P-384 and P-521 too. */
inline std::optional<std::uint16_t> group_code(std::string_view name) {
    const auto same = [](std::string_view a, std::string_view b) {
        if (a.size() != b.size())
            return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
            if (lower(a[i]) != lower(b[i]))
                return false;
        }
        return true;
    };
    static constexpr std::array<std::pair<std::string_view, std::uint16_t>, 3> aliases = {
        {{"P-256", 0x0017}, {"P-384", 0x0018}, {"P-521", 0x0019}}};
    for (const auto& [alias, code] : aliases)
        if (same(name, alias))
            return code;
    for (const auto& g : named_groups)
        if (same(name, g.name))
            return g.code;
    return std::nullopt;
}

/** A list of group codes as an engine's Group_Params. */
template <class Group>
std::vector<Group> group_params(const std::vector<std::uint16_t>& codes) {
    std::vector<Group> out;
    out.reserve(codes.size());
    for (auto code : codes)
        out.push_back(static_cast<Group>(code));
    return out;
}

/** The key shares a TLS 1.3 client sends first: for the first
    post-quantum group and the first classical one of `groups`, in its
    order (as OpenSSL 3.5 and Chrome do: a server without ML-KEM still
    completes in one round trip). */
inline std::vector<std::uint16_t> groups_to_offer(const std::vector<std::uint16_t>& groups) {
    std::vector<std::uint16_t> out;
    bool pq = false, classical = false;
    for (auto code : groups) {
        bool& taken = group_is_post_quantum(code) ? pq : classical;
        if (!taken)
            out.push_back(code);
        taken = true;
    }
    return out;
}

/** A TLS 1.3 server's choice among the groups the client supports and
    those it sent key shares for (`offered`; empty under TLS 1.2), from
    `ours` (most preferred first), or 0 for none: a post-quantum group
    whenever the client supports one, even at the cost of a
    HelloRetryRequest; else a group the client sent a share for; else our
    most preferred one the client supports (a HelloRetryRequest). */
inline std::uint16_t choose_group(const std::vector<std::uint16_t>& ours, const std::vector<std::uint16_t>& supported,
                                  const std::vector<std::uint16_t>& offered) {
    const auto in = [](const std::vector<std::uint16_t>& v, std::uint16_t g) {
        return std::find(v.begin(), v.end(), g) != v.end();
    };
    for (const bool shared : {true, false})  // a PQ share sent, then one to ask for
        for (auto g : ours)
            if (group_is_post_quantum(g) && in(supported, g) && (!shared || in(offered, g)))
                return g;
    for (auto g : ours)
        if (in(offered, g) && in(supported, g))
            return g;
    for (auto g : ours)
        if (in(supported, g))
            return g;
    return 0;
}

}  // namespace tlsw::detail

#endif
