// Writes a throwaway CA and a leaf certificate it signed into a directory,
// for trying the example server without any other tool:
//
//   test_pki certs                     # a leaf for "localhost"
//   test_pki certs localhost 127.0.0.1  # more names (the first is the CN)
//   test_pki --filler-names 9000 certs  # a leaf of over 200 KiB, for tests
//   server --cert certs/chain.pem --key certs/key.pem
//   client --ca-file certs/ca.pem --server-name localhost 127.0.0.1 PORT
//
// Files: ca.pem (trust this), chain.pem (leaf then CA: the server's
// --cert), leaf.pem, key.pem (the leaf's key, unencrypted). The CA's key is
// not kept: nothing else can ever be signed by this CA.

#include <tlsw/testing/test_pki.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

int main(int argc, char** argv) {
    tlsw::testing::pki_options options;
    int first = 1;
    if (argc > 3 && std::string_view(argv[1]) == "--filler-names") {
        char* end = nullptr;
        const unsigned long n = std::strtoul(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || n > 100000) {
            std::fputs("test_pki: --filler-names takes a count up to 100000\n", stderr);
            return 2;
        }
        options.filler_names = n;
        first = 3;
    }
    if (argc <= first || std::string_view(argv[first]) == "--help" || std::string_view(argv[first]) == "-h") {
        std::fputs("usage: test_pki [--filler-names N] DIR [HOST...]\n\n"
                   "Writes ca.pem, chain.pem, leaf.pem and key.pem into DIR (created if needed):\n"
                   "a new CA and a leaf for the HOSTs (default: localhost), valid for 30 days.\n"
                   "--filler-names adds N names to the leaf (9000 make it over 200 KiB).\n"
                   "For tests and demos only: the key is not protected.\n",
                   argc <= first ? stderr : stdout);
        return argc <= first ? 2 : 0;
    }
    try {
        if (argc > first + 1)
            options.hosts.assign(argv + first + 1, argv + argc);
        const auto files = tlsw::testing::write_files(tlsw::testing::make_test_pki(options), argv[first]);
        std::fprintf(stderr, "wrote %s, %s, %s, %s\n", files.ca.c_str(), files.chain.c_str(), files.leaf.c_str(),
                     files.key.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "test_pki: %s\n", e.what());
        return 1;
    }
}
