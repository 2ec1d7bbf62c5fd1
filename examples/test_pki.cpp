// Writes a throwaway CA and a leaf certificate it signed into a directory,
// for trying the example server without any other tool:
//
//   test_pki certs                     # a leaf for "localhost"
//   test_pki certs localhost 127.0.0.1  # more names (the first is the CN)
//   server --cert certs/chain.pem --key certs/key.pem
//   client --ca-file certs/ca.pem --server-name localhost 127.0.0.1 PORT
//
// Files: ca.pem (trust this), chain.pem (leaf then CA: the server's
// --cert), leaf.pem, key.pem (the leaf's key, unencrypted). The CA's key is
// not kept: nothing else can ever be signed by this CA.

#include <tlsw/testing/test_pki.hpp>

#include <cstdio>
#include <exception>
#include <string_view>

int main(int argc, char** argv) {
    if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
        std::fputs("usage: test_pki DIR [HOST...]\n\n"
                   "Writes ca.pem, chain.pem, leaf.pem and key.pem into DIR (created if needed):\n"
                   "a new CA and a leaf for the HOSTs (default: localhost), valid for 30 days.\n"
                   "For tests and demos only: the key is not protected.\n",
                   argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    try {
        tlsw::testing::pki_options options;
        if (argc > 2)
            options.hosts.assign(argv + 2, argv + argc);
        const auto files = tlsw::testing::write_files(tlsw::testing::make_test_pki(options), argv[1]);
        std::fprintf(stderr, "wrote %s, %s, %s, %s\n", files.ca.c_str(), files.chain.c_str(), files.leaf.c_str(),
                     files.key.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "test_pki: %s\n", e.what());
        return 1;
    }
}
