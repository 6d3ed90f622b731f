#include "engine/validation.hpp"

#include <boost/url/parse.hpp>

#include "engine/errc.hpp"
#include "engine/sql_values.hpp"

namespace keyflow {

void require_name(std::string_view value, const std::string& field) {
  if (value.empty()) throw Error(errc::invalid_argument, field + " must not be empty", field);
  if (value.size() > 200) {
    throw Error(errc::invalid_argument, field + " must be at most 200 characters", field);
  }
}

void require_id(std::string_view value, const std::string& field) {
  if (!is_uuid(value)) throw Error(errc::invalid_argument, field + " is not a valid id", field);
}

void require_http_url(std::string_view value, const std::string& field) {
  const auto url = boost::urls::parse_absolute_uri(value);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty() ||
      value.size() > 2048) {
    throw Error(errc::invalid_argument, field + " must be an absolute http or https URL", field);
  }
}

}  // namespace keyflow
