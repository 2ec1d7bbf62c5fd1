// Test that header file is self-contained.
#include <tlsw/credentials.hpp>

#include <tlsw/testing/test_pki.hpp>

#include "support/harness.hpp"
#include "support/interop.hpp"
#include "support/process.hpp"

#include <botan/auto_rng.h>
#include <botan/data_src.h>
#include <botan/ed25519.h>
#include <botan/pkcs8.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

using tlsw::errc;
using namespace tlsw_test;

namespace {

/** `pem` with one base64 character of its body replaced by `bad`. */
std::string damage(std::string pem, char bad = '!') {
    const auto body = pem.find('\n') + 10;  // inside the first line of base64
    pem[body] = bad;
    return pem;
}

/** Runs `openssl args...`, feeding `input` on stdin; returns its stdout. */
std::string openssl(std::vector<std::string> args, std::string_view input) {
    args.insert(args.begin(), "openssl");
    child_process p(std::move(args));
    p.write(input);
    p.close_stdin();
    const auto status = p.wait_exit(std::chrono::seconds(30));
    INFO(p.err());
    REQUIRE(status == 0);
    return p.out();
}

/** Completes a handshake between a client trusting `pki` and a server presenting `creds`. */
void check_handshake(const tlsw::testing::test_pki& pki, const tlsw::credentials& creds) {
    auto client_ctx = tlsw::context::client();
    client_ctx.use_system_trust(false);
    REQUIRE(client_ctx.trust(pki.ca_cert_pem));
    auto [a, b] = tlsw::memory_pair::make();
    tlsw::tls_stream<tlsw::memory_pair::end> client(client_ctx, std::move(a), localhost());
    tlsw::tls_stream<tlsw::memory_pair::end> server(tlsw::context::server(creds), std::move(b));
    handshake_both(client, server);
}

}  // namespace

TEST_CASE("credentials load a PEM chain and its key", "[credentials]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem);
    REQUIRE(creds);
    REQUIRE(creds->data());
    CHECK(creds->data()->chain.size() == 2);
    CHECK(creds->data()->chain.front().subject_dn().get_first_attribute("CN") == "localhost");
}

TEST_CASE("credentials refuse a key that does not belong to the leaf, naming both", "[credentials]") {
    auto one = tlsw::testing::make_test_pki("localhost");
    auto other = tlsw::testing::make_test_pki("localhost");
    auto creds = tlsw::credentials::from_pem(one.chain_pem, other.leaf_key_pem);
    REQUIRE_FALSE(creds);
    CHECK(creds.error() == errc::invalid_argument);
    INFO(creds.error().message());
    CHECK_THAT(creds.error().message(), Catch::Contains("key PEM: the private key does not belong to the first "
                                                        "certificate (CN=localhost) of chain PEM"));
}

TEST_CASE("credentials refuse text that is not PEM, saying so", "[credentials]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    auto chain = tlsw::credentials::from_pem("garbage", pki.leaf_key_pem);
    REQUIRE_FALSE(chain);
    CHECK(chain.error() == errc::invalid_argument);
    CHECK(chain.error().detail() == "chain PEM: is not PEM: no \"-----BEGIN\" line found");
    auto key = tlsw::credentials::from_pem(pki.chain_pem, "garbage");
    REQUIRE_FALSE(key);
    CHECK(key.error().detail() == "key PEM: is not PEM: no \"-----BEGIN\" line found");
    CHECK(tlsw::credentials::from_pem("", "").error() == errc::invalid_argument);
    // A key where the chain belongs, and the other way round.
    CHECK(tlsw::credentials::from_pem(pki.leaf_key_pem, pki.leaf_key_pem).error().detail() ==
          "chain PEM: holds no CERTIFICATE block");
    CHECK(tlsw::credentials::from_pem(pki.chain_pem, pki.chain_pem).error().detail() ==
          "key PEM: holds no PRIVATE KEY block");
}

TEST_CASE("a chain with a damaged middle block is refused, naming the block's number and line", "[credentials][pem]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    auto intermediate = tlsw::testing::make_test_pki("localhost");  // any certificate will do
    const std::string chain = pki.leaf_cert_pem + damage(intermediate.ca_cert_pem) + pki.ca_cert_pem;
    auto creds = tlsw::credentials::from_pem(chain, pki.leaf_key_pem);
    // The old parser stopped at the damaged block and served the leaf alone.
    REQUIRE_FALSE(creds);
    CHECK(creds.error() == errc::invalid_argument);
    const auto line = std::to_string(lines_in(pki.leaf_cert_pem) + 1);
    CHECK(creds.error().detail() ==
          "chain PEM: PEM block 2 (CERTIFICATE) at line " + line + " is damaged: its body is not valid base64");
    // One line, with the code's description first.
    CHECK(creds.error().message() == "invalid argument: " + creds.error().detail());
    CHECK(creds.error().message().find('\n') == std::string::npos);

    SECTION("valid base64 that is not a certificate") {
        std::string bad = intermediate.ca_cert_pem;
        const auto body = bad.find('\n') + 1;
        bad.replace(body, 4, "AAAA");  // breaks the DER, keeps the base64
        auto r = tlsw::credentials::from_pem(pki.leaf_cert_pem + bad + pki.ca_cert_pem, pki.leaf_key_pem);
        REQUIRE_FALSE(r);
        INFO(r.error().message());
        CHECK_THAT(r.error().detail(),
                   Catch::StartsWith("chain PEM: PEM block 2 (CERTIFICATE) at line " + line + " is damaged: not a certificate"));
    }
    SECTION("a last block cut short") {
        std::string cut = pki.ca_cert_pem.substr(0, pki.ca_cert_pem.size() / 2);
        auto r = tlsw::credentials::from_pem(pki.leaf_cert_pem + cut, pki.leaf_key_pem);
        REQUIRE_FALSE(r);
        CHECK(r.error().detail() == "chain PEM: PEM block 2 (CERTIFICATE) at line " + line +
                                        " has no END line: the text ends inside it");
    }
    SECTION("a damaged BEGIN line, which would otherwise read as a comment") {
        std::string bad = pki.ca_cert_pem;
        bad.replace(0, 27, "-----BEGIN CERTIFICATE----");
        auto r = tlsw::credentials::from_pem(pki.leaf_cert_pem + bad, pki.leaf_key_pem);
        REQUIRE_FALSE(r);
        CHECK(r.error().detail() == "chain PEM: line " + line +
                                        " is a damaged BEGIN line: \"-----BEGIN CERTIFICATE----\"");
    }
    SECTION("a block whose BEGIN line is gone") {
        std::string bad = pki.ca_cert_pem;
        bad.erase(0, bad.find('\n') + 1);
        auto r = tlsw::credentials::from_pem(pki.leaf_cert_pem + bad, pki.leaf_key_pem);
        REQUIRE_FALSE(r);
        CHECK(r.error().detail() == "chain PEM: line " + std::to_string(lines_in(pki.leaf_cert_pem + bad)) +
                                        " ends a PEM block that has no BEGIN line");
    }
    SECTION("an END line that names another label") {
        std::string bad = pki.ca_cert_pem;
        bad.replace(bad.find("-----END CERTIFICATE-----"), 25, "-----END CERTIFICAT-----");
        auto r = tlsw::credentials::from_pem(pki.leaf_cert_pem + bad, pki.leaf_key_pem);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().detail(), Catch::StartsWith("chain PEM: PEM block 2 (CERTIFICATE) at line " + line +
                                                         " ends with END CERTIFICAT at line"));
    }
}

TEST_CASE("a chain with comments and other blocks between certificates loads every certificate", "[credentials][pem]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    const std::string chain = "# the leaf\n" + pki.leaf_cert_pem + "\n# its key, as combined PEM files carry it\n" +
                              pki.leaf_key_pem + "Issuer: the test CA\n=====\n" + pki.ca_cert_pem + "# end\n";
    auto creds = tlsw::credentials::from_pem(chain, pki.leaf_key_pem);
    REQUIRE(creds);
    // The old parser stopped at the key block and dropped the CA behind it.
    CHECK(creds->data()->chain.size() == 2);
}

TEST_CASE("SEC1 EC and PKCS#1 RSA keys written by openssl are accepted", "[credentials][pem][openssl]") {
    TLSW_REQUIRE_PROGRAM("openssl");
    SECTION("SEC1: BEGIN EC PRIVATE KEY, also after an EC PARAMETERS block") {
        auto pki = tlsw::testing::make_test_pki("localhost");
        const auto sec1 = openssl({"ec"}, pki.leaf_key_pem);
        REQUIRE_THAT(sec1, Catch::Contains("-----BEGIN EC PRIVATE KEY-----"));
        auto creds = tlsw::credentials::from_pem(pki.chain_pem, sec1);
        INFO((creds ? std::string("loaded") : creds.error().message()));
        REQUIRE(creds);
        CHECK(creds->data()->key->algo_name() == "ECDSA");
        check_handshake(pki, *creds);

        // As `openssl ecparam -genkey` writes it.
        const auto params = openssl({"ec", "-param_out"}, pki.leaf_key_pem);
        REQUIRE_THAT(params, Catch::Contains("-----BEGIN EC PARAMETERS-----"));
        auto after_params = tlsw::credentials::from_pem(pki.chain_pem, params + sec1);
        INFO((after_params ? std::string("loaded") : after_params.error().message()));
        CHECK(after_params);
    }
    SECTION("PKCS#1: BEGIN RSA PRIVATE KEY") {
        auto pki = tlsw::testing::make_test_pki(tlsw::testing::pki_options{.key = tlsw::testing::key_type::rsa_2048});
        const auto pkcs1 = openssl({"rsa", "-traditional"}, pki.leaf_key_pem);
        REQUIRE_THAT(pkcs1, Catch::Contains("-----BEGIN RSA PRIVATE KEY-----"));
        auto creds = tlsw::credentials::from_pem(pki.chain_pem, pkcs1);
        INFO((creds ? std::string("loaded") : creds.error().message()));
        REQUIRE(creds);
        CHECK(creds->data()->key->algo_name() == "RSA");
        check_handshake(pki, *creds);
    }
    SECTION("OpenSSL's legacy PEM encryption is named, with the way out") {
        auto pki = tlsw::testing::make_test_pki("localhost");
        const auto legacy = openssl({"ec", "-aes256", "-passout", "pass:secret"}, pki.leaf_key_pem);
        REQUIRE_THAT(legacy, Catch::Contains("Proc-Type: 4,ENCRYPTED"));
        auto creds = tlsw::credentials::from_pem(pki.chain_pem, legacy, "secret");
        REQUIRE_FALSE(creds);
        CHECK(creds.error().detail() == "key PEM: PEM block 1 (EC PRIVATE KEY) at line 1 is encrypted with OpenSSL's "
                                        "legacy PEM encryption, which tlsw does not read: convert it to PKCS#8 "
                                        "(openssl pkcs8 -topk8)");
    }
    SECTION("an Ed25519 key is an unsupported key type") {
        auto pki = tlsw::testing::make_test_pki("localhost");
        const auto ed = openssl({"genpkey", "-algorithm", "ed25519"}, "");
        auto creds = tlsw::credentials::from_pem(pki.chain_pem, ed);
        REQUIRE_FALSE(creds);
        INFO(creds.error().message());
        CHECK_THAT(creds.error().detail(), Catch::StartsWith("key PEM: PEM block 1 (PRIVATE KEY) at line 1 is an "
                                                             "unsupported key type: Ed25519"));
    }
}

TEST_CASE("an encrypted key is refused without its passphrase and loads with it", "[credentials][pem]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    Botan::DataSource_Memory source(pki.leaf_key_pem);
    const auto key = Botan::PKCS8::load_key(source);
    Botan::AutoSeeded_RNG rng;
    const auto encrypted = Botan::PKCS8::PEM_encode(*key, rng, "secret", std::chrono::milliseconds(10));
    REQUIRE_THAT(encrypted, Catch::Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));

    auto without = tlsw::credentials::from_pem(pki.chain_pem, encrypted);
    REQUIRE_FALSE(without);
    CHECK(without.error().detail() == "key PEM: PEM block 1 (ENCRYPTED PRIVATE KEY) at line 1 is encrypted: pass its "
                                      "passphrase, or give an unencrypted key");
    auto wrong = tlsw::credentials::from_pem(pki.chain_pem, encrypted, "not the secret");
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().detail() == "key PEM: PEM block 1 (ENCRYPTED PRIVATE KEY) at line 1 cannot be decrypted with "
                                    "the passphrase given, or is damaged");
    auto right = tlsw::credentials::from_pem(pki.chain_pem, encrypted, "secret");
    INFO((right ? std::string("loaded") : right.error().message()));
    CHECK(right);
}

TEST_CASE("a key file with a key type tlsw does not take, or with two keys, is refused naming the blocks",
          "[credentials][pem]") {
    auto pki = tlsw::testing::make_test_pki("localhost");
    const std::string dsa = "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n";
    auto r = tlsw::credentials::from_pem(pki.chain_pem, dsa);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().detail(), Catch::StartsWith("key PEM: PEM block 1 (DSA PRIVATE KEY) at line 1 is an "
                                                     "unsupported key type"));

    Botan::AutoSeeded_RNG rng;
    const Botan::Ed25519_PrivateKey ed(rng);
    auto ed_creds = tlsw::credentials::from_pem(pki.chain_pem, Botan::PKCS8::PEM_encode(ed));
    REQUIRE_FALSE(ed_creds);
    CHECK_THAT(ed_creds.error().detail(), Catch::Contains("is an unsupported key type: Ed25519"));

    auto two = tlsw::credentials::from_pem(pki.chain_pem, pki.leaf_key_pem + pki.ca_key_pem);
    REQUIRE_FALSE(two);
    const auto second = std::to_string(lines_in(pki.leaf_key_pem) + 1);
    CHECK(two.error().detail() == "key PEM: holds more than one private key (PEM block 1 (PRIVATE KEY) at line 1 and "
                                  "PEM block 2 (PRIVATE KEY) at line " + second + ")");
}

TEST_CASE("credentials load from files, and a file that cannot be read is named with the OS's reason",
          "[credentials][files]") {
    auto pki = tlsw::testing::make_test_pki(tlsw::testing::pki_options{.key = tlsw::testing::key_type::rsa_2048});
    temp_dir dir;
    std::ofstream(dir / "chain.pem") << pki.chain_pem;
    std::ofstream(dir / "key.pem") << pki.leaf_key_pem;
    auto creds = tlsw::credentials::from_files(dir / "chain.pem", dir / "key.pem");
    REQUIRE(creds);
    CHECK(creds->data()->key->algo_name() == "RSA");

    auto missing = tlsw::credentials::from_files(dir / "nope.pem", dir / "key.pem");
    REQUIRE_FALSE(missing);
    CHECK(missing.error() == errc::transport);
    CHECK(missing.error().error().transport_error() == std::errc::no_such_file_or_directory);
    CHECK(missing.error().message() ==
          "transport error: No such file or directory: " + (dir / "nope.pem").string() + ": cannot be read");

    // A directory opens, but does not read: the reason is the OS's, not "missing".
    auto directory = tlsw::credentials::from_files(dir / "chain.pem", dir.path());
    REQUIRE_FALSE(directory);
    CHECK(directory.error() == errc::transport);
    CHECK(directory.error().error().transport_error() == std::errc::is_a_directory);
    CHECK(directory.error().message() == "transport error: Is a directory: " + dir.path().string() + ": cannot be read");

    // Errors in a file name the file and the block.
    std::ofstream(dir / "damaged.pem") << damage(pki.leaf_cert_pem) << pki.ca_cert_pem;
    auto damaged = tlsw::credentials::from_files(dir / "damaged.pem", dir / "key.pem");
    REQUIRE_FALSE(damaged);
    CHECK(damaged.error().detail() ==
          (dir / "damaged.pem").string() + ": PEM block 1 (CERTIFICATE) at line 1 is damaged: its body is not valid base64");
}
