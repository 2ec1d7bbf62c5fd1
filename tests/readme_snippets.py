#!/usr/bin/env python3
"""Compiles and runs every C++ code block of the user documents, as a reader would.

Each ```cpp block is extracted from the Markdown file itself (never copied
into the tests, so the two cannot drift apart) and must be a whole program:
it is compiled with the build's compiler against the source tree's headers
and Botan, warnings as errors (-Werror), then run with

  - its working directory holding a test PKI made by examples/test_pki:
    ca.pem (the CA to trust), chain.pem and key.pem (a leaf for
    "localhost" and 127.0.0.1, with 10,000 filler names: a certificate of
    over 200 KiB, larger than a record and than one read, so that a
    blocking client shows it blocks until its handshake is done);
  - the arguments `127.0.0.1 PORT`, where `openssl s_server -www` serves
    that leaf, so a client block fetches a real page and verifies it
    (blocks that need no peer ignore them).

A block passes when it compiles and exits 0 within the time limit. An HTML
comment on the line just above a block may say how it is checked:

  <!-- snippet: compile only, REASON -->   compiled, not run (it needs a
                                           network or a peer the test
                                           cannot have; keep this rare)

Compiling is most of the cost (each block parses tlsw and Botan), so the
blocks are compiled in groups, one program per group: each block's code
stands verbatim in a namespace of its own, its main renamed, its #include
lines gathered at the top, and the program's main runs the block named by
its first argument. (So a block's main must return its status
explicitly.) Blocks that include <tlsw/asio.hpp> form a group of their
own, with that header first. TLSW_SNIPPET_SEPARATE=1 compiles every block
alone instead, exactly as written. Groups compile, and blocks run,
TLSW_SNIPPET_JOBS at a time (default 2).

Usage: readme_snippets.py DOC [DOC...] TEST_PKI_PROGRAM INCLUDE_DIR -- COMPILER [ARG...]
  DOC: a Markdown file, or a directory whose *.md files are all checked.
"""

import concurrent.futures
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
DIRECTIVE = re.compile(r"<!--\s*snippet:\s*(.*?)\s*-->\s*\n\s*$", re.S)


def cpp_blocks(text):
    """(line number, code, directive) of every ```cpp block, in order."""
    blocks = []
    for match in re.finditer(r"^```cpp[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S):
        line = text.count("\n", 0, match.start()) + 2
        before = text[:match.start()]
        found = DIRECTIVE.search(before[-400:])
        blocks.append((line, match.group(1), found.group(1) if found else "run"))
    return blocks


def documents(paths):
    docs = []
    for path in paths:
        if os.path.isdir(path):
            docs += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".md"))
        else:
            docs.append(path)
    return docs


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


def block_name(job):
    number, doc, line, _, _ = job
    return f"block {number} ({os.path.basename(doc)} line {line})"


def grouped_source(jobs):
    """One program holding every block of `jobs`: the includes first (in
    order of appearance, <tlsw/asio.hpp> before all), each block in its
    own namespace with main renamed, and a main that runs block argv[1]."""
    includes, bodies = [], []
    for number, doc, line, code, _ in jobs:
        body = []
        for i, text in enumerate(code.splitlines()):
            if re.match(r"\s*#\s*include\b", text):
                if text.strip() not in includes:
                    includes.append(text.strip())
                body.append("")  # keeps the line numbers
            else:
                body.append(text)
        renamed = re.sub(r"\bint\s+main\s*\(", "int snippet_main(", "\n".join(body), count=1)
        bodies.append(f'namespace snippet_{number} {{\n#line {line} "{os.path.basename(doc)}"\n{renamed}\n}}\n')
    includes.sort(key=lambda inc: 0 if "tlsw/asio.hpp" in inc else 1)  # stable: the rest keep their order
    calls = "\n".join(f'    if (which == "{job[0]}") return run(snippet_{job[0]}::snippet_main, argc - 1, argv + 1);'
                      for job in jobs)
    return "\n".join(includes) + "\n#include <string_view>\n#include <type_traits>\n\n" + "\n".join(bodies) + f"""
template <class Main>
static int run(Main block_main, int argc, char** argv) {{
    if constexpr (std::is_invocable_v<Main, int, char**>)
        return block_main(argc, argv);
    else
        return block_main();
}}

int main(int argc, char** argv) {{
    const std::string_view which = argc > 1 ? argv[1] : "";
{calls}
    return 99;
}}
"""


def build(group, source_text, exe, compiler, flags, libs):
    """Compiles one group; returns (ok, report)."""
    source = exe + ".cpp"
    with open(source, "w", encoding="utf-8") as f:
        f.write(source_text)
    started = time.monotonic()
    built = subprocess.run([*compiler, *flags, source, "-o", exe, *libs], capture_output=True, text=True)
    took = time.monotonic() - started
    names = ", ".join(block_name(job) for job in group)
    if built.returncode != 0:
        return False, f"FAIL {names}: does not compile\n{built.stdout}{built.stderr}"
    return True, f"compiled in {took:.1f} s: {names}"


def run_block(job, exe, args, certs, port):
    """Runs one compiled block; returns (passed, report)."""
    name = block_name(job)
    if job[4].startswith("compile only"):
        return True, f"ok   {name}: compiled (not run: {job[4]})"
    try:
        ran = subprocess.run([exe, *args, "127.0.0.1", str(port)], cwd=certs, capture_output=True, text=True,
                             timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"FAIL {name}: still running after {RUN_TIMEOUT_S} s"
    output = [out if len(out) <= 200 else out[:200] + " ..." for out in (ran.stdout + ran.stderr).splitlines()]
    if ran.returncode != 0:
        return False, f"FAIL {name}: exit status {ran.returncode}\n" + "\n".join(output)
    return True, "\n".join([f"ok   {name}: ran"] + [f"       | {out}" for out in output[:5]])


def main(argv):
    if "--" not in argv or argv.index("--") < 4:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    docs = documents(argv[1:split - 2])
    test_pki, include_dir = argv[split - 2:split]
    compiler = argv[split + 1:]
    jobs = []
    for doc in docs:
        with open(doc, encoding="utf-8") as f:
            for line, code, directive in cpp_blocks(f.read()):
                jobs.append((len(jobs) + 1, doc, line, code, directive))
    if not jobs:
        print(f"{', '.join(docs)}: no ```cpp block: nothing checked", file=sys.stderr)
        return 1

    botan = os.environ.get("TLSW_BOTAN_PC", "botan-2")  # the Botan this build uses (examples/meson.build)
    flags = ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O0", "-I" + include_dir, *pkg_config("--cflags", botan)]
    if not any(a.startswith("-std=") for a in compiler):
        flags.insert(0, "-std=c++20")
    libs = [*pkg_config("--libs", botan), "-pthread"]
    workers = max(1, int(os.environ.get("TLSW_SNIPPET_JOBS", "2")))

    started = time.monotonic()
    failed = 0
    for job in jobs:
        number, doc, line, code, directive = job
        if not re.search(r"\bint\s+main\s*\(", code):
            print(f"FAIL {block_name(job)}: not a whole program (no main): documented blocks are compiled and run "
                  "as written")
            failed += 1
        elif not directive.startswith("compile only") and directive != "run":
            print(f"FAIL {block_name(job)}: unknown directive '{directive}' (say 'compile only, REASON' or nothing)")
            failed += 1
    if failed:
        return 1
    with tempfile.TemporaryDirectory(prefix="tlsw-snippets.") as tmp:
        # (group of jobs, source text, executable, arguments before the block's own per job)
        programs = []
        if os.environ.get("TLSW_SNIPPET_SEPARATE") == "1":
            for job in jobs:
                source = f'#line {job[2]} "{os.path.basename(job[1])}"\n{job[3]}'
                programs.append(([job], source, os.path.join(tmp, f"block{job[0]}"), lambda job: []))
        else:
            asio = [job for job in jobs if "tlsw/asio.hpp" in job[3]]
            plain = [job for job in jobs if job not in asio]
            for name, group in (("plain", plain), ("asio", asio)):
                if group:
                    programs.append((group, grouped_source(group), os.path.join(tmp, f"snippets_{name}"),
                                     lambda job: [str(job[0])]))

        certs = os.path.join(tmp, "run")
        subprocess.run([test_pki, "--filler-names", "10000", certs, "localhost", "127.0.0.1"], check=True,
                       capture_output=True)
        if os.path.getsize(os.path.join(certs, "chain.pem")) < 200 * 1024 * 4 // 3:
            raise RuntimeError("test_pki made a chain under 200 KiB")
        server, port = start_s_server(certs)
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                builds = list(pool.map(lambda p: build(p[0], p[1], p[2], compiler, flags, libs), programs))
                runs = []
                for (group, _, exe, args), (ok, report) in zip(programs, builds):
                    print(report, flush=True)
                    if not ok:
                        failed += len(group)
                        continue
                    runs += [(job, exe, args(job)) for job in group]
                for passed, report in pool.map(lambda r: run_block(r[0], r[1], r[2], certs, port), runs):
                    print(report, flush=True)
                    failed += not passed
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
    print(f"{len(jobs) - failed} of {len(jobs)} C++ blocks of {', '.join(os.path.basename(d) for d in docs)} "
          f"compiled and ran ({workers} at a time, {time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
