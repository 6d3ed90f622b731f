#include "engine/errc.hpp"
#include "engine/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/json_input.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

namespace {

NewKey read_new_key(const std::string& body) {
  const JsonInput in(body, {"project_id", "organization_id", "name", "scopes", "expires_at",
                            "rotation_interval_days", "next_rotation_at", "rotation_webhook_url"});
  NewKey key;
  key.project_id = in.optional_string("project_id");
  key.organization_id = in.optional_string("organization_id");
  key.name = in.required_string("name");
  key.scopes = in.optional_strings("scopes").value_or(std::vector<std::string>{});
  key.expires_at = in.optional_time("expires_at");
  if (auto days = in.optional_int("rotation_interval_days", 1, 3650)) {
    key.rotation_interval_days = static_cast<int>(*days);
  }
  key.next_rotation_at = in.optional_time("next_rotation_at");
  key.rotation_webhook_url = in.optional_string("rotation_webhook_url");
  return key;
}

// Seed 002's rotate response.
boost::json::object rotation_json(const Rotation& r) {
  const auto fresh = to_json(r.new_key);
  return {{"old_key_id", r.old_key.id},
          {"new_key_id", r.new_key.id},
          {"project_id", fresh.at("project_id")},
          {"name", r.new_key.name},
          {"key", r.plaintext},
          {"key_prefix", r.new_key.key_prefix},
          {"scopes", fresh.at("scopes")},
          {"expires_at", fresh.at("expires_at")},
          {"created_at", fresh.at("created_at")},
          {"grace_expires_at", json_or_null(r.old_key.grace_expires_at)}};
}

boost::json::object verify_json(const VerifyResult& result) {
  boost::json::object out{{"valid", result.code == VerifyCode::valid},
                          {"code", to_string(result.code)}};
  if (result.key) {
    const auto& k = *result.key;
    out["key_id"] = k.id;
    out["organization_id"] = k.organization_id;
    out["project_id"] = json_or_null(k.project_id);
    out["name"] = k.name;
    out["scopes"] = to_json(k).at("scopes");
    out["expires_at"] = json_or_null(k.expires_at);
    out["replaced_by_key_id"] = json_or_null(k.replaced_by_key_id);
    out["grace_expires_at"] = json_or_null(k.grace_expires_at);
  }
  return out;
}

}  // namespace

void add_key_routes(Router& router, ApiContext& api) {
  router.add(verb::post, "/v1/api-keys", guarded(api.auth, [&api](Request& req) {
               const auto created = api.keys.create(*req.actor, read_new_key(req.body));
               auto body = to_json(created.key);
               body["key"] = created.plaintext;
               return Response::of(status::created, std::move(body));
             }));
  router.add(verb::get, "/v1/api-keys", guarded(api.auth, [&api](Request& req) {
               const auto project = req.query_param("project_id");
               if (!project) {
                 throw Error(errc::invalid_argument, "project_id is required", "project_id");
               }
               boost::json::array keys;
               for (const auto& k : api.keys.list_by_project(*project))
                 keys.push_back(to_json(k));
               return Response::of(status::ok, std::move(keys));
             }));
  router.add(verb::get, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               return Response::of(status::ok, to_json(api.keys.get(req.param("id"))));
             }));
  router.add(verb::delete_, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               api.keys.revoke(*req.actor, req.param("id"));
               return Response::empty(status::no_content);
             }));
  router.add(verb::post, "/v1/api-keys/{id}/rotate", guarded(api.auth, [&api](Request& req) {
               const JsonInput in(req.body, {"grace_period_seconds", "expires_at"});
               RotateOptions options;
               options.grace_period = std::chrono::seconds(
                   in.optional_int("grace_period_seconds", 0, 90L * 24 * 3600).value_or(0));
               options.expires_at = in.optional_time("expires_at");
               return Response::of(status::ok, rotation_json(api.keys.rotate(
                                                   *req.actor, req.param("id"), options)));
             }));
  router.add(verb::post, "/v1/api-keys/verify", guarded(api.auth, [&api](Request& req) {
               const JsonInput in(req.body, {"key"});
               return Response::of(status::ok,
                                   verify_json(api.keys.verify(in.required_string("key"))));
             }));
}

}  // namespace keyflow::http
