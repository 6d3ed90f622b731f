#include "engine/core/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/webhook_requests.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

void add_webhook_routes(Router& router, ApiContext& api) {
  auto create = guarded(api.auth, [&api](Request& req) {
    const auto created = api.subscriptions.create(*req.actor, read_new_subscription(req.body));
    auto body = to_json(created.subscription);
    body["secret"] = created.secret;
    return Response::of(status::created, std::move(body));
  });
  router.add(verb::post, "/v1/webhooks/subscriptions", create);
  // The path seed 000 documents.
  router.add(verb::post, "/api/v1/webhooks/subscriptions", create);
}

}  // namespace keyflow::http
