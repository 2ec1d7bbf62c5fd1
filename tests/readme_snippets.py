#!/usr/bin/env python3
"""Compiles and runs every C++ code block of README.md, as a reader would.

Each ```cpp block is extracted from the README itself (never copied into
the tests, so the two cannot drift apart) and must be a whole program: it
is compiled with the build's compiler against the source tree's headers
and Botan, then run with

  - its working directory holding a test PKI made by examples/test_pki:
    ca.pem (the CA to trust), chain.pem and key.pem (a leaf for
    "localhost" and 127.0.0.1, with 10,000 filler names: a certificate of
    over 200 KiB, larger than a record and than one read, so that a
    blocking client shows it blocks until its handshake is done);
  - the arguments `127.0.0.1 PORT`, where `openssl s_server -www` serves
    that leaf, so a client snippet fetches a real page and verifies it.

A block passes when it compiles without warnings (-Werror) and exits 0
within the time limit. Blocks are numbered from 1 in README order in the
output.

Usage: readme_snippets.py README TEST_PKI_PROGRAM INCLUDE_DIR -- COMPILER [ARG...]
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

RUN_TIMEOUT_S = 60


def cpp_blocks(readme_text):
    """(line number, code) of every ```cpp block, in order."""
    blocks = []
    for match in re.finditer(r"^```cpp[ \t]*\n(.*?)^```[ \t]*$", readme_text, re.M | re.S):
        line = readme_text.count("\n", 0, match.start()) + 2
        blocks.append((line, match.group(1)))
    return blocks


def pkg_config(*args):
    return shlex.split(subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True).stdout)


def start_s_server(certs):
    """openssl s_server -www on a port the OS picks; returns (process, port)."""
    proc = subprocess.Popen(
        ["openssl", "s_server", "-www", "-accept", "127.0.0.1:0", "-cert", os.path.join(certs, "chain.pem"),
         "-key", os.path.join(certs, "key.pem"), "-naccept", "1000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.match(r"ACCEPT\s+\S*:(\d+)", line)
        if found:
            port = int(found.group(1))
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
            return proc, port
    proc.kill()
    raise RuntimeError("openssl s_server did not start")


def main(argv):
    if "--" not in argv or argv.index("--") != 4:
        print(__doc__, file=sys.stderr)
        return 2
    readme, test_pki, include_dir = argv[1:4]
    compiler = argv[5:]
    with open(readme, encoding="utf-8") as f:
        blocks = cpp_blocks(f.read())
    if not blocks:
        print("README.md has no ```cpp block: nothing checked", file=sys.stderr)
        return 1

    botan = os.environ.get("TLSW_BOTAN_PC", "botan-2")  # the Botan this build uses (examples/meson.build)
    flags = ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O0", "-I" + include_dir, *pkg_config("--cflags", botan)]
    if not any(a.startswith("-std=") for a in compiler):
        flags.insert(0, "-std=c++20")
    libs = [*pkg_config("--libs", botan), "-pthread"]

    failed = 0
    with tempfile.TemporaryDirectory(prefix="tlsw-readme.") as tmp:
        certs = os.path.join(tmp, "run")
        subprocess.run([test_pki, "--filler-names", "10000", certs, "localhost", "127.0.0.1"], check=True,
                       capture_output=True)
        if os.path.getsize(os.path.join(certs, "chain.pem")) < 200 * 1024 * 4 // 3:
            raise RuntimeError("test_pki made a chain under 200 KiB")
        server, port = start_s_server(certs)
        try:
            for number, (line, code) in enumerate(blocks, 1):
                name = f"block {number} (README.md line {line})"
                if not re.search(r"\bint\s+main\s*\(", code):
                    print(f"FAIL {name}: not a whole program (no main): README blocks are compiled and run as written")
                    failed += 1
                    continue
                source = os.path.join(tmp, f"block{number}.cpp")
                exe = os.path.join(tmp, f"block{number}")
                with open(source, "w", encoding="utf-8") as f:
                    f.write(f'#line {line} "README.md"\n{code}')
                built = subprocess.run([*compiler, *flags, source, "-o", exe, *libs], capture_output=True, text=True)
                if built.returncode != 0:
                    print(f"FAIL {name}: does not compile\n{built.stdout}{built.stderr}")
                    failed += 1
                    continue
                try:
                    ran = subprocess.run([exe, "127.0.0.1", str(port)], cwd=certs, capture_output=True, text=True,
                                         timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
                except subprocess.TimeoutExpired:
                    print(f"FAIL {name}: still running after {RUN_TIMEOUT_S} s")
                    failed += 1
                    continue
                if ran.returncode != 0:
                    print(f"FAIL {name}: exit status {ran.returncode}\n{ran.stdout}{ran.stderr}")
                    failed += 1
                    continue
                print(f"ok   {name}: compiled and ran")
                for out in (ran.stdout + ran.stderr).splitlines()[:5]:
                    print(f"       | {out}")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
    print(f"{len(blocks) - failed} of {len(blocks)} README C++ blocks compiled and ran")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
