#include "http/json_input.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "engine/core/errc.hpp"
#include "engine/core/time_format.hpp"
#include "engine/core/validation.hpp"

namespace keyflow::http {
namespace {

bool has_nul(std::string_view text) {
  return text.find('\0') != std::string_view::npos;
}

// U+0000 in a string, or a number too large for a double (Boost.JSON reads 1e400 as
// infinity, which serializes to text that is not JSON).
bool contains_nul(const boost::json::value& v) {
  if (v.is_double()) return !std::isfinite(v.as_double());
  if (v.is_string()) return has_nul(std::string_view(v.as_string()));
  if (v.is_array()) {
    for (const auto& item : v.as_array()) {
      if (contains_nul(item)) return true;
    }
  }
  if (v.is_object()) {
    for (const auto& [key, item] : v.as_object()) {
      if (has_nul(std::string_view(key)) || contains_nul(item)) return true;
    }
  }
  return false;
}

}  // namespace

JsonInput::JsonInput(std::string_view body, std::initializer_list<std::string_view> allowed) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec) throw Error(errc::malformed_request, "body is not valid JSON: " + ec.message());
  if (!value.is_object()) throw Error(errc::malformed_request, "body must be a JSON object");
  object_ = std::move(value.as_object());
  for (const auto& [key, field] : object_) {
    if (has_nul(std::string_view(key)))
      throw Error(errc::invalid_argument, "a field name contains U+0000");
    if (std::find(allowed.begin(), allowed.end(), std::string_view(key)) == allowed.end()) {
      throw Error(errc::invalid_argument, "unknown field '" + std::string(key) + "'",
                  std::string(key));
    }
    // PostgreSQL's text and jsonb cannot hold U+0000: refuse it here, naming the field,
    // rather than fail in the database.
    if (contains_nul(field)) {
      throw Error(errc::invalid_argument,
                  std::string(key) + " must not contain U+0000 or numbers out of range",
                  std::string(key));
    }
  }
}

const boost::json::value* JsonInput::find(std::string_view name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

bool JsonInput::is_null(std::string_view name) const {
  auto it = object_.find(name);
  return it != object_.end() && it->value().is_null();
}

std::optional<bool> JsonInput::optional_bool(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    throw Error(errc::invalid_argument, std::string(name) + " must be true or false",
                std::string(name));
  }
  return v->as_bool();
}

std::optional<std::string> JsonInput::optional_object(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    throw Error(errc::invalid_argument, std::string(name) + " must be a JSON object",
                std::string(name));
  }
  return boost::json::serialize(*v);
}

std::string JsonInput::required_string(std::string_view name) const {
  auto v = optional_string(name);
  if (!v)
    throw Error(errc::invalid_argument, std::string(name) + " is required", std::string(name));
  return *v;
}

std::optional<std::string> JsonInput::optional_string(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    throw Error(errc::invalid_argument, std::string(name) + " must be a string", std::string(name));
  }
  return std::string(v->as_string());
}

std::optional<std::string> JsonInput::optional_id(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  // An integer is read as its digits; anything but digits fails require_id, naming the field.
  std::string text;
  if (v->is_string()) text = v->as_string();
  if (v->is_int64()) text = std::to_string(v->as_int64());
  require_id(text, std::string(name));
  return text;
}

std::string JsonInput::required_id(std::string_view name) const {
  auto v = optional_id(name);
  if (!v)
    throw Error(errc::invalid_argument, std::string(name) + " is required", std::string(name));
  return *v;
}

std::optional<std::int64_t> JsonInput::optional_int(std::string_view name, std::int64_t min,
                                                    std::int64_t max) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(max)) {
    n = static_cast<std::int64_t>(v->as_uint64());
  } else {
    throw Error(errc::invalid_argument,
                std::string(name) + " must be an integer between " + std::to_string(min) + " and " +
                    std::to_string(max),
                std::string(name));
  }
  if (n < min || n > max) {
    throw Error(errc::invalid_argument,
                std::string(name) + " must be between " + std::to_string(min) + " and " +
                    std::to_string(max),
                std::string(name));
  }
  return n;
}

std::optional<TimePoint> JsonInput::optional_time(std::string_view name) const {
  auto text = optional_string(name);
  if (!text) return std::nullopt;
  auto t = parse_timestamp(*text);
  if (!t) {
    throw Error(errc::invalid_argument,
                std::string(name) +
                    " must be an RFC 3339 date-time between the years 1900 and 2200, such as "
                    "2030-01-01T00:00:00Z",
                std::string(name));
  }
  return t;
}

std::optional<std::vector<std::string>> JsonInput::optional_strings(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    throw Error(errc::invalid_argument, std::string(name) + " must be an array of strings",
                std::string(name));
  }
  std::vector<std::string> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) {
      throw Error(errc::invalid_argument, std::string(name) + " must be an array of strings",
                  std::string(name));
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<std::vector<std::int64_t>> JsonInput::optional_ints(std::string_view name,
                                                                  std::int64_t min,
                                                                  std::int64_t max) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  const auto fail = [&] {
    return Error(errc::invalid_argument,
                 std::string(name) + " must be an array of integers between " +
                     std::to_string(min) + " and " + std::to_string(max),
                 std::string(name));
  };
  if (!v->is_array()) throw fail();
  std::vector<std::int64_t> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_int64() || item.as_int64() < min || item.as_int64() > max) throw fail();
    out.push_back(item.as_int64());
  }
  return out;
}

std::optional<std::vector<std::string>> JsonInput::optional_string_list(
    std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr || !v->is_string()) return optional_strings(name);
  std::vector<std::string> out;
  std::string_view rest = v->as_string();
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

}  // namespace keyflow::http
