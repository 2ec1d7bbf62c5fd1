// Test that header file is self-contained.
#include <tlsw/credentials.hpp>

#include <tlsw/testing/test_pki.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using tlsw::errc;

TEST_CASE("credentials load a PEM chain and its key", "[credentials]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    REQUIRE(creds);
    REQUIRE(creds->data());
    CHECK(creds->data()->chain.size() == 2);
    CHECK(creds->data()->chain.front().subject_dn().get_first_attribute("CN") == "localhost");
}

TEST_CASE("credentials refuse a key that does not belong to the leaf", "[credentials]") {
    auto one = tlsw::testing::make_test_pki("localhost");
    auto other = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(one.chain_pem, other.leaf_key_pem);
    REQUIRE_FALSE(creds);
    CHECK(creds.error() == errc::invalid_argument);
}

TEST_CASE("credentials refuse text that is not PEM", "[credentials]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    CHECK(tlsw::credentials::from_pem("garbage", pki.leaf_key_pem).error() == errc::invalid_argument);
    CHECK(tlsw::credentials::from_pem(pki.chain_pem, "garbage").error() == errc::invalid_argument);
    CHECK(tlsw::credentials::from_pem("", "").error() == errc::invalid_argument);
}

TEST_CASE("credentials load from files, and a missing file is a transport error", "[credentials]") {
    auto pki = tlsw::testing::make_test_pki(tlsw::testing::pki_options{.key = tlsw::testing::key_type::rsa_2048});
    const auto dir = std::filesystem::temp_directory_path() / ("tlsw-creds-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "chain.pem") << pki.chain_pem;
    std::ofstream(dir / "key.pem") << pki.leaf_key_pem;
    auto creds = tlsw::credentials::from_files(dir / "chain.pem", dir / "key.pem");
    auto missing = tlsw::credentials::from_files(dir / "nope.pem", dir / "key.pem");
    std::filesystem::remove_all(dir);
    REQUIRE(creds);
    CHECK(creds->data()->key->algo_name() == "RSA");
    REQUIRE_FALSE(missing);
    CHECK(missing.error() == errc::transport);
    CHECK(missing.error().transport_error() == std::errc::no_such_file_or_directory);
}
