#include "http/router.hpp"

#include <gtest/gtest.h>
#include <pqxx/except.hxx>

#include "engine/core/errc.hpp"
#include "http/error_mapping.hpp"
#include "http/json_input.hpp"

namespace keyflow::http {
namespace {

using boost::beast::http::status;
using boost::beast::http::verb;

Response named(const char* name) {
  return Response::of(status::ok, boost::json::value(name));
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router.add(verb::get, "/v1/api-keys/{id}", [](Request& r) {
      return Response::of(status::ok, boost::json::value(r.param("id")));
    });
    router.add(verb::post, "/v1/api-keys/verify", [](Request&) { return named("verify"); });
    router.add(verb::post, "/v1/api-keys/{id}", [](Request& r) {
      return Response::of(status::ok, boost::json::value("post " + r.param("id")));
    });
    router.add(verb::post, "/v1/api-keys/{id}/rotate", [](Request& r) {
      return Response::of(status::ok, boost::json::value("rotate " + r.param("id")));
    });
    // Added after the parameter it shadows, unlike verify.
    router.add(verb::post, "/v1/api-keys/stats", [](Request&) { return named("stats"); });
    router.add(verb::get, "/v1/fails",
               [](Request&) -> Response { throw Error(errc::conflict, "key is revoked", "id"); });
    router.add(verb::get, "/v1/crashes",
               [](Request&) -> Response { throw std::runtime_error("secret detail"); });
    router.add(verb::get, "/v1/times-out", [](Request&) -> Response {
      throw pqxx::sql_error("canceling statement due to statement timeout", "SELECT 1", "57014");
    });
    router.add(verb::get, "/v1/unreachable",
               [](Request&) -> Response { throw pqxx::broken_connection("connection refused"); });
  }
  Response call(verb method, std::string path) {
    Request r;
    r.method = method;
    r.path = std::move(path);
    return router.dispatch(r);
  }
  Router router;
};

TEST_F(RouterTest, MatchesParametersAndPrefersLiterals) {
  EXPECT_EQ(call(verb::get, "/v1/api-keys/abc").json->as_string(), "abc");
  // The literal and the parameter under the same method: the literal wins, whichever was
  // added first.
  EXPECT_EQ(call(verb::post, "/v1/api-keys/verify").json->as_string(), "verify");
  EXPECT_EQ(call(verb::post, "/v1/api-keys/other").json->as_string(), "post other");
  EXPECT_EQ(call(verb::post, "/v1/api-keys/stats").json->as_string(), "stats");
  EXPECT_EQ(call(verb::post, "/v1/api-keys/k1/rotate").json->as_string(), "rotate k1");
}

TEST_F(RouterTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(call(verb::get, "/v1/nothing").status, status::not_found);
  EXPECT_EQ(call(verb::delete_, "/v1/api-keys/verify").status, status::method_not_allowed);
  EXPECT_EQ(call(verb::get, "/v1/api-keys/").status, status::not_found);
}

TEST_F(RouterTest, EngineErrorsBecomeTheirMappedBody) {
  const auto r = call(verb::get, "/v1/fails");
  EXPECT_EQ(r.status, status::conflict);
  const auto& error = r.json->at("error");
  EXPECT_EQ(error.at("code").as_string(), "conflict");
  EXPECT_EQ(error.at("message").as_string(), "key is revoked");
  EXPECT_EQ(error.at("field").as_string(), "id");
}

TEST_F(RouterTest, UnexpectedExceptionsAre500WithoutDetail) {
  const auto r = call(verb::get, "/v1/crashes");
  EXPECT_EQ(r.status, status::internal_server_error);
  EXPECT_EQ(r.json->at("error").at("message").as_string(), "internal error");
}

TEST_F(RouterTest, ADatabaseThatTimesOutOrIsGoneIs503) {
  for (const char* path : {"/v1/times-out", "/v1/unreachable"}) {
    const auto r = call(verb::get, path);
    EXPECT_EQ(r.status, status::service_unavailable) << path;
    EXPECT_EQ(r.json->at("error").at("code").as_string(), "unavailable") << path;
  }
}

TEST(ErrorMapping, EveryErrorHasAStatusAndCode) {
  EXPECT_EQ(map_error(errc::malformed_request).status, status::bad_request);
  EXPECT_EQ(map_error(errc::invalid_argument).status, status::unprocessable_entity);
  EXPECT_EQ(map_error(errc::not_found).status, status::not_found);
  EXPECT_EQ(map_error(errc::conflict).status, status::conflict);
  EXPECT_EQ(map_error(errc::limit_exceeded).status, status::unprocessable_entity);
  EXPECT_EQ(map_error(errc::unauthenticated).status, status::unauthorized);
  EXPECT_EQ(map_error(errc::forbidden).status, status::forbidden);
  EXPECT_EQ(map_error(errc::payload_too_large).status, status::payload_too_large);
  EXPECT_EQ(map_error(errc::unavailable).status, status::service_unavailable);
  EXPECT_EQ(map_error(errc::internal).status, status::internal_server_error);
}

TEST(JsonInput, ReadsTypedFieldsAndNamesTheOffendingOne) {
  const JsonInput in(R"({"name":"a","n":5,"when":"2030-01-01T00:00:00Z","tags":["x"]})",
                     {"name", "n", "when", "tags", "absent"});
  EXPECT_EQ(in.required_string("name"), "a");
  EXPECT_EQ(in.optional_int("n", 1, 10), 5);
  EXPECT_TRUE(in.optional_time("when"));
  EXPECT_EQ(in.optional_strings("tags")->front(), "x");
  EXPECT_FALSE(in.optional_string("absent"));
  try {
    (void)in.optional_int("n", 6, 10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "n");
  }
  try {
    JsonInput bad(R"({"name":"a","extra":1})", {"name"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::invalid_argument);
    EXPECT_EQ(e.field(), "extra");
  }
  EXPECT_THROW(JsonInput("{", {}), Error);
  EXPECT_NO_THROW(JsonInput("", {}));
}

}  // namespace
}  // namespace keyflow::http
