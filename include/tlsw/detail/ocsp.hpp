#ifndef TLSW_DETAIL_OCSP_HPP
#define TLSW_DETAIL_OCSP_HPP

// OCSP stapling, alike on both engines: a bounded reader of DER OCSP
// responses (RFC 6960 4.2.1), the check of a stapled response against the
// server's chain and the client's trust, and a server's responses per
// leaf. Botan parses responses too, but neither version exposes a
// response's single responses (status, thisUpdate, nextUpdate), and Botan
// 2.19 accepts a response signed by any certificate the response carries
// that has the OCSP-signing usage, whoever issued it: the signer is
// chosen here, and Botan only checks the signature.

#include <tlsw/expected.hpp>
#include <tlsw/ocsp.hpp>

#include <botan/asn1_obj.h>
#include <botan/certstor.h>
#include <botan/hash.h>
#include <botan/hex.h>
#include <botan/ocsp.h>
#include <botan/pk_keys.h>
#include <botan/x509cert.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsw::detail {

using der_bytes = std::span<const std::uint8_t>;

/** One DER element: its tag byte, its contents, and the whole encoding. */
struct der_item {
    std::uint8_t tag = 0;
    der_bytes content;
    der_bytes whole;
};

/** Reads DER elements one after another from a buffer: definite lengths of
    at most 4 bytes, low tag numbers (all OCSP uses), nothing read past the
    buffer. Work is linear in the input. */
class der_reader {
public:
    explicit der_reader(der_bytes in) noexcept : in_(in) {}

    bool empty() const noexcept { return pos_ >= in_.size(); }
    std::optional<std::uint8_t> peek_tag() const noexcept {
        return empty() ? std::nullopt : std::optional<std::uint8_t>(in_[pos_]);
    }

    /** The next element; nothing when the input is over or damaged, and
        then nothing more is read (empty() turns true). */
    std::optional<der_item> next() noexcept {
        const auto damaged = [&] {
            pos_ = in_.size();
            return std::nullopt;
        };
        if (pos_ >= in_.size() || in_.size() - pos_ < 2)
            return damaged();
        const std::size_t start = pos_;
        const std::uint8_t tag = in_[pos_++];
        if ((tag & 0x1F) == 0x1F)
            return damaged();
        std::size_t length = in_[pos_++];
        if (length & 0x80) {
            const std::size_t n = length & 0x7F;
            if (n == 0 || n > 4 || in_.size() - pos_ < n)
                return damaged();
            length = 0;
            for (std::size_t i = 0; i < n; ++i)
                length = (length << 8) | in_[pos_++];
        }
        if (length > in_.size() - pos_)
            return damaged();
        der_item item{tag, in_.subspan(pos_, length), in_.subspan(start, pos_ + length - start)};
        pos_ += length;
        return item;
    }

    /** The next element when it has `tag`, else nothing (and the reader is
        done for: callers give up on the response). */
    std::optional<der_item> expect(std::uint8_t tag) noexcept {
        auto item = next();
        if (!item || item->tag != tag)
            return std::nullopt;
        return item;
    }

private:
    der_bytes in_;
    std::size_t pos_ = 0;
};

/** A GeneralizedTime's contents, "YYYYMMDDHHMMSS[.f...]Z" (RFC 5280
    4.1.2.5.2), as a time point; nothing for any other form. */
inline std::optional<std::chrono::system_clock::time_point> parse_generalized_time(der_bytes content) {
    const std::string_view s(reinterpret_cast<const char*>(content.data()), content.size());
    const auto digits = [&](std::size_t from, std::size_t n) {
        long value = 0;
        for (std::size_t i = from; i < from + n; ++i) {
            if (s[i] < '0' || s[i] > '9')
                return -1L;
            value = value * 10 + (s[i] - '0');
        }
        return value;
    };
    if (s.size() < 15 || s.size() > 32 || s.back() != 'Z')
        return std::nullopt;
    if (s.size() > 15 && (s[14] != '.' || s.size() < 17 || digits(15, s.size() - 16) < 0))
        return std::nullopt;
    long y = digits(0, 4);
    const long mo = digits(4, 2), d = digits(6, 2), h = digits(8, 2), mi = digits(10, 2), se = digits(12, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return std::nullopt;
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y -= mo <= 2;
    const long era = y / 400;
    const long yoe = y - era * 400;
    const long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const long days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    const std::chrono::seconds since_epoch(days * 86400 + h * 3600 + mi * 60 + se);
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

/** One SingleResponse: the certificate it is about (CertID) and its status. */
struct ocsp_single {
    der_bytes hash_oid;  // the CertID's hash algorithm, the OID's contents
    der_bytes issuer_name_hash;
    der_bytes issuer_key_hash;
    der_bytes serial;  // the INTEGER's contents
    ocsp_cert_status status = ocsp_cert_status::unknown;
    std::optional<std::chrono::system_clock::time_point> revocation_time;
    std::chrono::system_clock::time_point this_update;
    std::optional<std::chrono::system_clock::time_point> next_update;
};

/** A successful basic OCSP response, its parts pointing into the DER it
    was read from (which must outlive it). */
struct parsed_ocsp_response {
    der_bytes responder_name;      // byName: the Name's whole encoding
    der_bytes responder_key_hash;  // byKey: SHA-1 of the responder's public key
    std::chrono::system_clock::time_point produced_at;
    std::vector<ocsp_single> responses;
    std::vector<der_bytes> certificates;  // the responder's, as the response carries them
};

/** Reads a DER OCSPResponse; only a successful id-pkix-ocsp-basic
    response parses. The error is a phrase for messages. */
inline expected<parsed_ocsp_response, std::string> parse_ocsp_response(der_bytes der) {
    const auto bad = [](std::string what) { return unexpected(std::move(what)); };
    der_reader top(der);
    const auto response = top.expect(0x30);
    if (!response || !top.empty())
        return bad("it is not a DER OCSP response");
    der_reader r(response->content);
    const auto status = r.expect(0x0A);
    if (!status || status->content.size() != 1)
        return bad("it is not a DER OCSP response");
    if (status->content[0] != 0)
        return bad("the responder's answer is not \"successful\" but error " + std::to_string(status->content[0]));
    const auto bytes = r.expect(0xA0);
    if (!bytes)
        return bad("it carries no response");
    der_reader rb(bytes->content);
    const auto rbs = rb.expect(0x30);
    if (!rbs)
        return bad("it carries no response");
    der_reader rbi(rbs->content);
    static constexpr std::array<std::uint8_t, 9> basic_oid{0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01};
    const auto type = rbi.expect(0x06);
    const auto octets = rbi.expect(0x04);
    if (!type || !octets || !std::equal(type->content.begin(), type->content.end(), basic_oid.begin(), basic_oid.end()))
        return bad("it is not a basic OCSP response");
    der_reader bo(octets->content);
    const auto basic = bo.expect(0x30);
    if (!basic)
        return bad("its basic response is damaged");
    der_reader b(basic->content);
    const auto tbs = b.expect(0x30);
    const auto algorithm = b.expect(0x30);
    const auto signature = b.expect(0x03);
    if (!tbs || !algorithm || !signature)
        return bad("its basic response is damaged");
    parsed_ocsp_response out;
    if (b.peek_tag() == 0xA0) {
        const auto certs = b.next();
        der_reader c(certs ? certs->content : der_bytes());
        const auto list = c.expect(0x30);
        if (!list)
            return bad("its certificates are damaged");
        der_reader each(list->content);
        while (!each.empty()) {
            const auto cert = each.expect(0x30);
            if (!cert)
                return bad("its certificates are damaged");
            out.certificates.push_back(cert->whole);
        }
    }
    der_reader t(tbs->content);
    if (t.peek_tag() == 0xA0 && !t.next())  // version, v1
        return bad("its response data is damaged");
    const auto responder = t.next();
    if (responder && responder->tag == 0xA1) {
        der_reader n(responder->content);
        const auto name = n.expect(0x30);
        if (!name)
            return bad("its responder ID is damaged");
        out.responder_name = name->whole;
    } else if (responder && responder->tag == 0xA2) {
        der_reader k(responder->content);
        const auto hash = k.expect(0x04);
        if (!hash)
            return bad("its responder ID is damaged");
        out.responder_key_hash = hash->content;
    } else {
        return bad("its responder ID is damaged");
    }
    const auto produced = t.expect(0x18);
    const auto produced_at = produced ? parse_generalized_time(produced->content) : std::nullopt;
    const auto list = t.expect(0x30);
    if (!produced_at || !list)
        return bad("its response data is damaged");
    out.produced_at = *produced_at;
    der_reader each(list->content);
    while (!each.empty()) {
        const auto item = each.expect(0x30);
        if (!item)
            return bad("a single response is damaged");
        der_reader s(item->content);
        const auto certid = s.expect(0x30);
        if (!certid)
            return bad("a single response is damaged");
        der_reader c(certid->content);
        const auto hash_algorithm = c.expect(0x30);
        const auto name_hash = c.expect(0x04);
        const auto key_hash = c.expect(0x04);
        const auto serial = c.expect(0x02);
        if (!hash_algorithm || !name_hash || !key_hash || !serial)
            return bad("a certificate ID is damaged");
        der_reader a(hash_algorithm->content);
        const auto oid = a.expect(0x06);
        if (!oid)
            return bad("a certificate ID is damaged");
        ocsp_single single;
        single.hash_oid = oid->content;
        single.issuer_name_hash = name_hash->content;
        single.issuer_key_hash = key_hash->content;
        single.serial = serial->content;
        const auto cert_status = s.next();
        if (!cert_status)
            return bad("a certificate status is damaged");
        if (cert_status->tag == 0x80) {
            single.status = ocsp_cert_status::good;
        } else if (cert_status->tag == 0xA1) {
            single.status = ocsp_cert_status::revoked;
            der_reader revoked(cert_status->content);
            const auto when = revoked.expect(0x18);
            single.revocation_time = when ? parse_generalized_time(when->content) : std::nullopt;
            if (!single.revocation_time)
                return bad("a revocation time is damaged");
        } else if (cert_status->tag == 0x82) {
            single.status = ocsp_cert_status::unknown;
        } else {
            return bad("a certificate status is damaged");
        }
        const auto this_update = s.expect(0x18);
        const auto this_time = this_update ? parse_generalized_time(this_update->content) : std::nullopt;
        if (!this_time)
            return bad("a thisUpdate is damaged");
        single.this_update = *this_time;
        if (s.peek_tag() == 0xA0) {
            const auto explicit_next = s.next();
            der_reader n(explicit_next ? explicit_next->content : der_bytes());
            const auto next_update = n.expect(0x18);
            single.next_update = next_update ? parse_generalized_time(next_update->content) : std::nullopt;
            if (!single.next_update)
                return bad("a nextUpdate is damaged");
        }
        out.responses.push_back(single);
    }
    return out;
}

/** The hash a CertID names (SHA-1, as most responders use, or SHA-2), or null. */
inline std::unique_ptr<Botan::HashFunction> certid_hash(der_bytes oid) {
    static constexpr std::array<std::uint8_t, 5> sha1{0x2B, 0x0E, 0x03, 0x02, 0x1A};
    static constexpr std::array<std::uint8_t, 8> sha2{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02};
    if (std::equal(oid.begin(), oid.end(), sha1.begin(), sha1.end()))
        return Botan::HashFunction::create("SHA-1");
    if (oid.size() == 9 && std::equal(sha2.begin(), sha2.end(), oid.begin())) {
        switch (oid[8]) {
        case 1: return Botan::HashFunction::create("SHA-256");
        case 2: return Botan::HashFunction::create("SHA-384");
        case 3: return Botan::HashFunction::create("SHA-512");
        default: break;
        }
    }
    return nullptr;
}

/** Whether `single` is about `leaf`: its serial and the hash of its
    issuer's name, and, when the issuer is known, of the issuer's key. */
inline bool single_is_for(const ocsp_single& single, const Botan::X509_Certificate& leaf,
                          const Botan::X509_Certificate* issuer) {
    const auto strip = [](der_bytes n) {
        while (n.size() > 1 && n.front() == 0)
            n = n.subspan(1);
        return n;
    };
    const auto serial = strip(single.serial);
    const auto leaf_serial = strip(der_bytes(leaf.serial_number()));
    if (!std::equal(serial.begin(), serial.end(), leaf_serial.begin(), leaf_serial.end()))
        return false;
    auto hash = certid_hash(single.hash_oid);
    if (!hash)
        return false;
    const auto same = [](const auto& digest, der_bytes expected) {
        return std::equal(digest.begin(), digest.end(), expected.begin(), expected.end());
    };
    if (!same(hash->process(leaf.raw_issuer_dn()), single.issuer_name_hash))
        return false;
    return !issuer || same(hash->process(issuer->subject_public_key_bitstring()), single.issuer_key_hash);
}

/** Whether a server may staple `der` for `chain` (leaf first): a
    successful basic response no larger than max_ocsp_response_bytes with a
    single response for the leaf (checked against the issuer's key too
    when the chain carries the issuer). Returns the problem, or empty.
    Neither its signature nor its dates are checked: clients do that. */
inline std::string ocsp_response_problem(der_bytes der, const std::vector<Botan::X509_Certificate>& chain) {
    if (der.size() > max_ocsp_response_bytes)
        return "it is larger than " + std::to_string(max_ocsp_response_bytes) + " bytes";
    if (chain.empty())
        return "the credentials hold no certificate";
    const auto parsed = parse_ocsp_response(der);
    if (!parsed)
        return parsed.error();
    const auto& leaf = chain.front();
    const Botan::X509_Certificate* issuer =
        chain.size() > 1 && chain[1].subject_dn() == leaf.issuer_dn() ? &chain[1] : nullptr;
    for (const auto& single : parsed->responses)
        if (single_is_for(single, leaf, issuer))
            return {};
    return "it is not about the credentials' leaf certificate (serial " + Botan::hex_encode(leaf.serial_number()) +
           ", issuer " + leaf.issuer_dn().to_string() + ")";
}

/** The issuer of `chain`'s leaf: the chain's next certificate when it is
    (a client runs this after the chain was validated), else a trust
    anchor of that name; nothing when neither is. */
inline std::optional<Botan::X509_Certificate> leaf_issuer(const std::vector<Botan::X509_Certificate>& chain,
                                                          const std::vector<Botan::Certificate_Store*>& stores) {
    const auto& leaf = chain.front();
    if (chain.size() > 1 && chain[1].subject_dn() == leaf.issuer_dn())
        return chain[1];
    for (auto* store : stores) {
        if (!store)
            continue;
        // Botan 2 finds a shared_ptr, Botan 3 an optional: either dereferences.
        if (const auto found = store->find_cert(leaf.issuer_dn(), leaf.authority_key_id()))
            return Botan::X509_Certificate(*found);
    }
    return std::nullopt;
}

/** Checks a response `der` stapled for `chain` (leaf first, already
    validated) at `now`: a successful basic response with a single response
    for the leaf, signed by the leaf's issuer, or by a responder whose
    certificate the response carries, the issuer issued, with the
    OCSP-signing extended key usage and valid now; fresh within
    ocsp_clock_skew. Never throws but bad_alloc. */
inline ocsp_staple_info check_ocsp_staple(der_bytes der, const std::vector<Botan::X509_Certificate>& chain,
                                          const std::vector<Botan::Certificate_Store*>& stores,
                                          std::chrono::system_clock::time_point now) {
    ocsp_staple_info info;
    info.stapled = true;
    const auto problem = [&](std::string why) {
        info.problem = "the stapled OCSP response " + std::move(why);
        return info;
    };
    if (der.size() > max_ocsp_response_bytes)
        return problem("is larger than " + std::to_string(max_ocsp_response_bytes) + " bytes");
    if (chain.empty())
        return problem("comes without a certificate");
    const auto parsed = parse_ocsp_response(der);
    if (!parsed)
        return problem("is unusable: " + parsed.error());
    info.produced_at = parsed->produced_at;
    try {
        const auto issuer = leaf_issuer(chain, stores);
        if (!issuer)
            return problem("cannot be checked: the certificate's issuer is unknown");
        const auto single = std::find_if(parsed->responses.begin(), parsed->responses.end(),
                                         [&](const ocsp_single& s) { return single_is_for(s, chain.front(), &*issuer); });
        if (single == parsed->responses.end())
            return problem("is not about the server's certificate");
        info.status = single->status;
        info.this_update = single->this_update;
        info.next_update = single->next_update;
        info.revocation_time = single->revocation_time;

        const auto is_responder = [&](const Botan::X509_Certificate& cert) {
            const auto same = [](const std::vector<std::uint8_t>& a, der_bytes b) {
                return std::equal(a.begin(), a.end(), b.begin(), b.end());
            };
            return parsed->responder_name.empty() ? same(cert.subject_public_key_bitstring_sha1(), parsed->responder_key_hash)
                                                  : same(cert.raw_subject_dn(), parsed->responder_name);
        };
        std::optional<Botan::X509_Certificate> signer;
        if (is_responder(*issuer)) {
            signer = *issuer;
        } else {
            // RFC 6960 4.2.2.2: a responder the issuer authorised directly.
            const auto ocsp_signing = Botan::OID::from_string("1.3.6.1.5.5.7.3.9");
            const std::unique_ptr<Botan::Public_Key> issuer_key(issuer->subject_public_key());
            for (const auto& bytes : parsed->certificates) {
                try {
                    Botan::X509_Certificate cert(bytes.data(), bytes.size());
                    const auto usages = cert.extended_key_usage();
                    if (!is_responder(cert) || !(cert.issuer_dn() == issuer->subject_dn()) ||
                        std::find(usages.begin(), usages.end(), ocsp_signing) == usages.end() ||
                        cert.not_before().to_std_timepoint() > now + ocsp_clock_skew ||
                        cert.not_after().to_std_timepoint() < now - ocsp_clock_skew || !cert.check_signature(*issuer_key))
                        continue;
                    signer = std::move(cert);
                    break;
                } catch (const std::exception&) {
                    continue;  // a damaged certificate authorises nothing
                }
            }
        }
        if (!signer)
            return problem("is signed by a responder that the certificate's issuer did not authorise");
        const Botan::OCSP::Response response(der.data(), der.size());
        if (response.verify_signature(*signer) != Botan::Certificate_Status_Code::OCSP_SIGNATURE_OK)
            return problem("has an invalid signature");
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        return problem(std::string("is unusable: ") + e.what());
    }
    const auto readable = [](std::chrono::system_clock::time_point t) {
        return Botan::X509_Time(t).readable_string();
    };
    if (*info.this_update > now + ocsp_clock_skew)
        return problem("is not valid yet (thisUpdate " + readable(*info.this_update) + ")");
    const auto expires = info.next_update ? *info.next_update : *info.this_update + ocsp_max_age_without_next_update;
    if (expires < now - ocsp_clock_skew)
        return problem("has expired (" + std::string(info.next_update ? "nextUpdate " : "thisUpdate, without nextUpdate, ") +
                       readable(info.next_update ? *info.next_update : *info.this_update) + ")");
    info.verified = true;
    return info;
}

/** A server's OCSP responses, one per leaf certificate (context::
    staple_ocsp_response). */
struct ocsp_staple {
    Botan::X509_Certificate leaf;
    std::shared_ptr<const std::vector<std::uint8_t>> response;
};
using ocsp_staples = std::vector<ocsp_staple>;

/** `staples` with `response` for `leaf` (replacing one it had; an empty
    response removes it), as a new list: the old one may be in use. */
inline std::shared_ptr<const ocsp_staples> with_staple(const std::shared_ptr<const ocsp_staples>& staples,
                                                       const Botan::X509_Certificate& leaf,
                                                       std::vector<std::uint8_t> response) {
    auto next = std::make_shared<ocsp_staples>();
    if (staples)
        for (const auto& staple : *staples)
            if (!(staple.leaf == leaf))
                next->push_back(staple);
    if (!response.empty())
        next->push_back({leaf, std::make_shared<const std::vector<std::uint8_t>>(std::move(response))});
    return next;
}

/** The response to staple for `leaf`, or empty (Botan wants a copy). */
inline std::vector<std::uint8_t> staple_for(const std::shared_ptr<const ocsp_staples>& staples,
                                            const Botan::X509_Certificate& leaf) {
    if (staples)
        for (const auto& staple : *staples)
            if (staple.leaf == leaf)
                return *staple.response;
    return {};
}

}  // namespace tlsw::detail

#endif
