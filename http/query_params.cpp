#include "http/query_params.hpp"

#include <charconv>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "engine/core/errc.hpp"

namespace keyflow::http {

int read_int_param(const Request& request, const std::string& name, int min, int max,
                   int fallback) {
  const auto text = request.query_param(name);
  if (!text) return fallback;
  int value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size() || value < min ||
      value > max) {
    throw Error(
        errc::invalid_argument,
        name + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max),
        name);
  }
  return value;
}

std::string next_page_link(const std::string& path, const ListFilters& filters, int limit,
                           const std::string& cursor) {
  const auto encode = [](const std::string& v) {
    return boost::urls::encode(v, boost::urls::unreserved_chars);
  };
  std::string next = path + "?";
  for (const auto& [name, value] : filters) {
    if (value) next += std::string(name) + "=" + encode(*value) + "&";
  }
  next += "limit=" + std::to_string(limit) + "&cursor=" + encode(cursor);
  return "<" + next + ">; rel=\"next\"";
}

Response list_page(boost::json::array items, const std::optional<std::string>& next_cursor,
                   const std::string& path, const ListFilters& filters, int limit) {
  auto response = Response::of(boost::beast::http::status::ok, std::move(items));
  if (next_cursor) {
    response.headers.emplace_back("X-Next-Cursor", *next_cursor);
    response.headers.emplace_back("Link", next_page_link(path, filters, limit, *next_cursor));
  }
  return response;
}

}  // namespace keyflow::http
