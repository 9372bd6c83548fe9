#pragma once
// JSON at the boundary: commands and events carry Boost.JSON values. Domain
// code works with its own structs; describe them once with
// BOOST_DESCRIBE_STRUCT and decode()/encode() convert them, with error
// messages that name the offending field ("field 'amount': expected integer,
// got string").

#include "annals/error.hpp"
#include "annals/expected.hpp"

#include <boost/describe/class.hpp>
#include <boost/describe/members.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace annals {

namespace json = boost::json;

/// "object", "string", "integer", ... for error messages.
const char* json_kind(const json::value& v);

/// False when a number in `v` is NaN or infinite: JSON cannot represent
/// those, and text holding them could not be read back.
bool is_finite_json(const json::value& v);

/// Where two documents differ, as paths ("accounts.acc-1.balance",
/// "items[3]"), at most `limit` of them. Empty when equal.
std::vector<std::string> json_differences(const json::value& a, const json::value& b, std::size_t limit = 100);

/// Serializes with object keys sorted at every level, so that two equal
/// documents give equal text whatever their key order.
std::string canonical_json(const json::value& v);

/// Serializes like json::serialize, but writes a double as a plain decimal
/// with the fewest digits that read back as the same value (0.8153430866745283,
/// 1.5, 2000.0), not Boost.JSON's 8.153430866745283E-1; only beyond the range
/// JavaScript writes plainly (|d| < 1e-6 or >= 1e21) in exponent form (5e-324,
/// 1e+21). NaN and infinities, which JSON cannot hold, become null. What the
/// command line and its --json outputs print.
std::string plain_json(const json::value& v);

namespace detail {

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
constexpr bool is_described_v =
  boost::describe::has_describe_members<T>::value;

template <class T>
const char* expected_kind() {
  if constexpr (std::is_same_v<T, bool>) return "boolean";
  else if constexpr (std::is_integral_v<T>) return "integer";
  else if constexpr (std::is_floating_point_v<T>) return "number";
  else if constexpr (std::is_convertible_v<T, std::string_view>) return "string";
  else if constexpr (is_vector<T>::value) return "array";
  else return "object";
}

inline std::string field_path(const std::string& prefix, const char* name) {
  return prefix.empty() ? std::string{name} : prefix + "." + name;
}

template <class T>
Expected<T> decode_at(const json::value& v, const std::string& path);

template <class T>
Expected<T> decode_described(const json::value& v, const std::string& path) {
  using Members = boost::describe::describe_members<
    T, boost::describe::mod_public | boost::describe::mod_inherited>;
  const json::object* obj = v.if_object();
  if (!obj)
    return Error{errc::invalid_command,
                 (path.empty() ? std::string{"data"} : "field '" + path + "'")
                   + ": expected object, got " + json_kind(v)};
  T out{};
  std::optional<Error> failure;
  std::size_t known = 0;
  boost::mp11::mp_for_each<Members>([&](auto D) {
    if (failure) return;
    using M = std::remove_cv_t<std::remove_reference_t<decltype(out.*D.pointer)>>;
    const std::string where = field_path(path, D.name);
    const json::value* field = obj->if_contains(D.name);
    if (field) ++known;
    if constexpr (is_optional<M>::value) {
      if (!field || field->is_null()) return;
      auto r = decode_at<typename M::value_type>(*field, where);
      if (!r) failure = r.error(); else out.*D.pointer = std::move(*r);
    } else {
      if (!field) { failure = Error{errc::invalid_command, "missing field '" + where + "'"}; return; }
      auto r = decode_at<M>(*field, where);
      if (!r) failure = r.error(); else out.*D.pointer = std::move(*r);
    }
  });
  if (failure) return *failure;
  if (known != obj->size()) {
    for (const auto& kv : *obj) {
      bool found = false;
      boost::mp11::mp_for_each<Members>([&](auto D) { found = found || kv.key() == D.name; });
      if (!found)
        return Error{errc::invalid_command,
                     "unknown field '" + field_path(path, std::string(kv.key()).c_str()) + "'"};
    }
  }
  return out;
}

template <class T>
Expected<T> decode_at(const json::value& v, const std::string& path) {
  if constexpr (is_described_v<T>) {
    return decode_described<T>(v, path);
  } else if constexpr (is_vector<T>::value) {
    const json::array* arr = v.if_array();
    if (!arr)
      return Error{errc::invalid_command, "field '" + path + "': expected array, got " + json_kind(v)};
    T out;
    out.reserve(arr->size());
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto r = decode_at<typename T::value_type>((*arr)[i], path + "[" + std::to_string(i) + "]");
      if (!r) return r.error();
      out.push_back(std::move(*r));
    }
    return out;
  } else if constexpr (std::is_same_v<T, json::value>) {
    return v;
  } else {
    auto r = json::try_value_to<T>(v);
    if (r) return std::move(*r);
    std::string what = "expected " + std::string{expected_kind<T>()} + ", got " + json_kind(v);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      if (v.is_number()) what = "expected an integer that fits, got " + json::serialize(v);
    return Error{errc::invalid_command,
                 (path.empty() ? std::string{"value"} : "field '" + path + "'") + ": " + what};
  }
}

template <class T>
json::value encode_value(const T& x) {
  if constexpr (is_described_v<T>) {
    using Members = boost::describe::describe_members<
      T, boost::describe::mod_public | boost::describe::mod_inherited>;
    json::object obj;
    boost::mp11::mp_for_each<Members>([&](auto D) {
      using M = std::remove_cv_t<std::remove_reference_t<decltype(x.*D.pointer)>>;
      if constexpr (is_optional<M>::value) {
        if (x.*D.pointer) obj[D.name] = encode_value(*(x.*D.pointer));
      } else {
        obj[D.name] = encode_value(x.*D.pointer);
      }
    });
    return obj;
  } else if constexpr (is_vector<T>::value) {
    json::array arr;
    arr.reserve(x.size());
    for (const auto& e : x) arr.push_back(encode_value(e));
    return arr;
  } else {
    return json::value_from(x);
  }
}

} // namespace detail

/// Converts JSON into T. For a struct described with BOOST_DESCRIBE_STRUCT:
/// every member is required except std::optional ones, unknown fields are
/// an error, and the error names the field. Errors have code invalid_command.
template <class T>
Expected<T> decode(const json::value& v) {
  return detail::decode_at<T>(v, "");
}

/// Converts T into JSON (described structs become objects; empty optionals
/// are left out).
template <class T>
json::value encode(const T& x) {
  return detail::encode_value(x);
}

} // namespace annals
