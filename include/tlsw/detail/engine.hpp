#ifndef TLSW_DETAIL_ENGINE_HPP
#define TLSW_DETAIL_ENGINE_HPP

// The TLS engine, chosen by Botan's own version macro (a consumer needs no
// flag): Botan 3 speaks TLS 1.3 and 1.2, Botan 2.19 TLS 1.2. Both have the
// interface tls_stream uses (detail::engine); what they share is in
// detail/engine_common.hpp, what a context configures in
// detail/context_state.hpp (with detail/botan2/config.hpp or
// detail/botan3/config.hpp). These files alone name Botan::TLS.

#include <botan/build.h>

#if BOTAN_VERSION_MAJOR >= 3
#include <tlsw/detail/botan3/engine.hpp>
#else
#include <tlsw/detail/botan2/engine.hpp>
#endif

#endif
