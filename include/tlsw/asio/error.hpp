// <tlsw/asio.hpp> first, before the guard: it picks the Asio flavour and
// includes this header at its end, after what this header needs.
#include <tlsw/asio.hpp>

#ifndef TLSW_ASIO_ERROR_HPP
#define TLSW_ASIO_ERROR_HPP

// The error codes tlsw::asio::stream's operations complete with: a
// tls_error as an error_code whose message() is the tls_error's own
// message() (the reason, the alert and who sent it), and back. Part of
// <tlsw/asio.hpp>, which picks the Asio flavour.

#include <tlsw/error.hpp>

#include <cstdint>
#include <string>
#include <system_error>

namespace tlsw::asio {
inline namespace TLSW_DETAIL_ASIO_FLAVOUR_NAMESPACE {

namespace detail {

// A protocol or certificate failure carries more than its errc: the
// alert, who sent it and the certificate reason. They travel packed in
// the value of an error_code of this category (named "tlsw" as well):
//   bits 0-7 errc, 8-15 alert, 16-23 certificate_reason,
//   bit 24 an alert is present, bit 25 the peer sent it.
// Every other tls_error is exactly tlsw's own code (error_category()).
inline constexpr unsigned alert_shift = 8;
inline constexpr unsigned reason_shift = 16;
inline constexpr unsigned has_alert_bit = 1u << 24;
inline constexpr unsigned remote_bit = 1u << 25;

inline tls_error unpack(int value) noexcept {
    const auto v = static_cast<unsigned>(value);
    const auto code = static_cast<errc>(v & 0xffu);
    const auto a = static_cast<alert>((v >> alert_shift) & 0xffu);
    const auto reason = static_cast<certificate_reason>((v >> reason_shift) & 0xffu);
    const bool remote = (v & remote_bit) != 0;
    if (code == errc::certificate)
        return tls_error::from_certificate(reason, a, remote);
    if (code == errc::protocol && (v & has_alert_bit) != 0)
        return tls_error::from_alert(a, remote);
    return tls_error(code);
}

class detailed_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "tlsw"; }
    std::string message(int value) const override { return unpack(value).message(); }
    // Compares equal to the plain errc as an error_condition:
    // ec == std::error_condition(static_cast<int>(errc::protocol), tlsw::error_category()).
    std::error_condition default_error_condition(int value) const noexcept override {
        return tlsw::error_category().default_error_condition(value & 0xff);
    }
};

inline const std::error_category& detailed_error_category() noexcept {
    static const detailed_category instance;
    return instance;
}

}  // namespace detail

/** `e` as one std::error_code that keeps all of it: the transport's own
    code for a transport failure; for a protocol or certificate failure a
    code (category name "tlsw") whose message() is e.message(), with the
    alert, who sent it and the certificate reason; else tlsw's own code
    (make_error_code(e.code())), so that `ec == tlsw::errc::closed` holds.
    to_tls_error() gets `e` back. */
inline std::error_code make_detailed_error_code(const tls_error& e) noexcept {
    if (e.code() == errc::transport)
        return e.error_code();
    if (e.code() != errc::certificate && !(e.code() == errc::protocol && e.has_alert()))
        return make_error_code(e.code());
    unsigned v = static_cast<unsigned>(e.code());
    v |= static_cast<unsigned>(e.alert()) << detail::alert_shift;
    v |= static_cast<unsigned>(e.certificate()) << detail::reason_shift;
    if (e.has_alert())
        v |= detail::has_alert_bit;
    if (e.alert_from_peer())
        v |= detail::remote_bit;
    return {static_cast<int>(v), detail::detailed_error_category()};
}

/** The tls_error an operation's error_code stands for: the inverse of
    make_detailed_error_code(); another category's code (the socket's, or
    operation_aborted) is errc::transport carrying it, and Asio's eof (a
    read after the peer's close_notify) is errc::closed. */
inline tls_error to_tls_error(const error_code& code) noexcept {
    if (code == net::error::eof)
        return tls_error(errc::closed);
    const std::error_code ec = to_std_error(code);
    if (ec.category() == detail::detailed_error_category())
        return detail::unpack(ec.value());
    if (ec.category() == tlsw::error_category())
        return tls_error(static_cast<errc>(ec.value()));
    return tls_error::from_transport(ec);
}

}  // inline namespace
}  // namespace tlsw::asio

#endif
