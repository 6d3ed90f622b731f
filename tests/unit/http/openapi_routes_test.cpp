// schemas/openapi.yaml and the router agree: every route the server registers is documented,
// and every documented operation is a registered route. The router is built exactly as
// keyflowd builds it, over services that never touch a database (a ConnectionPool connects
// only when a handler runs), so no PostgreSQL is needed.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "engine/connections/connection_service.hpp"
#include "engine/core/clock.hpp"
#include "engine/core/errc.hpp"
#include "engine/core/metrics.hpp"
#include "engine/crypto/master_key.hpp"
#include "engine/events/event_log.hpp"
#include "engine/keys/key_service.hpp"
#include "engine/store/database.hpp"
#include "engine/tenancy/organization_service.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "http/api_routes.hpp"
#include "http/error_mapping.hpp"
#include "http/router.hpp"
#include "tests/support/openapi_spec.hpp"

namespace keyflow {
namespace {

using Route = test::OpenApiSpec::Route;

std::string describe(const Route& r) {
  std::string method = r.first;
  std::transform(method.begin(), method.end(), method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return method + " " + r.second;
}

// Every route of a serve process, registered by add_api_routes as keyflowd does (connection
// routes included).
struct RegisteredRoutes {
  RegisteredRoutes() { http::add_api_routes(router, api); }

  // Routes are only listed here, never called.
  struct NoTestEvents final : TestEventSender {
    std::string send_test_event(const std::string&) override { return {}; }
  } test_events;

  SystemClock clock;
  MasterKey master_key = MasterKey::generate();
  ConnectionPool pool{"postgresql:///never-connected", 1};
  KeyService keys{pool, master_key, clock};
  OrganizationService organizations{pool, clock};
  SubscriptionService subscriptions{pool, master_key, clock};
  DeliveryLog deliveries{pool, clock};
  EventLog events{pool};
  ConnectionService connections{pool, master_key, clock};
  Metrics metrics;
  http::Authenticator auth{"unused-admin-token"};
  http::ApiContext api{.keys = keys,
                       .organizations = organizations,
                       .subscriptions = subscriptions,
                       .deliveries = deliveries,
                       .test_events = test_events,
                       .connections = connections,
                       .events = events,
                       .auth = auth,
                       .metrics = metrics,
                       .database_ready = [] { return true; },
                       .broker_ready = [] { return true; }};
  http::Router router;
};

std::vector<Route> registered_routes() {
  RegisteredRoutes registered;
  std::vector<Route> out;
  for (const auto& r : registered.router.routes()) {
    std::string method(boost::beast::http::to_string(r.method));
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.emplace_back(method, r.pattern);
  }
  return out;
}

class OpenApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { spec_ = new test::OpenApiSpec(); }
  static void TearDownTestSuite() { delete spec_; }

  static std::map<Route, YAML::Node> operations() { return spec_->operations(); }
  static YAML::Node resolve(const std::string& ref) { return spec_->resolve(ref); }
  static YAML::Node dereference(const YAML::Node& node) { return spec_->dereference(node); }
  static const YAML::Node& spec() { return spec_->root(); }

  static test::OpenApiSpec* spec_;
};

test::OpenApiSpec* OpenApiTest::spec_ = nullptr;

TEST_F(OpenApiTest, EveryRegisteredRouteIsDocumentedAndViceVersa) {
  const auto registered = registered_routes();
  const std::set<Route> registered_set(registered.begin(), registered.end());
  EXPECT_EQ(registered_set.size(), registered.size()) << "a route is registered twice";
  ASSERT_FALSE(registered_set.empty());

  std::set<Route> documented;
  for (const auto& [route, _] : operations())
    documented.insert(route);

  for (const auto& r : registered_set) {
    EXPECT_TRUE(documented.contains(r))
        << describe(r) << " is served but missing from schemas/openapi.yaml";
  }
  for (const auto& r : documented) {
    EXPECT_TRUE(registered_set.contains(r))
        << describe(r) << " is in schemas/openapi.yaml but the server does not register it";
  }
}

TEST_F(OpenApiTest, EveryOperationHasAUniqueIdResponsesAndItsPathParameters) {
  std::set<std::string> ids;
  for (const auto& [route, op] : operations()) {
    SCOPED_TRACE(describe(route));
    ASSERT_TRUE(op["operationId"]) << "no operationId";
    EXPECT_TRUE(ids.insert(op["operationId"].as<std::string>()).second) << "duplicate operationId";
    ASSERT_TRUE(op["responses"] && op["responses"].IsMap() && op["responses"].size() > 0)
        << "no responses";

    // Guarded routes answer 401 without a valid bearer; the spec must say so.
    const bool open = op["security"] && op["security"].IsSequence() && op["security"].size() == 0;
    if (!open) {
      EXPECT_TRUE(op["responses"]["401"]) << "a guarded route without its 401";
    }

    // Each {name} of the pattern is declared as a path parameter, on the path or the operation.
    std::set<std::string> declared;
    for (const auto& list : {spec()["paths"][route.second]["parameters"], op["parameters"]}) {
      if (!list) continue;
      for (const auto& p : list) {
        const auto param = dereference(p);
        ASSERT_TRUE(param.IsMap()) << "a parameter reference does not resolve";
        if (param["in"].as<std::string>() == "path")
          declared.insert(param["name"].as<std::string>());
      }
    }
    std::set<std::string> in_pattern;
    for (std::size_t open_at = route.second.find('{'); open_at != std::string::npos;
         open_at = route.second.find('{', open_at + 1)) {
      in_pattern.insert(
          route.second.substr(open_at + 1, route.second.find('}', open_at) - open_at - 1));
    }
    EXPECT_EQ(declared, in_pattern) << "path parameters declared vs. in the pattern";
  }
}

TEST_F(OpenApiTest, EveryReferenceResolves) {
  std::vector<std::pair<YAML::Node, std::string>> pending = {{spec(), "#"}};
  std::size_t refs = 0;
  while (!pending.empty()) {
    auto [node, where] = pending.back();
    pending.pop_back();
    if (node.IsMap()) {
      for (const auto& kv : node) {
        const auto key = kv.first.as<std::string>();
        if (key == "$ref") {
          ++refs;
          EXPECT_TRUE(resolve(kv.second.as<std::string>()).IsDefined())
              << where << ": " << kv.second.as<std::string>() << " does not resolve";
        } else {
          pending.emplace_back(kv.second, where + "/" + key);
        }
      }
    } else if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i)
        pending.emplace_back(node[i], where + "/" + std::to_string(i));
    }
  }
  EXPECT_GT(refs, 0u);
}

TEST_F(OpenApiTest, NamesTheResourcesErrorsAndBearerAuth) {
  const auto& doc = spec();
  EXPECT_TRUE(doc["openapi"].as<std::string>().starts_with("3."));
  for (const char* schema : {"ApiKey", "CreatedApiKey", "Rotation", "VerifyResult", "Organization",
                             "Project", "Environment", "Subscription", "Connection", "Error"}) {
    EXPECT_TRUE(doc["components"]["schemas"][schema]) << schema;
  }
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"].as<std::string>(),
            "bearer");
  // The error codes of http/error_mapping.hpp, the router and the server, and nothing else.
  std::set<std::string> codes;
  for (const auto& c :
       doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]) {
    codes.insert(c.as<std::string>());
  }
  // The server's and the router's own.
  std::set<std::string> expected = {"bad_request", "method_not_allowed", "headers_too_large",
                                    "uri_too_long", "overloaded"};
  for (int e = static_cast<int>(errc::malformed_request); e <= static_cast<int>(errc::internal);
       ++e) {
    expected.emplace(http::map_error(static_cast<errc>(e)).code);
  }
  EXPECT_EQ(codes, expected);
}

}  // namespace
}  // namespace keyflow
