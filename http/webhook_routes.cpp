#include "engine/core/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/query_params.hpp"
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
  auto list = guarded(api.auth, [&api](Request& req) {
    const auto request = read_subscription_list_request(req);
    const auto page = api.subscriptions.list(*req.actor, request);
    boost::json::array subscriptions;
    for (const auto& s : page.subscriptions)
      subscriptions.push_back(to_json(s));
    return list_page(
        std::move(subscriptions), page.next_cursor, "/v1/webhooks/subscriptions",
        {{"organization_id", request.organization_id}, {"project_id", request.project_id}},
        request.limit);
  });
  auto get = guarded(api.auth, [&api](Request& req) {
    return Response::of(status::ok, to_json(api.subscriptions.get(*req.actor, req.param("id"))));
  });
  auto patch = guarded(api.auth, [&api](Request& req) {
    return Response::of(status::ok,
                        to_json(api.subscriptions.update(*req.actor, req.param("id"),
                                                         read_subscription_patch(req.body))));
  });
  auto remove = guarded(api.auth, [&api](Request& req) {
    api.subscriptions.remove(*req.actor, req.param("id"));
    return Response::empty(status::no_content);
  });
  auto secret = guarded(api.auth, [&api](Request& req) {
    return Response::of(
        status::ok,
        boost::json::object{{"secret", api.subscriptions.secret(*req.actor, req.param("id"))}});
  });
  auto rotate_secret = guarded(api.auth, [&api](Request& req) {
    const auto rotated =
        api.subscriptions.rotate_secret(*req.actor, req.param("id"), read_secret_overlap(req.body));
    return Response::of(
        status::ok, boost::json::object{
                        {"secret", rotated.secret},
                        {"previous_secret_expires_at", json_or_null(rotated.previous_expires_at)}});
  });
  // Each also under the path seed 000 documents.
  for (const std::string prefix : {"/v1", "/api/v1"}) {
    router.add(verb::post, prefix + "/webhooks/subscriptions", create);
    router.add(verb::get, prefix + "/webhooks/subscriptions", list);
    router.add(verb::get, prefix + "/webhooks/subscriptions/{id}", get);
    router.add(verb::patch, prefix + "/webhooks/subscriptions/{id}", patch);
    router.add(verb::delete_, prefix + "/webhooks/subscriptions/{id}", remove);
    router.add(verb::get, prefix + "/webhooks/subscriptions/{id}/secret", secret);
    router.add(verb::post, prefix + "/webhooks/subscriptions/{id}/rotate-secret", rotate_secret);
  }
}

}  // namespace keyflow::http
