#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_COMPAT_HPP
#define TLSW_COMPAT_HPP

/** @file
    OpenSSL-flavoured wrappers for code being ported from SSL_write /
    SSL_write_ex: the same int conventions, with SSL_get_error's answer in a
    tls_error instead of thread-local state. */

#include <tlsw/error.hpp>

#include <climits>
#include <cstddef>
#include <span>

namespace tlsw::compat {

/** SSL_write on a tls_stream: writes `num` bytes from `buf`.

    Returns the count written (> 0) on success: `num` in full_write mode,
    one record's worth in partial_write mode. Returns -1 on failure and
    stores the reason in `*error` when given (SSL_get_error's role):
    want_read / want_write mean "repeat the call with the same arguments".
    As in OpenSSL, num == 0 is an error (errc::invalid_argument), and so is
    a negative num or a null buf; use ssl_write_ex for an empty write. */
template <class Stream>
int ssl_write(Stream& stream, const void* buf, int num, tls_error* error = nullptr) {
    if (num <= 0 || buf == nullptr) {
        if (error)
            *error = tls_error(errc::invalid_argument);
        return -1;
    }
    auto n = stream.write(std::span(static_cast<const std::byte*>(buf), static_cast<std::size_t>(num)));
    if (!n) {
        if (error)
            *error = n.error();
        return -1;
    }
    return static_cast<int>(*n);
}

/** SSL_write_ex on a tls_stream: returns 1 and stores the count in
    `*written` on success, 0 on failure with the reason in `*error`.
    num == 0 is allowed: it sends no application data, completes a pending
    handshake, and succeeds with *written == 0. */
template <class Stream>
int ssl_write_ex(Stream& stream, const void* buf, std::size_t num, std::size_t* written, tls_error* error = nullptr) {
    if (num > 0 && buf == nullptr) {
        if (error)
            *error = tls_error(errc::invalid_argument);
        return 0;
    }
    auto n = stream.write(std::span(static_cast<const std::byte*>(buf), num));
    if (!n) {
        if (error)
            *error = n.error();
        return 0;
    }
    if (written)
        *written = *n;
    return 1;
}

}  // namespace tlsw::compat

#endif
