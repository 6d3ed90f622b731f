#include "engine/store/sql_values.hpp"

#include <cctype>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "engine/core/time_format.hpp"

namespace keyflow {

std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

TimePoint timestamp_of(const pqxx::field& f) {
  const auto t = parse_timestamp(f.c_str());
  if (!t) throw std::runtime_error("unreadable timestamp in column " + std::string(f.name()));
  return *t;
}

std::optional<TimePoint> optional_timestamp(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return timestamp_of(f);
}

std::optional<int> optional_int(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int>();
}

std::vector<std::string> json_string_array(const pqxx::field& f) {
  std::vector<std::string> out;
  if (f.is_null()) return out;
  const auto parsed = boost::json::parse(f.c_str());
  for (const auto& v : parsed.as_array()) {
    out.emplace_back(v.as_string());
  }
  return out;
}

std::vector<int> json_int_array(const pqxx::field& f) {
  std::vector<int> out;
  if (f.is_null()) return out;
  const auto parsed = boost::json::parse(f.c_str());
  for (const auto& v : parsed.as_array()) {
    out.push_back(static_cast<int>(v.as_int64()));
  }
  return out;
}

std::optional<std::string> int_array_param(const std::optional<std::vector<int>>& items) {
  if (!items) return std::nullopt;
  std::string out = "{";
  for (std::size_t i = 0; i < items->size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string((*items)[i]);
  }
  return out + "}";
}

std::string text_array_literal(const std::vector<std::string>& items) {
  ArrayLiteral array;
  for (const auto& item : items)
    array.add(item);
  return array.str();
}

namespace {

// The binary array header: dimensions, the null flag, the element type, then the length and
// lower bound of the one dimension (array_recv in PostgreSQL's arrayfuncs.c).
constexpr std::size_t kArrayHeaderBytes = 20;
constexpr std::int32_t kTextOid = 25;

void write_int32(char* at, std::int32_t value) {
  const auto v = static_cast<std::uint32_t>(value);
  at[0] = static_cast<char>(v >> 24);
  at[1] = static_cast<char>(v >> 16);
  at[2] = static_cast<char>(v >> 8);
  at[3] = static_cast<char>(v);
}

}  // namespace

BinaryTextArray::BinaryTextArray(std::size_t reserve) : out_(kArrayHeaderBytes, '\0') {
  out_.reserve(kArrayHeaderBytes + reserve);
}

void BinaryTextArray::put_int32(std::int32_t value) {
  char bytes[4];
  write_int32(bytes, value);
  out_.append(bytes, sizeof bytes);
}

void BinaryTextArray::add(std::string_view item) {
  put_int32(static_cast<std::int32_t>(item.size()));
  out_.append(item);
  ++count_;
}

void BinaryTextArray::add_optional(const std::optional<std::string>& item) {
  if (item) {
    add(*item);
  } else {
    add_null();
  }
}

void BinaryTextArray::add_null() {
  put_int32(-1);
  has_null_ = true;
  ++count_;
}

pqxx::binarystring BinaryTextArray::param() {
  if (count_ == 0) {
    // No dimensions, and so no length or lower bound either.
    char empty[12];
    write_int32(empty, 0);
    write_int32(empty + 4, 0);
    write_int32(empty + 8, kTextOid);
    return pqxx::binarystring(empty, sizeof empty);
  }
  write_int32(out_.data(), 1);
  write_int32(out_.data() + 4, has_null_ ? 1 : 0);
  write_int32(out_.data() + 8, kTextOid);
  write_int32(out_.data() + 12, count_);
  write_int32(out_.data() + 16, 1);
  return pqxx::binarystring(out_.data(), out_.size());
}

void ArrayLiteral::separate() {
  if (out_.size() > 1) out_ += ',';
}

void ArrayLiteral::add(std::string_view item) {
  separate();
  out_ += '"';
  // Runs between the characters to escape are appended whole: bodies are long JSON texts.
  std::size_t run = 0;
  for (std::size_t i = 0; i < item.size(); ++i) {
    const char c = item[i];
    if (c != '"' && c != '\\') continue;
    out_.append(item.data() + run, i - run);
    out_ += '\\';
    out_ += c;
    run = i + 1;
  }
  out_.append(item.data() + run, item.size() - run);
  out_ += '"';
}

void ArrayLiteral::add_optional(const std::optional<std::string>& item) {
  if (item) {
    add(std::string_view(*item));
  } else {
    add_null();
  }
}

void ArrayLiteral::add_optional(const std::optional<int>& item) {
  separate();
  out_ += item ? std::to_string(*item) : std::string("NULL");
}

void ArrayLiteral::add_null() {
  separate();
  out_ += "NULL";
}

std::string sql_timestamp(TimePoint t) {
  using namespace std::chrono;
  const auto us = floor<microseconds>(t);
  const auto secs = floor<seconds>(us);
  return format_timestamp(secs).substr(0, 19) + fmt::format(".{:06}Z", (us - secs).count());
}

std::optional<std::string> timestamp_param(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return sql_timestamp(*t);
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> bytea_param(const std::optional<std::vector<std::uint8_t>>& bytes) {
  if (!bytes) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  for (const auto b : *bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace keyflow
