// Included by every public header before its include guard. Below C++20,
// tlsw would fail with hundreds of errors from deep inside its headers;
// instead there is one #error naming the flag, and every public header's
// include guard is defined so that none of their code follows it.
#ifndef TLSW_DETAIL_CXX_VERSION_HPP
#define TLSW_DETAIL_CXX_VERSION_HPP

#if defined(_MSVC_LANG)
#define TLSW_DETAIL_CPLUSPLUS _MSVC_LANG
#else
#define TLSW_DETAIL_CPLUSPLUS __cplusplus
#endif

#if TLSW_DETAIL_CPLUSPLUS < 202002L
#error "tlsw needs C++20 or later: compile with -std=c++20 (or -std=c++23; MSVC: /std:c++20)"
#define TLSW_ASIO_HPP
#define TLSW_ASIO_ERROR_HPP
#define TLSW_ASIO_STREAM_HPP
#define TLSW_BLOCKING_SOCKET_HPP
#define TLSW_CLIENT_HELLO_HPP
#define TLSW_COMPAT_HPP
#define TLSW_CONFIG_ERROR_HPP
#define TLSW_CONTEXT_HPP
#define TLSW_CREDENTIALS_HPP
#define TLSW_ERROR_HPP
#define TLSW_EXPECTED_HPP
#define TLSW_MEMORY_PAIR_HPP
#define TLSW_NONBLOCKING_SOCKET_HPP
#define TLSW_OCSP_HPP
#define TLSW_PEER_CERTIFICATE_HPP
#define TLSW_POLICY_HPP
#define TLSW_SESSION_INFO_HPP
#define TLSW_TCP_LISTENER_HPP
#define TLSW_TESTING_FAULT_TRANSPORT_HPP
#define TLSW_TESTING_TEST_CRL_HPP
#define TLSW_TESTING_TEST_PKI_HPP
#define TLSW_TLS_STREAM_HPP
#define TLSW_TLSW_HPP
#define TLSW_TRANSPORT_HPP
#endif

#endif
