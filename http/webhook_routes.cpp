#include "engine/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/json_input.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

void add_webhook_routes(Router& router, ApiContext& api) {
  auto create = guarded(api.auth, [&api](Request& req) {
    const JsonInput in(req.body, {"url", "event_types", "project_id", "organization_id"});
    NewSubscription request;
    request.url = in.required_string("url");
    request.event_types = in.optional_strings("event_types").value_or(std::vector<std::string>{});
    request.project_id = in.optional_string("project_id");
    request.organization_id = in.optional_string("organization_id");
    const auto created = api.subscriptions.create(*req.actor, request);
    auto body = to_json(created.subscription);
    body["secret"] = created.secret;
    return Response::of(status::created, std::move(body));
  });
  router.add(verb::post, "/v1/webhooks/subscriptions", create);
  // The path seed 000 documents.
  router.add(verb::post, "/api/v1/webhooks/subscriptions", create);
}

}  // namespace keyflow::http
