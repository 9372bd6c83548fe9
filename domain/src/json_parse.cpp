#include "annals/json_parse.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>
#include <utility>

namespace annals {

namespace {

// Boost.JSON's own value-building handler (detail::handler), except that a
// double is taken from the number's text with std::from_chars.
struct ExactNumbersHandler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string number;  // the text of a number the parser delivered in parts

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) { st.push_object(n); return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) { st.push_array(n); return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) { st.push_chars(s); return true; }
  bool on_key(json::string_view s, std::size_t, json::error_code&) { st.push_key(s); return true; }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) { st.push_chars(s); return true; }
  bool on_string(json::string_view s, std::size_t, json::error_code&) { st.push_string(s); return true; }
  bool on_number_part(json::string_view s, json::error_code&) { number.append(s.data(), s.size()); return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) { number.clear(); st.push_int64(i); return true; }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) { number.clear(); st.push_uint64(u); return true; }
  bool on_double(double d, json::string_view s, json::error_code& ec) {
    number.append(s.data(), s.size());
    double exact = d;
    const char* end = number.data() + number.size();
    auto r = std::from_chars(number.data(), end, exact);
    // Out of range (Boost gives an infinity or zero there) or text from_chars
    // does not take: keep Boost's value.
    if (r.ec != std::errc{} || r.ptr != end) exact = d;
    number.clear();
    // Beyond the largest double Boost gives an infinity, which JSON text
    // cannot hold: serialized it reads "Infinity" and never parses again.
    if (std::isinf(exact)) {
      ec = json::error::exponent_overflow;
      return false;
    }
    st.push_double(exact);
    return true;
  }
  bool on_bool(bool b, json::error_code&) { st.push_bool(b); return true; }
  bool on_null(json::error_code&) { st.push_null(); return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

} // namespace

json::value parse_json(std::string_view text, json::error_code& ec, const json::parse_options& opts,
                       std::size_t* consumed) {
  json::basic_parser<ExactNumbersHandler> p(opts);
  p.handler().st.reset();
  std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (consumed) *consumed = n;
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) return nullptr;
  return p.handler().st.release();
}

} // namespace annals
