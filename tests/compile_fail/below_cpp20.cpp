// Must not compile: tlsw below C++20 (the check compiles this file with
// -std=c++17). The one error must be the #error of
// tlsw/detail/cxx_version.hpp naming the flag, not hundreds from inside
// tlsw's headers; every public header gives the same one error alone too.
#include <tlsw/tlsw.hpp>

int main() {}
