// Fuzzes the HTTP front's request mapping (http/,
// http_mapping.hpp): the query string of GET /projections/...?<query>,
// percent-decoding and the UTF-8 check, and the status for an error code.
// Checks, beyond "no crash, no UB":
//  - a parsed query's arguments are valid UTF-8 and serialize as JSON (they
//    end up in answers and in the query's error texts);
//  - an error has code invalid_query and a message, and maps to HTTP 400;
//  - every (non-empty) error code maps to a status in 400..599.
#include <annals/http/http_mapping.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace json = annals::json;

namespace {
[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_http_mapping: %s (input: %.*s)\n", what, static_cast<int>(input.size()), input.data());
  std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);

  auto q = annals::http::parse_query_string(text);
  if (q) {
    if (q->min_position < 0) fail("a negative min_position", text);
    if (q->timeout && q->timeout->count() < 0) fail("a negative timeout", text);
    for (const auto& kv : q->args) {
      if (!annals::http::valid_utf8(kv.key())) fail("an argument name that is not UTF-8", text);
      if (kv.value().is_string() && !annals::http::valid_utf8(kv.value().get_string()))
        fail("an argument value that is not UTF-8", text);
    }
    (void)json::serialize(q->args);
  } else {
    if (q.error().code != "invalid_query") fail("an error code other than invalid_query", text);
    if (q.error().message.empty()) fail("an error without a message", text);
    if (annals::http::http_status_for(q.error().code) != 400) fail("invalid_query is not 400", text);
    (void)json::serialize(annals::http::problem_body(400, q.error().code, q.error().message));
  }

  for (bool plus : {false, true}) {
    auto decoded = annals::http::percent_decode(text, plus);
    if (decoded && decoded->size() > text.size()) fail("percent-decoding made the text longer", text);
  }
  (void)annals::http::valid_utf8(text);

  // The input as an error code (rejected and not): a status of an error
  // (the empty code is no error: 200).
  for (bool rejected : {false, true}) {
    if (text.empty()) break;
    const unsigned status = annals::http::http_status_for(text, rejected);
    if (status < 400 || status > 599) fail("an error code mapped outside 400..599", text);
  }
  return 0;
}
