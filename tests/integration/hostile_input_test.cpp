// Hostile input never breaks the server: every route of schemas/openapi.yaml, swept with a
// corpus of bad path segments, query values and bodies (NUL, invalid UTF-8, control bytes,
// overlong strings, numbers out of range, deep nesting), answers with a 4xx (or a success)
// and never a 5xx, and no response header carries request bytes.
#include <algorithm>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/api_server.hpp"
#include "tests/support/openapi_spec.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using Route = test::OpenApiSpec::Route;

// Path segments, already percent-encoded as a client would send them.
const std::vector<std::string> kHostileSegments = {"%00",
                                                   "%ff",
                                                   "%0d%0aX-Injected:%20yes",
                                                   "..",
                                                   "%2e%2e%2f",
                                                   std::string(3000, '9'),
                                                   "-1",
                                                   "0",
                                                   "9007199254740993",
                                                   "1e999",
                                                   "%27%20OR%201%3D1--",
                                                   "00000000-0000-0000-0000-000000000000",
                                                   "%C0%80",
                                                   "%ED%A0%80"};

// Query values, percent-encoded.
const std::vector<std::string> kHostileQueryValues = {"%00",
                                                      "%ff",
                                                      "a%00b",
                                                      "%0d%0aX-Injected:%20yes",
                                                      std::string(5000, 'a'),
                                                      "-1",
                                                      "99999999999999999999",
                                                      "%C0%80",
                                                      "1e3",
                                                      "",
                                                      "%2B1",
                                                      " 1",
                                                      "%27"};

// JSON values for a body field.
std::vector<json::value> hostile_values() {
  json::value deep = json::array{};
  for (int i = 0; i < 30; ++i)
    deep = json::array{deep};
  json::array many;
  for (int i = 0; i < 2000; ++i)
    many.emplace_back("x");
  return {json::string(std::string("\0", 1)),
          json::string(std::string("a\0b", 3)),
          json::string(std::string(5000, 'x')),
          json::string(""),
          json::string("\r\nX-Injected: yes"),
          json::string("\xe2\x80\xae"),  // U+202E, right-to-left override
          json::string("' OR '1'='1"),
          json::string("-1"),
          json::string("9223372036854775808"),
          json::string("2030-02-30T25:61:61Z"),
          json::string("http://[::1"),
          json::value(-1),
          json::value(0),
          json::value(std::int64_t{9223372036854775807}),
          json::value(std::uint64_t{18446744073709551615u}),
          json::value(-9223372036854775807LL - 1),
          json::value(1e308),
          json::value(1.5),
          json::value(true),
          json::value(nullptr),
          json::array{},
          json::object{},
          json::array{nullptr},
          json::array{json::string(std::string("\0", 1))},
          json::object{{std::string("\0", 1), 1}},
          std::move(many),
          std::move(deep)};
}

// Whole bodies that are not what any route expects.
std::vector<std::string> hostile_bodies() {
  std::string nested(10000, '[');
  nested += std::string(10000, ']');
  return {"",
          "null",
          "[]",
          "{",
          "\xff\xfe",
          R"({"name":")"
          "\xff"
          R"("})",
          R"({"name":"\ud800"})",
          R"({"name":"a","name":"b"})",
          R"({"name":1e99999})",
          R"({"name":-0})",
          nested};
}

class HostileInputTest : public ::testing::Test {
 protected:
  HostileInputTest() {
    org = id_of(server.create("/v1/organizations", {{"name", "acme"}}));
    project = id_of(server.create("/v1/projects", {{"organization_id", org}, {"name", "p"}}));
    const auto key =
        server.create("/v1/api-keys",
                      {{"project_id", project}, {"name", "k"}, {"scopes", json::array{"MANAGE"}}});
    manager = std::string(key.at("key").as_string());
    // The key the /v1/api-keys/{id} routes act on: not the manager, which must keep working.
    key_id = id_of(server.create("/v1/api-keys", {{"project_id", project}, {"name", "target"}}));
    const auto connection =
        server.create("/v1/connections", {{"project_id", project}, {"type", "sdk"}, {"name", "c"}});
    connection_id = id_of(connection);
    write_key = std::string(connection.at("key").as_string());
  }

  static std::string id_of(const json::object& o) {
    const auto& id = o.at("id");
    return id.is_string() ? std::string(id.as_string()) : json::serialize(id);
  }

  // The pattern with every {name} replaced by an id that exists, so that bodies get as far
  // as the engine's own validation.
  std::string with_real_ids(const std::string& pattern) const {
    std::string path = pattern;
    const auto replace = [&](const std::string& name, const std::string& value) {
      for (auto at = path.find(name); at != std::string::npos; at = path.find(name))
        path.replace(at, name.size(), value);
    };
    replace("{key}", write_key);
    if (path.starts_with("/v1/organizations/")) replace("{id}", org);
    if (path.starts_with("/v1/projects/")) replace("{id}", project);
    if (path.starts_with("/v1/api-keys/")) replace("{id}", key_id);
    if (path.starts_with("/v1/connections/")) replace("{id}", connection_id);
    return path;
  }

  // Sends one request as each caller and records every 5xx and every injected header.
  void send(const std::string& method, const std::string& target, const std::string& body) {
    for (const auto& bearer : {std::string(test::kAdminToken), manager}) {
      const auto r = server.client(bearer).request(method, target, body);
      ++sent;
      ++statuses[r.status];
      if (r.status >= 500 || r.status == 0) {
        failures.push_back(std::to_string(r.status) + " " + method + " " + target.substr(0, 200) +
                           " body " + body.substr(0, 200) + " -> " + r.body.substr(0, 300));
      }
      if (r.headers.contains("x-injected")) failures.push_back("header injected: " + target);
    }
  }

  test::ApiServer server;
  test::OpenApiSpec spec;
  std::string org, project, key_id, manager, connection_id, write_key;
  std::vector<std::string> failures;
  std::size_t sent = 0;
  std::map<int, std::size_t> statuses;
};

std::string upper(std::string method) {
  std::transform(method.begin(), method.end(), method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return method;
}

TEST_F(HostileInputTest, NoRouteAnswersA5xxToHostileInput) {
  auto operations = spec.operations();
  std::vector<Route> routes;
  for (const auto& [route, _] : operations)
    routes.push_back(route);
  // Deletes last, so that the resources the other routes use still exist.
  std::stable_partition(routes.begin(), routes.end(),
                        [](const Route& r) { return r.first != "delete"; });
  const auto values = hostile_values();
  const auto bodies = hostile_bodies();

  for (const auto& route : routes) {
    const auto method = upper(route.first);
    const auto path = with_real_ids(route.second);
    const bool has_body = method == "POST" || method == "PATCH" || method == "PUT";
    const std::string valid_body = has_body ? "{}" : "";

    // Each path parameter in turn, hostile.
    for (const auto& name : spec.parameters(route, "path")) {
      for (const auto& segment : kHostileSegments) {
        std::string target = route.second;
        target.replace(target.find("{" + name + "}"), name.size() + 2, segment);
        send(method, with_real_ids(target), valid_body);
      }
    }
    // Each documented query parameter, and names no route knows.
    auto query = spec.parameters(route, "query");
    query.push_back("%0d%0aX-Injected:%20yes");
    query.push_back("%ff");
    for (const auto& name : query) {
      for (const auto& value : kHostileQueryValues) {
        send(method, path + "?" + name + "=" + value + "&project_id=" + project, valid_body);
      }
    }
    if (!has_body) continue;
    // Each body property in turn, hostile; then whole hostile bodies.
    for (const auto& property : spec.body_properties(route)) {
      for (const auto& value : values) {
        send(method, path, json::serialize(json::object{{property, value}}));
      }
    }
    for (const auto& body : bodies)
      send(method, path, body);
  }

  std::printf("sent %zu hostile requests over %zu routes; answers:", sent, routes.size());
  for (const auto& [status, count] : statuses)
    std::printf(" %d x%zu", status, count);
  std::printf("\n");
  EXPECT_GT(sent, 1000u);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, the first:\n"
                                << (failures.empty() ? "" : failures.front());
  for (std::size_t i = 0; i < std::min<std::size_t>(failures.size(), 20); ++i)
    ADD_FAILURE() << failures[i];
}

TEST_F(HostileInputTest, RequestBytesNeverReachTheLinkHeader) {
  for (int i = 0; i < 3; ++i)
    server.create("/v1/api-keys", {{"project_id", project}, {"name", "k" + std::to_string(i)}});
  const auto c = server.client();
  // CR LF in a parameter name: refused before any header is built.
  const auto injected =
      c.get("/v1/api-keys?project_id=" + project + "&limit=1&%0d%0aX-Injected:%20yes=1");
  test::expect_error(injected, 422, "invalid_request", "query");
  EXPECT_FALSE(injected.headers.contains("x-injected"));

  // A well-formed page: Link carries only the validated filters, each encoded.
  const auto page = c.get("/v1/api-keys?project_id=" + project + "&limit=1&unknown=%3Cx%3E");
  ASSERT_EQ(page.status, 200) << page.body;
  const auto& link = page.headers.at("link");
  EXPECT_EQ(link.find("unknown"), std::string::npos) << link;
  EXPECT_NE(link.find("project_id=" + project), std::string::npos) << link;
  EXPECT_NE(link.find("limit=1"), std::string::npos) << link;
  EXPECT_EQ(link.find_first_of("\r\n<>", 1), link.find('>')) << link;
}

TEST_F(HostileInputTest, NulAndInvalidUtf8AreClearClientErrors) {
  const auto c = server.client();
  test::expect_error(
      c.request("POST", "/v1/api-keys",
                json::serialize(json::object{{"project_id", project},
                                             {"name", json::string(std::string("a\0b", 3))}})),
      422, "invalid_request", "name");
  test::expect_error(c.get("/v1/events?type=%ff"), 422, "invalid_request", "type");
  test::expect_error(c.get("/v1/api-keys?project_id=%00"), 422, "invalid_request", "project_id");
  test::expect_error(c.request("POST", "/v1/organizations", "{\"name\":\"\xff\"}"), 400,
                     "invalid_json");
}

}  // namespace
}  // namespace keyflow
