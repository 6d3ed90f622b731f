#include "engine/core/validation.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/url/parse.hpp>

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"

namespace keyflow {

void require_name(std::string_view value, const std::string& field) {
  if (value.empty()) throw Error(errc::invalid_argument, field + " must not be empty", field);
  if (value.size() > 200) {
    throw Error(errc::invalid_argument, field + " must be at most 200 characters", field);
  }
}

void require_id(std::string_view value, const std::string& field) {
  if (!is_id(value)) {
    throw Error(
        errc::invalid_argument,
        field +
            " is not a valid id: an integer from 1 to 2^53 - 1, as a number or a string of digits",
        field);
  }
}

void require_http_url(std::string_view value, const std::string& field) {
  const auto invalid = [&] {
    return Error(errc::invalid_argument, field + " must be an absolute http or https URL", field);
  };
  const auto url = boost::urls::parse_absolute_uri(value);
  if (!url || value.size() > 2048) throw invalid();
  // What the webhook client can deliver to: http(s) in any case, a host name or an IPv4 or
  // IPv6 address (not IPvFuture), a port from 1 to 65535 when there is one.
  const auto scheme = url->scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https) throw invalid();
  const auto host_type = url->host_type();
  if (host_type == boost::urls::host_type::name) {
    const auto host = url->encoded_host();
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
        })) {
      throw invalid();
    }
  } else if (host_type != boost::urls::host_type::ipv4 &&
             host_type != boost::urls::host_type::ipv6) {
    throw invalid();
  }
  if (url->has_port()) {
    const auto port = url->port();
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number == 0 ||
        number > 65535) {
      throw invalid();
    }
  }
}

}  // namespace keyflow
