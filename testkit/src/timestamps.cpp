// The testkit: ISO-8601 timestamps for given/when/then (timestamp_us).
#include "annals/testkit.hpp"

#include <algorithm>
#include <cctype>

namespace annals::testkit {

// --- timestamps ----------------------------------------------------------------

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

} // namespace

std::int64_t timestamp_us(std::string_view iso) {
  auto bad = [&]() -> std::invalid_argument {
    return std::invalid_argument("not an ISO 8601 UTC date or time (2026-11-24, 2026-11-24T10:00:00Z, "
                                 "2026-11-24T10:00:00.250Z): '" + std::string(iso) + "'");
  };
  std::size_t i = 0;
  auto number = [&](std::size_t digits) -> std::int64_t {
    std::int64_t v = 0;
    for (std::size_t k = 0; k < digits; ++k, ++i) {
      if (i >= iso.size() || !std::isdigit(static_cast<unsigned char>(iso[i]))) throw bad();
      v = v * 10 + (iso[i] - '0');
    }
    return v;
  };
  auto expect = [&](char c) {
    if (i >= iso.size() || iso[i] != c) throw bad();
    ++i;
  };
  const std::int64_t year = number(4);
  expect('-');
  const auto month = static_cast<unsigned>(number(2));
  expect('-');
  const auto day = static_cast<unsigned>(number(2));
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) throw bad();
  std::int64_t seconds = days_from_civil(year, month, day) * 86400;
  std::int64_t micros = 0;
  if (i < iso.size()) {
    expect('T');
    const std::int64_t h = number(2);
    expect(':');
    const std::int64_t m = number(2);
    expect(':');
    const std::int64_t s = number(2);
    if (h > 23 || m > 59 || s > 59) throw bad();
    seconds += h * 3600 + m * 60 + s;
    if (i < iso.size() && iso[i] == '.') {
      ++i;
      std::int64_t scale = 100000;
      std::size_t digits = 0;
      while (i < iso.size() && std::isdigit(static_cast<unsigned char>(iso[i]))) {
        if (++digits > 6) throw bad();
        micros += (iso[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (digits == 0) throw bad();
    }
    if (i < iso.size() && iso[i] == 'Z') ++i;
    if (i != iso.size()) throw bad();
  }
  return seconds * 1'000'000 + micros;
}

} // namespace annals::testkit
