#include "tests/support/api_server.hpp"

#include <gtest/gtest.h>

namespace keyflow::test {

void expect_error(const HttpResult& r, int status, const std::string& code,
                  const std::string& field) {
  EXPECT_EQ(r.status, status) << r.body;
  const auto body = r.json();
  const auto& error = body.at("error");
  EXPECT_EQ(error.at("code").as_string(), code) << r.body;
  EXPECT_FALSE(error.at("message").as_string().empty());
  if (!field.empty()) {
    EXPECT_EQ(error.at("field").as_string(), field) << r.body;
  }
}

}  // namespace keyflow::test
