#pragma once

#include <functional>
#include <vector>

#include <boost/json/value.hpp>

#include "tests/support/http_test_client.hpp"

namespace keyflow::test {

struct VerifyRace {
  int verifies = 0;
  int valid_after_change = 0;  // VALID answers to verifies that began after change() returned
};

// Verifies `key` in a loop from one thread per client while `change` (a PATCH, a revoke)
// runs, and for a while after it returns.
VerifyRace race_verifies(const std::vector<HttpTestClient>& clients, const boost::json::value& key,
                         const std::function<void()>& change);

}  // namespace keyflow::test
