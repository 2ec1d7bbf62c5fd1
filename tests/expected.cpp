// Test that header file is self-contained.
#include <tlsw/expected.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

// libstdc++ 12 ships std::expected (202202L) without the monadic operations
// (202211L, libstdc++ 13); where tlsw::expected is that std::expected, the
// tests of and_then / or_else / transform / transform_error are left out.
#if defined(__cpp_lib_expected) && __cpp_lib_expected >= 202202L
#define EXPECTED_IS_STD 1
#else
#define EXPECTED_IS_STD 0
#endif
#if !EXPECTED_IS_STD || __cpp_lib_expected >= 202211L
#define EXPECTED_HAS_MONADIC 1
#else
#define EXPECTED_HAS_MONADIC 0
#endif

// libstdc++ 12.2's std::expected::swap, for a value and an error whose move
// may throw, guards the wrong union member (it moves from the other side's
// inactive value); newer libstdc++ sources guard the right one. Those cases
// are only checked where tlsw::expected is not libstdc++ 12's.
#if EXPECTED_IS_STD && defined(_GLIBCXX_RELEASE) && _GLIBCXX_RELEASE < 13
#define EXPECTED_MIXED_SWAP_WORKS 0
#else
#define EXPECTED_MIXED_SWAP_WORKS 1
#endif

namespace {

using tlsw::expected;
using tlsw::unexpected;

// Counts live instances so the tests can tell a leak or a double
// destruction from a correct state change.
struct counted {
    static inline int live = 0;
    int v;

    explicit counted(int x) noexcept : v(x) { ++live; }
    counted(const counted& o) : v(o.v) { ++live; }
    counted(counted&& o) noexcept : v(o.v) {
        o.v = -1;
        ++live;
    }
    counted& operator=(const counted&) = default;
    counted& operator=(counted&&) noexcept = default;
    ~counted() { --live; }
};

// Copies and moves that throw on demand, and whose move is not noexcept,
// so state changes must take the rollback paths.
struct fragile {
    static inline bool fail = false;
    int v;

    explicit fragile(int x) : v(x) {}
    fragile(const fragile& o) : v(o.v) { check(); }
    fragile(fragile&& o) : v(o.v) { check(); }  // NOLINT: deliberately not noexcept
    fragile& operator=(const fragile&) = default;
    fragile& operator=(fragile&&) = default;

    static void check() {
        if (fail)
            throw std::runtime_error("fragile");
    }
};

// Neither copyable nor movable: transform must build it in place.
struct pinned {
    int v;
    explicit pinned(int x) : v(x) {}
    pinned(const pinned&) = delete;
    pinned& operator=(const pinned&) = delete;
};

constexpr int constexpr_round_trip() {
    expected<int, int> e = 1;
    e = unexpected(2);
    const int err = e.error();
    e = 3;
    expected<int, int> copy = e;
    return *copy + err;
}

// Non-trivial but usable in constant expressions, so state changes go
// through the non-trivial special members at compile time.
struct literal {
    int v;
    constexpr literal(int x) : v(x) {}  // NOLINT: implicit on purpose
    constexpr literal(const literal& o) noexcept : v(o.v) {}
    constexpr literal& operator=(const literal& o) {
        v = o.v;
        return *this;
    }
    constexpr ~literal() {}
};

constexpr int constexpr_non_trivial() {
    expected<literal, literal> a = literal(1);
    a = unexpected(literal(20));
    expected<literal, literal> b = a;
    b = literal(3);
    a.swap(b);
    expected<void, literal> v;
    expected<void, literal> ve = unexpected(literal(100));
    v = ve;
    expected<void, literal> v2 = v;
    v2.emplace();
    v2.swap(v);
    return a->v + b.error().v + v2.error().v + static_cast<int>(v.has_value());
}

#if EXPECTED_HAS_MONADIC
constexpr int constexpr_chain() {
    const expected<int, int> e = 3;
    return e.and_then([](int x) { return expected<int, int>(x * 2); })
        .transform([](int x) { return x + 1; })
        .or_else([](int) { return expected<int, int>(0); })
        .value();
}
#endif

}  // namespace

TEST_CASE("tlsw::expected names std::expected where the library provides it", "[expected]") {
#if EXPECTED_IS_STD
    STATIC_REQUIRE(std::is_same_v<tlsw::expected<int, int>, std::expected<int, int>>);
    STATIC_REQUIRE(std::is_same_v<tlsw::unexpected<int>, std::unexpected<int>>);
    STATIC_REQUIRE(std::is_same_v<tlsw::unexpect_t, std::unexpect_t>);
    STATIC_REQUIRE(std::is_same_v<tlsw::bad_expected_access<int>, std::bad_expected_access<int>>);
#else
    SUCCEED("fallback implementation in use");
#endif
}

TEST_CASE("an expected holding a value converts to true and yields the value", "[expected]") {
    expected<std::string, int> e = std::string("hello");
    REQUIRE(e.has_value());
    REQUIRE(static_cast<bool>(e));
    REQUIRE(*e == "hello");
    REQUIRE(e->size() == 5);
    REQUIRE(e.value() == "hello");
    REQUIRE(std::as_const(e).value() == "hello");
    REQUIRE(e.value_or("other") == "hello");
    REQUIRE(std::move(e).value_or("other") == "hello");
}

TEST_CASE("an expected holding an error converts to false and yields the error", "[expected]") {
    const expected<int, std::error_code> e = unexpected(std::make_error_code(std::errc::broken_pipe));
    REQUIRE_FALSE(e.has_value());
    REQUIRE_FALSE(static_cast<bool>(e));
    REQUIRE(e.error() == std::errc::broken_pipe);
    REQUIRE(e.value_or(7) == 7);

    expected<int, std::string> u(tlsw::unexpect, 3, 'x');
    REQUIRE(u.error() == "xxx");
    REQUIRE(std::move(u).error() == "xxx");
}

TEST_CASE("value() on an expected holding an error throws bad_expected_access carrying the error", "[expected]") {
    expected<int, std::string> e = unexpected(std::string("boom"));
    REQUIRE_THROWS_AS(e.value(), tlsw::bad_expected_access<std::string>);
    REQUIRE_THROWS_AS(std::as_const(e).value(), tlsw::bad_expected_access<void>);
    REQUIRE_THROWS_AS(std::move(e).value(), std::exception);

    expected<int, std::string> f = unexpected(std::string("carried"));
    try {
        (void)f.value();
        FAIL("value() did not throw");
    } catch (const tlsw::bad_expected_access<std::string>& ex) {
        REQUIRE(ex.error() == "carried");
        REQUIRE(std::string(ex.what()).size() > 0);
    }

    expected<void, int> v = unexpected(42);
    try {
        v.value();
        FAIL("value() did not throw");
    } catch (const tlsw::bad_expected_access<int>& ex) {
        REQUIRE(ex.error() == 42);
    }
}

TEST_CASE("a default-constructed expected holds a value-initialised value", "[expected]") {
    expected<int, std::error_code> i;
    REQUIRE(i.has_value());
    REQUIRE(*i == 0);
    expected<std::string, int> s;
    REQUIRE(s.has_value());
    REQUIRE(s->empty());
    STATIC_REQUIRE_FALSE(std::is_default_constructible_v<expected<pinned, int>>);
    STATIC_REQUIRE(std::is_default_constructible_v<expected<void, std::string>>);
}

TEST_CASE("an expected constructs its value or error in place", "[expected]") {
    expected<std::vector<int>, std::string> v(std::in_place, {1, 2, 3});
    REQUIRE(v->size() == 3);
    expected<std::string, int> s(std::in_place, 2, 'a');
    REQUIRE(*s == "aa");
    expected<int, std::vector<int>> e(tlsw::unexpect, {4, 5});
    REQUIRE(e.error() == std::vector<int>{4, 5});
    expected<pinned, int> p(std::in_place, 9);
    REQUIRE(p->v == 9);
}

TEST_CASE("converting construction is explicit exactly when the value's is", "[expected]") {
    STATIC_REQUIRE(std::is_convertible_v<int, expected<long, int>>);
    STATIC_REQUIRE(std::is_convertible_v<const char*, expected<std::string, int>>);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<std::size_t, expected<std::vector<int>, int>>);
    STATIC_REQUIRE(std::is_constructible_v<expected<std::vector<int>, int>, std::size_t>);
    STATIC_REQUIRE(std::is_convertible_v<unexpected<const char*>, expected<int, std::string>>);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<unexpected<std::size_t>, expected<int, std::vector<int>>>);

    expected<std::string, std::string> e = unexpected("from a literal");
    REQUIRE(e.error() == "from a literal");
}

TEST_CASE("an expected of trivially copyable types copies and destroys trivially", "[expected]") {
    using io_result = tlsw::expected<std::size_t, std::error_code>;
    // What decides whether the hot path's io_result travels in registers.
    STATIC_REQUIRE(std::is_trivially_copy_constructible_v<io_result>);
    STATIC_REQUIRE(std::is_trivially_move_constructible_v<io_result>);
    STATIC_REQUIRE(std::is_trivially_destructible_v<io_result>);
    STATIC_REQUIRE(std::is_trivially_copy_constructible_v<tlsw::expected<void, std::error_code>>);
    STATIC_REQUIRE(std::is_trivially_destructible_v<tlsw::expected<void, int>>);
#if !EXPECTED_IS_STD
    // C++23 does not require std::expected's assignment to be trivial
    // (LWG 4026), and libstdc++'s is not, so only the fallback is
    // trivially copyable as a whole.
    STATIC_REQUIRE(std::is_trivially_copyable_v<tlsw::expected<std::size_t, std::error_code>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<tlsw::expected<void, std::error_code>>);
    STATIC_REQUIRE(std::is_trivially_move_assignable_v<io_result>);
#endif
    STATIC_REQUIRE_FALSE(std::is_trivially_copyable_v<tlsw::expected<std::string, int>>);
    STATIC_REQUIRE_FALSE(std::is_trivially_destructible_v<tlsw::expected<int, std::string>>);
    STATIC_REQUIRE_FALSE(std::is_trivially_copy_constructible_v<tlsw::expected<void, std::string>>);
}

TEST_CASE("an expected can be used in constant expressions", "[expected]") {
    STATIC_REQUIRE(constexpr_round_trip() == 5);
    STATIC_REQUIRE(constexpr_non_trivial() == 124);
    constexpr expected<void, int> ok;
    STATIC_REQUIRE(ok.has_value());
#if EXPECTED_HAS_MONADIC
    STATIC_REQUIRE(constexpr_chain() == 7);
#endif
    constexpr expected<int, int> e = unexpected(5);
    STATIC_REQUIRE(e.error() == 5);
    STATIC_REQUIRE(e.value_or(1) == 1);
}

TEST_CASE("an expected of void holds either success or an error", "[expected]") {
    expected<void, std::string> ok;
    REQUIRE(ok.has_value());
    REQUIRE_NOTHROW(ok.value());
    *ok;

    expected<void, std::string> bad = unexpected(std::string("no"));
    REQUIRE_FALSE(bad);
    REQUIRE(bad.error() == "no");
    REQUIRE_THROWS_AS(bad.value(), tlsw::bad_expected_access<std::string>);

    ok = bad;
    REQUIRE_FALSE(ok);
    REQUIRE(ok.error() == "no");
    ok.emplace();
    REQUIRE(ok);
    ok = unexpected(std::string("again"));
    REQUIRE(ok.error() == "again");
    ok = expected<void, std::string>(std::in_place);
    REQUIRE(ok);

    expected<void, std::string> moved(std::move(bad));
    REQUIRE(moved.error() == "no");
    expected<void, std::string> copied(moved);
    REQUIRE(copied.error() == "no");
}

#if EXPECTED_HAS_MONADIC
TEST_CASE("and_then chains through values and passes errors along", "[expected][monadic]") {
    auto half = [](int x) -> expected<int, std::string> {
        if (x % 2 != 0)
            return unexpected(std::string("odd"));
        return x / 2;
    };
    expected<int, std::string> e = 8;
    REQUIRE(e.and_then(half).and_then(half).value() == 2);
    REQUIRE(e.and_then(half).and_then(half).and_then(half).and_then(half).error() == "odd");

    const expected<int, std::string> bad = unexpected(std::string("first"));
    int calls = 0;
    auto r = bad.and_then([&](int) {
        ++calls;
        return expected<double, std::string>(1.0);
    });
    STATIC_REQUIRE(std::is_same_v<decltype(r), expected<double, std::string>>);
    REQUIRE(calls == 0);
    REQUIRE(r.error() == "first");

    expected<void, int> v;
    REQUIRE(v.and_then([] { return expected<int, int>(3); }).value() == 3);
}

TEST_CASE("or_else recovers from errors and passes values along", "[expected][monadic]") {
    auto recover = [](const std::string& err) -> expected<int, std::string> {
        if (err == "soft")
            return 0;
        return unexpected(err + "!");
    };
    expected<int, std::string> soft = unexpected(std::string("soft"));
    expected<int, std::string> hard = unexpected(std::string("hard"));
    expected<int, std::string> fine = 5;
    REQUIRE(soft.or_else(recover).value() == 0);
    REQUIRE(hard.or_else(recover).error() == "hard!");
    REQUIRE(fine.or_else(recover).value() == 5);

    expected<void, int> v = unexpected(1);
    REQUIRE(v.or_else([](int) { return expected<void, int>(); }).has_value());
    REQUIRE(v.or_else([](int e) { return expected<void, long>(unexpected(e + 1L)); }).error() == 2L);
}

TEST_CASE("transform maps the value and passes errors along", "[expected][monadic]") {
    expected<int, std::string> e = 20;
    auto s = e.transform([](int x) { return std::to_string(x); });
    STATIC_REQUIRE(std::is_same_v<decltype(s), expected<std::string, std::string>>);
    REQUIRE(*s == "20");

    auto v = e.transform([](int) {});
    STATIC_REQUIRE(std::is_same_v<decltype(v), expected<void, std::string>>);
    REQUIRE(v.has_value());

    auto p = e.transform([](int x) { return pinned(x + 1); });
    REQUIRE(p->v == 21);

    expected<int, std::string> bad = unexpected(std::string("kept"));
    REQUIRE(bad.transform([](int x) { return x * 2.0; }).error() == "kept");

    expected<void, std::string> nothing;
    REQUIRE(nothing.transform([] { return 4; }).value() == 4);
}

TEST_CASE("transform_error maps the error and passes values along", "[expected][monadic]") {
    expected<int, int> bad = unexpected(3);
    auto r = bad.transform_error([](int c) { return std::to_string(c); });
    STATIC_REQUIRE(std::is_same_v<decltype(r), expected<int, std::string>>);
    REQUIRE(r.error() == "3");

    expected<int, int> good = 9;
    REQUIRE(good.transform_error([](int c) { return c * 2.0; }).value() == 9);

    expected<void, int> v = unexpected(4);
    REQUIRE(v.transform_error([](int c) { return c + 1; }).error() == 5);
}

TEST_CASE("monadic operations on an rvalue move the contents into the callable", "[expected][monadic]") {
    using ptr = std::unique_ptr<int>;
    expected<ptr, int> e = std::make_unique<int>(6);
    auto r = std::move(e).and_then([](ptr p) { return expected<ptr, int>(std::move(p)); });
    REQUIRE(**r == 6);

    auto t = std::move(r).transform([](ptr p) { return *p + 1; });
    REQUIRE(*t == 7);

    expected<int, ptr> err = unexpected(std::make_unique<int>(8));
    auto back = std::move(err).or_else([](ptr p) { return expected<int, ptr>(*p); });
    REQUIRE(*back == 8);

    expected<int, ptr> err2 = unexpected(std::make_unique<int>(9));
    auto mapped = std::move(err2).transform_error([](ptr p) { return *p; });
    REQUIRE(mapped.error() == 9);
}

#endif  // EXPECTED_HAS_MONADIC

TEST_CASE("expecteds compare equal by state and contents", "[expected]") {
    expected<int, int> a = 1;
    expected<long, long> b = 1L;
    expected<int, int> c = unexpected(1);
    REQUIRE(a == b);
    REQUIRE(a != c);
    REQUIRE(c == expected<int, int>(unexpected(1)));
    REQUIRE(c != expected<int, int>(unexpected(2)));

    REQUIRE(a == 1);
    REQUIRE(1 == a);
    REQUIRE(a != 2);
    REQUIRE(c != 1);

    REQUIRE(c == unexpected(1));
    REQUIRE(unexpected(1) == c);
    REQUIRE(c != unexpected(2));
    REQUIRE(a != unexpected(1));

    expected<void, int> v;
    expected<void, int> ve = unexpected(3);
    REQUIRE(v == expected<void, long>());
    REQUIRE(v != ve);
    REQUIRE(ve == unexpected(3));
    REQUIRE(ve != unexpected(4));
}

TEST_CASE("an expected can hold a move-only value", "[expected]") {
    using ptr = std::unique_ptr<int>;
    STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<expected<ptr, int>>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<expected<ptr, int>>);
    STATIC_REQUIRE(std::is_move_assignable_v<expected<ptr, int>>);

    expected<ptr, int> a = std::make_unique<int>(1);
    expected<ptr, int> b(std::move(a));
    REQUIRE(**b == 1);
    a = unexpected(5);
    a = std::move(b);
    REQUIRE(**a == 1);

    ptr out = std::move(a).value();
    REQUIRE(*out == 1);
    REQUIRE(a.has_value());
    REQUIRE(*a == nullptr);

    a.emplace(new int(2));
    REQUIRE(**a == 2);
}

TEST_CASE("an expected of a non-trivial type copies and moves between value and error states", "[expected]") {
    using E = expected<std::string, std::string>;
    const std::string long_value(100, 'v');
    const std::string long_error(100, 'e');

    E value = long_value;
    E error = unexpected(long_error);

    E copy_of_value(value);
    E copy_of_error(error);
    REQUIRE(*copy_of_value == long_value);
    REQUIRE(copy_of_error.error() == long_error);

    E target = value;
    target = error;
    REQUIRE(target.error() == long_error);
    target = value;
    REQUIRE(*target == long_value);
    target = std::move(copy_of_error);
    REQUIRE(target.error() == long_error);
    target = std::move(copy_of_value);
    REQUIRE(*target == long_value);

    target = "plain";
    REQUIRE(*target == "plain");
    target = unexpected(std::string("err"));
    REQUIRE(target.error() == "err");
    target = "back";
    REQUIRE(*target == "back");
    target.emplace(std::string(3, 'z'));
    REQUIRE(*target == "zzz");

    E moved(std::move(error));
    REQUIRE(moved.error() == long_error);
}

TEST_CASE("a non-trivial value or error is destroyed exactly once across state changes", "[expected]") {
    REQUIRE(counted::live == 0);
    {
        using E = expected<counted, counted>;
        E v(std::in_place, 1);
        E e(tlsw::unexpect, 2);
        REQUIRE(counted::live == 2);

        E x = v;
        x = e;
        x = v;
        x = std::move(e);
        x = counted(3);
        x = unexpected(counted(4));
        REQUIRE(x.error().v == 4);
        x.emplace(5);
        REQUIRE(x->v == 5);

        E y = unexpected(counted(6));
        swap(x, y);
        REQUIRE(x.error().v == 6);
        REQUIRE(y->v == 5);
        x.swap(y);
        REQUIRE(x->v == 5);
        REQUIRE(y.error().v == 6);

#if EXPECTED_HAS_MONADIC
        auto t = x.transform([](const counted& c) { return counted(c.v + 1); });
        auto te = y.transform_error([](const counted& c) { return counted(c.v + 1); });
        REQUIRE(t->v == 6);
        REQUIRE(te.error().v == 7);
#endif

        expected<void, counted> ve(tlsw::unexpect, 7);
        expected<void, counted> vv;
        vv = ve;
        REQUIRE(vv.error().v == 7);
        vv.emplace();
        vv = std::move(ve);
        REQUIRE(vv.error().v == 7);
        ve = expected<void, counted>();
        swap(vv, ve);
        REQUIRE(ve.error().v == 7);
        REQUIRE(vv.has_value());
    }
    REQUIRE(counted::live == 0);
}

TEST_CASE("swap exchanges values, errors and mixed states", "[expected]") {
    expected<std::string, int> a = std::string("a");
    expected<std::string, int> b = std::string("b");
    swap(a, b);
    REQUIRE(*a == "b");
    REQUIRE(*b == "a");

    expected<std::string, int> e = unexpected(1);
    a.swap(e);
    REQUIRE(a.error() == 1);
    REQUIRE(*e == "b");
    a.swap(e);
    REQUIRE(*a == "b");
    REQUIRE(e.error() == 1);

#if EXPECTED_MIXED_SWAP_WORKS
    // An error whose move may throw takes the other order of the mixed swap.
    expected<int, fragile> i = 1;
    expected<int, fragile> f = unexpected(fragile(2));
    swap(i, f);
    REQUIRE(i.error().v == 2);
    REQUIRE(*f == 1);
#endif
}

TEST_CASE("a state change whose construction throws leaves the expected as it was", "[expected]") {
    expected<fragile, int> value(std::in_place, 1);
    expected<fragile, int> error = unexpected(2);
    expected<int, fragile> int_value = 3;
    expected<int, fragile> fragile_error(tlsw::unexpect, 4);

    fragile::fail = true;
    CHECK_THROWS_AS(error = value, std::runtime_error);
    CHECK_THROWS_AS(error = fragile(5), std::runtime_error);
    CHECK_THROWS_AS(int_value = fragile_error, std::runtime_error);
    CHECK_THROWS_AS(swap(value, error), std::runtime_error);
#if EXPECTED_MIXED_SWAP_WORKS
    CHECK_THROWS_AS(swap(int_value, fragile_error), std::runtime_error);
#endif
    fragile::fail = false;

    REQUIRE(value->v == 1);
    REQUIRE(error.error() == 2);
    REQUIRE(*int_value == 3);
    REQUIRE(fragile_error.error().v == 4);

    error = value;
    REQUIRE(error->v == 1);
    int_value = fragile_error;
    REQUIRE(int_value.error().v == 4);
}

TEST_CASE("unexpected wraps an error and compares by it", "[expected][unexpected]") {
    unexpected u(5);
    STATIC_REQUIRE(std::is_same_v<decltype(u), unexpected<int>>);
    REQUIRE(u.error() == 5);
    u.error() = 6;
    REQUIRE(std::as_const(u).error() == 6);

    unexpected<std::string> s(std::in_place, 3, 'q');
    REQUIRE(s.error() == "qqq");
    unexpected<std::vector<int>> l(std::in_place, {1, 2});
    REQUIRE(l.error().size() == 2);

    unexpected<std::string> t(std::string("t"));
    swap(s, t);
    REQUIRE(s.error() == "t");
    REQUIRE(t.error() == "qqq");
    s.swap(t);
    REQUIRE(s.error() == "qqq");

    REQUIRE(unexpected(1) == unexpected(1L));
    REQUIRE(unexpected(1) != unexpected(2));
    REQUIRE(std::move(s).error() == "qqq");
}
