#ifndef TLSW_TESTS_SUPPORT_BYTES_HPP
#define TLSW_TESTS_SUPPORT_BYTES_HPP

// Byte views of text and checks of transport results, shared by the tests
// of transports and sockets (light: no TLS, no Botan).

#include <tlsw/transport.hpp>

#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>

namespace tlsw_test {

inline std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/** Whether a transport call failed with `e`. */
inline bool is_error(const tlsw::io_result& r, std::errc e) {
    return !r.has_value() && r.error() == e;
}

}  // namespace tlsw_test

#endif
