#pragma once

#include <string>

#include "tests/support/http_test_client.hpp"

namespace keyflow::test {

// Every response a test receives from keyflow's HTTP API, kept for the check that validates
// them all against schemas/openapi.yaml once the suites have run (tests/tools/
// check_openapi_responses.pl). When KEYFLOW_TEST_EXCHANGES names a directory, each exchange
// becomes one JSON line in <directory>/<pid>.jsonl: the test, method, target, status,
// headers and body. Otherwise nothing is kept.
void record_exchange(const std::string& method, const std::string& target,
                     const HttpResult& response);

}  // namespace keyflow::test
