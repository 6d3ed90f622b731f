#include "engine/core/validation.hpp"

#include <gtest/gtest.h>

#include "engine/core/errc.hpp"

namespace keyflow {
namespace {

TEST(Validation, AWebhookUrlIsOneTheClientCanDeliverTo) {
  for (const char* good :
       {"https://hooks.example.com/rotated", "HTTP://EXAMPLE.COM/", "http://127.0.0.1:8080/x?y=1",
        "https://[2001:db8::1]/h", "http://a-b.example:65535/"}) {
    EXPECT_NO_THROW(require_http_url(good, "url")) << good;
  }
  for (const char* bad :
       {"", "ftp://example.com/", "http:///x", "http://[v1.x]/", "http://h:99999/", "http://h:/",
        "http://h:0/", "http://%00/", "http://a%2Fb/", "mailto:a@b", "/relative"}) {
    try {
      require_http_url(bad, "url");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), errc::invalid_argument) << bad;
      EXPECT_EQ(e.field(), "url") << bad;
    }
  }
}

}  // namespace
}  // namespace keyflow
