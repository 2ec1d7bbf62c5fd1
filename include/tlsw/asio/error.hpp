// <tlsw/asio.hpp> first, before the guard: it picks the Asio flavour and
// includes this header at its end, after what this header needs.
#include <tlsw/asio.hpp>

#ifndef TLSW_ASIO_ERROR_HPP
#define TLSW_ASIO_ERROR_HPP

/** @file
    The error codes tlsw::asio::stream's operations complete with: a
    tls_error as an error_code of tlsw's own category whose message() is the
    tls_error's own message() (the reason, the alert and who sent it), and
    back. Part of <tlsw/asio.hpp>, which picks the Asio flavour. */

#include <tlsw/error.hpp>

#include <system_error>

namespace tlsw::asio {
inline namespace TLSW_DETAIL_ASIO_FLAVOUR_NAMESPACE {

/** The tls_error an operation's error_code stands for (tlsw::asio::stream
    completes with tls_error::detailed_error_code()): the inverse, as
    tls_error::from_error_code() gives it; another
    category's code (the socket's, or operation_aborted) is
    errc::transport carrying it, and Asio's eof (a read after the peer's
    close_notify) is errc::closed. */
inline tls_error to_tls_error(const error_code& code) noexcept {
    if (code == net::error::eof)
        return tls_error(errc::closed);
    return tls_error::from_error_code(to_std_error(code));
}

}  // inline namespace
}  // namespace tlsw::asio

#endif
