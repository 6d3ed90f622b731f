#include "http/request_target.hpp"

#include <algorithm>

#include <boost/url/parse.hpp>

#include "engine/core/errc.hpp"

namespace keyflow::http {
namespace {

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool is_text(std::string_view text) {
  return is_valid_utf8(text) && !has_control(text);
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    std::size_t length = 0;
    unsigned char min_second = 0x80, max_second = 0xbf;
    if (c < 0x80) {
      ++p;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) min_second = 0xa0;  // overlong
      if (c == 0xed) max_second = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) min_second = 0x90;  // overlong
      if (c == 0xf4) max_second = 0x8f;  // above U+10FFFF
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < length) return false;
    if (p[1] < min_second || p[1] > max_second) return false;
    for (std::size_t i = 2; i < length; ++i) {
      if (p[i] < 0x80 || p[i] > 0xbf) return false;
    }
    p += length;
  }
  return true;
}

RequestTarget parse_request_target(std::string_view target, std::size_t max_param_bytes) {
  const auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) throw Error(errc::malformed_request, "the request target is not a valid path");
  RequestTarget out;
  out.path = std::string(parsed->encoded_path());
  while (out.path.size() > 1 && out.path.back() == '/')
    out.path.pop_back();
  for (const auto& param : parsed->params()) {
    if (!is_text(param.key) || param.key.size() > 64) {
      throw Error(errc::invalid_argument, "a query parameter name is not valid text", "query");
    }
    if (!is_text(param.value)) {
      throw Error(errc::invalid_argument,
                  param.key + " must be text (UTF-8 without control characters)", param.key);
    }
    if (param.value.size() > max_param_bytes) {
      throw Error(errc::invalid_argument,
                  param.key + " must be at most " + std::to_string(max_param_bytes) + " bytes",
                  param.key);
    }
    out.query[param.key] = param.value;
  }
  return out;
}

}  // namespace keyflow::http
