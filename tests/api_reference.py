#!/usr/bin/env python3
"""The API reference builds without a warning and every public header is in it.

Usage: api_reference.py SOURCE_ROOT OUT_DIR

Runs scripts/api-docs.sh (Doxygen, every warning an error: an undocumented
public name fails), then checks the generated HTML:
- files.html links a page for every public header (include/tlsw, not
  detail/), and that page is the header's own ("... File Reference");
- every local link of every page leads to a file that exists;
- where Debian's chromium is installed, the index and file list render in
  it headless and the rendered file list names every public header.
"""
import html.parser
import pathlib
import shutil
import subprocess
import sys
import urllib.parse


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []  # (href, text)
        self._href = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def links_of(page):
    parser = Links()
    parser.feed(page.read_text(errors="replace"))
    return parser.links


def main():
    root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    build = subprocess.run([str(root / "scripts/api-docs.sh"), str(out)], cwd=root,
                           capture_output=True, text=True)
    sys.stdout.write(build.stdout)
    if build.returncode != 0:
        sys.stdout.write(build.stderr)
        print("FAIL: the API reference does not build without warnings")
        return 1
    html_dir = out / "html"
    include = root / "include"
    headers = sorted(str(p.relative_to(include)) for p in (include / "tlsw").rglob("*.hpp")
                     if "detail" not in p.relative_to(include).parts)
    failures = []

    # Every public header has its own page, linked from the file list.
    file_links = links_of(html_dir / "files.html")
    for header in headers:
        name = pathlib.PurePosixPath(header).name
        parent = pathlib.PurePosixPath(header).parent.name
        hrefs = [h for h, text in file_links if text == name and h and h.endswith("_8hpp.html")]
        # Two headers may share a name (tlsw/error.hpp, tlsw/asio/error.hpp):
        # the file list nests them under their directory, and the page
        # title names the whole path.
        found = False
        for href in hrefs:
            page = html_dir / href
            if page.exists() and f"{header} File Reference" in page.read_text(errors="replace"):
                found = True
        if not found:
            failures.append(f"{header}: no page of its own linked from files.html "
                            f"(candidates under {parent}/: {hrefs})")
        else:
            print(f"ok   {header}")

    # No broken local link anywhere.
    pages = sorted(html_dir.glob("*.html"))
    broken = set()
    for page in pages:
        for href, _ in links_of(page):
            if not href or href.startswith(("http:", "https:", "mailto:", "javascript:", "#")):
                continue
            target = urllib.parse.unquote(href.split("#", 1)[0])
            if target and not (html_dir / target).exists():
                broken.add(f"{page.name} -> {target}")
    failures += [f"broken link: {b}" for b in sorted(broken)]
    print(f"{len(pages)} pages, {sum(len(links_of(p)) for p in pages)} links checked")

    # Rendered in a real browser, where one is installed.
    browser = shutil.which("chromium")
    if browser:
        for page in ("index.html", "files.html"):
            dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                                  (html_dir / page).resolve().as_uri()],
                                 capture_output=True, text=True, timeout=120).stdout
            if "tlsw" not in dom:
                failures.append(f"chromium rendered {page} without the project's name")
            if page == "files.html":
                missing = [h for h in headers if pathlib.PurePosixPath(h).name not in dom]
                if missing:
                    failures.append(f"chromium's rendering of files.html lacks {missing}")
        print("rendered index.html and files.html in headless chromium")
    else:
        print("chromium not installed: HTML checked by parsing only")

    for f in failures:
        print("FAIL", f)
    print(f"{len(headers)} public headers, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
