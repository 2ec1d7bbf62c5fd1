// The HTTP/1.x request head parser of the example server: no I/O, no TLS,
// nothing allocated but the strings it returns.
//
// It takes the bytes a connection has buffered and says whether they hold a
// complete request head yet. Heads end with CRLF CRLF or with bare LF LF
// (test tools send `GET / HTTP/1.0\n\n`); lines may end in either. Empty
// lines before the request line are skipped (RFC 9112 section 2.2), as
// clients that append a CRLF after a POST body expect.

#ifndef TLSW_EXAMPLES_SERVER_HTTP_HPP
#define TLSW_EXAMPLES_SERVER_HTTP_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace example::http {

/** The largest request head accepted (request line and header fields). */
inline constexpr std::size_t max_head = 16 * 1024;

/** The methods that make the server speak HTTP on a connection that
    negotiated no ALPN protocol. */
inline constexpr std::array<std::string_view, 9> methods = {"GET", "HEAD", "POST", "PUT", "DELETE",
                                                            "OPTIONS", "PATCH", "TRACE", "CONNECT"};

/** How the first bytes of a connection read: an HTTP request (a known
    method and a space), not one, or not known yet (a prefix of one). */
enum class sniff_result : unsigned char { http, other, undecided };

/** The longest text sniff() may need before it decides. */
inline constexpr std::size_t sniff_length = sizeof("OPTIONS ") - 1;

inline sniff_result sniff(std::string_view data) {
    bool prefix = false;
    for (std::string_view m : methods) {
        if (data.size() > m.size() && data.starts_with(m) && data[m.size()] == ' ')
            return sniff_result::http;
        if (data.size() <= m.size() && m.starts_with(data))
            prefix = true;
    }
    return prefix ? sniff_result::undecided : sniff_result::other;
}

/** One parsed request head. The string_views point into the buffer the
    head was parsed from. */
struct request {
    std::string_view method;
    std::string_view target;
    std::string_view version;         ///< "HTTP/1.0" or "HTTP/1.1"
    std::string_view line;            ///< the request line, for the log
    std::uint64_t content_length = 0;
    bool keep_alive = true;           ///< after this request's response
    bool has_transfer_encoding = false;
};

/** What parse() found in the buffered bytes. */
struct parse_result {
    enum kind_type : unsigned char { incomplete, complete, bad } kind = incomplete;
    std::size_t head_size = 0;  ///< bytes of the head, its blank line and skipped empty lines (complete)
    request req;                ///< valid when complete
    const char* why = "";       ///< for bad: what is wrong, for the log
};

namespace detail {

inline bool is_tchar(char c) {
    // RFC 9110 section 5.6.2: token characters.
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'))
        return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

/** The next line of `text` from `at` without its LF or CRLF; advances `at`. */
inline std::string_view next_line(std::string_view text, std::size_t& at) {
    const auto lf = text.find('\n', at);
    std::string_view line = text.substr(at, lf - at);
    at = lf == std::string_view::npos ? text.size() : lf + 1;
    if (line.ends_with('\r'))
        line.remove_suffix(1);
    return line;
}

}  // namespace detail

/** Looks for a complete request head at the start of `data`.

    incomplete: more bytes are needed (the caller answers 400 once it holds
    more than max_head without a complete head). bad: the head is complete
    but malformed, or is longer than max_head. complete: `req` describes it,
    and its body (content_length bytes) starts at head_size. */
inline parse_result parse(std::string_view data) {
    parse_result r;
    std::size_t start = 0;
    // Empty lines before the request line are skipped.
    while (start < data.size() && (data[start] == '\r' || data[start] == '\n')) {
        if (data[start] == '\r' && (start + 1 >= data.size() || data[start + 1] != '\n'))
            break;
        ++start;
    }
    // The head ends at the first empty line: LF, then CR LF or LF.
    std::size_t end = std::string_view::npos;
    for (auto lf = data.find('\n', start); lf != std::string_view::npos; lf = data.find('\n', lf + 1)) {
        if (lf + 1 < data.size() && data[lf + 1] == '\n') {
            end = lf + 2;
            break;
        }
        if (lf + 2 < data.size() && data[lf + 1] == '\r' && data[lf + 2] == '\n') {
            end = lf + 3;
            break;
        }
    }
    if (end == std::string_view::npos) {
        if (data.size() - start > max_head) {
            r.kind = parse_result::bad;
            r.why = "request head too large";
        }
        return r;
    }
    if (end - start > max_head) {
        r.kind = parse_result::bad;
        r.why = "request head too large";
        return r;
    }
    r.head_size = end;
    const std::string_view head = data.substr(start, end - start);

    const auto fail = [&r](const char* why) {
        r.kind = parse_result::bad;
        r.why = why;
        return r;
    };

    std::size_t at = 0;
    const std::string_view line = detail::next_line(head, at);
    r.req.line = line;
    // method SP request-target SP HTTP-version
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return fail("malformed request line");
    r.req.method = line.substr(0, sp1);
    r.req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    r.req.version = line.substr(sp2 + 1);
    if (!detail::is_token(r.req.method))
        return fail("malformed method");
    if (r.req.target.empty() ||
        std::any_of(r.req.target.begin(), r.req.target.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
        return fail("malformed request target");
    if (r.req.version != "HTTP/1.1" && r.req.version != "HTTP/1.0")
        return fail("unsupported HTTP version");

    bool connection_close = false, connection_keep_alive = false;
    std::optional<std::uint64_t> length;
    for (;;) {
        const std::string_view field = detail::next_line(head, at);
        if (field.empty())
            break;
        if (field.front() == ' ' || field.front() == '\t')
            return fail("obsolete line folding");
        const auto colon = field.find(':');
        if (colon == std::string_view::npos || !detail::is_token(field.substr(0, colon)))
            return fail("malformed header field");
        const std::string_view name = field.substr(0, colon);
        const std::string_view value = detail::trim(field.substr(colon + 1));
        if (detail::iequals(name, "content-length")) {
            std::uint64_t n = 0;
            if (value.empty() || value.size() > 15 ||
                !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
                return fail("malformed Content-Length");
            for (char c : value)
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
            if (length && *length != n)
                return fail("conflicting Content-Length");
            length = n;
        } else if (detail::iequals(name, "transfer-encoding")) {
            r.req.has_transfer_encoding = true;
        } else if (detail::iequals(name, "connection")) {
            // A comma-separated list of options.
            std::string_view rest = value;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                const std::string_view option = detail::trim(rest.substr(0, comma));
                connection_close = connection_close || detail::iequals(option, "close");
                connection_keep_alive = connection_keep_alive || detail::iequals(option, "keep-alive");
                rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            }
        }
    }
    if (r.req.has_transfer_encoding && length)
        return fail("both Transfer-Encoding and Content-Length");
    r.req.content_length = length.value_or(0);
    // HTTP/1.1 keeps the connection unless asked to close; HTTP/1.0 closes
    // unless asked to keep it.
    r.req.keep_alive = !connection_close && (r.req.version == "HTTP/1.1" || connection_keep_alive);
    r.kind = parse_result::complete;
    return r;
}

/** A complete response: status line, headers, body. */
inline std::string response(int status, std::string_view reason, std::string_view body, bool keep_alive,
                            bool head_only = false, std::string_view extra_headers = {}) {
    std::string out;
    out.reserve(160 + extra_headers.size() + body.size());
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason;
    out += "\r\nServer: tlsw-example\r\nContent-Type: text/plain\r\nContent-Length: ";
    out += std::to_string(body.size());
    out += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
    out += extra_headers;
    out += "\r\n";
    if (!head_only)
        out += body;
    return out;
}

}  // namespace example::http

#endif
