#include <tlsw/detail/cxx_version.hpp>  // before the guard: below C++20, one clear error
#ifndef TLSW_EXPECTED_HPP
#define TLSW_EXPECTED_HPP

/** @file
    tlsw::expected, tlsw::unexpected, tlsw::unexpect_t, tlsw::unexpect and
    tlsw::bad_expected_access.

    Where the standard library provides std::expected, these names ARE the
    std ones (using-declarations, not look-alikes), so results of tlsw calls
    mix freely with user code written against `<expected>`. That includes the
    library's limits: libstdc++ 12 (g++ 12 -std=c++23) has no and_then,
    or_else, transform or transform_error, and no libstdc++ std::expected
    is trivially copyable, since C++23 leaves its assignment non-trivial.

    Elsewhere (C++20, or clang with libstdc++ 12, whose `<expected>` is empty
    because clang 16 reports __cpp_concepts < 202002) a fallback follows the
    C++23 interface. It leaves out the converting constructors and
    assignments from expected<U, G>; the rest behaves as specified. It throws
    nothing of its own except bad_expected_access from value(), and under
    -fno-exceptions value() calls std::abort instead. */

#include <version>

#if defined(__cpp_lib_expected) && __cpp_lib_expected >= 202202L

#include <expected>

namespace tlsw {
using std::bad_expected_access;
using std::expected;
using std::unexpect;
using std::unexpect_t;
using std::unexpected;
}  // namespace tlsw

#else

#include <cstdlib>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>

namespace tlsw {

template <class E>
class unexpected;
template <class T, class E>
class expected;

template <class E>
class bad_expected_access;

template <>
class bad_expected_access<void> : public std::exception {
public:
    const char* what() const noexcept override { return "bad access to tlsw::expected without expected value"; }

protected:
    bad_expected_access() noexcept = default;
    bad_expected_access(const bad_expected_access&) = default;
    bad_expected_access(bad_expected_access&&) = default;
    bad_expected_access& operator=(const bad_expected_access&) = default;
    bad_expected_access& operator=(bad_expected_access&&) = default;
    ~bad_expected_access() override = default;
};

template <class E>
class bad_expected_access : public bad_expected_access<void> {
public:
    explicit bad_expected_access(E e) : error_(std::move(e)) {}

    E& error() & noexcept { return error_; }
    const E& error() const& noexcept { return error_; }
    E&& error() && noexcept { return std::move(error_); }
    const E&& error() const&& noexcept { return std::move(error_); }

private:
    E error_;
};

namespace expected_detail {

template <class E>
[[noreturn]] void throw_bad_access(E&& error) {
#if __cpp_exceptions
    throw bad_expected_access<std::decay_t<E>>(std::forward<E>(error));
#else
    (void)error;
    std::abort();
#endif
}

template <class T>
inline constexpr bool is_unexpected = false;
template <class E>
inline constexpr bool is_unexpected<unexpected<E>> = true;

template <class T>
inline constexpr bool is_expected = false;
template <class T, class E>
inline constexpr bool is_expected<expected<T, E>> = true;

// M with the constness and value category of Self, as a member access
// through std::forward<Self>(self) would have it. The monadic operations
// use it to name what they pass to the callable.
template <class Self, class M>
using like_t = std::conditional_t<
    std::is_lvalue_reference_v<Self>,
    std::conditional_t<std::is_const_v<std::remove_reference_t<Self>>, const M&, M&>,
    std::conditional_t<std::is_const_v<std::remove_reference_t<Self>>, const M&&, M&&>>;

// The value of expected<void, E>'s underlying expected<nothing, E>.
struct nothing {};

// Let transform / transform_error build the result straight from the
// callable's return value, so it need not be movable (as C++23 requires).
struct value_from_invoke_t {};
struct error_from_invoke_t {};

template <class E>
inline constexpr bool valid_error =
    std::is_object_v<E> && !std::is_array_v<E> && !std::is_const_v<E> &&
    !std::is_volatile_v<E> && !is_unexpected<E>;

// Runs body; if it throws, runs rollback and rethrows. Without exceptions
// there is nothing to roll back from.
template <class Body, class Rollback>
constexpr void with_rollback(Body body, Rollback rollback) {
#if __cpp_exceptions
    try {
        body();
    } catch (...) {
        rollback();
        throw;
    }
#else
    (void)rollback;
    body();
#endif
}

// Replaces the live member old_member with new_member built from args. If
// that construction throws, the object must still hold old_member; the
// branches pick the cheapest order that guarantees it.
template <class New, class Old, class... Args>
constexpr void reinit(New& new_member, Old& old_member, Args&&... args) {
    if constexpr (std::is_nothrow_constructible_v<New, Args...>) {
        std::destroy_at(std::addressof(old_member));
        std::construct_at(std::addressof(new_member), std::forward<Args>(args)...);
    } else if constexpr (std::is_nothrow_move_constructible_v<New>) {
        New tmp(std::forward<Args>(args)...);
        std::destroy_at(std::addressof(old_member));
        std::construct_at(std::addressof(new_member), std::move(tmp));
    } else {
        Old tmp(std::move(old_member));
        std::destroy_at(std::addressof(old_member));
        with_rollback([&] { std::construct_at(std::addressof(new_member), std::forward<Args>(args)...); },
                      [&] { std::construct_at(std::addressof(old_member), std::move(tmp)); });
    }
}

}  // namespace expected_detail

struct unexpect_t {
    explicit unexpect_t() = default;
};
inline constexpr unexpect_t unexpect{};

template <class E>
class unexpected {
    static_assert(expected_detail::valid_error<E>, "unexpected<E> needs a non-array, non-cv object type E");

public:
    constexpr unexpected(const unexpected&) = default;
    constexpr unexpected(unexpected&&) = default;

    template <class Err = E>
        requires(!std::is_same_v<std::remove_cvref_t<Err>, unexpected> &&
                 !std::is_same_v<std::remove_cvref_t<Err>, std::in_place_t> && std::is_constructible_v<E, Err>)
    constexpr explicit unexpected(Err&& e) noexcept(std::is_nothrow_constructible_v<E, Err>)
        : error_(std::forward<Err>(e)) {}

    template <class... Args>
        requires std::is_constructible_v<E, Args...>
    constexpr explicit unexpected(std::in_place_t, Args&&... args) noexcept(std::is_nothrow_constructible_v<E, Args...>)
        : error_(std::forward<Args>(args)...) {}

    template <class U, class... Args>
        requires std::is_constructible_v<E, std::initializer_list<U>&, Args...>
    constexpr explicit unexpected(std::in_place_t, std::initializer_list<U> il, Args&&... args)
        : error_(il, std::forward<Args>(args)...) {}

    constexpr unexpected& operator=(const unexpected&) = default;
    constexpr unexpected& operator=(unexpected&&) = default;

    constexpr E& error() & noexcept { return error_; }
    constexpr const E& error() const& noexcept { return error_; }
    constexpr E&& error() && noexcept { return std::move(error_); }
    constexpr const E&& error() const&& noexcept { return std::move(error_); }

    constexpr void swap(unexpected& other) noexcept(std::is_nothrow_swappable_v<E>) {
        static_assert(std::is_swappable_v<E>);
        using std::swap;
        swap(error_, other.error_);
    }

    friend constexpr void swap(unexpected& x, unexpected& y) noexcept(noexcept(x.swap(y)))
        requires std::is_swappable_v<E>
    {
        x.swap(y);
    }

    template <class E2>
    friend constexpr bool operator==(const unexpected& x, const unexpected<E2>& y) {
        return x.error() == y.error();
    }

private:
    E error_;
};

template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class expected {
    static_assert(!std::is_reference_v<T> && !std::is_function_v<T> && !std::is_array_v<T> &&
                      !std::is_same_v<std::remove_cv_t<T>, std::in_place_t> &&
                      !std::is_same_v<std::remove_cv_t<T>, unexpect_t> && !expected_detail::is_unexpected<std::remove_cv_t<T>>,
                  "expected<T, E> needs an object type T that is not a tag or unexpected");
    static_assert(expected_detail::valid_error<E>, "expected<T, E> needs a non-array, non-cv object type E");

    template <class, class>
    friend class expected;

    static constexpr bool copyable = std::is_copy_constructible_v<T> && std::is_copy_constructible_v<E>;
    static constexpr bool movable = std::is_move_constructible_v<T> && std::is_move_constructible_v<E>;
    // The fallback in reinit() needs one side whose move cannot throw.
    static constexpr bool either_nothrow_move =
        std::is_nothrow_move_constructible_v<T> || std::is_nothrow_move_constructible_v<E>;
    static constexpr bool copy_assignable =
        copyable && std::is_copy_assignable_v<T> && std::is_copy_assignable_v<E> && either_nothrow_move;
    static constexpr bool move_assignable =
        movable && std::is_move_assignable_v<T> && std::is_move_assignable_v<E> && either_nothrow_move;
    // io_result is returned on the hot path: for trivial T and E the whole
    // object is trivial, so it is returned in registers where the ABI allows
    // and copied as plain bytes.
    static constexpr bool trivial_dtor = std::is_trivially_destructible_v<T> && std::is_trivially_destructible_v<E>;
    static constexpr bool trivial_copy =
        std::is_trivially_copy_constructible_v<T> && std::is_trivially_copy_constructible_v<E>;
    static constexpr bool trivial_move =
        std::is_trivially_move_constructible_v<T> && std::is_trivially_move_constructible_v<E>;
    static constexpr bool trivial_copy_assign = trivial_dtor && trivial_copy && std::is_trivially_copy_assignable_v<T> &&
                                                std::is_trivially_copy_assignable_v<E>;
    static constexpr bool trivial_move_assign = trivial_dtor && trivial_move && std::is_trivially_move_assignable_v<T> &&
                                                std::is_trivially_move_assignable_v<E>;

public:
    using value_type = T;
    using error_type = E;
    using unexpected_type = unexpected<E>;
    template <class U>
    using rebind = expected<U, error_type>;

    constexpr expected() noexcept(std::is_nothrow_default_constructible_v<T>)
        requires std::is_default_constructible_v<T>
        : val_(), has_val_(true) {}

    constexpr expected(const expected&) requires(copyable && trivial_copy) = default;
    constexpr expected(const expected& other) requires(copyable && !trivial_copy) : has_val_(other.has_val_) {
        construct_from(other);
    }
    constexpr expected(expected&&) requires(movable && trivial_move) = default;
    constexpr expected(expected&& other) noexcept(
        std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_constructible_v<E>)
        requires(movable && !trivial_move)
        : has_val_(other.has_val_) {
        construct_from(std::move(other));
    }

    template <class U = std::remove_cv_t<T>>
        requires(!std::is_same_v<std::remove_cvref_t<U>, std::in_place_t> &&
                 !std::is_same_v<std::remove_cvref_t<U>, expected> &&
                 !expected_detail::is_unexpected<std::remove_cvref_t<U>> && std::is_constructible_v<T, U> &&
                 (!std::is_same_v<std::remove_cv_t<T>, bool> || !expected_detail::is_expected<std::remove_cvref_t<U>>))
    constexpr explicit(!std::is_convertible_v<U, T>) expected(U&& v) noexcept(std::is_nothrow_constructible_v<T, U>)
        : val_(std::forward<U>(v)), has_val_(true) {}

    template <class G>
        requires std::is_constructible_v<E, const G&>
    constexpr explicit(!std::is_convertible_v<const G&, E>) expected(const unexpected<G>& e)
        : unex_(e.error()), has_val_(false) {}
    template <class G>
        requires std::is_constructible_v<E, G>
    constexpr explicit(!std::is_convertible_v<G, E>) expected(unexpected<G>&& e)
        : unex_(std::move(e).error()), has_val_(false) {}

    template <class... Args>
        requires std::is_constructible_v<T, Args...>
    constexpr explicit expected(std::in_place_t, Args&&... args) : val_(std::forward<Args>(args)...), has_val_(true) {}
    template <class U, class... Args>
        requires std::is_constructible_v<T, std::initializer_list<U>&, Args...>
    constexpr explicit expected(std::in_place_t, std::initializer_list<U> il, Args&&... args)
        : val_(il, std::forward<Args>(args)...), has_val_(true) {}
    template <class... Args>
        requires std::is_constructible_v<E, Args...>
    constexpr explicit expected(unexpect_t, Args&&... args) : unex_(std::forward<Args>(args)...), has_val_(false) {}
    template <class U, class... Args>
        requires std::is_constructible_v<E, std::initializer_list<U>&, Args...>
    constexpr explicit expected(unexpect_t, std::initializer_list<U> il, Args&&... args)
        : unex_(il, std::forward<Args>(args)...), has_val_(false) {}

    constexpr ~expected() requires trivial_dtor = default;
    constexpr ~expected() requires(!trivial_dtor) { destroy(); }

    constexpr expected& operator=(const expected&) requires(copy_assignable && trivial_copy_assign) = default;
    constexpr expected& operator=(const expected& other) requires(copy_assignable && !trivial_copy_assign) {
        assign_from(other);
        return *this;
    }
    constexpr expected& operator=(expected&&) requires(move_assignable && trivial_move_assign) = default;
    constexpr expected& operator=(expected&& other) noexcept(
        std::is_nothrow_move_assignable_v<T> && std::is_nothrow_move_constructible_v<T> &&
        std::is_nothrow_move_assignable_v<E> && std::is_nothrow_move_constructible_v<E>)
        requires(move_assignable && !trivial_move_assign)
    {
        assign_from(std::move(other));
        return *this;
    }

    template <class U = std::remove_cv_t<T>>
        requires(!std::is_same_v<std::remove_cvref_t<U>, expected> &&
                 !expected_detail::is_unexpected<std::remove_cvref_t<U>> && std::is_constructible_v<T, U> &&
                 std::is_assignable_v<T&, U> &&
                 (std::is_nothrow_constructible_v<T, U> || std::is_nothrow_move_constructible_v<T> ||
                  std::is_nothrow_move_constructible_v<E>))
    constexpr expected& operator=(U&& v) {
        if (has_val_) {
            val_ = std::forward<U>(v);
        } else {
            expected_detail::reinit(val_, unex_, std::forward<U>(v));
            has_val_ = true;
        }
        return *this;
    }

    template <class G>
        requires(std::is_constructible_v<E, const G&> && std::is_assignable_v<E&, const G&> &&
                 (std::is_nothrow_constructible_v<E, const G&> || either_nothrow_move))
    constexpr expected& operator=(const unexpected<G>& e) {
        assign_error(e.error());
        return *this;
    }
    template <class G>
        requires(std::is_constructible_v<E, G> && std::is_assignable_v<E&, G> &&
                 (std::is_nothrow_constructible_v<E, G> || either_nothrow_move))
    constexpr expected& operator=(unexpected<G>&& e) {
        assign_error(std::move(e).error());
        return *this;
    }

    template <class... Args>
        requires std::is_nothrow_constructible_v<T, Args...>
    constexpr T& emplace(Args&&... args) noexcept {
        destroy();
        std::construct_at(std::addressof(val_), std::forward<Args>(args)...);
        has_val_ = true;
        return val_;
    }
    template <class U, class... Args>
        requires std::is_nothrow_constructible_v<T, std::initializer_list<U>&, Args...>
    constexpr T& emplace(std::initializer_list<U> il, Args&&... args) noexcept {
        destroy();
        std::construct_at(std::addressof(val_), il, std::forward<Args>(args)...);
        has_val_ = true;
        return val_;
    }

    constexpr void swap(expected& other) noexcept(
        std::is_nothrow_move_constructible_v<T> && std::is_nothrow_swappable_v<T> &&
        std::is_nothrow_move_constructible_v<E> && std::is_nothrow_swappable_v<E>)
        requires(std::is_swappable_v<T> && std::is_swappable_v<E> && movable && either_nothrow_move)
    {
        using std::swap;
        if (has_val_ && other.has_val_)
            swap(val_, other.val_);
        else if (!has_val_ && !other.has_val_)
            swap(unex_, other.unex_);
        else if (has_val_)
            swap_value_with_error(other);
        else
            other.swap_value_with_error(*this);
    }
    friend constexpr void swap(expected& x, expected& y) noexcept(noexcept(x.swap(y)))
        requires requires { x.swap(y); }
    {
        x.swap(y);
    }

    constexpr const T* operator->() const noexcept { return std::addressof(val_); }
    constexpr T* operator->() noexcept { return std::addressof(val_); }
    constexpr const T& operator*() const& noexcept { return val_; }
    constexpr T& operator*() & noexcept { return val_; }
    constexpr const T&& operator*() const&& noexcept { return std::move(val_); }
    constexpr T&& operator*() && noexcept { return std::move(val_); }

    constexpr explicit operator bool() const noexcept { return has_val_; }
    constexpr bool has_value() const noexcept { return has_val_; }

    constexpr const T& value() const& { return value_impl(*this); }
    constexpr T& value() & { return value_impl(*this); }
    constexpr const T&& value() const&& { return value_impl(std::move(*this)); }
    constexpr T&& value() && { return value_impl(std::move(*this)); }

    constexpr const E& error() const& noexcept { return unex_; }
    constexpr E& error() & noexcept { return unex_; }
    constexpr const E&& error() const&& noexcept { return std::move(unex_); }
    constexpr E&& error() && noexcept { return std::move(unex_); }

    template <class U>
    constexpr T value_or(U&& v) const& {
        static_assert(std::is_copy_constructible_v<T> && std::is_convertible_v<U, T>);
        return has_val_ ? val_ : static_cast<T>(std::forward<U>(v));
    }
    template <class U>
    constexpr T value_or(U&& v) && {
        static_assert(std::is_move_constructible_v<T> && std::is_convertible_v<U, T>);
        return has_val_ ? std::move(val_) : static_cast<T>(std::forward<U>(v));
    }

    // Each monadic operation has one implementation taking *this as a
    // forwarded Self; the four ref-qualified overloads only pick Self.
    template <class F> requires std::is_constructible_v<E, E&>
    [[nodiscard]] constexpr auto and_then(F&& f) & { return and_then_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&>
    [[nodiscard]] constexpr auto and_then(F&& f) const& { return and_then_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, E&&>
    [[nodiscard]] constexpr auto and_then(F&& f) && { return and_then_impl(std::move(*this), std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&&>
    [[nodiscard]] constexpr auto and_then(F&& f) const&& { return and_then_impl(std::move(*this), std::forward<F>(f)); }

    template <class F> requires std::is_constructible_v<T, T&>
    [[nodiscard]] constexpr auto or_else(F&& f) & { return or_else_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<T, const T&>
    [[nodiscard]] constexpr auto or_else(F&& f) const& { return or_else_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<T, T&&>
    [[nodiscard]] constexpr auto or_else(F&& f) && { return or_else_impl(std::move(*this), std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<T, const T&&>
    [[nodiscard]] constexpr auto or_else(F&& f) const&& { return or_else_impl(std::move(*this), std::forward<F>(f)); }

    template <class F> requires std::is_constructible_v<E, E&>
    [[nodiscard]] constexpr auto transform(F&& f) & { return transform_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&>
    [[nodiscard]] constexpr auto transform(F&& f) const& { return transform_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, E&&>
    [[nodiscard]] constexpr auto transform(F&& f) && { return transform_impl(std::move(*this), std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&&>
    [[nodiscard]] constexpr auto transform(F&& f) const&& { return transform_impl(std::move(*this), std::forward<F>(f)); }

    template <class F> requires std::is_constructible_v<T, T&>
    [[nodiscard]] constexpr auto transform_error(F&& f) & { return transform_error_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<T, const T&>
    [[nodiscard]] constexpr auto transform_error(F&& f) const& { return transform_error_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<T, T&&>
    [[nodiscard]] constexpr auto transform_error(F&& f) && { return transform_error_impl(std::move(*this), std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<T, const T&&>
    [[nodiscard]] constexpr auto transform_error(F&& f) const&& {
        return transform_error_impl(std::move(*this), std::forward<F>(f));
    }

    // expected<void, E2> compares only with its own kind: a value of T
    // cannot equal "no value".
    template <class T2, class E2>
        requires(!std::is_void_v<T2>)
    friend constexpr bool operator==(const expected& x, const expected<T2, E2>& y) {
        if (x.has_value() != y.has_value())
            return false;
        return x.has_value() ? static_cast<bool>(*x == *y) : static_cast<bool>(x.error() == y.error());
    }
    // Excluding expecteds keeps this from competing with the overload above
    // (the same fix C++26 applies to std::expected).
    template <class T2>
        requires(!expected_detail::is_expected<T2>)
    friend constexpr bool operator==(const expected& x, const T2& v) {
        return x.has_value() && static_cast<bool>(*x == v);
    }
    template <class E2>
    friend constexpr bool operator==(const expected& x, const unexpected<E2>& e) {
        return !x.has_value() && static_cast<bool>(x.error() == e.error());
    }

private:
    template <class F, class... Args>
    constexpr expected(expected_detail::value_from_invoke_t, F&& f, Args&&... args)
        : val_(std::invoke(std::forward<F>(f), std::forward<Args>(args)...)), has_val_(true) {}
    template <class F, class... Args>
    constexpr expected(expected_detail::error_from_invoke_t, F&& f, Args&&... args)
        : unex_(std::invoke(std::forward<F>(f), std::forward<Args>(args)...)), has_val_(false) {}

    template <class Other>
    constexpr void construct_from(Other&& other) {
        if (has_val_)
            std::construct_at(std::addressof(val_), std::forward<Other>(other).val_);
        else
            std::construct_at(std::addressof(unex_), std::forward<Other>(other).unex_);
    }

    template <class Other>
    constexpr void assign_from(Other&& other) {
        if (has_val_ && other.has_val_)
            val_ = std::forward<Other>(other).val_;
        else if (has_val_)
            expected_detail::reinit(unex_, val_, std::forward<Other>(other).unex_);
        else if (other.has_val_)
            expected_detail::reinit(val_, unex_, std::forward<Other>(other).val_);
        else
            unex_ = std::forward<Other>(other).unex_;
        has_val_ = other.has_val_;
    }

    template <class G>
    constexpr void assign_error(G&& g) {
        if (has_val_) {
            expected_detail::reinit(unex_, val_, std::forward<G>(g));
            has_val_ = false;
        } else {
            unex_ = std::forward<G>(g);
        }
    }

    constexpr void destroy() noexcept {
        if (has_val_)
            std::destroy_at(std::addressof(val_));
        else
            std::destroy_at(std::addressof(unex_));
    }

    // *this holds a value and other an error. Move the nothrow side out
    // first so a throwing move on the other side can be undone.
    constexpr void swap_value_with_error(expected& other) {
        if constexpr (std::is_nothrow_move_constructible_v<E>) {
            E tmp(std::move(other.unex_));
            std::destroy_at(std::addressof(other.unex_));
            expected_detail::with_rollback(
                [&] { std::construct_at(std::addressof(other.val_), std::move(val_)); },
                [&] { std::construct_at(std::addressof(other.unex_), std::move(tmp)); });
            std::destroy_at(std::addressof(val_));
            std::construct_at(std::addressof(unex_), std::move(tmp));
        } else {
            T tmp(std::move(val_));
            std::destroy_at(std::addressof(val_));
            expected_detail::with_rollback(
                [&] { std::construct_at(std::addressof(unex_), std::move(other.unex_)); },
                [&] { std::construct_at(std::addressof(val_), std::move(tmp)); });
            std::destroy_at(std::addressof(other.unex_));
            std::construct_at(std::addressof(other.val_), std::move(tmp));
        }
        has_val_ = false;
        other.has_val_ = true;
    }

    template <class Self>
    static constexpr expected_detail::like_t<Self, T> value_impl(Self&& self) {
        static_assert(std::is_copy_constructible_v<E> && std::is_constructible_v<E, expected_detail::like_t<Self, E>>,
                      "value() copies or moves the error into bad_expected_access");
        if (!self.has_val_)
            expected_detail::throw_bad_access(std::forward<Self>(self).unex_);
        return std::forward<Self>(self).val_;
    }

    template <class Self, class F,
              class U = std::remove_cvref_t<std::invoke_result_t<F, expected_detail::like_t<Self, T>>>>
    static constexpr U and_then_impl(Self&& self, F&& f) {
        static_assert(expected_detail::is_expected<U>, "and_then: f must return an expected");
        static_assert(std::is_same_v<typename U::error_type, E>, "and_then: f must keep the error type");
        if (self.has_val_)
            return std::invoke(std::forward<F>(f), std::forward<Self>(self).val_);
        return U(unexpect, std::forward<Self>(self).unex_);
    }

    template <class Self, class F,
              class G = std::remove_cvref_t<std::invoke_result_t<F, expected_detail::like_t<Self, E>>>>
    static constexpr G or_else_impl(Self&& self, F&& f) {
        static_assert(expected_detail::is_expected<G>, "or_else: f must return an expected");
        static_assert(std::is_same_v<typename G::value_type, T>, "or_else: f must keep the value type");
        if (self.has_val_)
            return G(std::in_place, std::forward<Self>(self).val_);
        return std::invoke(std::forward<F>(f), std::forward<Self>(self).unex_);
    }

    template <class Self, class F,
              class U = std::remove_cv_t<std::invoke_result_t<F, expected_detail::like_t<Self, T>>>>
    static constexpr expected<U, E> transform_impl(Self&& self, F&& f) {
        if (!self.has_val_)
            return expected<U, E>(unexpect, std::forward<Self>(self).unex_);
        if constexpr (std::is_void_v<U>) {
            std::invoke(std::forward<F>(f), std::forward<Self>(self).val_);
            return expected<U, E>();
        } else {
            return expected<U, E>(expected_detail::value_from_invoke_t{}, std::forward<F>(f),
                                  std::forward<Self>(self).val_);
        }
    }

    template <class Self, class F,
              class G = std::remove_cv_t<std::invoke_result_t<F, expected_detail::like_t<Self, E>>>>
    static constexpr expected<T, G> transform_error_impl(Self&& self, F&& f) {
        if (self.has_val_)
            return expected<T, G>(std::in_place, std::forward<Self>(self).val_);
        return expected<T, G>(expected_detail::error_from_invoke_t{}, std::forward<F>(f),
                              std::forward<Self>(self).unex_);
    }

    union {
        T val_;
        E unex_;
    };
    bool has_val_;
};

// expected<void, E> holds an expected<nothing, E> and forwards to it, so the
// union state handling exists once, and the implicit special members are
// trivial exactly when E's are.
template <class T, class E>
    requires std::is_void_v<T>
class expected<T, E> {
    template <class, class>
    friend class expected;

public:
    using value_type = T;
    using error_type = E;
    using unexpected_type = unexpected<E>;
    template <class U>
    using rebind = expected<U, error_type>;

    constexpr expected() noexcept = default;

    template <class G>
        requires std::is_constructible_v<E, const G&>
    constexpr explicit(!std::is_convertible_v<const G&, E>) expected(const unexpected<G>& e) : impl_(e) {}
    template <class G>
        requires std::is_constructible_v<E, G>
    constexpr explicit(!std::is_convertible_v<G, E>) expected(unexpected<G>&& e) : impl_(std::move(e)) {}

    constexpr explicit expected(std::in_place_t) noexcept {}
    template <class... Args>
        requires std::is_constructible_v<E, Args...>
    constexpr explicit expected(unexpect_t, Args&&... args) : impl_(unexpect, std::forward<Args>(args)...) {}
    template <class U, class... Args>
        requires std::is_constructible_v<E, std::initializer_list<U>&, Args...>
    constexpr explicit expected(unexpect_t, std::initializer_list<U> il, Args&&... args)
        : impl_(unexpect, il, std::forward<Args>(args)...) {}

    template <class G>
        requires(std::is_constructible_v<E, const G&> && std::is_assignable_v<E&, const G&>)
    constexpr expected& operator=(const unexpected<G>& e) {
        impl_ = e;
        return *this;
    }
    template <class G>
        requires(std::is_constructible_v<E, G> && std::is_assignable_v<E&, G>)
    constexpr expected& operator=(unexpected<G>&& e) {
        impl_ = std::move(e);
        return *this;
    }

    constexpr void emplace() noexcept { impl_.emplace(); }

    constexpr void swap(expected& other) noexcept(
        std::is_nothrow_move_constructible_v<E> && std::is_nothrow_swappable_v<E>)
        requires(std::is_swappable_v<E> && std::is_move_constructible_v<E>)
    {
        impl_.swap(other.impl_);
    }
    friend constexpr void swap(expected& x, expected& y) noexcept(noexcept(x.swap(y)))
        requires requires { x.swap(y); }
    {
        x.swap(y);
    }

    constexpr explicit operator bool() const noexcept { return impl_.has_value(); }
    constexpr bool has_value() const noexcept { return impl_.has_value(); }
    constexpr void operator*() const noexcept {}

    constexpr void value() const& { (void)impl_.value(); }
    constexpr void value() && { (void)std::move(impl_).value(); }

    constexpr const E& error() const& noexcept { return impl_.error(); }
    constexpr E& error() & noexcept { return impl_.error(); }
    constexpr const E&& error() const&& noexcept { return std::move(impl_).error(); }
    constexpr E&& error() && noexcept { return std::move(impl_).error(); }

    template <class F> requires std::is_constructible_v<E, E&>
    [[nodiscard]] constexpr auto and_then(F&& f) & { return and_then_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&>
    [[nodiscard]] constexpr auto and_then(F&& f) const& { return and_then_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, E&&>
    [[nodiscard]] constexpr auto and_then(F&& f) && { return and_then_impl(std::move(*this), std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&&>
    [[nodiscard]] constexpr auto and_then(F&& f) const&& { return and_then_impl(std::move(*this), std::forward<F>(f)); }

    template <class F>
    [[nodiscard]] constexpr auto or_else(F&& f) & { return or_else_impl(*this, std::forward<F>(f)); }
    template <class F>
    [[nodiscard]] constexpr auto or_else(F&& f) const& { return or_else_impl(*this, std::forward<F>(f)); }
    template <class F>
    [[nodiscard]] constexpr auto or_else(F&& f) && { return or_else_impl(std::move(*this), std::forward<F>(f)); }
    template <class F>
    [[nodiscard]] constexpr auto or_else(F&& f) const&& { return or_else_impl(std::move(*this), std::forward<F>(f)); }

    template <class F> requires std::is_constructible_v<E, E&>
    [[nodiscard]] constexpr auto transform(F&& f) & { return transform_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&>
    [[nodiscard]] constexpr auto transform(F&& f) const& { return transform_impl(*this, std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, E&&>
    [[nodiscard]] constexpr auto transform(F&& f) && { return transform_impl(std::move(*this), std::forward<F>(f)); }
    template <class F> requires std::is_constructible_v<E, const E&&>
    [[nodiscard]] constexpr auto transform(F&& f) const&& { return transform_impl(std::move(*this), std::forward<F>(f)); }

    template <class F>
    [[nodiscard]] constexpr auto transform_error(F&& f) & { return transform_error_impl(*this, std::forward<F>(f)); }
    template <class F>
    [[nodiscard]] constexpr auto transform_error(F&& f) const& { return transform_error_impl(*this, std::forward<F>(f)); }
    template <class F>
    [[nodiscard]] constexpr auto transform_error(F&& f) && { return transform_error_impl(std::move(*this), std::forward<F>(f)); }
    template <class F>
    [[nodiscard]] constexpr auto transform_error(F&& f) const&& {
        return transform_error_impl(std::move(*this), std::forward<F>(f));
    }

    template <class T2, class E2>
        requires std::is_void_v<T2>
    friend constexpr bool operator==(const expected& x, const expected<T2, E2>& y) {
        if (x.has_value() != y.has_value())
            return false;
        return x.has_value() || static_cast<bool>(x.error() == y.error());
    }
    template <class E2>
    friend constexpr bool operator==(const expected& x, const unexpected<E2>& e) {
        return !x.has_value() && static_cast<bool>(x.error() == e.error());
    }

private:
    template <class F, class... Args>
    constexpr expected(expected_detail::error_from_invoke_t tag, F&& f, Args&&... args)
        : impl_(tag, std::forward<F>(f), std::forward<Args>(args)...) {}

    template <class Self, class F, class U = std::remove_cvref_t<std::invoke_result_t<F>>>
    static constexpr U and_then_impl(Self&& self, F&& f) {
        static_assert(expected_detail::is_expected<U>, "and_then: f must return an expected");
        static_assert(std::is_same_v<typename U::error_type, E>, "and_then: f must keep the error type");
        if (self.has_value())
            return std::invoke(std::forward<F>(f));
        return U(unexpect, std::forward<Self>(self).error());
    }

    template <class Self, class F,
              class G = std::remove_cvref_t<std::invoke_result_t<F, expected_detail::like_t<Self, E>>>>
    static constexpr G or_else_impl(Self&& self, F&& f) {
        static_assert(expected_detail::is_expected<G>, "or_else: f must return an expected");
        static_assert(std::is_same_v<typename G::value_type, T>, "or_else: f must keep the value type");
        if (self.has_value())
            return G();
        return std::invoke(std::forward<F>(f), std::forward<Self>(self).error());
    }

    template <class Self, class F, class U = std::remove_cv_t<std::invoke_result_t<F>>>
    static constexpr expected<U, E> transform_impl(Self&& self, F&& f) {
        if (!self.has_value())
            return expected<U, E>(unexpect, std::forward<Self>(self).error());
        if constexpr (std::is_void_v<U>) {
            std::invoke(std::forward<F>(f));
            return expected<U, E>();
        } else {
            return expected<U, E>(expected_detail::value_from_invoke_t{}, std::forward<F>(f));
        }
    }

    template <class Self, class F,
              class G = std::remove_cv_t<std::invoke_result_t<F, expected_detail::like_t<Self, E>>>>
    static constexpr expected<T, G> transform_error_impl(Self&& self, F&& f) {
        if (self.has_value())
            return expected<T, G>();
        return expected<T, G>(expected_detail::error_from_invoke_t{}, std::forward<F>(f),
                              std::forward<Self>(self).error());
    }

    expected<expected_detail::nothing, E> impl_;
};

}  // namespace tlsw

#endif  // __cpp_lib_expected

#endif  // TLSW_EXPECTED_HPP
