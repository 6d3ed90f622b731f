#include "http/query_params.hpp"

#include <charconv>

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

}  // namespace keyflow::http
