// Request bodies: every reader of http/*_requests.hpp, and JsonInput's accessors. The first
// byte picks the reader, the rest is the body (for the key list, the query string).
//
// Bad input must end in keyflow::Error of kind malformed_request (400) or invalid_argument
// (422) with a message and field that are valid UTF-8 (they go into the JSON error body);
// anything else that escapes, a crash or a sanitizer report is a finding. What is accepted
// holds no U+0000 (PostgreSQL's text cannot), and numbers and times lie in their ranges.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "http/connection_requests.hpp"
#include "http/json_input.hpp"
#include "http/key_requests.hpp"
#include "http/request_target.hpp"
#include "http/tenant_requests.hpp"
#include "http/webhook_requests.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using keyflow::errc;
using keyflow::Error;
using keyflow::TimePoint;
using keyflow::fuzz::accepts;
using keyflow::fuzz::has_nul;

void check_text(const std::string& s) {
  FUZZ_CHECK(!has_nul(s));
}
void check_text(const std::optional<std::string>& s) {
  if (s) check_text(*s);
}
void check_text(const std::vector<std::string>& v) {
  for (const auto& s : v)
    check_text(s);
}
void check_text(const std::optional<std::vector<std::string>>& v) {
  if (v) check_text(*v);
}
template <class T>
void check_text(const std::optional<std::optional<T>>& v) {
  if (v) check_text(*v);
}

// parse_timestamp's range, years 1900 to 2200, widened by a day for the offsets.
void check_time(const std::optional<TimePoint>& t) {
  using namespace std::chrono;
  if (!t) return;
  FUZZ_CHECK(*t >= sys_days{year{1899} / 12 / 31});
  FUZZ_CHECK(*t < sys_days{year{2201} / 1 / 2});
}
void check_time(const std::optional<std::optional<TimePoint>>& t) {
  if (t) check_time(*t);
}

bool holds_nul(const boost::json::value& v) {
  if (v.is_string()) return has_nul({v.as_string().data(), v.as_string().size()});
  if (v.is_array()) {
    for (const auto& item : v.as_array()) {
      if (holds_nul(item)) return true;
    }
  }
  if (v.is_object()) {
    for (const auto& [key, item] : v.as_object()) {
      if (has_nul({key.data(), key.size()}) || holds_nul(item)) return true;
    }
  }
  return false;
}

// A serialized meta object: JSON that reads back as an object, with no U+0000 at any depth.
void check_meta(const std::optional<std::string>& meta) {
  if (!meta) return;
  boost::system::error_code ec;
  const auto v = boost::json::parse(*meta, ec);
  FUZZ_CHECK(!ec && v.is_object());
  FUZZ_CHECK(!holds_nul(v));
}

void check_error(const Error& e) {
  FUZZ_CHECK(e.kind() == errc::malformed_request || e.kind() == errc::invalid_argument);
  FUZZ_CHECK(!e.message().empty());
  FUZZ_CHECK(keyflow::http::is_valid_utf8(e.message()));
  FUZZ_CHECK(keyflow::http::is_valid_utf8(e.field()));
}

template <class F>
void read(F&& f) {
  accepts(f, check_error);
}

// The key list's query as the server hands it over: parsed and decoded by
// parse_request_target, or, to reach read_int_param with any bytes, split on & and = as is.
keyflow::http::Request list_request(std::string_view query, bool decoded) {
  keyflow::http::Request request;
  if (decoded) {
    read([&] {
      request.query =
          keyflow::http::parse_request_target("/v1/api-keys?" + std::string(query)).query;
    });
    return request;
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    request.query[std::string(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return request;
}

// Every accessor on every field of a body that may hold any of the readers' fields: the
// combinations the readers do not make (an int read as a string, a range at the extremes).
void read_generic(std::string_view body) {
  std::optional<keyflow::http::JsonInput> in;
  read([&] {
    in.emplace(body, std::initializer_list<std::string_view>{
                         "name", "scopes", "expires_at", "meta", "enabled", "key", "url",
                         "grace_period_seconds", "rotation_interval_days", "allowed_cidrs", "id"});
  });
  if (!in) return;
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  for (const char* name :
       {"name", "scopes", "expires_at", "meta", "enabled", "key", "url", "grace_period_seconds",
        "rotation_interval_days", "allowed_cidrs", "id", "absent"}) {
    read([&] { check_text(in->optional_string(name)); });
    read([&] { check_text(in->required_string(name)); });
    read([&] { in->optional_bool(name); });
    read([&] { check_meta(in->optional_object(name)); });
    read([&] { check_time(in->optional_time(name)); });
    read([&] { check_text(in->optional_strings(name)); });
    for (const auto& [lo, hi] : {std::pair{kMin, kMax}, std::pair{std::int64_t{0}, kMax},
                                 std::pair{std::int64_t{-5}, std::int64_t{5}},
                                 std::pair{std::int64_t{1}, std::int64_t{3650}}}) {
      read([&, lo = lo, hi = hi] {
        const auto n = in->optional_int(name, lo, hi);
        FUZZ_CHECK(!n || (*n >= lo && *n <= hi));
      });
    }
    FUZZ_CHECK(!in->is_null(name) || in->has(name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  namespace h = keyflow::http;
  switch (data[0] % 13) {
    case 0:
      read([&] {
        const auto k = h::read_new_key(body);
        check_text(k.project_id);
        check_text(k.organization_id);
        check_text(k.environment_id);
        check_text(k.name);
        check_text(k.scopes);
        check_text(k.rotation_webhook_url);
        check_text(k.allowed_cidrs);
        check_meta(k.meta);
        check_time(k.expires_at);
        check_time(k.next_rotation_at);
        FUZZ_CHECK(!k.rotation_interval_days ||
                   (*k.rotation_interval_days >= 1 && *k.rotation_interval_days <= 3650));
      });
      break;
    case 1:
      read([&] {
        const auto p = h::read_key_patch(body);
        check_text(p.name);
        check_text(p.scopes);
        check_text(p.rotation_webhook_url);
        check_text(p.environment_id);
        check_text(p.allowed_cidrs);
        check_time(p.expires_at);
        if (p.meta) check_meta(*p.meta);
        if (p.rotation_interval_days && *p.rotation_interval_days) {
          FUZZ_CHECK(**p.rotation_interval_days >= 1 && **p.rotation_interval_days <= 3650);
        }
      });
      break;
    case 2:
      read([&] {
        const auto o = h::read_rotate_options(body);
        FUZZ_CHECK(o.grace_period.count() >= 0 && o.grace_period.count() <= 90L * 24 * 3600);
        check_time(o.expires_at);
      });
      break;
    case 3:
      read([&] {
        const auto v = h::read_verify_request(body);
        check_text(v.key);
        check_text(v.ip);
        check_text(v.scopes);
      });
      break;
    case 4:
    case 5: {
      const auto request = list_request(body, data[0] % 13 == 4);
      read([&] {
        const auto r = h::read_key_list_request(request);
        FUZZ_CHECK(r.limit >= 1 && r.limit <= 1000);
      });
      break;
    }
    case 6:
      read([&] { check_text(h::read_name_request(body)); });
      break;
    case 7:
      read([&] {
        const auto p = h::read_new_project(body);
        check_text(p.organization_id);
        check_text(p.name);
        check_text(p.key_prefix);
      });
      break;
    case 8:
      read([&] {
        const auto s = h::read_new_subscription(body);
        check_text(s.url);
        check_text(s.event_types);
        check_text(s.project_id);
        check_text(s.organization_id);
      });
      break;
    case 9:
      read([&] {
        const auto c = h::read_new_connection(body);
        check_text(c.project_id);
        check_text(c.type);
        check_text(c.name);
      });
      break;
    case 10:
      read([&] { h::read_empty_body(body); });
      break;
    case 11:
      read([&] { check_text(h::read_write_key_verify(body)); });
      break;
    default:
      read_generic(body);
      break;
  }
  return 0;
}
