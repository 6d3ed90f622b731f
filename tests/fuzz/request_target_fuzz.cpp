// The request target and the router: the input is a request target as it arrives on the
// request line ("/v1/api-keys/{id}?limit=10").
//
// - is_valid_utf8 agrees with a decoder written from RFC 3629.
// - parse_request_target throws only keyflow::Error; what it accepts is a path of visible
//   ASCII (it may reach a header: CR and LF never can) starting with '/', and query names
//   and values that are UTF-8 without control characters, within their size limits.
// - Router::dispatch never throws, for any method and any path (parsed or raw bytes): an
//   unknown path is 404, a known path with another method 405, each handler gets the
//   parameters of its pattern, and an exception in a handler becomes its mapped status.
//   A handler's behaviour is picked by its {id}'s first character, as real handlers echo
//   ids in their errors.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/json/serialize.hpp>
#include <pqxx/except.hxx>
#include <spdlog/spdlog.h>

#include "http/request_target.hpp"
#include "http/router.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using boost::beast::http::status;
using boost::beast::http::verb;
using keyflow::http::Request;
using keyflow::http::Response;

// RFC 3629 decoding, the plain way: the code point's length from its lead byte, then the
// shortest form, no surrogates and nothing above U+10FFFF.
bool reference_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length;
    std::uint32_t cp;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2, cp = lead & 0x1fu;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, cp = lead & 0x0fu;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, cp = lead & 0x07u;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3fu);
    }
    constexpr std::uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kShortest[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

bool is_text(std::string_view s) {
  if (!keyflow::http::is_valid_utf8(s)) return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

// What the dummy handlers saw, so that the test can check the dispatch.
struct Seen {
  const char* route = nullptr;
};
Seen seen;

keyflow::http::Handler handler(const char* route, std::initializer_list<const char*> params) {
  std::vector<std::string> names(params.begin(), params.end());
  return [route, names](Request& request) -> Response {
    seen.route = route;
    FUZZ_CHECK(request.path_params.size() == names.size());
    for (const auto& name : names) {
      const auto it = request.path_params.find(name);
      FUZZ_CHECK(it != request.path_params.end());
      FUZZ_CHECK(!it->second.empty() && it->second.find('/') == std::string::npos);
    }
    const auto& first = names.empty() ? std::string() : request.path_params.at(names.front());
    switch (first.empty() ? 'o' : first.front()) {
      case 'e':
        throw keyflow::Error(keyflow::errc::invalid_argument, first + " is not a valid id",
                             names.front());
      case 'n':
        throw keyflow::Error(keyflow::errc::not_found, "no " + first, names.front());
      case 'r':
        throw std::runtime_error("handler failed on " + first);
      case 'b':
        throw pqxx::broken_connection("database went away");
      default:
        return Response::empty(status::no_content);
    }
  };
}

const keyflow::http::Router& router() {
  static const keyflow::http::Router r = [] {
    keyflow::http::Router r;
    r.add(verb::get, "/healthz", handler("healthz", {}));
    r.add(verb::get, "/v1/api-keys", handler("list keys", {}));
    r.add(verb::post, "/v1/api-keys", handler("create key", {}));
    r.add(verb::post, "/v1/api-keys/verify", handler("verify", {}));
    r.add(verb::get, "/v1/api-keys/{id}", handler("get key", {"id"}));
    r.add(verb::patch, "/v1/api-keys/{id}", handler("patch key", {"id"}));
    r.add(verb::delete_, "/v1/api-keys/{id}", handler("revoke key", {"id"}));
    r.add(verb::post, "/v1/api-keys/{id}/rotate", handler("rotate key", {"id"}));
    r.add(verb::get, "/v1/projects/{id}/environments", handler("environments", {"id"}));
    r.add(verb::get, "/v1/connections/{id}/event-write-keys", handler("write keys", {"id"}));
    r.add(verb::delete_, "/v1/connections/{id}/event-write-keys/{key}",
          handler("delete write key", {"id", "key"}));
    return r;
  }();
  return r;
}

void check_dispatch(std::string_view path, bool parsed) {
  for (const verb method : {verb::get, verb::post, verb::patch, verb::delete_, verb::put}) {
    Request request;
    request.method = method;
    request.path = std::string(path);
    seen = {};
    std::optional<Response> response;
    try {
      response = router().dispatch(request);
    } catch (...) {
      keyflow::fuzz::fail("Router::dispatch threw", __FILE__, __LINE__);
    }
    FUZZ_CHECK(response->json.has_value() || response->status == status::no_content);
    if (seen.route == nullptr) {
      FUZZ_CHECK(response->status == status::not_found ||
                 response->status == status::method_not_allowed);
    } else if (response->status != status::no_content) {
      FUZZ_CHECK(response->status == status::unprocessable_entity ||
                 response->status == status::not_found ||
                 response->status == status::internal_server_error ||
                 response->status == status::service_unavailable);
    }
    // A literal segment wins over a parameter.
    if (path == "/v1/api-keys/verify" && method == verb::post) {
      FUZZ_CHECK(seen.route && std::string_view(seen.route) == "verify");
    }
    if (response->json) {
      const auto body = boost::json::serialize(*response->json);
      // The error body echoes what the handler put in its message: from a parsed target
      // that is ASCII, and the body must stay UTF-8.
      if (parsed) FUZZ_CHECK(keyflow::http::is_valid_utf8(body));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Handlers that throw are logged by the router; the fuzzer runs millions of them.
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(keyflow::http::is_valid_utf8(target) == reference_utf8(target));

  std::optional<keyflow::http::RequestTarget> parsed;
  keyflow::fuzz::accepts([&] { parsed = keyflow::http::parse_request_target(target, 64); },
                         [](const keyflow::Error& e) {
                           FUZZ_CHECK(e.kind() == keyflow::errc::malformed_request ||
                                      e.kind() == keyflow::errc::invalid_argument);
                           FUZZ_CHECK(is_text(e.message()) && is_text(e.field()));
                         });
  if (parsed) {
    const auto& path = parsed->path;
    FUZZ_CHECK(!path.empty() && path.front() == '/');
    FUZZ_CHECK(path == "/" || path.back() != '/');
    for (const char c : path)
      FUZZ_CHECK(c > 0x20 && c < 0x7f);
    for (const auto& [name, value] : parsed->query) {
      FUZZ_CHECK(is_text(name) && name.size() <= 64);
      FUZZ_CHECK(is_text(value) && value.size() <= 64);
    }
    check_dispatch(path, true);
  }
  check_dispatch(target, false);
  return 0;
}
