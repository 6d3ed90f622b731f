#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/request.hpp"

namespace keyflow::http {

using Handler = std::function<Response(Request&)>;

// Method + path pattern ("/v1/api-keys/{id}/rotate") to handler. Literal segments win over
// parameters, so /v1/api-keys/verify is not taken for a key id.
class Router {
 public:
  struct Route {
    boost::beast::http::verb method;
    std::string pattern;
    Handler handler;
  };

  void add(boost::beast::http::verb method, std::string pattern, Handler handler);

  // Runs the matching handler; engine errors become their mapped error responses, so that
  // nothing throws past this point. Unknown paths are 404, known paths with another method 405.
  Response dispatch(Request& request) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace keyflow::http
