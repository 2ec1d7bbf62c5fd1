#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_TLSW_HPP
#define TLSW_TLSW_HPP

/** @file
    The umbrella header: everything a tlsw application needs, except Asio
    (tlsw/asio.hpp, tlsw/asio/stream.hpp) and the test helpers of
    tlsw/testing/. */

#include <tlsw/blocking_socket.hpp>
#include <tlsw/client_hello.hpp>
#include <tlsw/compat.hpp>
#include <tlsw/config_error.hpp>
#include <tlsw/context.hpp>
#include <tlsw/credentials.hpp>
#include <tlsw/error.hpp>
#include <tlsw/expected.hpp>
#include <tlsw/memory_pair.hpp>
#include <tlsw/nonblocking_socket.hpp>
#include <tlsw/ocsp.hpp>
#include <tlsw/peer_certificate.hpp>
#include <tlsw/policy.hpp>
#include <tlsw/session_info.hpp>
#include <tlsw/tcp_listener.hpp>
#include <tlsw/tls_stream.hpp>
#include <tlsw/transport.hpp>

#endif
