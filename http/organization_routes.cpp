#include "engine/core/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/tenant_requests.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

void add_organization_routes(Router& router, ApiContext& api) {
  auto& orgs = api.organizations;
  router.add(verb::post, "/v1/organizations", guarded(api.auth, [&orgs](Request& req) {
               return Response::of(status::created, to_json(orgs.create_organization(
                                                        *req.actor, read_name_request(req.body))));
             }));
  router.add(verb::get, "/v1/organizations/{id}", guarded(api.auth, [&orgs](Request& req) {
               return Response::of(status::ok,
                                   to_json(orgs.get_organization(*req.actor, req.param("id"))));
             }));
  router.add(verb::post, "/v1/projects", guarded(api.auth, [&orgs](Request& req) {
               const auto r = read_new_project(req.body);
               return Response::of(status::created,
                                   to_json(orgs.create_project(*req.actor, r.organization_id,
                                                               r.name, r.key_prefix)));
             }));
  router.add(verb::get, "/v1/projects/{id}", guarded(api.auth, [&orgs](Request& req) {
               return Response::of(status::ok,
                                   to_json(orgs.get_project(*req.actor, req.param("id"))));
             }));
  router.add(verb::post, "/v1/projects/{id}/environments", guarded(api.auth, [&orgs](Request& req) {
               return Response::of(status::created,
                                   to_json(orgs.create_environment(*req.actor, req.param("id"),
                                                                   read_name_request(req.body))));
             }));
  router.add(verb::get, "/v1/projects/{id}/environments", guarded(api.auth, [&orgs](Request& req) {
               boost::json::array out;
               for (const auto& e : orgs.list_environments(*req.actor, req.param("id"))) {
                 out.push_back(to_json(e));
               }
               return Response::of(status::ok, std::move(out));
             }));
}

}  // namespace keyflow::http
