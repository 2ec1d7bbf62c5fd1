#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_CONFIG_ERROR_HPP
#define TLSW_CONFIG_ERROR_HPP

/** @file
    tlsw::config_error and config_result: why loading credentials,
    trust anchors or a policy failed. */

#include <tlsw/error.hpp>
#include <tlsw/expected.hpp>

#include <string>
#include <utility>

namespace tlsw {

/** Why loading configuration failed: credentials, trust anchors, a policy.

    Loading is not on a hot path, so unlike tls_error this carries a
    sentence: which file, which PEM block or policy key, and why ("chain.pem:
    PEM block 3 at line 41 is damaged: bad base64"). code() is
    errc::invalid_argument for content that does not parse or fit, and
    errc::transport (with the OS error in error().transport_error()) for a
    file that cannot be read.
*/
class config_error {
public:
    /** An error of code error.code() with the sentence detail. */
    config_error(tls_error error, std::string detail) : error_(error), detail_(std::move(detail)) {}

    /** errc::invalid_argument (bad content) or errc::transport (unreadable file). */
    errc code() const noexcept { return error_.code(); }
    /** The code and, for a file that cannot be read, the OS error. */
    const tls_error& error() const noexcept { return error_; }
    /** What failed and why, without the code's description. */
    const std::string& detail() const noexcept { return detail_; }
    /** One line for people: the code's description, then the detail. */
    std::string message() const { return detail_.empty() ? error_.message() : error_.message() + ": " + detail_; }

    /** Compares the code: `if (r.error() == tlsw::errc::invalid_argument)`. */
    friend bool operator==(const config_error& e, errc c) noexcept { return e.code() == c; }

private:
    tls_error error_;
    std::string detail_;
};

/** What configuration calls return: a value, or why it could not be loaded. */
template <class T>
using config_result = expected<T, config_error>;

}  // namespace tlsw

#endif
