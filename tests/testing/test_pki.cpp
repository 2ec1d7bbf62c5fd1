// Test that header file is self-contained.
#include <tlsw/testing/test_pki.hpp>

#include <catch2/catch.hpp>

#include <botan/ber_dec.h>
#include <botan/certstor.h>
#include <botan/data_src.h>
#include <botan/hex.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/x509cert.h>
#include <botan/x509path.h>

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

// The Botan names these checks use, in Botan 3's spelling or Botan 2's.
namespace botan_names {
#if BOTAN_VERSION_MAJOR >= 3
using K = Botan::Key_Constraints;
constexpr auto key_cert_sign = K::KeyCertSign, crl_sign = K::CrlSign, digital_signature = K::DigitalSignature,
               key_encipherment = K::KeyEncipherment;
inline std::unique_ptr<Botan::Public_Key> public_key_of(const Botan::X509_Certificate& c) { return c.subject_public_key(); }
inline Botan::BER_Decoder start_sequence(Botan::BER_Decoder& d) { return d.start_sequence(); }
#else
constexpr auto key_cert_sign = Botan::KEY_CERT_SIGN, crl_sign = Botan::CRL_SIGN,
               digital_signature = Botan::DIGITAL_SIGNATURE, key_encipherment = Botan::KEY_ENCIPHERMENT;
inline std::unique_ptr<Botan::Public_Key> public_key_of(const Botan::X509_Certificate& c) { return c.load_subject_public_key(); }
inline Botan::BER_Decoder start_sequence(Botan::BER_Decoder& d) { return d.start_cons(Botan::SEQUENCE); }
#endif
}  // namespace botan_names

using tlsw::testing::issue_leaf;
using tlsw::testing::key_type;
using tlsw::testing::make_test_pki;
using tlsw::testing::pki_options;
using tlsw::testing::test_pki;
using Status = Botan::Certificate_Status_Code;

std::vector<Botan::X509_Certificate> parse_certs(const std::string& pem) {
    Botan::DataSource_Memory source(pem);
    std::vector<Botan::X509_Certificate> certs;
    while (!source.end_of_data()) {
        try {
            certs.emplace_back(source);
        } catch (const Botan::Decoding_Error&) {
            break; // trailing whitespace after the last certificate
        }
    }
    return certs;
}

Botan::X509_Certificate parse_cert(const std::string& pem) {
    auto certs = parse_certs(pem);
    REQUIRE(certs.size() == 1);
    return certs.front();
}

std::unique_ptr<Botan::Private_Key> parse_key(const std::string& pem) {
    Botan::DataSource_Memory source(pem);
    return Botan::PKCS8::load_key(source);
}

/** Validates what a server would present against a store holding only trusted_ca_pem. */
Botan::Path_Validation_Result validate(const std::string& presented_pem, const std::string& trusted_ca_pem,
                                       const std::string& host,
                                       Botan::Usage_Type usage = Botan::Usage_Type::TLS_SERVER_AUTH) {
    Botan::Certificate_Store_In_Memory store(parse_cert(trusted_ca_pem));
    // No revocation data exists for these certificates, so none may be required.
    return Botan::x509_path_validate(parse_certs(presented_pem), Botan::Path_Validation_Restrictions(false, 110),
                                     store, host, usage);
}

/** True when key signs what cert's public key verifies: the PEM pair really belongs together. */
bool is_key_of(const Botan::Private_Key& key, const Botan::X509_Certificate& cert) {
    const std::string padding = key.algo_name() == "RSA" ? "EMSA3(SHA-256)" : "EMSA1(SHA-256)";
    const std::vector<std::uint8_t> message{'t', 'l', 's', 'w'};
    Botan::PK_Signer signer(key, Botan::system_rng(), padding);
    const auto signature = signer.sign_message(message, Botan::system_rng());
    const std::unique_ptr<Botan::Public_Key> public_key = botan_names::public_key_of(cert);
    Botan::PK_Verifier verifier(*public_key, padding);
    // subject_public_key_info(), not subject_public_key_bits(): in Botan 2.19 the latter lacks the outer SEQUENCE.
    return verifier.verify_message(message, signature) && key.subject_public_key() == cert.subject_public_key_info();
}

/** The raw GeneralNames of cert's SAN, as (tag, bytes), read with Botan's BER decoder. */
std::vector<std::pair<unsigned, std::string>> raw_subject_alt_names(const Botan::X509_Certificate& cert) {
    const auto der = cert.v3_extensions().get_extension_bits(Botan::OID("2.5.29.17"));
    Botan::BER_Decoder decoder(der);
    Botan::BER_Decoder names = botan_names::start_sequence(decoder);
    std::vector<std::pair<unsigned, std::string>> result;
    while (names.more_items()) {
        const Botan::BER_Object name = names.get_next_object();
        result.emplace_back(unsigned(name.type()), std::string(name.bits(), name.bits() + name.length()));
    }
    return result;
}

struct command_result {
    int exit_code = -1;
    std::string output;
};

/** Runs a shell command; stdout and stderr both end up in output for INFO. */
command_result run(const std::string& command) {
    command_result result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr)
        return result;
    char buffer[512];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
        result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

bool on_path(const std::string& tool) {
    return run("command -v " + tool).exit_code == 0;
}

std::string quoted(const std::filesystem::path& path) {
    return "'" + path.string() + "'";
}

/** A scratch directory removed at scope exit, unique so parallel test runs do not collide. */
struct scratch_dir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("tlsw-test-pki-" + Botan::hex_encode(Botan::system_rng().random_vec(8)));
    scratch_dir() { std::filesystem::create_directories(path); }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
};

pki_options valid_between(std::chrono::seconds not_before, std::chrono::seconds not_after) {
    pki_options options;
    options.not_before_offset = not_before;
    options.not_after_offset = not_after;
    return options;
}

} // namespace

TEST_CASE("a fresh leaf validates against its CA alone for its host name", "[testing][pki]") {
    const test_pki pki = make_test_pki();

    SECTION("when the server presents the chain") {
        const auto result = validate(pki.chain_pem, pki.ca_cert_pem, "localhost");
        INFO(result.result_string());
        CHECK(result.successful_validation());
        CHECK(result.trust_root() == parse_cert(pki.ca_cert_pem));
    }
    SECTION("when the server presents the leaf only") {
        const auto result = validate(pki.leaf_cert_pem, pki.ca_cert_pem, "localhost");
        INFO(result.result_string());
        CHECK(result.successful_validation());
    }
    SECTION("as a client certificate") {
        const auto result = validate(pki.chain_pem, pki.ca_cert_pem, "", Botan::Usage_Type::TLS_CLIENT_AUTH);
        INFO(result.result_string());
        CHECK(result.successful_validation());
    }
}

TEST_CASE("a leaf is rejected for a host name it was not issued for", "[testing][pki]") {
    const test_pki pki = make_test_pki("localhost");
    const auto result = validate(pki.chain_pem, pki.ca_cert_pem, "example.com");
    INFO(result.result_string());
    CHECK(result.result() == Status::CERT_NAME_NOMATCH);
}

TEST_CASE("a leaf whose not_after has passed is rejected as expired", "[testing][pki]") {
    using namespace std::chrono_literals;
    const test_pki pki = make_test_pki(valid_between(-48h, -1h));
    const auto result = validate(pki.chain_pem, pki.ca_cert_pem, "localhost");
    INFO(result.result_string());
    CHECK(result.result() == Status::CERT_HAS_EXPIRED);
}

TEST_CASE("a leaf whose not_before is ahead is rejected as not yet valid", "[testing][pki]") {
    using namespace std::chrono_literals;
    const test_pki pki = make_test_pki(valid_between(1h, 48h));
    const auto result = validate(pki.chain_pem, pki.ca_cert_pem, "localhost");
    INFO(result.result_string());
    CHECK(result.result() == Status::CERT_NOT_YET_VALID);
}

TEST_CASE("a leaf from another PKI's CA is not trusted", "[testing][pki]") {
    const test_pki trusted = make_test_pki();
    const test_pki stranger = make_test_pki();
    REQUIRE(parse_cert(trusted.ca_cert_pem).subject_dn() != parse_cert(stranger.ca_cert_pem).subject_dn());

    SECTION("presented alone, its issuer is unknown") {
        const auto result = validate(stranger.leaf_cert_pem, trusted.ca_cert_pem, "localhost");
        INFO(result.result_string());
        CHECK(result.result() == Status::CERT_ISSUER_NOT_FOUND);
    }
    SECTION("presented with its own CA, that root is not trusted") {
        const auto result = validate(stranger.chain_pem, trusted.ca_cert_pem, "localhost");
        INFO(result.result_string());
        CHECK(result.result() == Status::CANNOT_ESTABLISH_TRUST);
    }
}

TEST_CASE("the CA and the leaf carry the extensions TLS peers check", "[testing][pki]") {
    const test_pki pki = make_test_pki();
    const auto ca = parse_cert(pki.ca_cert_pem);
    const auto leaf = parse_cert(pki.leaf_cert_pem);

    CHECK(ca.is_CA_cert());
    CHECK(ca.is_self_signed());
    CHECK(ca.constraints() == Botan::Key_Constraints(botan_names::key_cert_sign | botan_names::crl_sign));

    CHECK_FALSE(leaf.is_CA_cert());
    CHECK(leaf.issuer_dn() == ca.subject_dn());
    CHECK(leaf.authority_key_id() == ca.subject_key_id());
    CHECK(leaf.constraints() == Botan::Key_Constraints(botan_names::digital_signature));
    CHECK(leaf.extended_key_usage() ==
          std::vector<Botan::OID>{Botan::OID::from_string("PKIX.ServerAuth"), Botan::OID::from_string("PKIX.ClientAuth")});
    CHECK(leaf.subject_info("Name") == std::vector<std::string>{"localhost"});

    const auto chain = parse_certs(pki.chain_pem);
    REQUIRE(chain.size() == 2);
    CHECK(chain[0] == leaf);
    CHECK(chain[1] == ca);
}

TEST_CASE("host names become DNS SANs and address literals IP SANs", "[testing][pki]") {
    pki_options options;
    options.hosts = {"server.test", "localhost", "127.0.0.1", "::1"};
    const test_pki pki = make_test_pki(options);
    const auto leaf = parse_cert(pki.leaf_cert_pem);

    using name = std::pair<unsigned, std::string>;
    const std::string loopback6(15, '\0');
    CHECK(raw_subject_alt_names(leaf) == std::vector<name>{{2, "server.test"},
                                                           {2, "localhost"},
                                                           {7, std::string("\x7f\0\0\x01", 4)},
                                                           {7, loopback6 + '\x01'}});
    CHECK(leaf.subject_info("Name") == std::vector<std::string>{"server.test"});

    // Botan 2.19 matches IPv4 SANs but drops IPv6 ones when parsing, so "::1" is checked with openssl below.
    for (const std::string host : {"server.test", "localhost", "127.0.0.1"}) {
        const auto result = validate(pki.chain_pem, pki.ca_cert_pem, host);
        INFO(host << ": " << result.result_string());
        CHECK(result.successful_validation());
    }
}

TEST_CASE("the key PEMs load and belong to their certificates", "[testing][pki]") {
    const test_pki pki = make_test_pki();
    const auto leaf_key = parse_key(pki.leaf_key_pem);
    const auto ca_key = parse_key(pki.ca_key_pem);

    CHECK(leaf_key->algo_name() == "ECDSA");
    CHECK(leaf_key->key_length() == 256);
    CHECK(leaf_key->check_key(Botan::system_rng(), true));
    CHECK(is_key_of(*leaf_key, parse_cert(pki.leaf_cert_pem)));
    CHECK(is_key_of(*ca_key, parse_cert(pki.ca_cert_pem)));
    CHECK_FALSE(is_key_of(*ca_key, parse_cert(pki.leaf_cert_pem)));
}

TEST_CASE("an RSA 2048 PKI validates and its key matches", "[testing][pki]") {
    pki_options options;
    options.key = key_type::rsa_2048;
    const test_pki pki = make_test_pki(options);
    const auto leaf = parse_cert(pki.leaf_cert_pem);
    const auto leaf_key = parse_key(pki.leaf_key_pem);

    const auto result = validate(pki.chain_pem, pki.ca_cert_pem, "localhost");
    INFO(result.result_string());
    CHECK(result.successful_validation());
    CHECK(leaf_key->algo_name() == "RSA");
    CHECK(leaf_key->key_length() == 2048);
    CHECK(is_key_of(*leaf_key, leaf));
    CHECK(parse_key(pki.ca_key_pem)->algo_name() == "RSA");
    // Static-RSA key exchange in TLS 1.2 needs keyEncipherment on the server certificate.
    CHECK(leaf.allowed_usage(botan_names::key_encipherment));
}

TEST_CASE("issue_leaf issues another leaf that validates against the same CA", "[testing][pki]") {
    const test_pki pki = make_test_pki();
    pki_options options;
    options.hosts = {"client.test"};
    options.key = GENERATE(key_type::ecdsa_p256, key_type::rsa_2048);
    const test_pki second = issue_leaf(pki, options);

    CHECK(second.ca_cert_pem == pki.ca_cert_pem);
    CHECK(parse_cert(second.leaf_cert_pem) != parse_cert(pki.leaf_cert_pem));
    CHECK(is_key_of(*parse_key(second.leaf_key_pem), parse_cert(second.leaf_cert_pem)));
    for (const auto usage : {Botan::Usage_Type::TLS_SERVER_AUTH, Botan::Usage_Type::TLS_CLIENT_AUTH}) {
        const auto result = validate(second.chain_pem, pki.ca_cert_pem, "client.test", usage);
        INFO(result.result_string());
        CHECK(result.successful_validation());
    }
    CHECK(validate(second.chain_pem, pki.ca_cert_pem, "localhost").result() == Status::CERT_NAME_NOMATCH);
}

TEST_CASE("options that cannot make a usable leaf are rejected", "[testing][pki]") {
    using namespace std::chrono_literals;
    pki_options no_hosts;
    no_hosts.hosts.clear();
    pki_options bad_ipv6;
    bad_ipv6.hosts = {"::1::2"};

    CHECK_THROWS_AS(make_test_pki(no_hosts), std::invalid_argument);
    CHECK_THROWS_AS(make_test_pki(""), std::invalid_argument);
    CHECK_THROWS_AS(make_test_pki(bad_ipv6), std::invalid_argument);
    CHECK_THROWS_AS(make_test_pki(valid_between(1h, 1h)), std::invalid_argument);
    CHECK_THROWS_AS(issue_leaf(make_test_pki(), valid_between(1h, -1h)), std::invalid_argument);
}

TEST_CASE("write_files writes PEM files that OpenSSL and GnuTLS accept", "[testing][pki]") {
    scratch_dir dir;
    pki_options options;
    options.hosts = {"localhost", "::1"};
    options.key = GENERATE(key_type::ecdsa_p256, key_type::rsa_2048);
    const test_pki pki = make_test_pki(options);
    const auto files = tlsw::testing::write_files(pki, dir.path);

    CHECK(parse_cert(pki.ca_cert_pem) == Botan::X509_Certificate(files.ca.string()));
    CHECK(Botan::X509_Certificate(files.leaf.string()) == parse_cert(pki.leaf_cert_pem));
    CHECK(std::filesystem::file_size(files.chain) == pki.chain_pem.size());
    CHECK(std::filesystem::file_size(files.key) == pki.leaf_key_pem.size());

    if (on_path("openssl")) {
        const auto verify = "openssl verify -CAfile " + quoted(files.ca) + " ";
        for (const std::string& command :
             {verify + quoted(files.leaf), verify + "-purpose sslserver -verify_hostname localhost " + quoted(files.leaf),
              verify + "-purpose sslclient " + quoted(files.leaf), verify + "-verify_ip ::1 " + quoted(files.leaf),
              "openssl pkey -noout -in " + quoted(files.key)}) {
            const auto result = run(command);
            INFO(command << "\n" << result.output);
            CHECK(result.exit_code == 0);
        }
        // Guards against a verify command that passes regardless.
        const auto stranger = tlsw::testing::write_files(make_test_pki(), dir.path / "stranger");
        const auto rejected = run(verify + quoted(stranger.leaf));
        INFO(rejected.output);
        CHECK(rejected.exit_code != 0);
    } else {
        WARN("openssl not on PATH: skipped the OpenSSL checks");
    }

    if (on_path("certtool")) {
        const auto command = "certtool --verify --verify-hostname localhost --load-ca-certificate " + quoted(files.ca) +
                             " --infile " + quoted(files.chain);
        const auto result = run(command);
        INFO(command << "\n" << result.output);
        CHECK(result.exit_code == 0);
        const auto key_info = run("certtool --key-info --infile " + quoted(files.key));
        INFO(key_info.output);
        CHECK(key_info.exit_code == 0);
    } else {
        WARN("certtool not on PATH: skipped the GnuTLS checks");
    }
}
