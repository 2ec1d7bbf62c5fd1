#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_POLICY_HPP
#define TLSW_POLICY_HPP

/** @file
    The policies of tlsw::tls_stream: write mode (full_write,
    partial_write), retry buffer (fixed_buffer, moving_buffer) and retry
    check (checked_retry, unchecked_retry), any order, each with a default. */

#include <type_traits>

namespace tlsw {

namespace detail {
struct write_mode_tag {};
struct retry_buffer_tag {};
struct retry_check_tag {};
}  // namespace detail

/** Write mode (default): write() succeeds only once the whole buffer is
    written, like SSL_write without SSL_MODE_ENABLE_PARTIAL_WRITE. */
struct full_write {
    using category = detail::write_mode_tag;  ///< Which of the three choices this policy makes.
    static constexpr bool partial = false;  ///< Whether write() may return after one record.
};

/** Write mode: write() succeeds after one record of at most 16384 bytes has
    been written and returns its length, like SSL_MODE_ENABLE_PARTIAL_WRITE. */
struct partial_write {
    using category = detail::write_mode_tag;  ///< Which of the three choices this policy makes.
    static constexpr bool partial = true;  ///< Whether write() may return after one record.
};

/** Retry buffer (default): a write repeated after want_read / want_write
    must pass the same pointer and a length not shorter than what was
    taken, else it fails with errc::bad_write_retry. */
struct fixed_buffer {
    using category = detail::retry_buffer_tag;  ///< Which of the three choices this policy makes.
    static constexpr bool moving = false;  ///< Whether a repeat may pass another pointer.
};

/** Retry buffer: the repeated write may pass a different pointer holding
    the same bytes, like SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER. */
struct moving_buffer {
    using category = detail::retry_buffer_tag;  ///< Which of the three choices this policy makes.
    static constexpr bool moving = true;  ///< Whether a repeat may pass another pointer.
};

/** Retry check (default in builds without NDEBUG): the stream keeps a
    fingerprint of the bytes a write() took before it returned want_read /
    want_write (the first and the last max_record of them), and a repeat
    whose bytes there differ fails with errc::bad_write_retry: a caller
    that changed or moved data it had handed over is caught, not sent. */
struct checked_retry {
    using category = detail::retry_check_tag;  ///< Which of the three choices this policy makes.
    static constexpr bool checked = true;  ///< Whether repeats are fingerprinted and checked.
};

/** Retry check off (default with NDEBUG): a repeat is trusted, as OpenSSL
    trusts it; nothing is computed. */
struct unchecked_retry {
    using category = detail::retry_check_tag;  ///< Which of the three choices this policy makes.
    static constexpr bool checked = false;  ///< Whether repeats are fingerprinted and checked.
};

/** True for the policy types tls_stream accepts. */
template <class P>
inline constexpr bool is_policy_v = std::is_same_v<P, full_write> || std::is_same_v<P, partial_write> ||
                                    std::is_same_v<P, fixed_buffer> || std::is_same_v<P, moving_buffer> ||
                                    std::is_same_v<P, checked_retry> || std::is_same_v<P, unchecked_retry>;

namespace detail {

template <class P, bool IsPolicy>
struct policy_category { using type = void; };
template <class P>
struct policy_category<P, true> { using type = typename P::category; };

/** The resolved policy set of a tls_stream: order-free, each with a default. */
template <class... Policies>
struct policy_set {
    // First, and alone: a type that is no policy has no category, and
    // counting categories must not add a second error about that.
    static_assert((is_policy_v<Policies> && ...),
                  "tls_stream policies are tlsw::full_write, tlsw::partial_write, tlsw::fixed_buffer, "
                  "tlsw::moving_buffer, tlsw::checked_retry or tlsw::unchecked_retry");

    template <class Category>
    static constexpr int count =
        (0 + ... + int(std::is_same_v<typename policy_category<Policies, is_policy_v<Policies>>::type, Category>));

    static_assert(count<write_mode_tag> <= 1,
                  "conflicting write modes: pass at most one of tlsw::full_write and tlsw::partial_write");
    static_assert(count<retry_buffer_tag> <= 1,
                  "conflicting retry buffers: pass at most one of tlsw::fixed_buffer and tlsw::moving_buffer");

    static constexpr bool partial_write = (false || ... || std::is_same_v<Policies, tlsw::partial_write>);
    static constexpr bool moving_buffer = (false || ... || std::is_same_v<Policies, tlsw::moving_buffer>);
    static_assert(count<retry_check_tag> <= 1,
                  "conflicting retry checks: pass at most one of tlsw::checked_retry and tlsw::unchecked_retry");
#ifdef NDEBUG
    static constexpr bool checked_retry = (false || ... || std::is_same_v<Policies, tlsw::checked_retry>);
#else
    static constexpr bool checked_retry = !(false || ... || std::is_same_v<Policies, tlsw::unchecked_retry>);
#endif
};

}  // namespace detail
}  // namespace tlsw

#endif
