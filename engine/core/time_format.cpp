#include "engine/core/time_format.hpp"

#include <cctype>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace keyflow {
namespace {

bool read_int(std::string_view& s, size_t digits, int& out) {
  if (s.size() < digits) return false;
  for (size_t i = 0; i < digits; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  std::from_chars(s.data(), s.data() + digits, out);
  s.remove_prefix(digits);
  return true;
}

bool expect(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long yoe = y - era * 400;
  const long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::string format_timestamp(TimePoint t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto secs = floor<seconds>(ms);
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (ms - secs).count());
}

std::optional<TimePoint> parse_timestamp(std::string_view s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_int(s, 4, year) || !expect(s, '-') || !read_int(s, 2, month) || !expect(s, '-') ||
      !read_int(s, 2, day)) {
    return std::nullopt;
  }
  if (s.empty() || (s.front() != 'T' && s.front() != 't' && s.front() != ' ')) return std::nullopt;
  s.remove_prefix(1);
  if (!read_int(s, 2, hour) || !expect(s, ':') || !read_int(s, 2, minute) || !expect(s, ':') ||
      !read_int(s, 2, second)) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits, which ends in 2262: keep well inside it.
  if (year < 1900 || year > 2200 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  long micros = 0;
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    int digits = 0;
    while (!s.empty() && std::isdigit(static_cast<unsigned char>(s.front()))) {
      if (digits < 6) micros = micros * 10 + (s.front() - '0');
      ++digits;
      s.remove_prefix(1);
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i)
      micros *= 10;
  }
  long offset_seconds = 0;
  if (s == "Z" || s == "z") {
    s = {};
  } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    const int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh = 0, om = 0;
    if (!read_int(s, 2, oh)) return std::nullopt;
    if (!s.empty() && s.front() == ':') s.remove_prefix(1);
    if (!s.empty() && !read_int(s, 2, om)) return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_seconds = sign * (oh * 3600L + om * 60L);
  } else {
    return std::nullopt;
  }
  if (!s.empty()) return std::nullopt;
  const long days = days_from_civil(year, month, day);
  const long total = days * 86400L + hour * 3600L + minute * 60L + second - offset_seconds;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(total) + std::chrono::microseconds(micros)));
}

}  // namespace keyflow
