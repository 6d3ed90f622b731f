#include "http/error_mapping.hpp"

namespace keyflow::http {

static_assert(map_error(errc::not_found).status == boost::beast::http::status::not_found);
static_assert(map_error(errc::unauthenticated).code == "unauthorized");

}  // namespace keyflow::http
