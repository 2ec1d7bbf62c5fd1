// Catch2 3 under Catch2 2.13's name. tests/meson.build puts this directory
// first on the include path only when it builds against Catch2 3 (Debian
// 13), so the tests keep `#include <catch2/catch.hpp>` for both. It maps
// what the tests use that Catch2 3 renamed; the macros they use
// (TEMPLATE_LIST_TEST_CASE, GENERATE, STATIC_REQUIRE, CAPTURE, ...) are
// unchanged. The runner comes from catch2-with-main, not tests/main.cpp.
#ifndef TLSW_TESTS_COMPAT_CATCH2_CATCH_HPP
#define TLSW_TESTS_COMPAT_CATCH2_CATCH_HPP

#include <catch2/catch_all.hpp>

#include <string>

namespace Catch {
using Catch::Approx;  // 2.x had it in Catch (and Catch::Detail); kept for Approx(...) in tests
/** 2.x's string matcher; 3 calls it ContainsSubstring. */
inline Matchers::StringContainsMatcher Contains(const std::string& s,
                                                CaseSensitive cs = CaseSensitive::Yes) {
    return Matchers::ContainsSubstring(s, cs);
}
using Matchers::EndsWith;
using Matchers::Equals;
using Matchers::StartsWith;
}  // namespace Catch

#endif
