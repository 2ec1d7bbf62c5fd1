// Test that header file is self-contained.
#include <tlsw/error.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace {

// Every code, in declaration order. The test "the list of codes in this file
// is complete" fails when a code is added to tlsw::errc and not here.
constexpr std::array all_errc{
    tlsw::errc::want_read,        tlsw::errc::want_write, tlsw::errc::closed,
    tlsw::errc::truncated,        tlsw::errc::transport,  tlsw::errc::protocol,
    tlsw::errc::certificate,      tlsw::errc::bad_write_retry,
    tlsw::errc::invalid_argument, tlsw::errc::invalid_state,
    tlsw::errc::missing_server_name, tlsw::errc::wrong_tls_version,
};

constexpr std::array all_alerts{
    tlsw::alert::close_notify,          tlsw::alert::unexpected_message,
    tlsw::alert::bad_record_mac,        tlsw::alert::record_overflow,
    tlsw::alert::handshake_failure,     tlsw::alert::bad_certificate,
    tlsw::alert::unsupported_certificate, tlsw::alert::certificate_revoked,
    tlsw::alert::certificate_expired,   tlsw::alert::certificate_unknown,
    tlsw::alert::illegal_parameter,     tlsw::alert::unknown_ca,
    tlsw::alert::access_denied,         tlsw::alert::decode_error,
    tlsw::alert::decrypt_error,         tlsw::alert::protocol_version,
    tlsw::alert::insufficient_security, tlsw::alert::internal_error,
    tlsw::alert::inappropriate_fallback, tlsw::alert::user_canceled,
    tlsw::alert::no_renegotiation,      tlsw::alert::unsupported_extension,
    tlsw::alert::unrecognized_name,     tlsw::alert::no_application_protocol,
    tlsw::alert::certificate_required,  tlsw::alert::missing_extension, tlsw::alert::bad_certificate_status_response,
};

constexpr std::array all_reasons{
    tlsw::certificate_reason::none,          tlsw::certificate_reason::expired,
    tlsw::certificate_reason::not_yet_valid, tlsw::certificate_reason::unknown_issuer,
    tlsw::certificate_reason::name_mismatch, tlsw::certificate_reason::revoked,
    tlsw::certificate_reason::bad_signature, tlsw::certificate_reason::weak_signature,
    tlsw::certificate_reason::invalid_usage, tlsw::certificate_reason::no_certificate,
    tlsw::certificate_reason::other,         tlsw::certificate_reason::rejected,
    tlsw::certificate_reason::bad_status_response,
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------------------
// errc: values and predicates

TEST_CASE("errc values start at 1 and keep their numbers", "[error][errc]") {
    // Codes are stored and compared by number (in logs, across versions): a
    // renumbering is a breaking change, so the numbers are pinned here.
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::want_read) == 1);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::want_write) == 2);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::closed) == 3);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::truncated) == 4);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::transport) == 5);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::protocol) == 6);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::certificate) == 7);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::bad_write_retry) == 8);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::invalid_argument) == 9);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::invalid_state) == 10);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::missing_server_name) == 11);
    STATIC_REQUIRE(static_cast<int>(tlsw::errc::wrong_tls_version) == 12);

    // 0 means success to std::error_code; no code may take it.
    for (auto e : all_errc) {
        CAPTURE(static_cast<int>(e));
        CHECK(static_cast<int>(e) >= 1);
        CHECK(static_cast<bool>(tlsw::make_error_code(e)));
    }
}

TEST_CASE("the list of codes in this file is complete", "[error][errc]") {
    // The category names every code it knows; the first number past the list
    // must be unknown to it, or a code was added without a test here.
    const auto& cat = tlsw::error_category();
    const int past_last = static_cast<int>(all_errc.back()) + 1;
    CHECK(cat.message(past_last) == "unknown tlsw error");
    for (std::size_t i = 0; i < all_errc.size(); ++i)
        CHECK(static_cast<int>(all_errc[i]) == static_cast<int>(i) + 1);
}

TEST_CASE("retryable() is true exactly for want_read and want_write", "[error][errc]") {
    for (auto e : all_errc) {
        CAPTURE(static_cast<int>(e));
        const bool expected = e == tlsw::errc::want_read || e == tlsw::errc::want_write;
        CHECK(tlsw::tls_error(e).retryable() == expected);
    }
    CHECK_FALSE(tlsw::tls_error::from_transport(std::make_error_code(std::errc::operation_would_block)).retryable());
    CHECK_FALSE(tlsw::tls_error::from_alert(tlsw::alert::close_notify, true).retryable());
}

TEST_CASE("a tls_error compares equal to its code from either side", "[error][errc]") {
    const tlsw::tls_error e(tlsw::errc::closed);
    CHECK(e == tlsw::errc::closed);
    CHECK(tlsw::errc::closed == e);
    CHECK(e != tlsw::errc::truncated);
    CHECK(tlsw::errc::truncated != e);
    CHECK(e.code() == tlsw::errc::closed);
}

TEST_CASE("a default tls_error carries no alert, reason or transport error", "[error]") {
    const tlsw::tls_error e;
    CHECK_FALSE(e.retryable());
    CHECK_FALSE(e.has_alert());
    CHECK(e.certificate() == tlsw::certificate_reason::none);
    CHECK_FALSE(e.transport_error());
    CHECK(e.error_code());
}

// ---------------------------------------------------------------------------
// std::error_code interop

TEST_CASE("errc converts implicitly to a std::error_code in the tlsw category", "[error][error_code]") {
    STATIC_REQUIRE(std::is_error_code_enum_v<tlsw::errc>);
    STATIC_REQUIRE(std::is_convertible_v<tlsw::errc, std::error_code>);
    STATIC_REQUIRE(!std::is_error_condition_enum_v<tlsw::errc>);

    std::error_code ec = tlsw::errc::closed;
    CHECK(ec.value() == static_cast<int>(tlsw::errc::closed));
    CHECK(&ec.category() == &tlsw::error_category());
    CHECK(std::string(ec.category().name()) == "tlsw");
    CHECK(ec == tlsw::errc::closed);
    CHECK(ec != tlsw::errc::truncated);
    CHECK(ec == make_error_code(tlsw::errc::closed));  // found by argument-dependent lookup

    ec = tlsw::errc::want_write;
    CHECK(ec.value() == 2);
}

TEST_CASE("error_category() is one object", "[error][error_code]") {
    CHECK(&tlsw::error_category() == &tlsw::error_category());
    CHECK(tlsw::make_error_code(tlsw::errc::protocol).category() == tlsw::error_category());
}

TEST_CASE("every code has its own message in the tlsw category", "[error][error_code]") {
    std::set<std::string> seen;
    for (auto e : all_errc) {
        CAPTURE(static_cast<int>(e));
        const std::string text = tlsw::make_error_code(e).message();
        CHECK_FALSE(text.empty());
        CHECK(text != "unknown tlsw error");
        CHECK(seen.insert(text).second);
        // tls_error::message() starts with the category's message.
        CHECK(tlsw::tls_error(e).message().rfind(text, 0) == 0);
    }
}

TEST_CASE("want_read and want_write are equivalent to std::errc::operation_would_block", "[error][error_code]") {
    for (auto e : all_errc) {
        CAPTURE(static_cast<int>(e));
        const std::error_code ec = e;
        const bool would_block = e == tlsw::errc::want_read || e == tlsw::errc::want_write;
        CHECK((ec == std::errc::operation_would_block) == would_block);
        CHECK((ec.default_error_condition() == std::errc::operation_would_block) == would_block);
        if (!would_block && e != tlsw::errc::invalid_argument) {
            // No generic meaning: the condition stays in the tlsw category.
            CHECK(ec.default_error_condition().category() == tlsw::error_category());
            CHECK(ec.default_error_condition().value() == static_cast<int>(e));
        }
    }
}

TEST_CASE("invalid_argument is equivalent to std::errc::invalid_argument", "[error][error_code]") {
    const std::error_code ec = tlsw::errc::invalid_argument;
    CHECK(ec == std::errc::invalid_argument);
    CHECK(ec.default_error_condition() == std::errc::invalid_argument);
    const std::error_code state = tlsw::errc::invalid_state;
    CHECK(state != std::errc::invalid_argument);
}

// ---------------------------------------------------------------------------
// tls_error: what it keeps and how it describes itself

TEST_CASE("message() names the alert and who sent it", "[error][message][alert]") {
    const auto received = tlsw::tls_error::from_alert(tlsw::alert::handshake_failure, true);
    CHECK(received.code() == tlsw::errc::protocol);
    CHECK(received.has_alert());
    CHECK(received.alert() == tlsw::alert::handshake_failure);
    CHECK(received.alert_from_peer());
    CHECK(contains(received.message(), "handshake_failure"));
    CHECK(contains(received.message(), "peer"));

    const auto sent = tlsw::tls_error::from_alert(tlsw::alert::decode_error, false);
    CHECK(sent.has_alert());
    CHECK(sent.alert() == tlsw::alert::decode_error);
    CHECK_FALSE(sent.alert_from_peer());
    CHECK(contains(sent.message(), "decode_error"));
    CHECK(contains(sent.message(), "sent"));
    CHECK_FALSE(contains(sent.message(), "peer"));
}

TEST_CASE("every alert has its RFC name", "[error][alert]") {
    std::set<std::string> seen;
    for (auto a : all_alerts) {
        CAPTURE(static_cast<int>(a));
        const std::string name = tlsw::alert_name(a);
        CHECK(name != "unknown alert");
        CHECK(seen.insert(name).second);
        CHECK(contains(tlsw::tls_error::from_alert(a, true).message(), name));
    }
    STATIC_REQUIRE(std::string_view(tlsw::alert_name(tlsw::alert::bad_record_mac)) == "bad_record_mac");
    CHECK(std::string(tlsw::alert_name(static_cast<tlsw::alert>(255))) == "unknown alert");
}

TEST_CASE("message() names the certificate reason", "[error][message][certificate]") {
    const auto e = tlsw::tls_error::from_certificate(tlsw::certificate_reason::name_mismatch,
                                                     tlsw::alert::bad_certificate);
    CHECK(e.code() == tlsw::errc::certificate);
    CHECK(e.certificate() == tlsw::certificate_reason::name_mismatch);
    CHECK(e.has_alert());
    CHECK(e.alert() == tlsw::alert::bad_certificate);
    CHECK_FALSE(e.alert_from_peer());
    CHECK(contains(e.message(), tlsw::certificate_reason_name(tlsw::certificate_reason::name_mismatch)));
    CHECK(contains(e.message(), "bad_certificate"));

    const auto from_peer = tlsw::tls_error::from_certificate(tlsw::certificate_reason::unknown_issuer,
                                                             tlsw::alert::unknown_ca, true);
    CHECK(from_peer.alert_from_peer());
    CHECK(contains(from_peer.message(), "unknown_ca"));
    CHECK(contains(from_peer.message(), "peer"));
}

TEST_CASE("every certificate reason has its own description", "[error][certificate]") {
    std::set<std::string> seen;
    for (auto r : all_reasons) {
        CAPTURE(static_cast<int>(r));
        const std::string text = tlsw::certificate_reason_name(r);
        CHECK_FALSE(text.empty());
        CHECK(seen.insert(text).second);
        if (r != tlsw::certificate_reason::none)
            CHECK(contains(tlsw::tls_error::from_certificate(r, tlsw::alert::bad_certificate).message(), text));
    }
}

TEST_CASE("a certificate error for another reason says certificate verification failed once",
          "[error][message][certificate]") {
    const auto text = tlsw::tls_error::from_certificate(tlsw::certificate_reason::other, tlsw::alert::bad_certificate)
                          .message();
    CAPTURE(text);
    const auto first = text.find("certificate verification failed");
    REQUIRE(first != std::string::npos);
    CHECK(text.find("certificate verification failed", first + 1) == std::string::npos);
}

TEST_CASE("message() names the transport error", "[error][message][transport]") {
    const auto reset = std::make_error_code(std::errc::connection_reset);
    const auto e = tlsw::tls_error::from_transport(reset);
    CHECK(contains(e.message(), tlsw::make_error_code(tlsw::errc::transport).message()));
    CHECK(contains(e.message(), reset.message()));
    CHECK_FALSE(e.has_alert());
}

TEST_CASE("tls_error is trivially copyable and small", "[error][performance]") {
    // It is returned on every want_read of a nonblocking loop.
    STATIC_REQUIRE(std::is_trivially_copyable_v<tlsw::tls_error>);
    STATIC_REQUIRE(std::is_trivially_destructible_v<tlsw::tls_error>);
    STATIC_REQUIRE(sizeof(tlsw::tls_error) <= 32);
    STATIC_REQUIRE(std::is_nothrow_default_constructible_v<tlsw::tls_error>);
    STATIC_REQUIRE(std::is_nothrow_convertible_v<tlsw::errc, tlsw::tls_error>);
}

TEST_CASE("from_transport keeps the error_code and error_code() returns it", "[error][transport]") {
    const std::error_code reset = std::make_error_code(std::errc::connection_reset);
    const auto e = tlsw::tls_error::from_transport(reset);
    CHECK(e.code() == tlsw::errc::transport);
    CHECK(e.transport_error() == reset);
    CHECK(e.error_code() == reset);
    CHECK(&e.error_code().category() == &std::generic_category());

    // A system_category code survives as it came, category and all.
    const std::error_code sys(104, std::system_category());
    CHECK(tlsw::tls_error::from_transport(sys).error_code() == sys);
    CHECK(&tlsw::tls_error::from_transport(sys).error_code().category() == &std::system_category());

    // A copy keeps it too.
    const tlsw::tls_error copy = e;
    CHECK(copy.transport_error() == reset);
}

TEST_CASE("error_code() is the tlsw code when there is no transport error", "[error][error_code]") {
    for (auto e : all_errc) {
        CAPTURE(static_cast<int>(e));
        CHECK(tlsw::tls_error(e).error_code() == tlsw::make_error_code(e));
        CHECK_FALSE(tlsw::tls_error(e).transport_error());
    }
    // A transport error without an error_code is still an error.
    const auto empty = tlsw::tls_error::from_transport(std::error_code{});
    CHECK(empty.error_code() == tlsw::make_error_code(tlsw::errc::transport));
    CHECK(tlsw::tls_error::from_alert(tlsw::alert::internal_error, false).error_code() ==
          tlsw::make_error_code(tlsw::errc::protocol));
}

TEST_CASE("detailed_error_code() keeps alert, reason and sender in tlsw's own category, and from_error_code() "
          "restores them", "[error][error_code][detailed]") {
    std::vector<tlsw::tls_error> errors;
    for (auto a : all_alerts)
        for (bool remote : {false, true})
            errors.push_back(tlsw::tls_error::from_alert(a, remote));
    for (auto r : all_reasons)
        for (bool remote : {false, true})
            errors.push_back(tlsw::tls_error::from_certificate(r, tlsw::alert::bad_certificate, remote));
    for (const auto& e : errors) {
        CAPTURE(e.message());
        const std::error_code ec = e.detailed_error_code();
        CHECK(&ec.category() == &tlsw::error_category());
        CHECK(ec.message() == e.message());
        CHECK(ec == std::error_condition(static_cast<int>(e.code()), tlsw::error_category()));
        const auto back = tlsw::tls_error::from_error_code(ec);
        CHECK(back.code() == e.code());
        CHECK(back.alert() == e.alert());
        CHECK(back.alert_from_peer() == e.alert_from_peer());
        CHECK(back.certificate() == e.certificate());
        CHECK(back.message() == e.message());
    }
    // Codes without details stay plain, equal to their errc.
    for (auto c : all_errc) {
        if (c == tlsw::errc::certificate)
            continue;
        CAPTURE(static_cast<int>(c));
        CHECK(tlsw::tls_error(c).detailed_error_code() == c);
        CHECK(tlsw::tls_error::from_error_code(tlsw::make_error_code(c)).code() == c);
    }
    // A transport failure is the transport's code, both ways.
    const auto reset = std::make_error_code(std::errc::connection_reset);
    CHECK(tlsw::tls_error::from_transport(reset).detailed_error_code() == reset);
    CHECK(tlsw::tls_error::from_error_code(reset).transport_error() == reset);
}

TEST_CASE("tlsw::result<T> is tlsw::expected<T, tls_error>", "[error][result]") {
    STATIC_REQUIRE(std::same_as<tlsw::result<std::size_t>, tlsw::expected<std::size_t, tlsw::tls_error>>);
    STATIC_REQUIRE(std::same_as<tlsw::result<void>, tlsw::expected<void, tlsw::tls_error>>);

    tlsw::result<std::size_t> n = tlsw::unexpected(tlsw::tls_error(tlsw::errc::want_read));
    REQUIRE_FALSE(n.has_value());
    CHECK(n.error() == tlsw::errc::want_read);
    CHECK(n.error().retryable());

    n = 5;
    REQUIRE(n.has_value());
    CHECK(*n == 5);

    const tlsw::result<void> done{};
    CHECK(done.has_value());
}
