#pragma once
// The shape of a type's JSON, as JSON, for references generated from the
// registered types (`annals describe`): what a command's data, an event's
// data, a query's arguments or its answer look like.
//
//   "string", "integer", "number", "boolean", "any"   a scalar, or any JSON
//   {"owner": "string", "initial_deposit?": "integer"}  a described struct
//                                     ("?": optional, may be left out)
//   ["integer"]                       an array of that shape
//   {"*": {...}}                      an object keyed by any string (a map)

#include "annals/json.hpp"

#include <map>
#include <type_traits>
#include <unordered_map>

namespace annals {

namespace detail {
template <class T> struct is_string_map : std::false_type {};
template <class V, class C, class A> struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>> : std::true_type {};
} // namespace detail

template <class T>
json::value json_shape() {
  if constexpr (detail::is_optional<T>::value) {
    return json_shape<typename T::value_type>();
  } else if constexpr (detail::is_described_v<T>) {
    using Members = boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;
    json::object obj;
    boost::mp11::mp_for_each<Members>([&](auto D) {
      using M = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<T&>().*D.pointer)>>;
      obj[std::string(D.name) + (detail::is_optional<M>::value ? "?" : "")] = json_shape<M>();
    });
    return obj;
  } else if constexpr (detail::is_vector<T>::value) {
    return json::array{json_shape<typename T::value_type>()};
  } else if constexpr (detail::is_string_map<T>::value) {
    return json::object{{"*", json_shape<typename T::mapped_type>()}};
  } else if constexpr (std::is_same_v<T, json::value> || std::is_same_v<T, json::object>
                       || std::is_same_v<T, json::array>) {
    return std::is_same_v<T, json::object> ? "object" : std::is_same_v<T, json::array> ? "array" : "any";
  } else {
    return detail::expected_kind<T>();
  }
}

/// One line for a shape: {owner: string, initial_deposit?: integer},
/// [integer], {*: {...}}.
std::string shape_text(const json::value& shape);

} // namespace annals
