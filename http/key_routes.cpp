#include <array>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include "engine/core/errc.hpp"
#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"
#include "http/api_routes.hpp"
#include "http/json_input.hpp"
#include "http/key_requests.hpp"
#include "http/query_params.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

namespace {

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

// The key's part of verify's answer, without its braces: the fields of the key's JSON (to_json)
// that verify shows, rendered alone, since the rest would be formatted only to be dropped. Made
// once per cached state of the key (SharedKey::rendered), in a buffer on the stack.
std::string verify_key_fields(const ApiKey& k) {
  std::array<unsigned char, 4096> buffer;
  boost::json::monotonic_resource memory(buffer.data(), buffer.size());
  const boost::json::storage_ptr storage(&memory);
  const auto text = [&](std::string_view s) { return boost::json::value(s, storage); };
  const auto text_or_null = [&](const std::optional<std::string>& s) {
    return s ? text(*s) : boost::json::value(nullptr, storage);
  };
  const auto time_or_null = [&](const std::optional<TimePoint>& t) {
    return t ? text(format_timestamp(*t)) : boost::json::value(nullptr, storage);
  };
  boost::json::object out(storage);
  out.reserve(11);
  out.emplace("key_id", text(k.id));
  out.emplace("organization_id", text(k.organization_id));
  out.emplace("project_id", text_or_null(k.project_id));
  out.emplace("environment_id", text_or_null(k.environment_id));
  out.emplace("name", text(k.name));
  boost::json::array scopes(storage);
  scopes.reserve(k.scopes.size());
  for (const auto& scope : k.scopes)
    scopes.emplace_back(text(scope));
  out.emplace("scopes", std::move(scopes));
  out.emplace("enabled", k.enabled);
  out.emplace("expires_at", time_or_null(k.expires_at));
  out.emplace("replaced_by_key_id", text_or_null(k.replaced_by_key_id));
  out.emplace("grace_expires_at", time_or_null(k.grace_expires_at));
  out.emplace("meta",
              k.meta ? boost::json::parse(*k.meta, storage) : boost::json::value(nullptr, storage));
  auto fields = boost::json::serialize(out);
  return fields.substr(1, fields.size() - 2);
}

// Verify's answer: valid and code, then the key's fields as rendered for its cached state.
Response verify_response(const VerifyResult& result) {
  const bool valid = result.code == VerifyCode::valid;
  const auto code = to_string(result.code);  // upper-case letters and underscores only
  Response response;
  auto& body = response.text;
  body.reserve(320);
  body.append(valid ? R"({"valid":true,"code":")" : R"({"valid":false,"code":")");
  body.append(code);
  body.push_back('"');
  if (result.key) {
    body.push_back(',');
    body.append(result.key->rendered(verify_key_fields));
  }
  body.push_back('}');
  return response;
}

}  // namespace

void add_key_routes(Router& router, ApiContext& api) {
  router.add(verb::post, "/v1/api-keys", guarded(api.auth, [&api](Request& req) {
               const auto created = api.keys.create(*req.actor, read_new_key(req.body));
               auto body = to_json(created.key);
               body["key"] = created.plaintext;
               if (created.rotation_webhook_secret) {
                 body["rotation_webhook_secret"] = *created.rotation_webhook_secret;
               }
               return Response::of(status::created, std::move(body));
             }));
  router.add(verb::get, "/v1/api-keys", guarded(api.auth, [&api](Request& req) {
               const auto request = read_key_list_request(req);
               const auto page = api.keys.list(*req.actor, request);
               boost::json::array keys;
               for (const auto& k : page.keys)
                 keys.push_back(to_json(k));
               // Seed 002's bare array stays the body; the next page travels in headers.
               return list_page(std::move(keys), page.next_cursor, "/v1/api-keys",
                                {{"organization_id", request.organization_id},
                                 {"project_id", request.project_id},
                                 {"environment_id", request.environment_id},
                                 {"state", request.state}},
                                request.limit);
             }));
  router.add(verb::get, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               return Response::of(status::ok, to_json(api.keys.get(*req.actor, req.param("id"))));
             }));
  router.add(verb::patch, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               const auto updated =
                   api.keys.update(*req.actor, req.param("id"), read_key_patch(req.body));
               auto body = to_json(updated.key);
               if (updated.rotation_webhook_secret) {
                 body["rotation_webhook_secret"] = *updated.rotation_webhook_secret;
               }
               return Response::of(status::ok, std::move(body));
             }));
  router.add(
      verb::post, "/v1/api-keys/{id}/rotation-secret", guarded(api.auth, [&api](Request& req) {
        read_empty_body(req.body);
        return Response::of(
            status::ok,
            boost::json::object{{"rotation_webhook_secret",
                                 api.keys.issue_rotation_secret(*req.actor, req.param("id"))}});
      }));
  router.add(verb::delete_, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               api.keys.revoke(*req.actor, req.param("id"));
               return Response::empty(status::no_content);
             }));
  router.add(verb::post, "/v1/api-keys/{id}/rotate", guarded(api.auth, [&api](Request& req) {
               const auto options = read_rotate_options(req.body);
               return Response::of(status::ok, rotation_json(api.keys.rotate(
                                                   *req.actor, req.param("id"), options)));
             }));
  // Verify is the hot path of every caller's own requests: tried on the I/O thread first, it
  // answers a cached key (and a cached caller) without a hop to the worker pool.
  // keyflow_verify_total by code, each counter resolved once, here.
  std::vector<Metrics::Counter*> outcomes;
  for (auto code = static_cast<int>(VerifyCode::valid);
       code <= static_cast<int>(VerifyCode::malformed); ++code) {
    outcomes.push_back(
        &api.metrics.counter("keyflow_verify_total{code=\"" +
                                 std::string(to_string(static_cast<VerifyCode>(code))) + "\"}",
                             "Verify answers by code: VALID, REVOKED, EXPIRED, NOT_FOUND, ..."));
  }
  router.add(verb::post, "/v1/api-keys/verify",
             guarded(api.auth,
                     [&api, outcomes = std::move(outcomes)](Request& req) {
                       const auto request = read_verify_request(req.body);
                       const auto result = api.keys.verify(*req.actor, request);
                       outcomes.at(static_cast<std::size_t>(result.code))->inc();
                       return verify_response(result);
                     }),
             Router::Runs::cache_first);
}

}  // namespace keyflow::http
